package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway"
)

type plan struct {
	Apps []struct {
		Name         string
		Commit       string
		InputsCommit string `json:"inputs_commit"`
	}
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

// copyExample copies the example at src to dst as a new repository would
// hold it: without the repository it may sit in (a .git of the user who
// copied it) and without what a run left (out/).
func copyExample(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == ".git" || rel == "out" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("copy the example: %v", err)
	}
}

// A change to one service's file runs both services (their lint and test
// read the whole module) but leaves the other's image revision, and so its
// digest, as it was; a change to the package both import affects both; a
// change no stage reads affects none.
func TestOnlyChangedServicesRun(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "shop")
	copyExample(t, "..", repo)
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
	// Both services are packages of one module, and lint and test run over
	// ./... of it: orders' lint and test read billing's new file, so orders
	// runs too, but its build's inputs did not change: its image keeps the
	// base commit as its revision, and its digest.
	p := planIn(t, "--changed-since", "main")
	if names(p) != "orders,billing" || len(p.Skipped) != 0 {
		t.Errorf("billing change: apps %q, skipped %+v", names(p), p.Skipped)
	}
	for _, a := range p.Apps {
		if moved := a.InputsCommit == a.Commit; moved != (a.Name == "billing") {
			t.Errorf("billing change: %s's image revision %s (checkout %s)", a.Name, a.InputsCommit, a.Commit)
		}
	}
	// On a pull request the base comes from the CI environment.
	t.Setenv("GITHUB_BASE_REF", "main")
	git(t, repo, "update-ref", "refs/remotes/origin/main", "main")
	if got := names(planIn(t)); got != "orders,billing" {
		t.Errorf("pull request default: apps %q", got)
	}
	// A change no stage reads affects no app.
	git(t, repo, "checkout", "-q", "-b", "docs", "main")
	os.MkdirAll(filepath.Join(repo, "docs"), 0o755)
	os.WriteFile(filepath.Join(repo, "docs/guide.md"), []byte("guide\n"), 0o644)
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-qm", "docs")
	if got := names(planIn(t, "--changed-since", "main")); got != "" {
		t.Errorf("documentation change: apps %q", got)
	}
	// adv19 finding 1: a new package nobody imports, with a broken test,
	// not even committed: `go test ./...` reads it, so both apps run.
	os.MkdirAll(filepath.Join(repo, "pkg/lib"), 0o755)
	os.WriteFile(filepath.Join(repo, "pkg/lib/l_test.go"), []byte("package lib\n\nimport \"testing\"\n\nfunc TestA(t *testing.T) { t.Fatal(1) }\n"), 0o644)
	if got := names(planIn(t, "--changed-since", "main")); got != "orders,billing" {
		t.Errorf("an untracked package with a test: apps %q", got)
	}
	os.RemoveAll(filepath.Join(repo, "pkg"))
	git(t, repo, "checkout", "-q", "feature")
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
