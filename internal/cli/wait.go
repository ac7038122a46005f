package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/argocd"
	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/safetext"
)

// waitFlags make a deploy wait for Argo CD.
type waitFlags struct {
	wait    bool
	timeout time.Duration
	apps    []string
	sync    bool
}

const defaultWaitTimeout = 10 * time.Minute

// bindWaitFlags adds --wait-timeout, --argocd-app and --sync, and --wait
// when withSwitch (deploy, promote, --publish; `wait` always waits), with
// the defaults def (the Go configuration's Publish.Wait for --publish).
func bindWaitFlags(f *pflag.FlagSet, wf *waitFlags, withSwitch bool, def waitFlags) {
	if def.timeout <= 0 {
		def.timeout = defaultWaitTimeout
	}
	if withSwitch {
		f.BoolVar(&wf.wait, "wait", def.wait, "after the GitOps commit, wait until Argo CD reports it synced and healthy (ARGOCD_SERVER, ARGOCD_AUTH_TOKEN)")
	}
	f.DurationVar(&wf.timeout, "wait-timeout", def.timeout, "give up waiting for Argo CD after this long (exit 1 naming what is not synced or healthy)")
	positive(f, "wait-timeout")
	f.StringArrayVar(&wf.apps, "argocd-app", def.apps, "Argo CD Application to wait for (repeatable; default: those whose source is the GitOps repository and the environment's path)")
	f.BoolVar(&wf.sync, "sync", false, "when an Application does not sync automatically, ask Argo CD to sync exactly the deploy commit (the token's role needs applications, sync)")
}

// waitTarget is one deploy commit to wait for.
type waitTarget struct {
	app, env string
	file     string // the file the deploy edited
	commit   string
}

// argoClient reads ARGOCD_SERVER and ARGOCD_AUTH_TOKEN; a missing one is a
// usage error, checked before anything is committed.
func argoClient() (*argocd.Client, error) {
	c, err := argocd.FromEnv(os.Getenv)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return c, nil
}

// waitAll waits for Argo CD to run every target, within one --wait-timeout,
// and records each observation as a git note on its deploy commit.
// Each Application's success line goes to report: stdout for `wait`,
// stderr after a deploy (whose last stdout line stays the commit).
func (o *options) waitAll(ctx context.Context, d *gitops.Deployer, client *argocd.Client, wf waitFlags, report io.Writer, targets []waitTarget) error {
	if wf.timeout <= 0 {
		return usageErr("--wait-timeout %s: want %s", wf.timeout, positiveDuration)
	}
	deadline := time.Now().Add(wf.timeout)
	for _, t := range targets {
		left := time.Until(deadline)
		if left <= 0 {
			return failErr(fmt.Errorf("wait %s/%s: --wait-timeout %s ran out before Argo CD was asked", t.app, t.env, wf.timeout))
		}
		if err := o.waitOne(ctx, d, client, wf, left, report, t); err != nil {
			return err
		}
	}
	return nil
}

func (o *options) waitOne(ctx context.Context, d *gitops.Deployer, client *argocd.Client, wf waitFlags, timeout time.Duration, report io.Writer, t waitTarget) error {
	lin, err := gitops.NewLineage(d.Remote, t.app, t.env, t.commit)
	if err != nil {
		return usageErr("wait: %v", err)
	}
	w := &argocd.Waiter{
		Client: client, Timeout: timeout, TimeoutFlag: wf.timeout.String(), Sync: wf.sync, Log: safetext.LineWriter(o.stderr),
		Lineage: func(ctx context.Context, rev string) (argocd.Relation, string, error) {
			rel, detail, err := lin.Relate(ctx, rev)
			return argocd.Relation(rel), detail, err
		},
	}
	started := time.Now()
	obs, werr := w.Wait(ctx, argocd.Target{
		Repo: d.Remote.String(), Branch: d.Remote.Branch, File: t.file, Commit: t.commit, Applications: wf.apps,
	})
	if len(obs) > 0 && ctx.Err() == nil {
		notes := make([]gitops.Observation, len(obs))
		for i, ob := range obs {
			notes[i] = gitops.Observation{
				Application: ob.Application, Server: ob.Server, Revision: ob.Revision, SyncedAt: ob.SyncedAt,
				HealthyAt: ob.HealthyAt, HistoryID: ob.HistoryID, Result: string(ob.Result), Reason: ob.Reason, ObservedAt: ob.ObservedAt,
			}
		}
		if err := d.Observe(ctx, t.commit, notes); err != nil {
			o.logf("warning: the observation was not recorded in %s: %v", gitops.NotesRef, err)
		} else {
			o.logf("recorded what Argo CD reported on %s in %s", t.commit[:12], gitops.NotesRef)
		}
	}
	if werr != nil {
		var f *argocd.Failure
		if errors.As(werr, &f) {
			return failErr(fmt.Errorf("wait %s/%s: %s", t.app, t.env, f.Msg))
		}
		return failErr(fmt.Errorf("wait %s/%s: %w", t.app, t.env, werr))
	}
	for _, ob := range obs {
		synced := "-"
		if !ob.SyncedAt.IsZero() {
			synced = ob.SyncedAt.Format(time.RFC3339)
		}
		fmt.Fprint(report, safetext.Sprintf("%s %s/%s %s synced %s healthy %s (waited %s)\n", ob.Application, t.app, t.env, ob.Revision[:min(12, len(ob.Revision))], synced, ob.HealthyAt.Format(time.RFC3339), time.Since(started).Round(100*time.Millisecond)))
	}
	return nil
}

// deployWaitTarget is what a deploy outcome asks to wait for: the new
// commit, or for "unchanged" the record that put the digest there.
func deployWaitTarget(app, env string, out *gitops.Outcome) (waitTarget, error) {
	t := waitTarget{app: app, env: env, file: out.Change.File, commit: out.Commit}
	if out.Unchanged {
		if out.Previous == nil || out.Previous.Commit == "" || !strings.HasSuffix(out.Previous.Image, digestPart(out.Change.After)) {
			return t, failErr(fmt.Errorf("wait %s/%s: no deploy record put %s there (edited by hand?): nothing to wait for", app, env, out.Change.After))
		}
		t.commit = out.Previous.Commit
	}
	return t, nil
}

func digestPart(image string) string {
	if i := strings.LastIndex(image, "@"); i >= 0 {
		return image[i:]
	}
	return image
}

func newWaitCmd(o *options) *cobra.Command {
	var (
		app, env, commit, file string
		wf                     waitFlags
	)
	cmd := &cobra.Command{
		Use:   "wait --app A --env E",
		Short: "Wait until Argo CD reports the environment's deploy commit synced and healthy; record it as a git note",
		Long: `Ask Argo CD's API (ARGOCD_SERVER, ARGOCD_AUTH_TOKEN: a read-only token,
RBAC "p, role:slipway-wait, applications, get, */*, allow"; never a kubeconfig)
for the Applications that deploy the environment (source repoURL and path
matching the GitOps repository and the environment's directory, or
--argocd-app), ask for a refresh, and poll until each reports sync status
Synced at the deploy commit (or a descendant in which the environment still
runs it) and health Healthy.

Exit 0: synced and healthy (one stdout line per Application). Exit 1, with one
line: a failed sync (Argo CD's message, once Argo CD stops retrying), an
error condition in the answer to the refresh (ComparisonError: Argo CD cannot
build the manifests; at once, with its message),
Degraded resources (their health messages, an aborted Argo Rollout),
OutOfSync at the timeout (naming a sync window that holds it), a newer deploy
that replaced the commit, no Application tracking the path, a token Argo CD
refuses (401/403), Argo CD unreachable or not answering within --wait-timeout.
An Application without automated sync waits for a manual sync; --sync asks
Argo CD to sync exactly the deploy commit (the role needs applications, sync).

What Argo CD reported (Application, revision, synced-at, healthy-at, its
history id, or the failure) is recorded as a git note on the deploy commit
under refs/notes/slipway: history, status, dora and report read it.`,
		Example: `  ARGOCD_SERVER=argocd.example.com ARGOCD_AUTH_TOKEN=… slipway wait --gitops-repo https://github.com/acme/gitops.git --app sample-app --env staging
  go run ./ci deploy --app sample-app --env staging --image "$IMAGE" --wait --wait-timeout 5m
  go run ./ci wait --app sample-app --env production --argocd-app sample-app-production --sync`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if app == "" || env == "" {
				return usageErr("wait: --app and --env are required")
			}
			if commit != "" && !shaHex(commit) {
				return usageErr("wait: --commit %q: want the deploy commit's 40 hex", commit)
			}
			client, err := argoClient()
			if err != nil {
				return err
			}
			d, err := o.reader()
			if err != nil {
				return err
			}
			t := waitTarget{app: app, env: env, commit: commit, file: file}
			if t.file == "" {
				t.file = gitops.LayoutPath(o.layoutOrConfig(), app, env)
			}
			if t.commit == "" {
				recs, err := gitops.History(cmd.Context(), d.Remote, gitops.Filter{App: app, Env: env})
				if err != nil {
					return failErr(err)
				}
				for _, r := range recs {
					if r.IsDeploy() && !r.Reverted {
						t.commit = r.Commit
						break
					}
				}
				if t.commit == "" {
					return failErr(fmt.Errorf("wait: no deploy of %s to %s in %s: nothing to wait for", app, env, d.Remote))
				}
			}
			wf.wait = true
			return o.waitAll(cmd.Context(), d, client, wf, o.stdout, []waitTarget{t})
		},
	}
	f := cmd.Flags()
	f.StringVar(&app, "app", "", "application")
	f.StringVar(&env, "env", "", "environment")
	f.StringVar(&commit, "commit", "", "the deploy commit to wait for (default: the environment's last deploy)")
	f.StringVar(&file, "path", "", "the environment's file in the GitOps repository (default: the layout's, "+path.Clean(gitops.DefaultLayout)+")")
	bindWaitFlags(f, &wf, false, waitFlags{})
	return cmd
}

func shaHex(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
