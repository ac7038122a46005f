package gittest

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Graph is a real repository whose commit graph was generated from a seed:
// branches forked from any commit, commits with skewed (even backwards)
// dates, --no-ff merges, squash merges, rebases (the pre-rebase tip kept
// under a tag, as an old CI build of it would be), cherry-picks. Ops lists
// what was done, for a failure message.
type Graph struct {
	Dir     string
	Commits []string // every commit reachable from a branch or tag
	Ops     []string
}

// GenerateGraph builds a repository of about n operations from seed.
func GenerateGraph(t testing.TB, seed int64, n int) *Graph {
	t.Helper()
	rng := rand.New(rand.NewSource(seed)) //nolint:gosec // a reproducible test graph, not a secret
	g := &Graph{Dir: t.TempDir()}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	file := 0
	tick := 0
	run := func(args ...string) string {
		tick++
		// Dates wander backwards as well as forwards: containment is not age.
		when := base.Add(time.Duration(tick*60+rng.Intn(7200)-3600) * time.Second).Format(time.RFC3339)
		return Git(t, g.Dir, []string{"GIT_AUTHOR_DATE=" + when, "GIT_COMMITTER_DATE=" + when}, args...)
	}
	commit := func(branch string) {
		if file > 0 {
			run("checkout", "-q", branch)
		}
		file++
		name := fmt.Sprintf("f%03d", file)
		if err := os.WriteFile(filepath.Join(g.Dir, name), []byte(name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		run("add", name)
		run("commit", "-q", "-m", "add "+name)
		g.Ops = append(g.Ops, "commit "+branch)
	}
	run("init", "-q", "-b", "main")
	run("config", "core.autocrlf", "false")
	commit("main")
	branches := []string{"main"}
	pick := func() string { return branches[rng.Intn(len(branches))] }
	for i := 0; i < n; i++ {
		switch op := rng.Intn(10); {
		case op < 4:
			commit(pick())
		case op < 5: // fork a branch from any commit so far
			all := strings.Fields(run("rev-list", "--all"))
			from := all[rng.Intn(len(all))]
			b := fmt.Sprintf("b%d", len(branches))
			run("branch", b, from)
			branches = append(branches, b)
			g.Ops = append(g.Ops, "branch "+b+" at "+from[:7])
		case op < 6: // merge commit
			into, from := pick(), pick()
			if into == from {
				continue
			}
			run("checkout", "-q", into)
			run("merge", "-q", "--no-ff", "--no-edit", from)
			g.Ops = append(g.Ops, "merge "+from+" into "+into)
		case op < 7: // squash merge
			into, from := pick(), pick()
			if into == from {
				continue
			}
			run("checkout", "-q", into)
			run("merge", "-q", "--squash", from)
			run("commit", "-q", "--allow-empty", "-m", "squash "+from)
			g.Ops = append(g.Ops, "squash "+from+" into "+into)
		case op < 8: // rebase a branch onto another; the old tip stays as a tag
			b, onto := pick(), pick()
			if b == onto {
				continue
			}
			tag := fmt.Sprintf("pre-rebase-%d", i)
			run("tag", tag, b)
			run("checkout", "-q", b)
			run("rebase", "-q", onto)
			g.Ops = append(g.Ops, "rebase "+b+" onto "+onto+" (old tip "+tag+")")
		case op < 9: // cherry-pick one commit of a branch onto another
			into, from := pick(), pick()
			if into == from {
				continue
			}
			run("checkout", "-q", into)
			args := []string{"cherry-pick", "--allow-empty", "--keep-redundant-commits"}
			if len(strings.Fields(run("rev-list", "--parents", "-n1", from))) > 2 {
				args = append(args, "-m", "1") // a merge: pick its change against the first parent
			}
			run(append(args, from)...)
			g.Ops = append(g.Ops, "cherry-pick "+from+" onto "+into)
		default:
			commit("main")
		}
	}
	g.Commits = strings.Fields(run("rev-list", "--all"))
	return g
}

// Contains is the oracle: whether commit a contains commit b (b is a or an
// ancestor of a), and how many commits b has that a lacks, as git itself
// answers (`git merge-base --is-ancestor b a`, `git rev-list --count b ^a`).
func Contains(t testing.TB, dir, a, b string) (bool, int) {
	t.Helper()
	err := exec.Command("git", "-C", dir, "merge-base", "--is-ancestor", b, a).Run()
	contains := err == nil
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(Git(t, dir, nil, "rev-list", "--count", b, "^"+a))
	if err != nil {
		t.Fatal(err)
	}
	return contains, n
}

// IsAncestor is git's own answer to whether a is an ancestor of b.
func IsAncestor(t testing.TB, dir, a, b string) bool {
	t.Helper()
	return exec.Command("git", "-C", dir, "merge-base", "--is-ancestor", a, b).Run() == nil
}
