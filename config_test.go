package slipway_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway"
	"github.com/slipway-ci/slipway/internal/gitops"
)

// Issue 17.12: a Main package or a Deploy directory that does not exist is
// a configuration error at startup (exit 2, one line naming the field), not
// a failure at deploy; commands that do not read an app's source (deploy of
// a given image, history) work from any directory.
func TestSourceFieldsCheckedAtStartup(t *testing.T) {
	run := func(cfg slipway.Config, args ...string) (string, int) {
		t.Helper()
		var out, errb strings.Builder
		code := slipway.Run(context.Background(), cfg, args, &out, &errb)
		return errb.String(), code
	}
	oneLine := func(stderr string, code int, want string) {
		t.Helper()
		_, errLine, _ := strings.Cut(strings.TrimSpace(stderr), "error: ")
		if code != 2 || !strings.Contains(errLine, want) || strings.Contains(errLine, "\n") {
			t.Errorf("exit %d, want 2 and one error line naming %s:\n%s", code, want, stderr)
		}
	}
	for _, c := range []struct {
		app  slipway.App
		want string
	}{
		{slipway.App{Name: "sample-app", Source: "sample-app", Main: "./cmd/nope"}, "Config.Apps[0].Main"},
		{slipway.App{Name: "sample-app", Source: "sample-app", Deploy: "manifests"}, "Config.Apps[0].Deploy"},
		{slipway.App{Name: "sample-app", Source: "sample-app", Main: "./deploy"}, "Config.Apps[0].Main"}, // a directory with no Go package
	} {
		stderr, code := run(slipway.Config{Apps: []slipway.App{c.app}}, "plan")
		oneLine(stderr, code, c.want)
	}

	// The README's minimal service repository, before it has manifests.
	repo := t.TempDir()
	os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module example.com/payments\n\ngo 1.22\n"), 0o644)
	os.MkdirAll(filepath.Join(repo, "cmd", "payments"), 0o755)
	os.WriteFile(filepath.Join(repo, "cmd", "payments", "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	wd, _ := os.Getwd()
	t.Chdir(repo)
	minimal := slipway.Config{Apps: []slipway.App{{Name: "payments", Source: ".", Main: "./cmd/payments"}}}
	stderr, code := run(minimal, "plan")
	oneLine(stderr, code, "Config.Apps[0].Deploy")
	image := "127.0.0.1:5005/slipway/payments@sha256:" + strings.Repeat("a", 64)
	stderr, code = run(minimal, "deploy", "--app", "payments", "--env", "development", "--image", image, "--source-commit", strings.Repeat("b", 40))
	oneLine(stderr, code, "Config.Apps[0].Deploy")
	if strings.Contains(stderr, "lstat") {
		t.Errorf("deploy without manifests: %s", stderr)
	}

	// A monorepo's pipeline run from outside the repository root: deploy and
	// history read no app's source, so an unrelated app's Source is no error.
	gitopsDir := filepath.Join(t.TempDir(), "gitops.git")
	if _, err := gitops.EnsureLocal(gitopsDir, filepath.Join(wd, "sample-app", "deploy"), "sample-app", "main", time.Now()); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	mono := slipway.Config{Apps: []slipway.App{{Name: "sample-app", Source: "sample-app"}, {Name: "ledger", Source: "ledger"}}}
	if stderr, code := run(mono, "history", "--gitops-repo", gitopsDir); code != 0 {
		t.Errorf("history outside the root: exit %d %s", code, stderr)
	}
	stderr, code = run(mono, "deploy", "--gitops-repo", gitopsDir, "--app", "sample-app", "--env", "staging",
		"--image", "ghcr.io/acme/sample-app@sha256:"+strings.Repeat("c", 64), "--source-commit", strings.Repeat("d", 40), "--allow-unknown-source")
	if code != 0 || strings.Contains(stderr, "Config.Apps") {
		t.Errorf("deploy outside the root: exit %d %s", code, stderr)
	}
}
