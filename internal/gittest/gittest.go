// Package gittest makes real git repositories for tests: a source
// repository with commits at known times, as DORA figures and reports need.
package gittest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Git runs git in dir with a fixed identity (and extra environment).
func Git(t testing.TB, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(append(os.Environ(), "GIT_AUTHOR_NAME=d", "GIT_AUTHOR_EMAIL=d@x", "GIT_COMMITTER_NAME=d", "GIT_COMMITTER_EMAIL=d@x"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// SourceRepo makes a repository with n commits on main, commit i at
// start + i hours, and returns its directory and the commit SHAs.
func SourceRepo(t testing.TB, n int, start time.Time) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	Git(t, dir, nil, "init", "-q", "-b", "main")
	var shas []string
	for i := 0; i < n; i++ {
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		Git(t, dir, nil, "add", "f")
		when := start.Add(time.Duration(i) * time.Hour).Format(time.RFC3339)
		Git(t, dir, []string{"GIT_COMMITTER_DATE=" + when, "GIT_AUTHOR_DATE=" + when}, "commit", "-qm", fmt.Sprint("c", i))
		shas = append(shas, Git(t, dir, nil, "rev-parse", "HEAD"))
	}
	return dir, shas
}
