package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/imagelock"
	"github.com/slipway-ci/slipway/internal/registry"
	"github.com/slipway-ci/slipway/internal/safetext"
)

func newPinCmd(o *options) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "pin [--check]",
		Short: "Re-resolve the image lock's tags to their current digests and rewrite the lock",
		Long: `Resolve each image's tag through its registry and rewrite the digest in place
(comments and order kept), printing old -> new. The lock is ci/images.lock, or
--images / SLIPWAY_IMAGES. Every image is checked. With --check nothing is
written. Exit codes: 1 when a pin is stale (--check), 2 when a registry could
not answer for an image (network, credentials, a missing tag); resolved
images are still reported (and, without --check, written).`,
		Example: `  go run ./ci pin
  go run ./ci pin --check
  go run ./ci pin --images mirror.lock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := envDefault(o.images, "SLIPWAY_IMAGES", o.proj.LockPath)
			if path == "" {
				path = "ci/images.lock"
			}
			lock, err := imagelock.Load(path)
			if err != nil {
				return usageErr("pin: %v (run from the repository root, or pass --images)", err)
			}
			kc, err := o.keychain()
			if err != nil {
				return err
			}
			changes, pinErr := registry.Pin(cmd.Context(), lock, registry.WithKeychain(kc))
			for _, c := range changes {
				fmt.Fprint(o.stdout, safetext.Sprintf("%s: %s %s -> %s\n", c.Name, c.Tag, c.Old, c.New))
			}
			if pinErr != nil {
				for _, line := range strings.Split(pinErr.Error(), "\n") {
					o.logf("error: pin: %s", line)
				}
			}
			if !check && len(changes) > 0 {
				if err := os.WriteFile(path, lock.Bytes(), 0o644); err != nil {
					return failErr(fmt.Errorf("pin: write %s: %w", path, err))
				}
				fmt.Fprintf(o.stdout, "%s: %d updated\n", path, len(changes))
			}
			if pinErr != nil {
				// Not "stale": the registry could not answer (network, auth,
				// a missing tag). Exit 2 so a scheduled job tells them apart.
				return &exitError{code: 2, err: fmt.Errorf("pin %s: %d of %d images could not be resolved (see above)", path, len(joinedErrs(pinErr)), len(lock.Images()))}
			}
			if len(changes) == 0 {
				fmt.Fprintf(o.stdout, "%s: all %d images current\n", path, len(lock.Images()))
				return nil
			}
			if check {
				return failErr(fmt.Errorf("pin --check: %d of %d images in %s are stale; run `%s pin`", len(changes), len(lock.Images()), path, o.invocation()))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only report; exit 1 if any pin is stale")
	return cmd
}

// joinedErrs lists the errors inside an errors.Join result.
func joinedErrs(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
