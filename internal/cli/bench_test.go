package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkPlan50Apps: `plan` of a monorepo with 50 apps (each its own
// module in one git repository), end to end: configuration, version of every
// app, graph, rendering.
func BenchmarkPlan50Apps(b *testing.B) {
	root := b.TempDir()
	var apps []App
	for i := 0; i < 50; i++ {
		dir := filepath.Join(root, fmt.Sprintf("svc%02d", i))
		os.MkdirAll(filepath.Join(dir, "deploy"), 0o755)
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte(fmt.Sprintf("module example.com/svc%02d\n\ngo 1.26\n", i)), 0o644)
		os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
		apps = append(apps, App{Name: fmt.Sprintf("svc%02d", i), Source: dir})
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-qm", "apps"}} {
		cmd := exec.Command("git", append([]string{"-C", root}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=d", "GIT_AUTHOR_EMAIL=d@x", "GIT_COMMITTER_NAME=d", "GIT_COMMITTER_EMAIL=d@x")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	p := testProject()
	p.Apps = apps
	out := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if code := Execute(context.Background(), p, []string{"plan", "--json", "--out", out}, io.Discard, io.Discard); code != 0 {
			b.Fatalf("plan: exit %d", code)
		}
	}
}
