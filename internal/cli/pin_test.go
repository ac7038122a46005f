package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/registry"
)

func TestPinCommand(t *testing.T) {
	noEngineEnv(t)
	l, err := registry.StartLocal(t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var lines []string
	for _, key := range []string{"go", "golangci-lint", "trivy", "distroless"} {
		a, err := ocitar.Open(imageTar(t, t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		repo, _ := registry.ParseRepo(l.Addr + "/mirror/" + key)
		if _, err := registry.Push(context.Background(), a, repo, []string{"stable"}); err != nil {
			t.Fatal(err)
		}
		a.Close()
		lines = append(lines, key+": "+l.Addr+"/mirror/"+key+":stable@sha256:"+strings.Repeat("1", 64))
	}
	lock := filepath.Join(t.TempDir(), "mirror.lock")
	os.WriteFile(lock, []byte("# mirror\n"+strings.Join(lines, "\n")+"\n"), 0o644)

	_, stderr, code := run(t, "pin", "--check", "--images", lock)
	if code != 1 || !strings.Contains(stderr, "4 of 4 images") {
		t.Errorf("--check on stale lock: exit %d %s", code, stderr)
	}
	if data, _ := os.ReadFile(lock); strings.Count(string(data), strings.Repeat("1", 64)) != 4 {
		t.Error("--check rewrote the lock")
	}
	stdout, stderr, code := run(t, "pin", "--images", lock)
	if code != 0 || strings.Count(stdout, " -> sha256:") != 4 {
		t.Fatalf("pin: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, _, code := run(t, "pin", "--check", "--images", lock); code != 0 {
		t.Errorf("--check after pin: exit %d", code)
	}
	if data, _ := os.ReadFile(lock); !strings.HasPrefix(string(data), "# mirror\n") {
		t.Error("pin lost the comment")
	}
}

// Issue 12.15: every image is checked; stale is exit 1, an unanswerable
// registry exit 2; a 404 names the tag, a 401 the credential variables.
func TestPinCheckExitCodes(t *testing.T) {
	noEngineEnv(t)
	t.Setenv("REGISTRY_USERNAME", "")
	t.Setenv("REGISTRY_PASSWORD", "")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	l, err := registry.StartLocal(t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a, _ := ocitar.Open(imageTar(t, t.TempDir()))
	repo, _ := registry.ParseRepo(l.Addr + "/mirror/go")
	pushed, err := registry.Push(context.Background(), a, repo, []string{"stable"})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	current := "golangci-lint: " + l.Addr + "/mirror/go:stable@" + pushed.Digest
	private := basicAuthRegistry(t)
	stale := "go: " + l.Addr + "/mirror/go:stable@sha256:" + strings.Repeat("1", 64)
	missing := "trivy: " + l.Addr + "/mirror/trivy:0.69.3@sha256:" + strings.Repeat("2", 64)
	locked := "distroless: " + private + "/mirror/distroless:nonroot@sha256:" + strings.Repeat("3", 64)
	lock := filepath.Join(t.TempDir(), "mirror.lock")
	os.WriteFile(lock, []byte(missing+"\n"+locked+"\n"+stale+"\n"+current+"\n"), 0o644)

	stdout, stderr, code := run(t, "pin", "--check", "--images", lock)
	if code != 2 {
		t.Errorf("unanswerable registries: exit %d, want 2\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "tag 0.69.3 not found in "+l.Addr+"/mirror/trivy") {
		t.Errorf("404 not explained: %s", stderr)
	}
	if !strings.Contains(stderr, "REGISTRY_USERNAME") || !strings.Contains(stderr, "401") {
		t.Errorf("401 not explained: %s", stderr)
	}
	if !strings.Contains(stdout, "go: "+l.Addr+"/mirror/go:stable") {
		t.Errorf("the image after the failures was not checked: %q", stdout)
	}
	// Only stale: exit 1.
	os.WriteFile(lock, []byte(strings.Replace(missing, "trivy:0.69.3@sha256:"+strings.Repeat("2", 64), "go:stable@"+pushed.Digest, 1)+"\n"+
		strings.Replace(strings.Replace(locked, private, l.Addr, 1), "distroless:nonroot", "go:stable", 1)+"\n"+stale+"\n"+current+"\n"), 0o644)
	if _, stderr, code := run(t, "pin", "--check", "--images", lock); code != 1 {
		t.Errorf("stale only: exit %d %s", code, stderr)
	}
}
