package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/argocd"
	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/flow"
	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/imagelock"
	"github.com/slipway-ci/slipway/internal/release"
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

// newRun opens a run (flow.New) over the configured apps, or those --app
// selects, after checking their sources.
func newRun(ctx context.Context, o *options, rf *runFlags) (*flow.Run, error) {
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
	run, err := flow.New(ctx, rf.options(o, lock), runHost{o: o, rf: rf}, apps)
	if err != nil {
		return nil, failErr(err)
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

// options are the run's flags, environment and configuration as the
// flow takes them.
func (rf *runFlags) options(o *options, lock *imagelock.Lock) flow.Options {
	return flow.Options{
		Out: o.out, Stderr: o.stderr, Terminal: isTerminal(o.stderr), Log: o.logf, Redact: o.secrets.String, Learn: o.secrets.Add, Lock: lock,
		Stages: o.proj.Stages, Multi: len(o.proj.Apps) > 1, Concurrency: o.proj.Concurrency, PublishEnv: o.proj.PublishEnv,
		Global: o.proj.Global, LockPath: o.proj.LockPath, GitOpsRepo: o.GitOpsRepo(), CI: inCI(), EngineTimeout: o.engineTimeout,
		Publish: rf.publish, KeepGoing: rf.keepGoing, Force: rf.force, ChangedSince: rf.changedSince, All: rf.all,
		Push: flow.PushSettings{
			Image: envDefault(rf.push.image, "CI_IMAGE", ""), Tags: rf.push.tags,
			AllowTagMove: rf.push.allowTagMove, SkipGate: rf.push.skipGate,
		},
		Scan: rf.scan.settings(),
		Deploy: flow.DeploySettings{
			AllowRollback: rf.deploy.allowRollback, AllowUnknownSource: rf.deploy.allowUnknownSource,
			SupersededOK: rf.deploy.supersededOK, RetryTimeout: rf.deploy.retryTimeout,
			Unpin: rf.deploy.unpin, BreakGlass: rf.deploy.breakGlass, Fix: rf.deploy.fix,
		},
		Cache: flow.CacheSettings{Repo: rf.cache.cacheRepo(), MaxSize: rf.cache.maxSize, DefaultBranch: rf.cache.defaultBranch},
		Wait:  rf.wait.wait,
	}
}

// runHost is the command line's side of a run (flow.Host): what the
// pipeline shares with the other commands, resolved as they resolve it.
type runHost struct {
	o  *options
	rf *runFlags
}

func (h runHost) Policy() (*attest.Policy, error) { return h.o.policy(&h.rf.verify) }
func (h runHost) Signing() (*release.Signing, error) {
	return h.o.releaseSigning(h.rf.verify.trustedRoot)
}
func (h runHost) CredentialHost() (string, error) { return h.o.credentialHost() }
func (h runHost) RequireInCI(what, flag, env string) error {
	return h.o.requireInCI(what, flag, env)
}
func (h runHost) CheckManifests(apps []App) error     { return h.o.checkSources(apps, true) }
func (h runHost) Deployer() (*gitops.Deployer, error) { return h.o.deployer() }
func (h runHost) VerifyHook(p *attest.Policy) func(context.Context, gitops.Request) (*gitops.Verification, error) {
	return h.o.verifyHook(p)
}
func (h runHost) ArgoCD() (*argocd.Client, error) { return argoClient() }
func (h runHost) Report(ctx context.Context, d *gitops.Deployer, path, sourceRepo string) error {
	return writeReport(ctx, h.o, d, path, sourceRepo)
}

// WaitFor waits for every app's deploy commit but a superseded one, within
// one --wait-timeout.
func (h runHost) WaitFor(env string, apps []string, outs []*gitops.Outcome) (func(context.Context, *gitops.Deployer, *argocd.Client) error, error) {
	var targets []waitTarget
	for i, out := range outs {
		if out.Superseded {
			continue
		}
		t, err := deployWaitTarget(apps[i], env, out)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	return func(ctx context.Context, d *gitops.Deployer, client *argocd.Client) error {
		return h.o.waitAll(ctx, d, client, h.rf.wait, h.o.stderr, targets)
	}, nil
}

// runPipeline runs the default stages, or the named ones, and prints the
// lines a script captures (the deployed commit or the pushed image).
func runPipeline(ctx context.Context, o *options, rf *runFlags, names ...string) error {
	run, err := newRun(ctx, o, rf)
	if err != nil {
		return err
	}
	lines, err := run.Pipeline(ctx, names...)
	for _, l := range lines {
		fmt.Fprintln(o.stdout, l)
	}
	return failErr(err)
}
