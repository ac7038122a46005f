package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/ocitar"
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
			ropts, err := o.registryOpts(repo)
			if err != nil {
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
				Registry: append(pushOptions(o.stderr, pf), ropts...),
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
