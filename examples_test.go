package slipway_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The monorepo example is meant to be copied: its own tests pass once it is
// the root of a user's repository (a .git with a commit in it, the example's
// ci/go.mod pointing at this checkout as a user's points at a release).
func TestMonorepoExampleTestsPassInAUserRepository(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "shop")
	err = filepath.WalkDir("examples/monorepo", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == filepath.Join("examples", "monorepo", "out") {
			return filepath.SkipDir // what a run left
		}
		target := filepath.Join(repo, strings.TrimPrefix(path, "examples/monorepo"))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(repo, "ci", "go.mod")
	b, err := os.ReadFile(mod)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "=> ../../..\n") {
		t.Fatalf("%s: no replace of github.com/slipway-ci/slipway => ../../..", mod)
	}
	if err := os.WriteFile(mod, []byte(strings.Replace(string(b), "=> ../../..\n", "=> "+here+"\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-qm", "shop from the slipway example"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	cmd := exec.Command("go", "test", "-count=1", "./ci/")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test ./ci/ in a user's repository holding the example: %v\n%s", err, out)
	}
}
