//go:build engine

package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/scan"
	"github.com/slipway-ci/slipway/internal/testenv"
	"github.com/slipway-ci/slipway/internal/version"
)

// requireEngine skips, with the reason, where no Dagger engine can be reached.
func requireEngine(t *testing.T) {
	t.Helper()
	testenv.Engine(t) // the shell's engine, registry and SLIPWAY_IMAGES, on purpose
	if err := dag.Preflight(context.Background(), os.Getenv); err != nil {
		t.Skipf("needs a Dagger engine (GitHub Actions provides one through Docker): %v", err)
	}
}

// TestPipelineOnEngine runs lint, test and build twice, then scan, on a real
// engine and checks every artifact.
func TestPipelineOnEngine(t *testing.T) {
	requireEngine(t)
	out := t.TempDir()
	_, stderr, code := run(t, "run", "lint", "test", "build", "--out", out, "--source", "../../sample-app")
	if code != 0 {
		t.Fatalf("lint, test, build: exit %d\n%s", code, stderr)
	}
	cov, err := os.ReadFile(filepath.Join(out, "coverage.out"))
	if err != nil || !strings.HasPrefix(string(cov), "mode: atomic") {
		t.Errorf("coverage.out: %v %.40q", err, cov)
	}
	a, err := ocitar.Open(filepath.Join(out, "image.tar"))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := a.Digest()
	cf, err := a.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	info, _ := version.Detect("../../sample-app")
	if cf.Config.User != "65532:65532" || cf.Config.Labels["org.opencontainers.image.revision"] != info.Revision() ||
		!cf.Created.Time.Equal(info.CommitTime) || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/app/sample-app" {
		t.Errorf("image config: user %q labels %v created %v entrypoint %v", cf.Config.User, cf.Config.Labels, cf.Created, cf.Config.Entrypoint)
	}
	// Reproducible: a second build of the same commit has the same digest.
	// It runs in a fresh cache namespace (new cache volumes, new exec keys),
	// so it is a cold rebuild, not an answer recalled from the first one.
	t.Setenv(dag.CacheNamespaceEnv, fmt.Sprintf("repro-%d", time.Now().UnixNano()))
	if _, stderr, code := run(t, "build", "--out", out, "--source", "../../sample-app"); code != 0 {
		t.Fatalf("second build: %s", stderr)
	}
	b, err := ocitar.Open(filepath.Join(out, "image.tar"))
	if err != nil {
		t.Fatal(err)
	}
	second, _ := b.Digest()
	b.Close()
	if first != second {
		t.Errorf("two builds of one commit: %s and %s", first, second)
	}
	// Scan: the gate may pass or fail with today's DB; the reports must be real.
	_, stderr, code = run(t, "scan", "--out", out, "--source", "../../sample-app")
	if code != 0 && code != 1 {
		t.Fatalf("scan: exit %d\n%s", code, stderr)
	}
	rep, err := scan.Load(filepath.Join(out, "trivy.json"))
	if err != nil || len(rep.Results) == 0 {
		t.Errorf("trivy.json: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "trivy.sarif")); err != nil {
		t.Error(err)
	}
	// The SBOM of the same pass, agreeing with the image report.
	img, err := scan.Load(filepath.Join(out, "trivy-image.json"))
	if err != nil {
		t.Fatal(err)
	}
	bom, err := os.ReadFile(filepath.Join(out, "sbom.cdx.json"))
	if err != nil {
		t.Fatalf("no SBOM: %v", err)
	}
	if sb, err := scan.AgreeSBOM(img, bom); err != nil || sb.Libraries == 0 {
		t.Errorf("sbom.cdx.json: %v %+v", err, sb)
	}
	// Then push and deploy: signed with the development key, verified from
	// the registry before the GitOps commit.
	t.Setenv(dag.CacheNamespaceEnv, "")
	keyPath, _, _ := keyPair(t, t.TempDir(), "engine")
	t.Setenv("SLIPWAY_SIGNING_KEY", keyPath)
	t.Setenv("SLIPWAY_SIGNING_KEY_PASSWORD", keyPassword)
	if code == 0 {
		_, stderr, code = run(t, "run", "push", "deploy", "--out", out, "--source", "../../sample-app", "--local")
		if code != 0 || !strings.Contains(stderr, "SBOM (") {
			t.Errorf("push, deploy: exit %d\n%s", code, stderr)
		}
	}
}
