package natural

import (
	"testing"

	"github.com/slipway-ci/slipway/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
