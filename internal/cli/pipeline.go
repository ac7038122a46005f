package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/affected"
	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/flow"
	"github.com/slipway-ci/slipway/internal/imagelock"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/version"
)

// runFlags are the flags of `run` (and of the bare `go run ./ci`).
type runFlags struct {
	publish      bool
	keepGoing    bool
	force        bool
	cache        cacheFlags
	changedSince string
	all          bool
	apps         []string
	push         pushFlags
	scan         scanFlags
	deploy       deployFlags
	verify       verifyFlags
	wait         waitFlags
}

func bindRunFlags(cmd *cobra.Command, rf *runFlags, p Project) {
	f := cmd.Flags()
	f.BoolVar(&rf.publish, "publish", false, "after scan, push the image by digest and deploy it to "+p.PublishEnv)
	f.BoolVar(&rf.keepGoing, "keep-going", false, "after a stage fails, still start stages that do not depend on it")
	f.BoolVar(&rf.force, "force", false, "run every engine stage even when out/result.json has a passed result for the same inputs")
	bindCacheFlags(f, &rf.cache)
	bindSelectFlags(cmd, rf)
	bindPushFlags(f, &rf.push, true)
	bindScanFlags(f, &rf.scan, p)
	bindDeployGuardFlags(f, &rf.deploy)
	bindVerifyFlags(f, &rf.verify)
	bindWaitFlags(f, &rf.wait, true, waitFlags{wait: p.Wait, timeout: p.WaitTimeout, apps: p.ArgoCDApps})
}

// bindSelectFlags choose the apps of a run.
func bindSelectFlags(cmd *cobra.Command, rf *runFlags) {
	f := cmd.Flags()
	f.StringVar(&rf.changedSince, "changed-since", "", "run only the apps a change since this ref affects (default on pull requests: the merge base with the target branch)")
	f.BoolVar(&rf.all, "all", false, "run every app, even on a pull request (ignore --changed-since)")
	f.StringSliceVar(&rf.apps, "app", nil, "run only these apps (repeatable)")
}

func newRunCmd(o *options) *cobra.Command {
	rf := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run [STAGE...]",
		Short: "Run the pipeline, or only the named stages",
		Long: `Run the pipeline: lint and test concurrently, then build, then scan;
with --publish also push and deploy. Named stages run alone, reading what
earlier runs left in --out (that is how the Jenkinsfile runs one stage per
Jenkins stage). With several apps, a stage name runs that stage for every
selected app; APP/STAGE names one.`,
		Example: `  go run ./ci run
  go run ./ci run --publish
  go run ./ci run build scan
  go run ./ci run --changed-since origin/main`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPipeline(cmd.Context(), o, rf, args...)
		},
	}
	bindRunFlags(cmd, rf, o.proj)
	return cmd
}

// newStageCmd is `ci lint`, `ci test`, `ci build`: one stage alone.
func newStageCmd(o *options, stage string) *cobra.Command {
	rf := &runFlags{}
	cmd := &cobra.Command{
		Use:   stage,
		Short: "Run the " + stage + " stage alone (needs a Dagger engine)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPipeline(cmd.Context(), o, rf, stage)
		},
	}
	bindSelectFlags(cmd, rf)
	if stage == StageBuild {
		bindPushFlags(cmd.Flags(), &rf.push, false)
	}
	return cmd
}

// invocation is one run over the selected apps: the flags, the shared engine
// session and one runState per app.
type invocation struct {
	o       *options
	flags   *runFlags
	lock    *imagelock.Lock
	apps    []*runState
	skipped []affected.Result // apps a --changed-since run leaves out
	base    string            // the ref changes were measured from
	started time.Time

	*flow.Shared // the engine session, the local registry, the policy, the Trivy metadata

	versions *flow.Versions // by checkout root: apps of one repository share it
}

// detect reads the source version once per git checkout (flow.Versions).
func (run *invocation) detect(src string) (version.Info, error) {
	return run.versions.Detect(src)
}

// runState is one app of a run: its configuration and flags, bound to its
// flow.App (version, out/ directory, and the result its stages update).
type runState struct {
	*flow.App
	run   *invocation
	o     *options
	flags *runFlags
	lock  *imagelock.Lock
	app   App

	stagesOnce sync.Once
	stages     *dag.Stages

	inputsOnce  sync.Once
	inputsInfo  version.Info // see inputs()
	inputsRoot  string       // the directory inputsSpecs are relative to
	inputsSpecs []string     // git pathspecs of the app's inputs

	contentOnce sync.Once
	content     string // see contentKey()
}

func newInvocation(ctx context.Context, o *options, rf *runFlags) (*invocation, error) {
	if rf == nil {
		rf = &runFlags{}
	}
	lock, err := o.lock()
	if err != nil {
		return nil, err
	}
	apps, err := o.apps()
	if err != nil {
		return nil, err
	}
	if len(apps) == 0 {
		if o.proj.BinaryOnly {
			return nil, usageErr("plan: pass --source DIR (the app's Go module) to plan a one-app pipeline")
		}
		return nil, usageErr("no app to run: configure Config.Apps, or pass --source DIR")
	}
	if len(rf.apps) > 0 {
		apps, err = selectApps(apps, rf.apps)
		if err != nil {
			return nil, err
		}
	}
	if err := o.checkSources(apps, false); err != nil {
		return nil, err
	}
	run := &invocation{o: o, flags: rf, lock: lock, versions: flow.NewVersions(o.out), started: time.Now()}
	run.Shared = &flow.Shared{
		EngineTimeout: o.engineTimeout, Progress: o.stderr, Out: o.out, Scan: rf.scan.settings(), Log: o.logf,
		Policy: func() (*attest.Policy, error) { return o.policy(&rf.verify) },
	}
	multi := len(o.proj.Apps) > 1
	for _, a := range apps {
		r, err := newRunState(run, a, multi)
		if err != nil {
			return nil, err
		}
		run.apps = append(run.apps, r)
	}
	if err := run.filterAffected(ctx); err != nil {
		return nil, err
	}
	return run, nil
}

func selectApps(apps []App, names []string) ([]App, error) {
	var out []App
	for _, n := range names {
		found := false
		for _, a := range apps {
			if a.Name == n {
				out, found = append(out, a), true
			}
		}
		if !found {
			var all []string
			for _, a := range apps {
				all = append(all, a.Name)
			}
			return nil, usageErr("--app %s: no such app (apps: %s)", n, strings.Join(all, ", "))
		}
	}
	return out, nil
}

func newRunState(run *invocation, a App, multi bool) (*runState, error) {
	o := run.o
	src, err := sourceDir(a.Source)
	if err != nil {
		return nil, err
	}
	info, err := run.detect(src)
	if err != nil && !errors.Is(err, version.ErrNoRepo) {
		return nil, failErr(err)
	}
	if errors.Is(err, version.ErrNoRepo) {
		o.logf("warning: %s is not in a git checkout: no commit to stamp or tag; builds use SOURCE_DATE_EPOCH or 1970", src)
	}
	out, prefix := o.out, ""
	if multi {
		prefix, out = a.Name+"/", filepath.Join(o.out, a.Name)
	}
	fa, err := flow.Open(a.Name, src, out, prefix, info)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return &runState{App: fa, run: run, o: o, flags: run.flags, lock: run.lock, app: a}, nil
}

// filterAffected drops the apps a change since the base ref does not touch.
// On a pull request the base defaults to the target branch; --all runs all.
func (run *invocation) filterAffected(ctx context.Context) error {
	base := run.flags.changedSince
	if base == "" && !run.flags.all && len(run.o.proj.Apps) > 1 {
		base = affected.DefaultBase(os.Getenv)
	}
	if base == "" || run.flags.all {
		return nil
	}
	run.base = base
	root, err := repoRoot()
	if err != nil {
		run.o.logf("warning: --changed-since %s: %v; running every app", base, err)
		return nil
	}
	outDir, _ := filepath.Abs(run.o.out)
	outRel, _ := filepath.Rel(root, outDir)
	_, files, err := affected.ChangedSince(ctx, root, base, outRel)
	if err != nil {
		run.o.logf("warning: --changed-since %s: %v; running every app", base, err)
		return nil
	}
	wd, _ := os.Getwd()
	var apps []affected.App
	for _, r := range run.apps {
		rel, _ := filepath.Rel(wd, r.Src)
		apps = append(apps, affected.App{Name: r.app.Name, Source: filepath.ToSlash(rel), Main: r.app.Main, Deploy: r.app.Deploy})
	}
	global := run.o.proj.Global
	global.Files = append(global.Files, run.o.proj.LockPath)
	res, err := affected.Detect(wd, apps, files, global)
	if err != nil {
		return failErr(fmt.Errorf("--changed-since %s: %w", base, err))
	}
	var keep []*runState
	for i, d := range res {
		if d.Affected {
			keep = append(keep, run.apps[i])
			continue
		}
		run.skipped = append(run.skipped, d)
		run.o.logf("%s: skipped: %s since %s", d.App, d.Reason, base)
	}
	run.apps = keep
	return nil
}

func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return wd, nil
}

// engine opens the engine session once per invocation and binds the app to it.
func (r *runState) engine(ctx context.Context) (*dag.Stages, error) {
	s, err := r.run.Engine(ctx)
	if err != nil {
		return nil, err
	}
	r.stagesOnce.Do(func() {
		r.stages = s.Stages(dag.Config{
			Source: r.Src, Binary: r.app.Binary, Package: r.app.Main, Port: r.app.Port, Base: r.app.Base,
			Images: r.lock, Version: r.inputs(), GoEnv: dag.HostGoEnv(os.Getenv),
			CacheNamespace: os.Getenv(dag.CacheNamespaceEnv),
		})
	})
	return r.stages, nil
}

// update, snapshot and outPath are the app's flow.App, for the stages.
func (r *runState) update(f func(*pipeline.Result)) { r.Update(f) }
func (r *runState) snapshot() pipeline.Result       { return r.Snapshot() }
func (r *runState) outPath(name string) string      { return r.OutPath(name) }

// graph is the pipeline, as a recipe: each app's stages (lint ∥ test ∥ build
// → scan → push, and custom ones), one deploy for all apps, and the stages
// that need it (the graph logic is pipeline.Order and pipeline.Bind).
func (run *invocation) graph() (*pipeline.Graph, error) {
	specs, err := orderStages(run.o.proj.Stages)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	prefixes := make([]string, len(run.apps))
	for i, r := range run.apps {
		prefixes[i] = r.Prefix
	}
	var stages []pipeline.Stage
	for _, b := range pipeline.Bind(flow.GraphSpecs(specs), prefixes) {
		spec := specs[b.Spec]
		if b.App < 0 {
			stages = append(stages, run.deployStage(spec.Name, run.apps, b.Needs))
			continue
		}
		st := run.apps[b.App].stage(spec)
		st.Name, st.Needs = b.Name, b.Needs
		stages = append(stages, st)
	}
	g, err := pipeline.NewGraph(stages...)
	if err != nil {
		return nil, usageErr("Config.Stages: %v", err)
	}
	return g, nil
}

// stage is one app's pipeline stage for a spec.
func (r *runState) stage(spec StageSpec) pipeline.Stage {
	var st pipeline.Stage
	switch spec.Builtin {
	case StageLint:
		st = lintStage(r, spec.Args)
	case StageTest:
		st = testStage(r, spec.Args)
	case StageBuild:
		st = buildStage(r)
	case StageScan:
		st = scanStage(r)
	case StagePush:
		st = pushStage(r)
	default:
		st = r.customStage(spec)
	}
	if spec.Description != "" {
		st.Description = spec.Description
	}
	return st
}

// customStage runs a user's stage with the engine session (unless Host),
// the app's source and out/ directory, and its declared secrets.
func (r *runState) customStage(spec StageSpec) pipeline.Stage {
	return pipeline.Stage{
		Name:        spec.Name,
		Description: orDefault(spec.Description, "custom stage"),
		Engine:      !spec.Host,
		Secrets:     spec.Secrets,
		Run: func(ctx context.Context, rec *pipeline.Record) error {
			for _, s := range spec.Secrets {
				if os.Getenv(s) == "" {
					return fmt.Errorf("%s: secret %s is empty: set it in the environment", spec.Name, s)
				}
			}
			var st *dag.Stages
			if !spec.Host {
				var err error
				if st, err = r.engine(ctx); err != nil {
					return err
				}
			}
			if err := pipeline.EnsureOut(r.Out); err != nil {
				return err
			}
			env := dag.NewStageEnv(st, r.Src, r.Out, spec.Secrets, r.o.stderr, rec.Set, rec.Artifact)
			return dag.ExplainExec(spec.Name, spec.Run(ctx, env))
		},
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// defaultNames are the stages a bare run starts: everything but the
// publish-only stages, which --publish adds.
func (run *invocation) defaultNames() []string {
	specs, _ := orderStages(run.o.proj.Stages)
	var names []string
	for _, s := range specs {
		if s.Publish && !run.flags.publish {
			continue
		}
		names = append(names, s.Name)
	}
	return names
}

// expand turns stage names into graph names: with several apps a plain
// name means that stage of every app; APP/STAGE names one.
func (run *invocation) expand(g *pipeline.Graph, names []string) ([]string, error) {
	apps := make([]*flow.App, len(run.apps))
	for i, r := range run.apps {
		apps[i] = r.App
	}
	out, err := flow.Expand(g, apps, names, run.stageNames())
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return out, nil
}

func (run *invocation) stageNames() []string {
	specs, _ := orderStages(run.o.proj.Stages)
	return flow.StageNames(specs)
}

// runPipeline runs the default stages, or the named ones.
func runPipeline(ctx context.Context, o *options, rf *runFlags, names ...string) error {
	run, err := newInvocation(ctx, o, rf)
	if err != nil {
		return err
	}
	if len(run.apps) == 0 {
		o.logf("no app is affected by changes since %s: nothing to run", run.base)
		return pipeline.WriteSummary(o.out, run.skippedMarkdown())
	}
	full, err := run.graph()
	if err != nil {
		return err
	}
	if err := pipeline.EnsureOut(o.out); err != nil {
		return failErr(fmt.Errorf("create %s: %w", o.out, err))
	}
	explicit := len(names) > 0
	if !explicit {
		names = run.defaultNames()
	}
	sel, err := run.expand(full, names)
	if err != nil {
		return err
	}
	g, err := full.Select(sel...)
	if err != nil {
		return usageErr("%v", err)
	}
	if err := run.checkManifests(g.Names()); err != nil {
		return err
	}
	if err := run.checkPublishTargets(g.Names()); err != nil {
		return err
	}
	if !rf.force {
		if g, err = run.reuse(g); err != nil {
			return err
		}
	}
	cacheRepo := ""
	if g.NeedsEngine() {
		cacheRepo = rf.cache.cacheRepo()
		// Pull the caches while the session opens: both wait on the network.
		var cacheDirs map[string]string
		cleanup := func() {}
		pulled := make(chan struct{})
		go func() {
			defer close(pulled)
			if cacheRepo != "" {
				cacheDirs, cleanup = run.pullCaches(ctx, cacheRepo)
			}
		}()
		// Fail fast, before any stage prints "started", when no engine exists.
		_, err := run.Engine(ctx)
		<-pulled
		defer cleanup()
		if err != nil {
			return failErr(err)
		}
		if len(cacheDirs) > 0 {
			st, _ := run.apps[0].engine(ctx)
			if out, err := st.RestoreCaches(ctx, cacheDirs); err != nil {
				o.logf("warning: cache: restore into the engine: %v; running cold", dag.ExplainExec("cache", err))
			} else if strings.TrimSpace(out) != "" {
				o.logf("cache: restored into empty volumes: %s", strings.Join(strings.Fields(out), ", "))
			} else {
				o.logf("cache: the engine's volumes are warm; nothing restored")
			}
		}
		// After a restore: the metadata must describe the restored DB.
		for _, s := range g.Stages() {
			if s.Engine && strings.HasSuffix("/"+s.Name, "/"+StageScan) {
				st, _ := run.apps[0].engine(ctx)
				run.PrefetchTrivyMeta(ctx, st)
				break
			}
		}
	}
	defer run.Close()
	runner := pipeline.Runner{Events: pipeline.LineEvents{W: o.stderr}, KeepGoing: rf.keepGoing, MaxParallel: run.maxParallel(), Redact: o.secrets.String}
	byApp := map[*flow.App]*runState{}
	var apps []*flow.App
	for _, r := range run.apps {
		byApp[r.App] = r
		apps = append(apps, r.App)
	}
	ex := flow.Execution{
		Apps: apps, Out: o.out, Order: run.stageNames(), Skipped: run.skippedMarkdown(), Log: o.stderr, Warn: o.logf,
		Fingerprint: func(a *flow.App) string { return byApp[a].fingerprint() },
		Source: func(a *flow.App) map[string]string {
			in := byApp[a].inputs()
			return map[string]string{"commit": a.Version.Commit, "branch": a.Version.Branch, "version": in.Version(), "inputs_commit": in.Commit}
		},
	}
	if _, err := ex.Run(ctx, runner, g); err != nil {
		return failErr(err)
	}
	if cacheRepo != "" && run.EngineOpen() {
		st, _ := run.apps[0].engine(ctx)
		run.saveCaches(ctx, cacheRepo, st)
	}
	// The last stdout line is what scripts capture: the deployed commit or the image.
	ran := strings.Join(g.Names(), " ")
	for _, r := range run.apps {
		snap := r.snapshot()
		prefix := ""
		if len(run.apps) > 1 {
			prefix = r.app.Name + " "
		}
		switch {
		case snap.Deploy != nil && strings.Contains(" "+ran+" ", " deploy "):
			fmt.Fprintln(o.stdout, prefix+snap.Deploy.Commit)
		case snap.Image.Ref != "" && strings.Contains(" "+ran+" ", " "+r.Prefix+"push "):
			fmt.Fprintln(o.stdout, prefix+snap.Image.Ref)
		}
	}
	return nil
}

// maxParallel bounds how many stages run at once (see flow.StageBound).
func (run *invocation) maxParallel() int {
	return flow.StageBound(len(run.apps), run.o.proj.Concurrency, runtime.NumCPU())
}

func (run *invocation) skippedMarkdown() string {
	if len(run.skipped) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nNot affected by changes since `%s` (skipped):\n\n", run.base)
	for _, s := range run.skipped {
		fmt.Fprintf(&b, "- %s: %s\n", s.App, s.Reason)
	}
	return b.String()
}

// checkManifests checks, before anything runs, the Deploy directory of
// every app whose scan stage is about to read it.
func (run *invocation) checkManifests(names []string) error {
	var apps []App
	for _, r := range run.apps {
		for _, n := range names {
			if n == r.Prefix+StageScan {
				apps = append(apps, r.app)
			}
		}
	}
	return run.o.checkSources(apps, true)
}

// checkPublishTargets refuses, before anything runs, what would publish to
// the wrong place or publish the wrong thing: in CI an empty CI_IMAGE or
// GITOPS_REPO (a missing secret, not a wish for the local defaults), and a
// build from a modified working tree.
func (run *invocation) checkPublishTargets(names []string) error {
	push, deploy := false, false
	for _, n := range names {
		base := n[strings.LastIndex(n, "/")+1:]
		push = push || base == StagePush
		deploy = deploy || base == StageDeploy
	}
	if push {
		for _, r := range run.apps {
			if r.imageRepoConfigured() == "" {
				if err := run.o.requireInCI("registry on 127.0.0.1:5005", "--image", "CI_IMAGE"); err != nil {
					return err
				}
			}
		}
	}
	if deploy && run.o.GitOpsRepo() == "" {
		if err := run.o.requireInCI("GitOps repository out/gitops.git", "--gitops-repo", "GITOPS_REPO"); err != nil {
			return err
		}
	}
	// --wait (Publish.Wait) needs Argo CD's address and token: exit 2 now,
	// not after the push and the commit.
	if deploy && run.flags.wait.wait {
		if _, err := argoClient(); err != nil {
			return err
		}
	}
	for _, r := range run.apps {
		if (push || deploy) && r.Version.Dirty && inCI() {
			return usageErr("%s has uncommitted changes: CI publishes only clean trees (its image would be tagged %s); commit the changes, or find the step that modifies the checkout", r.Src, r.Version.Revision())
		}
		if (push || deploy) && r.Version.Dirty {
			r.o.logf("warning: %s has uncommitted changes: the image is tagged %s and its deploy records Source-Dirty: true", r.Src, r.Version.Revision())
		}
	}
	return nil
}

// imageRepoConfigured is where this app's image goes, "" for the local registry:
// App.Image, else --image/CI_IMAGE (with several apps, a prefix: CI_IMAGE/APP).
func (r *runState) imageRepoConfigured() string {
	if r.app.Image != "" {
		return r.app.Image
	}
	base := envDefault(r.flags.push.image, "CI_IMAGE", "")
	if base == "" {
		return ""
	}
	if len(r.o.proj.Apps) > 1 {
		return strings.TrimSuffix(base, "/") + "/" + r.app.Name
	}
	return base
}
