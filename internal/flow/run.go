package flow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/slipway-ci/slipway/internal/affected"
	"github.com/slipway-ci/slipway/internal/argocd"
	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/imagelock"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/release"
	"github.com/slipway-ci/slipway/internal/usage"
	"github.com/slipway-ci/slipway/internal/version"
)

// Options are a run's resolved settings, as plain values: the command
// line's flags with their environment fallbacks and the configuration.
type Options struct {
	// Out is the output directory (out/APP/ for each app when Multi).
	Out string
	// Stderr receives the logs, the engine's progress and the results
	// table; Terminal says it is one (live push progress).
	Stderr   io.Writer
	Terminal bool
	// Log prints a line to Stderr. Stages and cache pulls call it from
	// several goroutines at once: it must be safe for concurrent use.
	Log func(format string, args ...any)
	// Redact cleans a stage's error of the run's secret values (nil: as is).
	Redact func(string) string
	// Learn adds a credential found on the way (a registry credential
	// helper's answer) to what Redact removes (nil: nothing is learned).
	Learn func(string)
	// Lock is the image lock the stages pull by.
	Lock *imagelock.Lock
	// Stages are the configured stages (DefaultStages when none are).
	Stages []StageSpec
	// Multi: the configuration has several apps (each has out/APP/, its
	// stages are APP/STAGE, its image CI_IMAGE/APP).
	Multi bool
	// Concurrency is the configuration's apps at once (0: by cores, see stageBound).
	Concurrency int
	// PublishEnv is the environment the deploy stage deploys to.
	PublishEnv string
	// Global and LockPath are what every app's inputs include.
	Global   affected.Global
	LockPath string
	// GitOpsRepo is the configured GitOps repository ("" the local default).
	GitOpsRepo string
	// CI: this is a CI run.
	CI bool
	// EngineTimeout bounds waiting for the Dagger session.
	EngineTimeout time.Duration

	// Publish adds the publish-only stages to a run that names none.
	Publish bool
	// KeepGoing starts, after a stage fails, the stages that do not depend on it.
	KeepGoing bool
	// Force runs every engine stage even when its inputs passed before.
	Force bool
	// ChangedSince runs the apps a change since this ref affects; All runs all.
	ChangedSince string
	All          bool

	Push   PushSettings
	Scan   ScanSettings
	Deploy DeploySettings
	Cache  CacheSettings
	// Wait makes the deploy stage wait for Argo CD.
	Wait bool
}

// PushSettings are where the push stage sends an image and how.
type PushSettings struct {
	// Image is --image, else CI_IMAGE ("" Slipway's local registry).
	Image        string
	Tags         []string
	AllowTagMove bool
	// SkipGate is the reason to push what the scan gate did not pass.
	SkipGate string
}

// DeploySettings guard the deploy stage's commits.
type DeploySettings struct {
	AllowRollback      bool
	AllowUnknownSource bool
	SupersededOK       bool
	RetryTimeout       time.Duration
	Unpin              bool
	BreakGlass         string
	Fix                bool
}

// Host is what a run asks of the command line that started it: what the
// pipeline shares with the commands (policy, signer, registry credentials,
// the GitOps repository, Argo CD, the report), each resolved there once.
type Host interface {
	// Policy is the configured verification policy (nil: none).
	Policy() (*attest.Policy, error)
	// Signing is how this machine signs what it pushes (nil: nothing signs).
	Signing() (*release.Signing, error)
	// CredentialHost is the one registry the static credentials belong to.
	CredentialHost() (string, error)
	// RequireInCI refuses, in CI, an empty target that has a local default
	// (what the default is, its flag, its variable).
	RequireInCI(what, flag, env string) error
	// CheckManifests checks the Deploy directory of apps a scan reads.
	CheckManifests(apps []AppSpec) error
	// Deployer opens the GitOps repository for a write.
	Deployer() (*gitops.Deployer, error)
	// VerifyHook is a deployer's Verify for a policy.
	VerifyHook(p *attest.Policy) func(context.Context, gitops.Request) (*gitops.Verification, error)
	// ArgoCD is the client --wait uses (a usage error when unset).
	ArgoCD() (*argocd.Client, error)
	// WaitFor is how to wait until Argo CD runs each app's deploy outcome
	// in env (an error when an outcome leaves nothing to wait for).
	WaitFor(env string, apps []string, outs []*gitops.Outcome) (func(context.Context, *gitops.Deployer, *argocd.Client) error, error)
	// Report writes the deployment report to path.
	Report(ctx context.Context, d *gitops.Deployer, path, sourceRepo string) error
}

// Run is one run over the selected apps: their state, what they share, and
// the stage graph the configuration makes of them.
type Run struct {
	*Shared // the engine session, the local registry, the policy, the Trivy metadata

	opts     Options
	host     Host
	apps     []*App
	skipped  []affected.Result // apps a --changed-since run leaves out
	kept     []affected.Result // apps a --changed-since run keeps, and why
	base     string            // the ref changes were measured from
	started  time.Time
	versions *Versions // by checkout root: apps of one repository share it
}

// New opens a run over the apps (already selected and checked): each app's
// source version and result.json, then, on a --changed-since run (or a pull
// request of a monorepo), only the apps the change affects.
func New(ctx context.Context, opts Options, host Host, apps []AppSpec) (*Run, error) {
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	run := &Run{opts: opts, host: host, versions: NewVersions(opts.Out), started: time.Now()}
	run.Shared = &Shared{
		EngineTimeout: opts.EngineTimeout, Progress: opts.Stderr, Out: opts.Out, Scan: opts.Scan, Log: opts.Log,
		Policy: host.Policy,
	}
	for _, a := range apps {
		r, err := run.newApp(a)
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

// Apps are the run's apps, after --changed-since.
func (run *Run) Apps() []*App { return run.apps }

// Skipped are the apps a --changed-since run leaves out, and Base the ref
// it measured from.
func (run *Run) Skipped() []affected.Result { return run.skipped }

// Affected are the apps a --changed-since run keeps, with the reason (nil
// on a run that selects no apps by change).
func (run *Run) Affected() []affected.Result { return run.kept }

// Base is the ref a --changed-since run measured changes from ("" none).
func (run *Run) Base() string { return run.base }

func (run *Run) logf(format string, args ...any) { run.opts.Log(format, args...) }

func (run *Run) newApp(a AppSpec) (*App, error) {
	src, err := SourceDir(a.Source)
	if err != nil {
		return nil, err
	}
	info, err := run.versions.Detect(src)
	if err != nil && !errors.Is(err, version.ErrNoRepo) {
		return nil, err
	}
	if errors.Is(err, version.ErrNoRepo) {
		run.logf("warning: %s is not in a git checkout: no commit to stamp or tag; builds use SOURCE_DATE_EPOCH or 1970", src)
	}
	out, prefix := run.opts.Out, ""
	if run.opts.Multi {
		prefix, out = a.Name+"/", filepath.Join(run.opts.Out, a.Name)
	}
	fa, err := Open(a.Name, src, out, prefix, info)
	if err != nil {
		return nil, usage.Wrap(err)
	}
	fa.Spec, fa.run = a, run
	return fa, nil
}

// SourceDir is an application directory, absolute, checked to be inside a
// Go module (a usage error naming the fix otherwise).
func SourceDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", usage.Errorf("source %s: %v", dir, err)
	}
	if !HasGoMod(abs) {
		return "", usage.Errorf("source %s: no go.mod there or above it; point --source (or App.Source) at the application's Go module", dir)
	}
	return abs, nil
}

// HasGoMod reports whether dir is inside a Go module.
func HasGoMod(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return false
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return true
		}
		if filepath.Dir(d) == d {
			return false
		}
	}
}

// filterAffected drops the apps a change since the base ref does not touch.
// On a pull request the base defaults to the target branch; --all runs all.
func (run *Run) filterAffected(ctx context.Context) error {
	base := run.opts.ChangedSince
	if base == "" && !run.opts.All && run.opts.Multi {
		base = affected.DefaultBase(os.Getenv)
	}
	if base == "" || run.opts.All {
		return nil
	}
	run.base = base
	root, err := os.Getwd()
	if err != nil {
		run.logf("warning: --changed-since %s: %v; running every app", base, err)
		return nil
	}
	outDir, _ := filepath.Abs(run.opts.Out)
	outRel, _ := filepath.Rel(root, outDir)
	_, files, err := affected.ChangedSince(ctx, root, base, outRel)
	if err != nil {
		run.logf("warning: --changed-since %s: %v; running every app", base, err)
		return nil
	}
	wd, _ := os.Getwd()
	var apps []affected.App
	for _, r := range run.apps {
		rel, _ := filepath.Rel(wd, r.Src)
		apps = append(apps, affected.App{Name: r.Spec.Name, Source: filepath.ToSlash(rel), Main: r.Spec.Main, Deploy: r.Spec.Deploy})
	}
	global := run.opts.Global
	global.Files = append(global.Files, run.opts.LockPath)
	res, err := affected.Detect(wd, apps, files, global)
	if err != nil {
		return fmt.Errorf("--changed-since %s: %w", base, err)
	}
	var keep []*App
	for i, d := range res {
		if d.Affected {
			keep = append(keep, run.apps[i])
			run.kept = append(run.kept, d)
			continue
		}
		run.skipped = append(run.skipped, d)
		run.logf("%s: skipped: %s since %s", d.App, d.Reason, base)
	}
	run.apps = keep
	return nil
}

// Graph is the pipeline, as a recipe: each app's stages (lint ∥ test ∥
// build → scan → push, and custom ones), one deploy for all apps, and the
// stages that need it (the graph logic is pipeline.Order and pipeline.Bind).
func (run *Run) Graph() (*pipeline.Graph, error) {
	specs, err := OrderStages(run.opts.Stages)
	if err != nil {
		return nil, usage.Wrap(err)
	}
	prefixes := make([]string, len(run.apps))
	for i, r := range run.apps {
		prefixes[i] = r.Prefix
	}
	var stages []pipeline.Stage
	for _, b := range pipeline.Bind(graphSpecs(specs), prefixes) {
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
		return nil, usage.Errorf("Config.Stages: %v", err)
	}
	return g, nil
}

// stage is the app's pipeline stage for a spec.
func (r *App) stage(spec StageSpec) pipeline.Stage {
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
func (r *App) customStage(spec StageSpec) pipeline.Stage {
	desc := spec.Description
	if desc == "" {
		desc = "custom stage"
	}
	return pipeline.Stage{
		Name:        spec.Name,
		Description: desc,
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
			env := dag.NewStageEnv(st, r.Src, r.Out, spec.Secrets, r.run.opts.Stderr, rec.Set, rec.Artifact)
			return dag.ExplainExec(spec.Name, spec.Run(ctx, env))
		},
	}
}

// engine opens the engine session once per run and binds the app to it.
func (r *App) engine(ctx context.Context) (*dag.Stages, error) {
	s, err := r.run.Engine(ctx)
	if err != nil {
		return nil, err
	}
	r.stagesOnce.Do(func() {
		r.stages = s.Stages(dag.Config{
			Source: r.Src, Binary: r.Spec.Binary, Package: r.Spec.Main, Port: r.Spec.Port, Base: r.Spec.Base,
			Images: r.run.opts.Lock, Version: r.Inputs(), GoEnv: dag.HostGoEnv(os.Getenv),
			CacheNamespace: os.Getenv(dag.CacheNamespaceEnv),
		})
	})
	return r.stages, nil
}

// defaultNames are the stages a bare run starts: everything but the
// publish-only stages, which --publish adds.
func (run *Run) defaultNames() []string {
	specs, _ := OrderStages(run.opts.Stages)
	var names []string
	for _, s := range specs {
		if s.Publish && !run.opts.Publish {
			continue
		}
		names = append(names, s.Name)
	}
	return names
}

// expand turns stage names into graph names (Expand): with several apps a
// plain name means that stage of every app; APP/STAGE names one.
func (run *Run) expand(g *pipeline.Graph, names []string) ([]string, error) {
	out, err := Expand(g, run.apps, names, run.stageNames())
	if err != nil {
		return nil, usage.Wrap(err)
	}
	return out, nil
}

func (run *Run) stageNames() []string {
	specs, _ := OrderStages(run.opts.Stages)
	return stageNames(specs)
}

// Pipeline runs the default stages, or the named ones, and returns what a
// script captures from stdout: per app, the deployed commit or the pushed
// image (prefixed with the app's name when the run has several apps).
// A usage error (usage.Is) is the user's to fix; any other error is a
// failed stage or a refusal.
func (run *Run) Pipeline(ctx context.Context, names ...string) ([]string, error) {
	if len(run.apps) == 0 {
		run.logf("no app is affected by changes since %s: nothing to run", run.base)
		return nil, pipeline.WriteSummary(run.opts.Out, run.skippedMarkdown())
	}
	full, err := run.Graph()
	if err != nil {
		return nil, err
	}
	if err := pipeline.EnsureOut(run.opts.Out); err != nil {
		return nil, fmt.Errorf("create %s: %w", run.opts.Out, err)
	}
	if len(names) == 0 {
		names = run.defaultNames()
	}
	sel, err := run.expand(full, names)
	if err != nil {
		return nil, err
	}
	g, err := full.Select(sel...)
	if err != nil {
		return nil, usage.Wrap(err)
	}
	if err := run.CheckManifests(g.Names()); err != nil {
		return nil, err
	}
	if err := run.CheckPublishTargets(g.Names()); err != nil {
		return nil, err
	}
	if !run.opts.Force {
		if g, err = run.reuse(g); err != nil {
			return nil, err
		}
	}
	cacheRepo := ""
	if g.NeedsEngine() {
		cacheRepo = run.opts.Cache.Repo
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
			return nil, err
		}
		if len(cacheDirs) > 0 {
			st, _ := run.apps[0].engine(ctx)
			if out, err := st.RestoreCaches(ctx, cacheDirs); err != nil {
				run.logf("warning: cache: restore into the engine: %v; running cold", dag.ExplainExec("cache", err))
			} else if strings.TrimSpace(out) != "" {
				run.logf("cache: restored into empty volumes: %s", strings.Join(strings.Fields(out), ", "))
			} else {
				run.logf("cache: the engine's volumes are warm; nothing restored")
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
	runner := pipeline.Runner{Events: pipeline.LineEvents{W: run.opts.Stderr}, KeepGoing: run.opts.KeepGoing, MaxParallel: run.maxParallel(), Redact: run.opts.Redact}
	ex := Execution{
		Apps: run.apps, Out: run.opts.Out, Order: run.stageNames(), Skipped: run.skippedMarkdown(), Log: run.opts.Stderr, Warn: run.opts.Log,
		Fingerprint: func(a *App, stage string) string { return a.Fingerprint(stage) },
		Source: func(a *App) map[string]string {
			in := a.Inputs()
			return map[string]string{"commit": a.Version.Commit, "branch": a.Version.Branch, "version": in.Version(), "inputs_commit": in.Commit}
		},
	}
	if _, err := ex.Run(ctx, runner, g); err != nil {
		return nil, err
	}
	if cacheRepo != "" && run.EngineOpen() {
		st, _ := run.apps[0].engine(ctx)
		run.saveCaches(ctx, cacheRepo, st)
	}
	// The last stdout line is what scripts capture: the deployed commit or the image.
	var lines []string
	ran := strings.Join(g.Names(), " ")
	for _, r := range run.apps {
		snap := r.Snapshot()
		prefix := ""
		if len(run.apps) > 1 {
			prefix = r.Spec.Name + " "
		}
		switch {
		case snap.Deploy != nil && strings.Contains(" "+ran+" ", " deploy "):
			lines = append(lines, prefix+snap.Deploy.Commit)
		case snap.Image.Ref != "" && strings.Contains(" "+ran+" ", " "+r.Prefix+"push "):
			lines = append(lines, prefix+snap.Image.Ref)
		}
	}
	return lines, nil
}

// maxParallel bounds how many stages run at once (see stageBound).
func (run *Run) maxParallel() int {
	return stageBound(len(run.apps), run.opts.Concurrency, runtime.NumCPU())
}

func (run *Run) skippedMarkdown() string {
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

// CheckManifests checks, before anything runs, the Deploy directory of
// every app whose scan stage is about to read it (of the graph names).
func (run *Run) CheckManifests(names []string) error {
	var apps []AppSpec
	for _, r := range run.apps {
		for _, n := range names {
			if n == r.Prefix+StageScan {
				apps = append(apps, r.Spec)
			}
		}
	}
	return run.host.CheckManifests(apps)
}

// CheckPublishTargets refuses, before anything runs, what would publish to
// the wrong place or publish the wrong thing: in CI an empty CI_IMAGE or
// GITOPS_REPO (a missing secret, not a wish for the local defaults), and a
// build from a modified working tree.
func (run *Run) CheckPublishTargets(names []string) error {
	push, deploy := false, false
	for _, n := range names {
		base := n[strings.LastIndex(n, "/")+1:]
		push = push || base == StagePush
		deploy = deploy || base == StageDeploy
	}
	if push {
		for _, r := range run.apps {
			if r.ImageRepo() == "" {
				if err := run.host.RequireInCI("registry on 127.0.0.1:5005", "--image", "CI_IMAGE"); err != nil {
					return err
				}
			}
		}
	}
	if deploy && run.opts.GitOpsRepo == "" {
		if err := run.host.RequireInCI("GitOps repository out/gitops.git", "--gitops-repo", "GITOPS_REPO"); err != nil {
			return err
		}
	}
	// --wait (Publish.Wait) needs Argo CD's address and token: exit 2 now,
	// not after the push and the commit.
	if deploy && run.opts.Wait {
		if _, err := run.host.ArgoCD(); err != nil {
			return err
		}
	}
	for _, r := range run.apps {
		if (push || deploy) && r.Version.Dirty && run.opts.CI {
			return usage.Errorf("%s has uncommitted changes: CI publishes only clean trees (its image would be tagged %s); commit the changes, or find the step that modifies the checkout", r.Src, r.Version.Revision())
		}
		if (push || deploy) && r.Version.Dirty {
			run.logf("warning: %s has uncommitted changes: the image is tagged %s and its deploy records Source-Dirty: true", r.Src, r.Version.Revision())
		}
	}
	return nil
}

// ImageRepo is where this app's image goes, "" for the local registry:
// App.Image, else --image/CI_IMAGE (with several apps, a prefix: CI_IMAGE/APP).
func (r *App) ImageRepo() string {
	if r.Spec.Image != "" {
		return r.Spec.Image
	}
	base := r.run.opts.Push.Image
	if base == "" {
		return ""
	}
	if r.run.opts.Multi {
		return strings.TrimSuffix(base, "/") + "/" + r.Spec.Name
	}
	return base
}

// PushTags are the git-derived tags, the app's own and --tag.
func (r *App) PushTags() []string {
	tags := append(r.Version.Tags(), r.Spec.Tags...)
	return append(tags, r.run.opts.Push.Tags...)
}

// appRunState is what a run binds to each of its apps (see App).
type appRunState struct {
	Spec AppSpec // the app as configured
	run  *Run

	stagesOnce sync.Once
	stages     *dag.Stages

	inputsOnce sync.Once
	inputsInfo version.Info  // see Inputs()
	inputsRoot string        // the directory inputsSets are relative to
	inputsSets affected.Sets // what its stages read, as git pathspecs

	contentMu sync.Mutex
	content   map[string]string // see contentKey(), by kind
}

// Lock is the image lock the run's stages pull by.
func (run *Run) Lock() *imagelock.Lock { return run.opts.Lock }
