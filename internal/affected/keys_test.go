package affected

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/version"
)

// keysRepo: one module whose app imports a package through a symlinked
// directory (internal/lp -> ../shared/lp) and a locally replaced module
// (libs/dep) that is vendored too (vendor/example.com/dep), with a
// workspace that uses both; the stages copy no go.work and build with
// GOWORK=off, so Go reads vendor/, not libs/dep.
func keysRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write(t, root, "go.mod", "module example.com/m\n\ngo 1.22\n\nrequire example.com/dep v0.0.0\n\nreplace example.com/dep => ./libs/dep\n")
	write(t, root, "go.sum", "")
	write(t, root, "go.work", "go 1.22\n\nuse (\n\t.\n\t./libs/dep\n)\n")
	write(t, root, "libs/dep/go.mod", "module example.com/dep\n\ngo 1.22\n")
	write(t, root, "libs/dep/dep.go", "package dep\n\nconst V = 1\n")
	write(t, root, "vendor/modules.txt", "# example.com/dep v0.0.0 => ./libs/dep\n## explicit\nexample.com/dep\n# example.com/dep => ./libs/dep\n")
	write(t, root, "vendor/example.com/dep/dep.go", "package dep\n\nconst V = 1\n")
	write(t, root, "shared/lp/lp.go", "package lp\n\nconst X = 1\n")
	write(t, root, "shared/lp2/lp.go", "package lp\n\nconst X = 2\n")
	for _, d := range []string{"internal", "cmd/payments"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../shared/lp", filepath.Join(root, "internal", "lp")); err != nil {
		t.Fatal(err)
	}
	write(t, root, "shared/gen/table.go", "package main\n\nvar table = 1\n")
	if err := os.Symlink("../../shared/gen/table.go", filepath.Join(root, "cmd", "payments", "table.go")); err != nil {
		t.Fatal(err)
	}
	write(t, root, "cmd/payments/main.go", "package main\n\nimport (\n\t\"example.com/dep\"\n\t\"example.com/m/internal/lp\"\n)\n\nfunc main() { println(dep.V, lp.X) }\n")
	write(t, root, "notes/other.go", "package notes\n")
	git(t, root, "init", "-q", "-b", "main")
	git(t, root, "add", "-A")
	git(t, root, "commit", "-qm", "base")
	return root
}

// TestStageKeysFollowWhatGoReads: for each mutation of a file, the build's
// content key (what build and scan read) changes exactly when Go, building
// the main package in the stage's copy (no go.work, vendor/ on), reads the
// file; the check key (lint and test) when ./... does. Recheck findings 2
// (a package read through a symlinked directory: its target's files and the
// link; a symlinked Go file: its target), 3 (the vendored copy of a replaced module) and 8 (an untracked file
// at the root is no build input).
func TestStageKeysFollowWhatGoReads(t *testing.T) {
	app := App{Name: "payments", Source: ".", Main: "./cmd/payments"}
	cases := []struct {
		name         string
		mutate       func(t *testing.T, root string)
		build, check bool
	}{
		{"edit the symlinked package's target", func(t *testing.T, root string) {
			write(t, root, "shared/lp/lp.go", "package lp\n\nconst X = 3\n")
		}, true, true},
		{"retarget the symlink", func(t *testing.T, root string) {
			p := filepath.Join(root, "internal", "lp")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("../shared/lp2", p); err != nil {
				t.Fatal(err)
			}
		}, true, true},
		{"add an untracked file to the target", func(t *testing.T, root string) {
			write(t, root, "shared/lp/new.go", "package lp\n")
		}, true, true},
		{"edit the target of a symlinked file of the main package", func(t *testing.T, root string) {
			write(t, root, "shared/gen/table.go", "package main\n\nvar table = 2\n")
		}, true, true},
		{"edit the vendored copy of the replaced module", func(t *testing.T, root string) {
			write(t, root, "vendor/example.com/dep/dep.go", "package dep\n\nconst V = 2\n")
		}, true, true},
		{"edit vendor/modules.txt", func(t *testing.T, root string) {
			write(t, root, "vendor/modules.txt", "# example.com/dep v0.0.0 => ./libs/dep\n## explicit\nexample.com/dep\n")
		}, true, true},
		{"edit the replaced module's own directory (not what Go builds)", func(t *testing.T, root string) {
			write(t, root, "libs/dep/dep.go", "package dep\n\nconst V = 3\n")
		}, false, false},
		{"an untracked file at the root", func(t *testing.T, root string) {
			write(t, root, "notes.txt", "hello\n")
		}, false, true},
		{"a tracked file at the root", func(t *testing.T, root string) {
			write(t, root, "README.md", "# x\n")
		}, false, true},
		{"a package nobody imports", func(t *testing.T, root string) {
			write(t, root, "notes/other.go", "package notes\n\nconst Y = 1\n")
		}, false, true},
		{"the main package", func(t *testing.T, root string) {
			write(t, root, "cmd/payments/extra.go", "package main\n")
		}, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := keysRepo(t)
			before := stageKeys(t, root, app)
			c.mutate(t, root)
			after := stageKeys(t, root, app)
			if got := before[0] != after[0]; got != c.build {
				t.Errorf("build/scan key changed=%v, want %v", got, c.build)
			}
			if got := before[1] != after[1]; got != c.check {
				t.Errorf("lint/test key changed=%v, want %v", got, c.check)
			}
			// Committed, Detect agrees with the keys.
			git(t, root, "add", "-A")
			git(t, root, "commit", "-qm", "change", "--allow-empty")
			changed := strings.Fields(git(t, root, "diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD"))
			res, err := Detect(root, []App{app}, changed, Global{})
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Affected != (c.build || c.check) {
				t.Errorf("Detect on %v: affected=%v (%s), want %v", changed, res[0].Affected, res[0].Reason, c.build || c.check)
			}
		})
	}
}

func stageKeys(t *testing.T, root string, a App) [2]string {
	t.Helper()
	s, err := InputSets(root, a, Global{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := version.ContentKeyOf(root, version.Content{Pathspecs: s.Build, Ignored: s.BuildIgnored})
	if err != nil {
		t.Fatal(err)
	}
	c, err := version.ContentKeyOf(root, version.Content{Pathspecs: s.Check, Ignored: s.CheckIgnored})
	if err != nil {
		t.Fatal(err)
	}
	return [2]string{b, c}
}
