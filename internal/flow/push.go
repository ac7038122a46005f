package flow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/registry"
	"github.com/slipway-ci/slipway/internal/release"
	"github.com/slipway-ci/slipway/internal/usage"
)

func pushStage(r *App) pipeline.Stage {
	return pipeline.Stage{
		Name:        "push",
		Description: "push out/image.tar by digest; sign it, attach SBOM and SLSA provenance as referrers and verify them; then immutable tags",
		Artifacts:   []string{r.OutPath("provenance.json"), r.OutPath("attestations.json")},
		Needs:       []string{"scan"},
		Secrets:     []string{"REGISTRY_USERNAME", "REGISTRY_PASSWORD", "SLIPWAY_SIGNING_KEY", "SLIPWAY_SIGNING_KEY_PASSWORD"},
		Run: func(ctx context.Context, rec *pipeline.Record) error {
			// This stage's record is replaced whatever the outcome.
			r.Update(func(res *pipeline.Result) {
				res.Image.Ref, res.Image.Tags, res.Image.Signature, res.Image.SignedBy = "", nil, "", ""
			})
			_ = os.Remove(r.OutPath("attestations.json"))
			tarball := r.OutPath("image.tar")
			a, err := openTarball(tarball)
			if err != nil {
				return fmt.Errorf("push: %w (run the build stage first)", err)
			}
			defer a.Close()
			if err := r.checkBuilt(a, tarball); err != nil {
				return err
			}
			if err := r.checkGate(a, tarball); err != nil {
				return err
			}
			image := r.ImageRepo()
			opts := []registry.Option{
				registry.WithAllowTagMove(r.run.opts.Push.AllowTagMove),
				registry.WithProgress(r.run.opts.Stderr, r.run.opts.Terminal),
			}
			if image == "" {
				addr, err := r.run.LocalRegistry()
				if err != nil {
					return err
				}
				image = addr + "/slipway/" + r.Spec.Name
				opts = append(opts, registry.WithKeychain(registry.Anonymous()))
				r.run.logf("push: no --image or CI_IMAGE: using Slipway's local registry at %s (stored in %s)", addr, filepath.Join(r.run.opts.Out, "registry"))
			} else if host, err := r.run.host.CredentialHost(); err != nil {
				return err
			} else {
				opts = append(opts, registry.WithKeychain(registry.Learning(registry.KeychainFor(host, os.Getenv), r.run.opts.Learn)))
			}
			repo, err := registry.ParseRepo(image)
			if err != nil {
				return usage.Errorf("push: %v", err)
			}
			// The release flow signs, attaches and verifies before any tag:
			// a tag only ever names a signed digest.
			pol, err := r.run.VerifyPolicy()
			if err != nil {
				return err
			}
			label, err := release.Label(a)
			if err != nil {
				return fmt.Errorf("push: %s: %w", tarball, err)
			}
			out, err := release.Publish(ctx, release.Request{
				Archive: a, Repo: repo, Tags: r.PushTags(), Facts: r.facts(label),
				Signing: r.run.host.Signing,
				Policy:  pol, SBOM: r.OutPath("sbom.cdx.json"),
				Provenance: r.OutPath("provenance.json"), Report: r.OutPath("attestations.json"), Out: r.Out,
				Registry: opts, Log: r.run.logf, Started: r.run.started, PipelineRun: gitops.PipelineRun(os.Getenv),
			})
			if out != nil && out.Provenance != "" {
				rec.Artifact(out.Provenance)
			}
			if out != nil && out.Report != nil {
				rec.Artifact(r.OutPath("attestations.json"))
			}
			if err != nil {
				return fmt.Errorf("push: %w", err)
			}
			res, rep, who := out.Result, out.Report, out.SignedBy
			r.Update(func(p *pipeline.Result) {
				p.Image.Ref, p.Image.Digest, p.Image.Tags = res.Ref, res.Digest, res.Tags
				if p.Image.Tarball == "" {
					p.Image.Tarball = tarball
				}
			})
			rec.Set("ref", res.Ref)
			rec.Set("uploaded", fmt.Sprintf("%d/%d bytes", res.BlobBytes, res.TotalBytes))
			if rep != nil {
				rec.Set("signed", who)
				rec.Set("attached", release.Summary(rep))
				r.Update(func(p *pipeline.Result) {
					p.Image.Signature, p.Image.SignedBy = rep.Signature.Bundle, rep.Signature.Signer
				})
			}
			return nil
		},
	}
}

// checkGate refuses to push a digest the scan gate did not pass, however the
// stages were split across jobs: the verdict in result.json must name this
// very digest. --skip-gate REASON overrides, and the reason is recorded.
func (r *App) checkGate(a *ocitar.Archive, tarball string) error {
	d, err := a.Digest()
	if err != nil {
		return fmt.Errorf("push: digest of %s: %w", tarball, err)
	}
	g := r.Snapshot().Gate
	var problem string
	switch {
	case g == nil:
		problem = fmt.Sprintf("%s (%s) has no scan verdict in %s", tarball, d, r.OutPath(pipeline.ResultFile))
	case g.Digest != d.String():
		problem = fmt.Sprintf("%s is %s, but the scan gate judged %s", tarball, d, g.Digest)
	case g.Verdict != pipeline.GatePassed:
		problem = fmt.Sprintf("%s failed the scan gate (%s)", d, g.Summary)
	default:
		return nil
	}
	reason := strings.TrimSpace(r.run.opts.Push.SkipGate)
	if reason == "" {
		return fmt.Errorf("push: refusing: %s; run the scan stage on this image, or pass --skip-gate \"REASON\" to push anyway (recorded)", problem)
	}
	r.run.logf("warning: push: %s; pushing anyway (--skip-gate %q)", problem, reason)
	r.Update(func(res *pipeline.Result) {
		gr := pipeline.GateResult{Digest: d.String(), Verdict: "skipped", Summary: problem, Time: time.Now().UTC()}
		if res.Gate != nil && res.Gate.Digest == d.String() {
			gr = *res.Gate
		}
		gr.SkippedBy = reason
		res.Gate = &gr
	})
	return nil
}

// checkBuilt refuses to push, as this pipeline's build, an image its build
// stage did not record: the provenance of the pipeline's push states the
// build's inputs, which are facts only for the image that build made. An
// image built elsewhere is pushed with `push --tarball`.
func (r *App) checkBuilt(a *ocitar.Archive, tarball string) error {
	d, err := a.Digest()
	if err != nil {
		return fmt.Errorf("push: digest of %s: %w", tarball, err)
	}
	built := r.Snapshot().Image.Digest
	switch {
	case built == "":
		return fmt.Errorf("push: refusing: %s (%s) has no build record in %s: the pipeline pushes only what its build stage made; run the build stage, or push an image built elsewhere with `push --tarball`", tarball, d, r.OutPath(pipeline.ResultFile))
	case built != d.String():
		return fmt.Errorf("push: refusing: %s is %s, but the build stage recorded %s: the pipeline pushes only what its build stage made; rebuild, or push an image built elsewhere with `push --tarball`", tarball, d, built)
	}
	return nil
}

// facts are what this pipeline knows of the image its build stage made:
// the checkout's commit, branch and dirtiness, and the build's inputs (the
// app's configuration and the image lock).
func (r *App) facts(label string) release.Facts {
	return release.Facts{
		Source: release.Source{Commit: r.Version.Commit, Repo: r.Version.RepoURL, Ref: r.Version.Branch, Dirty: r.Version.Dirty},
		Build: &release.Build{
			App:          map[string]any{"name": r.Spec.Name, "main": r.Spec.Main, "binary": r.Spec.Binary, "base": r.Spec.Base, "port": float64(r.Spec.Port)},
			Lock:         r.run.opts.Lock,
			InputsCommit: r.Inputs().Commit,
		},
		Label: label,
	}
}

// openTarball opens an image tarball (a usage error when it is missing or
// not an image).
func openTarball(path string) (*ocitar.Archive, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, usage.Errorf("tarball %s: %v", path, errors.Unwrap(err))
	}
	a, err := ocitar.Open(path)
	if err != nil {
		return nil, usage.Wrap(err)
	}
	return a, nil
}
