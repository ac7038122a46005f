package safetext

import (
	"testing"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// TestMain runs this package's tests without the shell's SLIPWAY_*, GITOPS_*,
// CI*, DOCKER_*, REGISTRY_*, … variables (see internal/testenv).
func TestMain(m *testing.M) { testenv.Main(m) }
