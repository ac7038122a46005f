package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Issue 19.5: reuse is keyed on the content of what a stage reads, not on a
// clean commit. ContentKey is equal for equal content (committed, staged,
// modified or untracked), differs for any change under the pathspecs, and
// ignores ignored files, files elsewhere and a touch.
func TestContentKey(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	dir := t.TempDir()
	gitc := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=d", "GIT_AUTHOR_EMAIL=d@x", "GIT_COMMITTER_NAME=d", "GIT_COMMITTER_EMAIL=d@x")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("app/main.go", "package main\n")
	write("app/util.go", "package main\n// util\n")
	write("other/x.go", "package other\n")
	write(".gitignore", "*.log\n")
	gitc("init", "-q", "-b", "main")
	gitc("add", "-A")
	gitc("commit", "-qm", "base")
	specs := []string{"app", ".gitignore"}
	key := func() string {
		t.Helper()
		k, err := ContentKey(dir, specs)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	clean := key()
	same := func(what string) {
		t.Helper()
		if k := key(); k != clean {
			t.Errorf("%s changed the key", what)
		}
	}
	differs := func(what string) string {
		t.Helper()
		k := key()
		if k == clean {
			t.Errorf("%s did not change the key", what)
		}
		return k
	}
	later := time.Now().Add(time.Hour)
	_ = os.Chtimes(filepath.Join(dir, "app/main.go"), later, later)
	same("a touch")
	write("app/debug.log", "ignored\n")
	same("an ignored file")
	write("other/x.go", "package other\n// changed\n")
	same("a change outside the inputs")

	write("app/main.go", "package main\n\nfunc main() {}\n")
	dirty := differs("a modified file")
	if key() != dirty {
		t.Error("the same dirty content twice: two keys")
	}
	gitc("add", "app/main.go")
	if key() != dirty {
		t.Error("staging a change changed the key")
	}
	gitc("commit", "-qm", "main")
	if key() != dirty {
		t.Error("committing a change changed the key: reuse must not depend on commits")
	}
	clean = dirty
	write("app/new.go", "package main\n")
	differs("an untracked file")
	os.Remove(filepath.Join(dir, "app/new.go"))
	same("removing it again")
	os.Remove(filepath.Join(dir, "app/util.go"))
	differs("a deleted file")
	gitc("checkout", "--", "app/util.go")
	same("restoring it")
	_ = os.Chmod(filepath.Join(dir, "app/util.go"), 0o755)
	differs("an executable bit")
}

// BenchmarkContentKey: the no-change run's key over sample-app's files (a
// dirty tree costs the same: three git calls and the changed files' bytes).
func BenchmarkContentKey(b *testing.B) {
	root := Root("../../sample-app")
	if root == "" {
		b.Skip("not in a git checkout")
	}
	for b.Loop() {
		if _, err := ContentKey("../../sample-app", []string{"."}); err != nil {
			b.Fatal(err)
		}
	}
}

// Recheck finding 8: a big untracked file in a stage's inputs is read and
// hashed once, then named by its stat data (size, modification time,
// inode) while it is older than the racy window; a change, or a file
// written just now, is read again.
func TestContentKeyBigFileReadOnce(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	dir := t.TempDir()
	cmd := exec.Command("git", "-C", dir, "init", "-q", "-b", "main")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	big := filepath.Join(dir, "app", "blob.bin")
	if err := os.MkdirAll(filepath.Dir(big), 0o755); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 2*bigFile)
	put := func(b byte, mtime time.Time) {
		t.Helper()
		data[0] = b
		if err := os.WriteFile(big, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(big, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	reads := 0
	readFile = func(p string) ([]byte, error) {
		if p == big {
			reads++
		}
		return os.ReadFile(p)
	}
	t.Cleanup(func() { readFile = os.ReadFile })
	key := func() string {
		t.Helper()
		k, err := ContentKey(dir, []string{"app"})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	// A short racy window, and files older than it (their status change
	// time cannot be set back: wait it out).
	racyWindow = 20 * time.Millisecond
	t.Cleanup(func() { racyWindow = 2 * time.Second })
	settle := func() { time.Sleep(3 * racyWindow) }
	old := time.Now().Add(-time.Hour)
	put('a', old)
	settle()
	k1 := key()
	settle()
	if k2 := key(); k2 != k1 || reads != 1 {
		t.Fatalf("second key: equal=%v, reads=%d, want equal and 1 read", k2 == k1, reads)
	}
	put('b', old.Add(time.Second))
	settle()
	if k3 := key(); k3 == k1 || reads != 2 {
		t.Fatalf("after a change: changed=%v, reads=%d, want changed and 2 reads", k3 != k1, reads)
	}
	// Written just now: not trusted from the cache (same tick, other bytes).
	racyWindow = 2 * time.Second
	now := time.Now()
	put('c', now)
	k4 := key()
	put('d', now)
	if k5 := key(); k5 == k4 || reads != 4 {
		t.Fatalf("a racy rewrite: changed=%v, reads=%d, want changed and 4 reads", k5 != k4, reads)
	}
}
