package cli

import (
	"testing"

	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/keyless"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// TestMain runs this package's tests without the shell's SLIPWAY_*, GITOPS_*,
// CI*, DOCKER_*, REGISTRY_*, … variables (see internal/testenv).
// Keyless signing and verification run in this process, as in the slipway
// binary (a Go pipeline runs the same code as a helper process: see
// internal/keyless's TestHelperProcess).
func TestMain(m *testing.M) {
	attest.RegisterKeyless(keyless.Local{})
	testenv.Main(m)
}
