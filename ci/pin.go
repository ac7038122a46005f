package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/imagelock"
	"github.com/slipway-ci/slipway/internal/registry"
)

func newPinCmd(o *options) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "pin [--check]",
		Short: "Re-resolve the image lock's tags to their current digests and rewrite the lock",
		Long: `Resolve each image's tag through its registry and rewrite the digest in place
(comments and order kept), printing old -> new. The lock is ci/images.lock, or
--images / SLIPWAY_IMAGES. With --check nothing is written and the exit code is
1 when any pin is stale (for a scheduled CI job).`,
		Example: `  go run ./ci pin
  go run ./ci pin --check
  go run ./ci pin --images mirror.lock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := envDefault(o.images, "SLIPWAY_IMAGES", "ci/images.lock")
			lock, err := imagelock.Load(path)
			if err != nil {
				return usageErr("pin: %v (run from the repository root, or pass --images)", err)
			}
			changes, err := registry.Pin(cmd.Context(), lock)
			if err != nil {
				return failErr(fmt.Errorf("pin %s: %w", path, err))
			}
			for _, c := range changes {
				fmt.Fprintf(o.stdout, "%s: %s %s -> %s\n", c.Name, c.Tag, c.Old, c.New)
			}
			if len(changes) == 0 {
				fmt.Fprintf(o.stdout, "%s: all %d images current\n", path, len(lock.Images()))
				return nil
			}
			if check {
				return failErr(fmt.Errorf("pin --check: %d of %d images in %s are stale; run `go run ./ci pin`", len(changes), len(lock.Images()), path))
			}
			if err := os.WriteFile(path, lock.Bytes(), 0o644); err != nil {
				return failErr(fmt.Errorf("pin: write %s: %w", path, err))
			}
			fmt.Fprintf(o.stdout, "%s: %d updated\n", path, len(changes))
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only report; exit 1 if any pin is stale")
	return cmd
}
