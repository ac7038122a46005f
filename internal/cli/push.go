package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/provenance"
	"github.com/slipway-ci/slipway/internal/registry"
	"github.com/slipway-ci/slipway/internal/version"
)

// pushFlags configure where the image goes.
type pushFlags struct {
	image        string
	tags         []string
	allowTagMove bool
	skipGate     string
}

// bindPushFlags binds the pipeline's push flags (run, the root command).
func bindPushFlags(f *pflag.FlagSet, pf *pushFlags, withImage bool) {
	if withImage {
		f.StringVar(&pf.image, "image", "", "image repository to push to (env CI_IMAGE; default outside CI: Slipway's local registry under out/registry)")
		f.StringSliceVar(&pf.tags, "tag", nil, "extra tag (repeatable); the commit SHA, <branch>-<sha> and a semver tag are added")
		f.BoolVar(&pf.allowTagMove, "allow-tag-move", false, "let an existing tag move to a new digest (tags are immutable by default)")
		f.StringVar(&pf.skipGate, "skip-gate", "", "push even though the image was not scanned or failed the scan gate; the REASON is recorded in result.json")
	}
}

func newPushCmd(o *options) *cobra.Command {
	pf := &pushFlags{}
	var tarball, sbom, sourceRepo string
	var vf verifyFlags
	cmd := &cobra.Command{
		Use:   "push --tarball F --image REPO [--tag T...]",
		Short: "Push an image tarball by digest; the last stdout line is REPO@sha256:…",
		Long: `Push an image tarball (a Docker archive or an OCI image layout in a tar;
a multi-platform index is pushed as an index) to REPO by digest: blobs the
registry lacks are uploaded concurrently, the manifest is pushed by digest and
read back to verify it, then each --tag is applied. Tags are immutable: a tag
that points at another digest makes the push fail with nothing written
(--allow-tag-move to permit). Re-pushing the same digest is a no-op.

Credentials: REGISTRY_USERNAME/REGISTRY_PASSWORD, else GITHUB_TOKEN for ghcr.io,
else the Docker config (docker login, credential helpers). Plain HTTP is used
only for loopback registries.

When a signing identity is configured (SLIPWAY_SIGNING_KEY, or keyless in
GitHub Actions; a development key under --out outside CI) the digest is
signed and its SLSA provenance (source commit of --source-repo, the image
lock, the builder) and --sbom are attached as OCI referrers, then read back
and verified; out/provenance.json and out/attestations.json are written.`,
		Example: `  go run ./ci push --tarball out/image.tar --image ghcr.io/acme/payments --tag v1.4.2
  IMAGE=$(go run ./ci push --tarball out/image.tar --image 127.0.0.1:5000/app | tail -n1)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tarball == "" {
				return usageErr("push: --tarball is required (the image tarball, e.g. out/image.tar)")
			}
			image := envDefault(pf.image, "CI_IMAGE", "")
			if image == "" {
				return usageErr("push: --image is required (a repository such as ghcr.io/org/app; or set CI_IMAGE)")
			}
			repo, err := registry.ParseRepo(image)
			if err != nil {
				return usageErr("push: %v", err)
			}
			a, err := openTarball(tarball)
			if err != nil {
				return err
			}
			defer a.Close()
			if sbom != "" {
				if _, err := os.Stat(sbom); err != nil {
					return usageErr("push: --sbom %s: %v", sbom, errors.Unwrap(err))
				}
			}
			started := time.Now()
			opts := append(pushOptions(o.stderr, pf), registry.WithBeforeTag(func(ctx context.Context, digest string) error {
				return o.attestPushCmd(ctx, repo, digest, sourceRepo, sbom, started, &vf)
			}))
			res, err := registry.Push(cmd.Context(), a, repo, pf.tags, opts...)
			if err != nil {
				return failErr(fmt.Errorf("push %s: %w", tarball, err))
			}
			fmt.Fprintln(o.stdout, res.Ref)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&pf.image, "image", "", "image repository to push to (required; env CI_IMAGE)")
	f.StringSliceVar(&pf.tags, "tag", nil, "tag to apply (repeatable); only these tags are applied")
	f.BoolVar(&pf.allowTagMove, "allow-tag-move", false, "let an existing tag move to a new digest (tags are immutable by default)")
	f.StringVar(&tarball, "tarball", "", "image tarball: Docker archive or OCI layout tar")
	f.StringVar(&sbom, "sbom", "", "CycloneDX SBOM of the image to attest (out/sbom.cdx.json from the scan stage)")
	f.StringVar(&sourceRepo, "source-repo", ".", "source repository the image was built from (its HEAD goes into the provenance)")
	bindVerifyFlags(f, &vf)
	return cmd
}

func openTarball(path string) (*ocitar.Archive, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, usageErr("tarball %s: %v", path, errors.Unwrap(err))
	}
	a, err := ocitar.Open(path)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return a, nil
}

func pushOptions(stderr io.Writer, pf *pushFlags) []registry.Option {
	return []registry.Option{
		registry.WithAllowTagMove(pf.allowTagMove),
		registry.WithProgress(stderr, isTerminal(stderr)),
	}
}

// isTerminal reports whether w is a character device (live progress) rather
// than a CI log (one summary line).
func isTerminal(w io.Writer) bool {
	if lw, ok := w.(*lockedWriter); ok {
		w = lw.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// localRegistry starts Slipway's embedded registry once per run (every
// app pushes to it), stored in out/registry; it stops when the run ends.
func (run *invocation) localRegistry() (string, error) {
	run.localOnce.Do(func() {
		run.local, run.localErr = registry.StartLocal(filepath.Join(run.o.out, "registry"), registry.DefaultLocalAddr)
	})
	if run.localErr != nil {
		return "", run.localErr
	}
	return run.local.Addr, nil
}

func pushStage(r *runState) pipeline.Stage {
	return pipeline.Stage{
		Name:        "push",
		Description: "push out/image.tar by digest; sign it, attach SBOM and SLSA provenance as referrers and verify them; then immutable tags",
		Artifacts:   []string{r.outPath("provenance.json"), r.outPath("attestations.json")},
		Needs:       []string{"scan"},
		Secrets:     []string{"REGISTRY_USERNAME", "REGISTRY_PASSWORD", envSigningKey, envSigningPassword},
		Run: func(ctx context.Context, rec *pipeline.Record) error {
			// This stage's record is replaced whatever the outcome.
			r.update(func(res *pipeline.Result) {
				res.Image.Ref, res.Image.Tags, res.Image.Signature, res.Image.SignedBy = "", nil, "", ""
			})
			_ = os.Remove(r.outPath("attestations.json"))
			tarball := r.outPath("image.tar")
			a, err := openTarball(tarball)
			if err != nil {
				return fmt.Errorf("push: %w (run the build stage first)", err)
			}
			defer a.Close()
			if err := r.checkGate(a, tarball); err != nil {
				return err
			}
			image := r.imageRepoConfigured()
			opts := pushOptions(r.o.stderr, &r.flags.push)
			if image == "" {
				addr, err := r.run.localRegistry()
				if err != nil {
					return err
				}
				image = addr + "/slipway/" + r.app.Name
				opts = append(opts, registry.WithKeychain(registry.Anonymous()))
				r.o.logf("push: no --image or CI_IMAGE: using Slipway's local registry at %s (stored in %s)", addr, filepath.Join(r.o.out, "registry"))
			}
			repo, err := registry.ParseRepo(image)
			if err != nil {
				return usageErr("push: %v", err)
			}
			// Sign, attach and verify before any tag: a tag only ever names
			// a signed digest.
			pol, err := r.run.verifyPolicy()
			if err != nil {
				return err
			}
			var rep *attest.Report
			var who string
			attach := registry.WithBeforeTag(func(ctx context.Context, digest string) error {
				_ = os.Remove(r.outPath("provenance.json"))
				if p, err := r.writeProvenance(repo.String(), digest); err != nil {
					r.o.logf("warning: push: provenance: %v", err)
				} else {
					rec.Artifact(p)
				}
				var err error
				rep, who, err = r.o.attestPushed(ctx, repo, digest, r.version.Commit, r.outPath("sbom.cdx.json"), r.outPath("provenance.json"),
					r.outPath("attestations.json"), pol, r.flags.verify.trustedRoot, opts)
				if rep != nil {
					rec.Artifact(r.outPath("attestations.json"))
				}
				return err
			})
			res, err := registry.Push(ctx, a, repo, r.pushTags(), append(opts, attach)...)
			if err != nil {
				return fmt.Errorf("push: %w", err)
			}
			r.update(func(p *pipeline.Result) {
				p.Image.Ref, p.Image.Digest, p.Image.Tags = res.Ref, res.Digest, res.Tags
				if p.Image.Tarball == "" {
					p.Image.Tarball = tarball
				}
			})
			rec.Set("ref", res.Ref)
			rec.Set("uploaded", fmt.Sprintf("%d/%d bytes", res.BlobBytes, res.TotalBytes))
			if rep != nil {
				rec.Set("signed", who)
				rec.Set("attached", attachedSummary(rep))
				r.update(func(p *pipeline.Result) {
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
func (r *runState) checkGate(a *ocitar.Archive, tarball string) error {
	d, err := a.Digest()
	if err != nil {
		return fmt.Errorf("push: digest of %s: %w", tarball, err)
	}
	g := r.snapshot().Gate
	var problem string
	switch {
	case g == nil:
		problem = fmt.Sprintf("%s (%s) has no scan verdict in %s", tarball, d, r.outPath(pipeline.ResultFile))
	case g.Digest != d.String():
		problem = fmt.Sprintf("%s is %s, but the scan gate judged %s", tarball, d, g.Digest)
	case g.Verdict != pipeline.GatePassed:
		problem = fmt.Sprintf("%s failed the scan gate (%s)", d, g.Summary)
	default:
		return nil
	}
	reason := strings.TrimSpace(r.flags.push.skipGate)
	if reason == "" {
		return fmt.Errorf("push: refusing: %s; run the scan stage on this image, or pass --skip-gate \"REASON\" to push anyway (recorded)", problem)
	}
	r.o.logf("warning: push: %s; pushing anyway (--skip-gate %q)", problem, reason)
	r.update(func(res *pipeline.Result) {
		gr := pipeline.GateResult{Digest: d.String(), Verdict: "skipped", Summary: problem, Time: time.Now().UTC()}
		if res.Gate != nil && res.Gate.Digest == d.String() {
			gr = *res.Gate
		}
		gr.SkippedBy = reason
		res.Gate = &gr
	})
	return nil
}

// attestPushCmd is `push`'s supply chain: provenance from what push knows
// (the source repository's HEAD, the image lock, the builder), then sign,
// attach and verify.
func (o *options) attestPushCmd(ctx context.Context, repo name.Repository, digest, sourceRepo, sbom string, started time.Time, vf *verifyFlags) error {
	s, err := o.signer()
	if err != nil || s == nil {
		if err == nil {
			o.warnUnsigned(repo, digest)
		}
		return err
	}
	pol, err := o.policy(vf)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	provPath := o.outPath("provenance.json")
	_ = os.Remove(provPath)
	info, verr := version.Detect(sourceRepo)
	commit := ""
	if verr == nil && info.Commit != "" {
		commit = info.Commit
		lock, err := o.lock()
		if err != nil {
			return err
		}
		err = writeProvenanceFile(provPath, provenance.Input{
			Repository: repo.String(), Digest: digest,
			SourceRepo: info.RepoURL, SourceRef: info.Branch, SourceCommit: info.Commit, SourceDirty: info.Dirty,
			Lock: lock, BuilderID: provenance.BuilderID(os.Getenv), InvocationID: gitops.PipelineRun(os.Getenv),
			Started: started, Finished: time.Now(),
		})
		if err != nil {
			return err
		}
	} else {
		o.logf("warning: %s is not a git checkout with a commit: no provenance attached (pass --source-repo)", sourceRepo)
	}
	rep, who, err := o.attestPushed(ctx, repo, digest, commit, sbom, provPath, o.outPath("attestations.json"), pol, vf.trustedRoot, o.registryOpts(repo))
	if err != nil {
		return err
	}
	o.logf("signed with %s; attached and verified: %s", who, attachedSummary(rep))
	return nil
}

// writeProvenanceFile writes an in-toto/SLSA provenance statement.
func writeProvenanceFile(path string, in provenance.Input) error {
	st, err := provenance.Statement(in)
	if err != nil {
		return err
	}
	data, err := provenance.Marshal(st)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// writeProvenance writes out/provenance.json: an in-toto Statement with a
// SLSA Provenance v1 predicate for the pushed digest (source, app
// configuration, every image of the lock by digest, builder, run).
func (r *runState) writeProvenance(repo, digest string) (string, error) {
	p := r.outPath("provenance.json")
	return p, writeProvenanceFile(p, provenance.Input{
		Repository: repo, Digest: digest,
		SourceRepo: r.version.RepoURL, SourceRef: r.version.Branch, SourceCommit: r.version.Commit, SourceDirty: r.version.Dirty,
		App: map[string]any{
			"name": r.app.Name, "main": r.app.Main, "binary": r.app.Binary, "base": r.app.Base, "port": float64(r.app.Port),
		},
		Lock: r.lock, BuilderID: provenance.BuilderID(os.Getenv), InvocationID: gitops.PipelineRun(os.Getenv),
		Started: r.run.started, Finished: time.Now(),
	})
}
