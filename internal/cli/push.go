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

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/provenance"
	"github.com/slipway-ci/slipway/internal/registry"
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
	var tarball string
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
only for loopback registries.`,
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
			res, err := registry.Push(cmd.Context(), a, repo, pf.tags, pushOptions(o.stderr, pf)...)
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
		Description: "push out/image.tar by digest, verify it, add immutable tags; write its SLSA provenance",
		Artifacts:   []string{r.outPath("provenance.json")},
		Needs:       []string{"scan"},
		Secrets:     []string{"REGISTRY_USERNAME", "REGISTRY_PASSWORD"},
		Run: func(ctx context.Context, rec *pipeline.Record) error {
			// This stage's record is replaced whatever the outcome.
			r.update(func(res *pipeline.Result) { res.Image.Ref, res.Image.Tags = "", nil })
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
			res, err := registry.Push(ctx, a, repo, r.pushTags(), opts...)
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
			// The provenance of what was pushed (unsigned for now).
			if p, err := r.writeProvenance(repo.String(), res.Digest); err != nil {
				r.o.logf("warning: push: provenance: %v", err)
			} else {
				rec.Artifact(p)
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

// writeProvenance writes out/provenance.json: an in-toto Statement with a
// SLSA Provenance v1 predicate for the pushed digest (source, app
// configuration, every image of the lock by digest, builder, run).
func (r *runState) writeProvenance(repo, digest string) (string, error) {
	started := r.run.started
	st, err := provenance.Statement(provenance.Input{
		Repository: repo, Digest: digest,
		SourceRepo: r.version.RepoURL, SourceRef: r.version.Branch, SourceCommit: r.version.Commit, SourceDirty: r.version.Dirty,
		App: map[string]any{
			"name": r.app.Name, "main": r.app.Main, "binary": r.app.Binary, "base": r.app.Base, "port": float64(r.app.Port),
		},
		Lock: r.lock, BuilderID: provenance.BuilderID(os.Getenv), InvocationID: gitops.PipelineRun(os.Getenv),
		Started: started, Finished: time.Now(),
	})
	if err != nil {
		return "", err
	}
	data, err := provenance.Marshal(st)
	if err != nil {
		return "", err
	}
	p := r.outPath("provenance.json")
	if err := os.WriteFile(p, append(data, '\n'), 0o644); err != nil {
		return "", err
	}
	return p, nil
}
