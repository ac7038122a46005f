package main

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
