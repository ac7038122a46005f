package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/pipeline"
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
	return &cobra.Command{
		Use:   "push --tarball F --image REPO [--tag T...]",
		Short: "Push an image tarball by digest; prints REPO@sha256:…",
		RunE: func(*cobra.Command, []string) error {
			return usageErr("push: not implemented yet")
		},
	}
}

func pushStage(r *runState) pipeline.Stage {
	return pipeline.Stage{
		Name:        "push",
		Description: "push out/image.tar by digest, verify it, add immutable tags",
		Needs:       []string{"scan"},
		Secrets:     []string{"REGISTRY_USERNAME", "REGISTRY_PASSWORD"},
		Run: func(context.Context, *pipeline.Record) error {
			return errors.New("push: not implemented yet")
		},
	}
}
