package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway"
)

type plan struct {
	Apps    []struct{ Name string }
	Skipped []struct{ App, Reason string }
}

func planIn(t *testing.T, args ...string) plan {
	t.Helper()
	var out, errb strings.Builder
	if code := slipway.Run(context.Background(), config(), append([]string{"plan", "--json"}, args...), &out, &errb); code != 0 {
		t.Fatalf("plan %v: exit %d %s", args, code, errb.String())
	}
	var p plan
	if err := json.Unmarshal([]byte(out.String()), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func names(p plan) string {
	var n []string
	for _, a := range p.Apps {
		n = append(n, a.Name)
	}
	return strings.Join(n, ",")
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=d", "GIT_AUTHOR_EMAIL=d@x", "GIT_COMMITTER_NAME=d", "GIT_COMMITTER_EMAIL=d@x")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v %s", args, err, out)
	}
}

// A change to one service's file makes only that service affected; a change
// to the package both import affects both.
func TestOnlyChangedServicesRun(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "shop")
	if out, err := exec.Command("cp", "-r", "..", repo).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-qm", "shop")
	git(t, repo, "checkout", "-q", "-b", "feature")
	t.Chdir(repo)
	if got := names(planIn(t, "--changed-since", "main")); got != "" {
		t.Errorf("no change: apps %q", got)
	}
	os.WriteFile(filepath.Join(repo, "services/billing/invoice.go"), []byte("package main\n"), 0o644)
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-qm", "billing")
	p := planIn(t, "--changed-since", "main")
	if names(p) != "billing" || len(p.Skipped) != 1 || p.Skipped[0].App != "orders" {
		t.Errorf("billing change: apps %q, skipped %+v", names(p), p.Skipped)
	}
	// On a pull request the base comes from the CI environment.
	t.Setenv("GITHUB_BASE_REF", "main")
	git(t, repo, "update-ref", "refs/remotes/origin/main", "main")
	if got := names(planIn(t)); got != "billing" {
		t.Errorf("pull request default: apps %q", got)
	}
	if got := names(planIn(t, "--all")); got != "orders,billing" {
		t.Errorf("--all: apps %q", got)
	}
	os.WriteFile(filepath.Join(repo, "internal/money/round.go"), []byte("package money\n"), 0o644)
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-qm", "money")
	if got := names(planIn(t, "--changed-since", "main")); got != "orders,billing" {
		t.Errorf("shared package change: apps %q", got)
	}
}

func TestWrappersAreGenerated(t *testing.T) {
	t.Chdir("..")
	for _, w := range []struct{ kind, file string }{{"github-actions", ".github/workflows/ci.yml"}, {"jenkinsfile", "Jenkinsfile"}} {
		var out, errb strings.Builder
		if code := slipway.Run(context.Background(), config(), []string{"generate", w.kind, "--check", "--output", w.file}, &out, &errb); code != 0 {
			t.Errorf("%s: %s", w.file, errb.String())
		}
	}
}
