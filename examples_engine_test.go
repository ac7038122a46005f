//go:build engine

package slipway_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// TestExamplesRunOnEngine runs each example's pipeline as its users would:
// `go run ./ci` from the example's root (its go.work joins the service
// module and the ci/ module), lint, test, build, scan and, for the service
// repository, the custom integration stage against PostgreSQL.
func TestExamplesRunOnEngine(t *testing.T) {
	testenv.Engine(t) // the shell's engine, registry and SLIPWAY_IMAGES, on purpose
	if err := dag.Preflight(context.Background(), os.Getenv); err != nil {
		t.Skipf("needs a Dagger engine (GitHub Actions provides one through Docker): %v", err)
	}
	for _, ex := range []struct {
		dir  string
		args []string
		env  []string
	}{
		{"service-repo", nil, []string{"DB_PASSWORD=slipway-example"}},
		{"monorepo", []string{"--all"}, nil},
	} {
		t.Run(ex.dir, func(t *testing.T) {
			out := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "go", append([]string{"run", "./ci", "--out", out}, ex.args...)...)
			cmd.Dir = filepath.Join("examples", ex.dir)
			cmd.Env = append(os.Environ(), ex.env...)
			b, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go run ./ci in examples/%s: %v\n%s", ex.dir, err, b)
			}
			if _, err := os.Stat(filepath.Join(out, "summary.md")); err != nil {
				t.Errorf("no summary: %v\n%s", err, b)
			}
		})
	}
}
