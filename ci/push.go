package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/registry"
)

// pushFlags configure where the image goes.
type pushFlags struct {
	image        string
	tags         []string
	allowTagMove bool
}

func bindPushFlags(f *pflag.FlagSet, pf *pushFlags, withImage bool) {
	if withImage {
		f.StringVar(&pf.image, "image", "", "image repository to push to (env CI_IMAGE; default: Slipway's local registry under out/registry)")
		f.StringSliceVar(&pf.tags, "tag", nil, "extra tag (repeatable); the commit SHA, <branch>-<sha> and a semver tag are added")
		f.BoolVar(&pf.allowTagMove, "allow-tag-move", false, "let an existing tag move to a new digest (tags are immutable by default)")
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
	bindPushFlags(cmd.Flags(), pf, true)
	cmd.Flags().StringVar(&tarball, "tarball", "", "image tarball: Docker archive or OCI layout tar")
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

func pushStage(r *runState) pipeline.Stage {
	return pipeline.Stage{
		Name:        "push",
		Description: "push out/image.tar by digest, verify it, add immutable tags",
		Needs:       []string{"scan"},
		Secrets:     []string{"REGISTRY_USERNAME", "REGISTRY_PASSWORD"},
		Run: func(ctx context.Context, rec *pipeline.Record) error {
			tarball := r.o.outPath("image.tar")
			a, err := openTarball(tarball)
			if err != nil {
				return fmt.Errorf("push: %w (run the build stage first)", err)
			}
			defer a.Close()
			image := envDefault(r.flags.push.image, "CI_IMAGE", "")
			if image == "" {
				local, err := registry.StartLocal(filepath.Join(r.o.out, "registry"), registry.DefaultLocalAddr)
				if err != nil {
					return err
				}
				defer local.Close()
				image = local.Addr + "/" + localRepo
				r.o.logf("push: no --image or CI_IMAGE: using Slipway's local registry at %s (stored in %s)", local.Addr, filepath.Join(r.o.out, "registry"))
			}
			repo, err := registry.ParseRepo(image)
			if err != nil {
				return usageErr("push: %v", err)
			}
			res, err := registry.Push(ctx, a, repo, r.pushTags(), pushOptions(r.o.stderr, &r.flags.push)...)
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
			return nil
		},
	}
}
