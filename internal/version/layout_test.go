package version

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkoutLayouts builds one history and every way a developer or a CI
// runner may check it out: a plain clone, a linked worktree (`git worktree
// add`: .git is a file and the objects live in the common directory), a sparse
// checkout (`git sparse-checkout`: extensions.worktreeConfig), a linked
// worktree of a sparse repository, and a subdirectory of each. It returns the
// directories and the commits of the history (oldest first).
func checkoutLayouts(t *testing.T) (map[string]string, []string) {
	t.Helper()
	base := t.TempDir()
	main := filepath.Join(base, "main")
	if err := os.MkdirAll(filepath.Join(main, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	var commits []string
	for i, f := range []string{"app/main.go", "lib/lib.go", "app/more.go"} {
		if err := os.MkdirAll(filepath.Join(main, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			gitCmd(t, main, "init", "-q", "-b", "main")
			gitCmd(t, main, "remote", "add", "origin", "git@github.com:acme/payments.git")
		}
		if err := os.WriteFile(filepath.Join(main, f), []byte("package x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		gitCmd(t, main, "add", f)
		gitCmd(t, main, "commit", "-qm", "c"+f)
		commits = append(commits, gitCmd(t, main, "rev-parse", "HEAD"))
	}
	gitCmd(t, main, "tag", "-a", "v1.2.0", "-m", "release", commits[1])

	linked := filepath.Join(base, "linked")
	gitCmd(t, main, "worktree", "add", "-q", "-b", "feature/x", linked, commits[1])
	if err := os.WriteFile(filepath.Join(linked, "app", "wt.go"), []byte("package x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitCmd(t, linked, "add", "app/wt.go")
	gitCmd(t, linked, "commit", "-qm", "on the feature branch")
	commits = append(commits, gitCmd(t, linked, "rev-parse", "HEAD"))
	detached := filepath.Join(base, "detached")
	gitCmd(t, main, "worktree", "add", "-q", "--detach", detached, commits[1])

	sparse := filepath.Join(base, "sparse")
	gitCmd(t, base, "clone", "-q", main, sparse)
	gitCmd(t, sparse, "sparse-checkout", "set", "app")
	sparseLinked := filepath.Join(base, "sparse-linked")
	gitCmd(t, sparse, "worktree", "add", "-q", "-b", "other", sparseLinked)

	return map[string]string{
		"plain":                main,
		"plain subdirectory":   filepath.Join(main, "app"),
		"linked worktree":      linked,
		"linked subdirectory":  filepath.Join(linked, "app"),
		"detached worktree":    detached,
		"sparse checkout":      sparse,
		"sparse subdirectory":  filepath.Join(sparse, "app"),
		"sparse linked":        sparseLinked,
		"sparse linked subdir": filepath.Join(sparseLinked, "app"),
	}, commits
}

// TestDetectEveryCheckoutLayout: whatever the layout, Detect says what the
// git CLI says (commit, time, branch, semver tag, dirty, origin), and Compare
// and Relate relate every pair of commits as `git merge-base --is-ancestor`
// does. go-git alone fails on linked worktrees ("object not found") and on
// extensions.worktreeConfig ("does not support extension").
func TestDetectEveryCheckoutLayout(t *testing.T) {
	clearCI(t)
	dirs, commits := checkoutLayouts(t)
	for name, dir := range dirs {
		t.Run(name, func(t *testing.T) {
			info, err := Detect(dir)
			if err != nil {
				t.Fatalf("Detect: %v", err)
			}
			want := gitCmd(t, dir, "rev-parse", "HEAD")
			if info.Commit != want {
				t.Errorf("commit %q, want %q", info.Commit, want)
			}
			if ct := gitCmd(t, dir, "log", "-1", "--format=%cI"); !info.CommitTime.Equal(mustTime(t, ct)) {
				t.Errorf("commit time %v, want %s", info.CommitTime, ct)
			}
			branch, _ := gitOut(dir, "symbolic-ref", "-q", "--short", "HEAD")
			if info.Branch != branch {
				t.Errorf("branch %q, want %q", info.Branch, branch)
			}
			wantSemver := ""
			if want == commits[1] {
				wantSemver = "v1.2.0"
			}
			if info.Semver != wantSemver {
				t.Errorf("semver %q, want %q", info.Semver, wantSemver)
			}
			if info.Dirty {
				t.Errorf("a clean %s is reported dirty", name)
			}
			if info.RepoURL != "https://github.com/acme/payments" && !strings.HasPrefix(name, "sparse") {
				t.Errorf("repo URL %q", info.RepoURL)
			}
			if err := os.WriteFile(filepath.Join(dir, "untracked.txt"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if info, err := Detect(dir); err != nil || !info.Dirty {
				t.Errorf("an untracked file: dirty=%v err=%v", info.Dirty, err)
			}
			if err := os.Remove(filepath.Join(dir, "untracked.txt")); err != nil {
				t.Fatal(err)
			}

			for _, a := range commits {
				for _, b := range commits {
					want := Relation{Ancestry: Same}
					switch {
					case a == b:
					case isAncestor(dir, b, a):
						want.Ancestry = Newer
					default:
						want.Ancestry = Diverged
						if isAncestor(dir, a, b) {
							want.Ancestry = Older
						}
						n, err := gitOut(dir, "rev-list", "--count", b, "^"+a)
						if err != nil {
							t.Fatal(err)
						}
						want.Dropped, _ = strconv.Atoi(n)
					}
					got, err := Compare(dir, a, b)
					if err != nil || got != want {
						t.Errorf("Compare(%.7s, %.7s) = %v, %v; want %v", a, b, got, err, want)
					}
					got, err = Relate(context.Background(), dir, a, b)
					if err != nil || got != want {
						t.Errorf("Relate(%.7s, %.7s) = %v, %v; want %v", a, b, got, err, want)
					}
				}
			}
			if got, err := Compare(dir, commits[0], strings.Repeat("ab", 20)); err != nil || got.Ancestry != Unknown {
				t.Errorf("a commit the repository lacks: %v, %v; want Unknown", got, err)
			}
		})
	}
}

func isAncestor(dir, a, b string) bool {
	_, err := gitOut(dir, "merge-base", "--is-ancestor", a, b)
	return err == nil
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func gitOut(dir string, args ...string) (string, error) {
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	return strings.TrimSpace(string(out)), err
}

// TestDetectLinkedWorktreeWithoutGitCLI: go-git alone reads a linked
// worktree through its common directory; a sparse checkout without git
// installed is an error that names the extension, never "not a repository".
func TestDetectLinkedWorktreeWithoutGitCLI(t *testing.T) {
	clearCI(t)
	dirs, _ := checkoutLayouts(t)
	t.Setenv("PATH", t.TempDir())
	for _, name := range []string{"linked worktree", "detached worktree", "linked subdirectory"} {
		info, err := Detect(dirs[name])
		if err != nil || len(info.Commit) != 40 {
			t.Errorf("%s without git: %+v, %v", name, info, err)
		}
	}
	_, err := Detect(dirs["sparse checkout"])
	if err == nil || errors.Is(err, ErrNoRepo) || !strings.Contains(err.Error(), "extension") {
		t.Errorf("sparse checkout without git: %v, want an error naming the extension", err)
	}
}
