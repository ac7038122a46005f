package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/imagelock"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/version"
)

// runFlags are the flags of `run` (and of the bare `go run ./ci`).
type runFlags struct {
	publish   bool
	keepGoing bool
	push      pushFlags
	scan      scanFlags
	deploy    deployFlags
}

func bindRunFlags(cmd *cobra.Command, rf *runFlags) {
	f := cmd.Flags()
	f.BoolVar(&rf.publish, "publish", false, "after scan, push the image by digest and deploy it to "+publishEnv)
	f.BoolVar(&rf.keepGoing, "keep-going", false, "after a stage fails, still start stages that do not depend on it")
	bindPushFlags(f, &rf.push, true)
	bindScanFlags(f, &rf.scan)
	bindDeployGuardFlags(f, &rf.deploy)
}

func newRunCmd(o *options) *cobra.Command {
	rf := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run [STAGE...]",
		Short: "Run the pipeline, or only the named stages",
		Long: `Run the pipeline: lint and test concurrently, then build, then scan;
with --publish also push and deploy. Named stages run alone, reading what
earlier runs left in --out (that is how the Jenkinsfile runs one stage per
Jenkins stage).`,
		Example: `  go run ./ci run
  go run ./ci run --publish
  go run ./ci run build scan`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPipeline(cmd.Context(), o, rf, args...)
		},
	}
	bindRunFlags(cmd, rf)
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
	if stage == "build" {
		bindPushFlags(cmd.Flags(), &rf.push, false)
	}
	return cmd
}

// runState is one invocation: configuration, the lazily opened engine
// session, and the result file the stages update.
type runState struct {
	o       *options
	flags   *runFlags
	lock    *imagelock.Lock
	src     string
	version version.Info

	mu     sync.Mutex
	result *pipeline.Result

	engineOnce sync.Once
	stages     *dag.Stages
	engineErr  error
}

func newRunState(o *options, rf *runFlags) (*runState, error) {
	if rf == nil {
		rf = &runFlags{}
	}
	lock, err := o.lock()
	if err != nil {
		return nil, err
	}
	src, err := o.sourceDir()
	if err != nil {
		return nil, err
	}
	info, err := version.Detect(src)
	if err != nil && !errors.Is(err, version.ErrNoRepo) {
		return nil, failErr(err)
	}
	if errors.Is(err, version.ErrNoRepo) {
		o.logf("warning: %s is not in a git checkout: no commit to stamp or tag; builds use SOURCE_DATE_EPOCH or 1970", src)
	}
	res, err := pipeline.LoadResult(o.out)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return &runState{o: o, flags: rf, lock: lock, src: src, version: info, result: res}, nil
}

// engine opens the Dagger session once per invocation.
func (r *runState) engine(ctx context.Context) (*dag.Stages, error) {
	r.engineOnce.Do(func() {
		r.stages, r.engineErr = dag.Open(ctx, r.o.engineTimeout, r.o.stderr, dag.Config{
			Source: r.src, Binary: appBinary, Package: appPackage,
			Images: r.lock, Version: r.version, GoEnv: dag.HostGoEnv(os.Getenv),
			CacheNamespace: os.Getenv(dag.CacheNamespaceEnv),
		})
	})
	return r.stages, r.engineErr
}

// update changes the shared result under its lock.
func (r *runState) update(f func(*pipeline.Result)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.result)
}

func (r *runState) snapshot() pipeline.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return *r.result
}

// graph is the pipeline, as a recipe: lint ∥ test → build → scan → push → deploy.
func (r *runState) graph() (*pipeline.Graph, error) {
	return pipeline.NewGraph(
		lintStage(r),
		testStage(r),
		buildStage(r),
		scanStage(r),
		pushStage(r),
		deployStage(r),
	)
}

// runPipeline runs the default stages, or the named ones.
func runPipeline(ctx context.Context, o *options, rf *runFlags, names ...string) error {
	r, err := newRunState(o, rf)
	if err != nil {
		return err
	}
	full, err := r.graph()
	if err != nil {
		return err
	}
	if len(names) == 0 {
		names = []string{"lint", "test", "build", "scan"}
		if r.flags.publish {
			names = append(names, "push", "deploy")
		}
	}
	g, err := full.Select(names...)
	if err != nil {
		return usageErr("%v", err)
	}
	if err := r.checkPublishTargets(names); err != nil {
		return err
	}
	if g.NeedsEngine() {
		// Fail fast, before any stage prints "started", when no engine exists.
		if _, err := r.engine(ctx); err != nil {
			return failErr(err)
		}
		defer r.stages.Close()
	}
	start := time.Now()
	results := pipeline.Runner{Events: pipeline.LineEvents{W: o.stderr}, KeepGoing: r.flags.keepGoing}.Run(ctx, g)
	r.update(func(res *pipeline.Result) {
		res.Source = map[string]string{"commit": r.version.Commit, "branch": r.version.Branch, "version": r.version.Version()}
		res.Merge(results, time.Now())
	})
	snap := r.snapshot()
	if err := snap.Save(o.out); err != nil {
		return failErr(fmt.Errorf("write %s: %w", o.outPath(pipeline.ResultFile), err))
	}
	pipeline.WriteTable(o.stderr, results)
	fmt.Fprintf(o.stderr, "total %s; results in %s\n", time.Since(start).Round(100*time.Millisecond), o.outPath(pipeline.ResultFile))
	if err := pipeline.WriteSummary(o.out, pipeline.Markdown(&snap, results)); err != nil {
		o.logf("warning: summary: %v", err)
	}
	if failed := pipeline.FailedStages(results); len(failed) > 0 {
		return failErr(fmt.Errorf("stage failed: %v", failed))
	}
	// The last stdout line is what scripts capture: the deployed commit or the image.
	switch {
	case snap.Deploy != nil && contains(names, "deploy"):
		fmt.Fprintln(o.stdout, snap.Deploy.Commit)
	case snap.Image.Ref != "" && contains(names, "push"):
		fmt.Fprintln(o.stdout, snap.Image.Ref)
	}
	return nil
}

// checkPublishTargets refuses, before anything runs, what would publish to
// the wrong place or publish the wrong thing: in CI an empty CI_IMAGE or
// GITOPS_REPO (a missing secret, not a wish for the local defaults), and a
// build from a modified working tree.
func (r *runState) checkPublishTargets(names []string) error {
	push, deploy := contains(names, "push"), contains(names, "deploy")
	if push && envDefault(r.flags.push.image, "CI_IMAGE", "") == "" {
		if err := r.o.requireInCI("registry on 127.0.0.1:5005", "--image", "CI_IMAGE"); err != nil {
			return err
		}
	}
	if deploy && r.o.GitOpsRepo() == "" {
		if err := r.o.requireInCI("GitOps repository out/gitops.git", "--gitops-repo", "GITOPS_REPO"); err != nil {
			return err
		}
	}
	if (push || deploy) && r.version.Dirty && inCI() {
		return usageErr("%s has uncommitted changes: CI publishes only clean trees (its image would be tagged %s); commit the changes, or find the step that modifies the checkout", r.src, r.version.Revision())
	}
	if (push || deploy) && r.version.Dirty {
		r.o.logf("warning: %s has uncommitted changes: the image is tagged %s and its deploy records Source-Dirty: true", r.src, r.version.Revision())
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
