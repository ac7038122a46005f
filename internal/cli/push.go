package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/registry"
	"github.com/slipway-ci/slipway/internal/release"
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
		f.Var(&tagsValue{tags: &pf.tags}, "tag", "extra tag (repeatable); the commit SHA, <branch>-<sha> and a semver tag are added")
		f.BoolVar(&pf.allowTagMove, "allow-tag-move", false, "let an existing tag move to a new digest (tags are immutable by default)")
		f.StringVar(&pf.skipGate, "skip-gate", "", "push even though the image was not scanned or failed the scan gate; the REASON is recorded in result.json")
	}
}

func newPushCmd(o *options) *cobra.Command {
	pf := &pushFlags{}
	var tarball, sbom, sourceCommit, sourceRepo, app string
	var vf verifyFlags
	cmd := &cobra.Command{
		Use:   "push --tarball F --image REPO [--tag T...] [--source-commit SHA]",
		Short: "Push an image tarball by digest; the last stdout line is REPO@sha256:…",
		Long: `Push an image tarball (a Docker archive or an OCI image layout in a tar;
a multi-platform index is pushed as an index) to REPO by digest: blobs the
registry lacks are uploaded concurrently, the manifest is pushed by digest and
read back to verify it, then each --tag is applied and read back. Tags are
immutable: a tag that points at another digest makes the push fail with
nothing written (--allow-tag-move to permit), and a tag that names another
digest when read back (a concurrent push moved it) fails the push (exit 1).
Re-pushing the same digest is a no-op.

Credentials: REGISTRY_USERNAME/REGISTRY_PASSWORD for the one registry
REGISTRY_HOST names (default: the registry of the configured App.Image when
they are all on one host; otherwise exit 2) and never for another, else
GITHUB_TOKEN for ghcr.io, else the Docker config (docker login, credential
helpers). Plain HTTP is used
only for loopback registries.

Slipway did not build this image, so its provenance states only what is
known: the digest, the image's org.opencontainers.image.revision label when it
has one, and the source commit only when --source-commit gives it (refused,
exit 1, when the label names another commit, unless --app names a configured
app whose inputs did not change between the label's commit and it: the rule
deploy applies); otherwise it says the source commit is unknown. It names no
build inputs, and is written to out/provenance.json once the digest is
pushed. When a signing identity is configured (SLIPWAY_SIGNING_KEY, or
keyless in GitHub Actions; a development key under --out outside CI) the
digest is signed and that provenance and --sbom are attached as OCI
referrers, then read back and verified (out/attestations.json).`,
		Example: `  slipway push --tarball out/image.tar --image ghcr.io/acme/payments --tag v1.4.2 --source-commit "$(git rev-parse HEAD)"
  IMAGE=$(slipway push --tarball out/image.tar --image 127.0.0.1:5000/app | tail -n1)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tarball == "" {
				return usageErr("push: --tarball is required (the image tarball, e.g. out/image.tar)")
			}
			if sourceRepo != "" {
				return usageErr("push: --source-repo is gone: a checkout's HEAD is not evidence of what an image was built from; pass --source-commit SHA")
			}
			if sourceCommit != "" && !isSHA(sourceCommit) {
				return usageErr("push: --source-commit %q: want the full 40-hex commit SHA", sourceCommit)
			}
			image := envDefault(pf.image, "CI_IMAGE", "")
			if image == "" {
				return usageErr("push: --image is required (a repository such as ghcr.io/org/app; or set CI_IMAGE)")
			}
			repo, err := registry.ParseRepo(image)
			if err != nil {
				return usageErr("push: %v", err)
			}
			if _, err := o.credentialHost(); err != nil {
				return err
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
			label, err := release.Label(a)
			if err != nil {
				return failErr(fmt.Errorf("push %s: %w", tarball, err))
			}
			if sourceCommit != "" {
				if err := o.checkLabel(app, ".", label, sourceCommit); err != nil {
					return failErr(fmt.Errorf("push %s: refusing: %w", tarball, err))
				}
			}
			src, err := release.PushedSource(label, sourceCommit, o.inputsAtFor(app, "."))
			if err != nil {
				return failErr(fmt.Errorf("push %s: refusing: %w", tarball, err))
			}
			pol, err := o.policy(&vf)
			if err != nil {
				return err
			}
			req := release.Request{
				Archive: a, Repo: repo, Tags: pf.tags, Facts: release.Facts{Source: src, Label: label},
				Signing: func() (*release.Signing, error) { return o.releaseSigning(vf.trustedRoot) },
				Policy:  pol, SBOM: sbom,
				Provenance: o.outPath("provenance.json"), Report: o.outPath("attestations.json"), Out: o.out,
				Registry: append(pushOptions(o.stderr, pf), o.registryOpts(repo)...),
				Log:      o.logf, Started: time.Now(), PipelineRun: gitops.PipelineRun(os.Getenv),
			}
			if src.Commit == "" {
				o.logf("note: no --source-commit: the provenance says the source commit is unknown (label %s: %s)", release.RevisionLabel, noneIfEmpty(label))
			}
			res, err := release.Publish(cmd.Context(), req)
			if res != nil && res.Report != nil && err == nil {
				o.logf("signed with %s; attached and verified: %s", res.SignedBy, release.Summary(res.Report))
			}
			if err != nil {
				return failErr(fmt.Errorf("push %s: %w", tarball, err))
			}
			fmt.Fprintln(o.stdout, res.Ref)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&pf.image, "image", "", "image repository to push to (required; env CI_IMAGE)")
	f.Var(&tagsValue{tags: &pf.tags}, "tag", "tag to apply (repeatable); only these tags are applied")
	f.BoolVar(&pf.allowTagMove, "allow-tag-move", false, "let an existing tag move to a new digest (tags are immutable by default)")
	f.StringVar(&tarball, "tarball", "", "image tarball: Docker archive or OCI layout tar")
	f.StringVar(&sbom, "sbom", "", "CycloneDX SBOM of the image to attest (out/sbom.cdx.json from the scan stage)")
	f.StringVar(&sourceCommit, "source-commit", "", "the commit the image was built from, recorded in its provenance (refused when the image's revision label names another); default: unknown, and the provenance says so")
	f.StringVar(&app, "app", "", "the configured app (Go configuration) the image is of: a revision label naming an older commit than --source-commit is accepted when none of its inputs changed since")
	f.StringVar(&sourceRepo, "source-repo", "", "removed: pass --source-commit")
	_ = f.MarkHidden("source-repo")
	bindVerifyFlags(f, &vf)
	return cmd
}

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// isSHA: a full lowercase 40-hex commit SHA.
func isSHA(s string) bool { return shaRE.MatchString(s) }

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
			if err := r.checkBuilt(a, tarball); err != nil {
				return err
			}
			if err := r.checkGate(a, tarball); err != nil {
				return err
			}
			image := r.imageRepoConfigured()
			opts := pushOptions(r.o.stderr, &r.flags.push)
			if image == "" {
				addr, err := r.run.LocalRegistry()
				if err != nil {
					return err
				}
				image = addr + "/slipway/" + r.app.Name
				opts = append(opts, registry.WithKeychain(registry.Anonymous()))
				r.o.logf("push: no --image or CI_IMAGE: using Slipway's local registry at %s (stored in %s)", addr, filepath.Join(r.o.out, "registry"))
			} else if host, err := r.o.credentialHost(); err != nil {
				return err
			} else {
				opts = append(opts, registry.WithKeychain(registry.KeychainFor(host, os.Getenv)))
			}
			repo, err := registry.ParseRepo(image)
			if err != nil {
				return usageErr("push: %v", err)
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
				Archive: a, Repo: repo, Tags: r.pushTags(), Facts: r.facts(label),
				Signing: func() (*release.Signing, error) { return r.o.releaseSigning(r.flags.verify.trustedRoot) },
				Policy:  pol, SBOM: r.outPath("sbom.cdx.json"),
				Provenance: r.outPath("provenance.json"), Report: r.outPath("attestations.json"), Out: r.Out,
				Registry: opts, Log: r.o.logf, Started: r.run.started, PipelineRun: gitops.PipelineRun(os.Getenv),
			})
			if out != nil && out.Provenance != "" {
				rec.Artifact(out.Provenance)
			}
			if out != nil && out.Report != nil {
				rec.Artifact(r.outPath("attestations.json"))
			}
			if err != nil {
				return fmt.Errorf("push: %w", err)
			}
			res, rep, who := out.Result, out.Report, out.SignedBy
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
				rec.Set("attached", release.Summary(rep))
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

// checkBuilt refuses to push, as this pipeline's build, an image its build
// stage did not record: the provenance of the pipeline's push states the
// build's inputs, which are facts only for the image that build made. An
// image built elsewhere is pushed with `push --tarball`.
func (r *runState) checkBuilt(a *ocitar.Archive, tarball string) error {
	d, err := a.Digest()
	if err != nil {
		return fmt.Errorf("push: digest of %s: %w", tarball, err)
	}
	built := r.snapshot().Image.Digest
	switch {
	case built == "":
		return fmt.Errorf("push: refusing: %s (%s) has no build record in %s: the pipeline pushes only what its build stage made; run the build stage, or push an image built elsewhere with `push --tarball`", tarball, d, r.outPath(pipeline.ResultFile))
	case built != d.String():
		return fmt.Errorf("push: refusing: %s is %s, but the build stage recorded %s: the pipeline pushes only what its build stage made; rebuild, or push an image built elsewhere with `push --tarball`", tarball, d, built)
	}
	return nil
}

// facts are what this pipeline knows of the image its build stage made:
// the checkout's commit, branch and dirtiness, and the build's inputs (the
// app's configuration and the image lock).
func (r *runState) facts(label string) release.Facts {
	return release.Facts{
		Source: release.Source{Commit: r.Version.Commit, Repo: r.Version.RepoURL, Ref: r.Version.Branch, Dirty: r.Version.Dirty},
		Build: &release.Build{
			App:          map[string]any{"name": r.app.Name, "main": r.app.Main, "binary": r.app.Binary, "base": r.app.Base, "port": float64(r.app.Port)},
			Lock:         r.lock,
			InputsCommit: r.inputs().Commit,
		},
		Label: label,
	}
}

// tagRE is an OCI tag: up to 128 of [A-Za-z0-9_.-], not starting with . or -.
var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// tagsValue is --tag: repeatable and comma-separated, each tag checked when
// the flag is parsed (a bad tag is a usage error before anything is pushed).
type tagsValue struct {
	tags *[]string
	set  bool
}

func (v *tagsValue) String() string {
	if len(*v.tags) == 0 {
		return ""
	}
	return "[" + strings.Join(*v.tags, ",") + "]"
}
func (v *tagsValue) Type() string { return "strings" }
func (v *tagsValue) Set(s string) error {
	if !v.set {
		*v.tags, v.set = nil, true
	}
	for _, t := range strings.Split(s, ",") {
		if !tagRE.MatchString(t) {
			return fmt.Errorf("%q is not a tag: want up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'", t)
		}
		*v.tags = append(*v.tags, t)
	}
	return nil
}
