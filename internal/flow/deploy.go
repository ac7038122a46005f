package flow

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/slipway-ci/slipway/internal/argocd"
	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// deployStage commits every app's pushed digest to the GitOps repository in
// one push (gitops.DeployAll): with several apps they land together or none
// does; each is still its own commit, so history and the guard read them as
// usual.
func (run *Run) deployStage(name string, apps []*App, needs []string) pipeline.Stage {
	env := run.opts.PublishEnv
	desc, secrets := "commit image@digest to the GitOps repo ("+env+"); Argo CD pulls it", []string{"GITOPS_TOKEN", "GITOPS_SSH_KEY_FILE"}
	if run.opts.Wait {
		desc += "; wait until Argo CD reports it synced and healthy"
		secrets = append(secrets, "ARGOCD_AUTH_TOKEN")
	}
	return pipeline.Stage{
		Name:        name,
		Description: desc,
		Needs:       needs,
		Secrets:     secrets,
		Run: func(ctx context.Context, rec *pipeline.Record) error {
			// This stage's record is replaced whatever the outcome: a failed
			// deploy never leaves an earlier run's commit in result.json.
			for _, r := range apps {
				r.Update(func(res *pipeline.Result) { res.Deploy = nil })
			}
			var reqs []gitops.Request
			for _, r := range apps {
				ref := r.Snapshot().Image.Ref
				if ref == "" {
					return fmt.Errorf("deploy %s: %s has no pushed image: run the push stage first", r.Spec.Name, r.OutPath(pipeline.ResultFile))
				}
				img, err := gitops.ParseImage(ref)
				if err != nil {
					return err
				}
				if r.Version.Commit == "" {
					return fmt.Errorf("deploy %s: %s is not in a git checkout, so there is no Source-Commit to record", r.Spec.Name, r.Src)
				}
				df := run.opts.Deploy
				reqs = append(reqs, gitops.Request{
					App: r.Spec.Name, Env: env, Image: img, SourceCommit: r.Version.Commit, SourceRepo: r.Src, Values: r.Spec.Values,
					SourceDirty: r.Version.Dirty, AllowRollback: df.AllowRollback, AllowUnknownSource: df.AllowUnknownSource,
					SupersededOK: df.SupersededOK, PipelineRun: gitops.PipelineRun(os.Getenv),
					Unpin: df.Unpin, BreakGlass: df.BreakGlass, Fix: df.Fix,
				})
			}
			var argo *argocd.Client
			if run.opts.Wait {
				var err error
				if argo, err = run.host.ArgoCD(); err != nil {
					return err
				}
			}
			d, err := run.host.Deployer()
			if err != nil {
				return err
			}
			d.RetryTimeout = run.opts.Deploy.RetryTimeout
			if err := run.attachVerify(d, apps); err != nil {
				return err
			}
			outs, err := d.DeployAll(ctx, reqs)
			if err != nil {
				return fmt.Errorf("deploy: %w", err)
			}
			for i, out := range outs {
				commit := out.Commit
				switch {
				case out.Superseded:
					commit = "superseded"
				case out.Unchanged:
					commit = "unchanged"
				}
				r := apps[i]
				r.Update(func(res *pipeline.Result) {
					res.Deploy = &pipeline.DeployResult{App: r.Spec.Name, Environment: env, Commit: commit, Repo: d.Remote.String()}
				})
				key := "commit"
				if len(apps) > 1 {
					key = r.Spec.Name
				}
				rec.Set(key, commit)
				rec.Set("attempts", fmt.Sprint(out.Attempts))
			}
			// --wait (Publish.Wait): Argo CD runs every app's commit, or the
			// stage fails naming what does not.
			var waitErr error
			if run.opts.Wait {
				names := make([]string, len(apps))
				for i, r := range apps {
					names[i] = r.Spec.Name
				}
				wait, err := run.host.WaitFor(env, names, outs)
				if err != nil {
					return err
				}
				waitErr = wait(ctx, d, argo)
				if waitErr == nil {
					rec.Set("argocd", "synced and healthy")
				}
			}
			// The deployment report, refreshed after every publish.
			report := filepath.Join(run.opts.Out, "report.html")
			if err := run.host.Report(ctx, d, report, apps[0].Src); err != nil {
				run.logf("warning: report: %v", err)
			} else {
				rec.Artifact(report)
			}
			return waitErr
		},
	}
}

// attachVerify sets the pipeline deploy's Verify hook: the configured policy,
// else, when this run signs, its own key or identity (what push attached
// must verify again, read back from the registry, before the commit).
func (run *Run) attachVerify(d *gitops.Deployer, apps []*App) error {
	p, err := run.VerifyPolicy()
	if err != nil {
		return err
	}
	if p == nil {
		s, err := run.host.Signing()
		if err != nil || s == nil {
			return err
		}
		ownp, err := s.Own()
		if err != nil {
			return err
		}
		own := *ownp
		byApp := map[string]*App{}
		for _, r := range apps {
			byApp[r.Spec.Name] = r
		}
		d.Verify = func(ctx context.Context, req gitops.Request) (*gitops.Verification, error) {
			p := own
			p.Require = []string{"signature", "provenance"}
			if r := byApp[req.App]; r != nil && r.Snapshot().Image.Signature != "" {
				if _, err := os.Stat(r.OutPath("sbom.cdx.json")); err == nil {
					p.Require = append(p.Require, "sbom")
				}
			}
			return run.host.VerifyHook(&p)(ctx, req)
		}
		return nil
	}
	d.Verify = run.host.VerifyHook(p)
	return nil
}
