package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 17 (trust, item 4a and 4b): with REGISTRY_USERNAME/PASSWORD set
// and no way to tell which registry they belong to (no REGISTRY_HOST, no
// App.Image), every command that talks to a registry exits 2 with one line
// naming REGISTRY_HOST, before any request: never an anonymous request that
// silently drops the credential. With REGISTRY_HOST set they run.
func TestStaticCredentialsNeedTheirRegistry(t *testing.T) {
	noEngineEnv(t)
	host := ggcrRegistry(t, true)
	dir, out := t.TempDir(), t.TempDir()
	pubPath, _ := useSigningKey(t, dir)
	_, shas := gitRepo(t, 1)
	stdout, stderr, code := run(t, "push", "--tarball", imageTar(t, dir), "--image", host+"/acme/sample-app", "--tag", "v1", "--source-commit", shas[0], "--out", out)
	if code != 0 {
		t.Fatalf("push: %s", stderr)
	}
	ref := lastLine(stdout)
	lock := filepath.Join(dir, "images.lock")
	var lines string
	for _, n := range []string{"go", "golangci-lint", "trivy", "distroless"} {
		lines += n + ": " + host + "/acme/sample-app:v1" + ref[strings.Index(ref, "@"):] + "\n"
	}
	if err := os.WriteFile(lock, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, "pin", "--check", "--images", lock, "--out", out); code != 0 {
		t.Fatalf("pin --check of a current lock: exit %d %s", code, stderr)
	}
	t.Setenv("REGISTRY_USERNAME", "ci")
	t.Setenv("REGISTRY_PASSWORD", "registry-password-0123456789")
	for name, args := range map[string][]string{
		"push":   {"push", "--tarball", imageTar(t, dir), "--image", host + "/acme/sample-app", "--source-commit", shas[0]},
		"deploy": {"deploy", "--app", "sample-app", "--env", "development", "--image", ref, "--source-commit", shas[0], "--dry-run"},
		"verify": {"verify", ref, "--verify-key", pubPath},
		"pin":    {"pin", "--check", "--images", lock},
	} {
		_, stderr, code := run(t, append(args, "--out", out)...)
		if code != 2 || !strings.Contains(stderr, "REGISTRY_HOST") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%s with REGISTRY_USERNAME/PASSWORD and no REGISTRY_HOST: exit %d, want 2 and one line naming REGISTRY_HOST:\n%s", name, code, stderr)
		}
	}
	t.Setenv("REGISTRY_HOST", host)
	for name, args := range map[string][]string{
		"verify": {"verify", ref, "--verify-key", pubPath, "--verify-require", "signature,provenance"},
		"pin":    {"pin", "--check", "--images", lock},
	} {
		if _, stderr, code := run(t, append(args, "--out", out)...); code != 0 {
			t.Errorf("%s with REGISTRY_HOST naming the registry: exit %d %s", name, code, stderr)
		}
	}
}

// pin rewrites the lock the Go configuration names (Config.Images), not
// ci/images.lock, when no --images or SLIPWAY_IMAGES is given.
func TestPinReadsConfigImages(t *testing.T) {
	noEngineEnv(t)
	dir := t.TempDir()
	p := testProject()
	p.LockPath = filepath.Join(dir, "mirror.lock")
	var out, errb strings.Builder
	code := Execute(t.Context(), p, []string{"pin", "--check", "--out", t.TempDir()}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), p.LockPath) {
		t.Fatalf("pin with Config.Images %s (missing): exit %d %s", p.LockPath, code, errb.String())
	}
}
