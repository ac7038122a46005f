package version

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/gittest"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// TestRelateMatchesGitOnGeneratedGraphs: over generated commit graphs (forks
// from any commit, merges, squash merges, rebases with the old tip kept,
// cherry-picks, dates that go backwards), Relate agrees with git itself on
// the same repository for every pair it is asked about: whether the new
// commit contains the running one, whether it is strictly older, and how
// many commits it drops. Shallow clones of the same graph (depth 1..3) are
// deepened and give the same answers.
func TestRelateMatchesGitOnGeneratedGraphs(t *testing.T) {
	seeds := 8
	if testing.Short() {
		seeds = 3
	}
	relateMatchesGit(t, seeds)
}

// A user whose global git configuration says protocol.version=0 (or 1)
// still gets answers: Relate's fetches of a commit by id (which protocol v0
// refuses when no ref advertises it) use protocol v2 in their own scope.
func TestRelateUnderTheUsersProtocolV0(t *testing.T) {
	userGitConfig(t, "[protocol]\n\tversion = 0\n")
	relateMatchesGit(t, 3)
}

// userGitConfig makes the global git configuration of the rest of the
// test testenv's plus extra, as a user's ~/.gitconfig would hold it.
func userGitConfig(t *testing.T, extra string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "gitconfig")
	if err := os.WriteFile(f, []byte(testenv.GitConfig+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GIT_CONFIG_GLOBAL", f)
}

// relateMatchesGit checks Relate against git over seeds generated graphs
// and shallow clones of them.
func relateMatchesGit(t *testing.T, seeds int) {
	ops, pairs := 30, 20
	ctx := context.Background()
	for seed := int64(1); seed <= int64(seeds); seed++ {
		g := gittest.GenerateGraph(t, seed, ops)
		rng := rand.New(rand.NewSource(seed))
		check := func(dir, newC, running string) {
			t.Helper()
			contains, dropped := gittest.Contains(t, g.Dir, newC, running)
			older := newC != running && gittest.IsAncestor(t, g.Dir, newC, running)
			rel, err := Relate(ctx, dir, newC, running)
			if err != nil {
				t.Fatalf("seed %d: Relate(%s, %s) in %s: %v\nops: %s", seed, newC[:7], running[:7], dir, err, strings.Join(g.Ops, "; "))
			}
			if rel.Contains() != contains || rel.Dropped != dropped || (rel.Ancestry == Older) != older || rel.Ancestry == Unknown {
				t.Fatalf("seed %d: Relate(new %s, running %s) = %v dropped %d; git: contains %v, older %v, rev-list --count running ^new = %d\nops: %s",
					seed, newC[:7], running[:7], rel.Ancestry, rel.Dropped, contains, older, dropped, strings.Join(g.Ops, "; "))
			}
		}
		for i := 0; i < pairs; i++ {
			check(g.Dir, g.Commits[rng.Intn(len(g.Commits))], g.Commits[rng.Intn(len(g.Commits))])
		}
		// A shallow clone (as CI checks out) answers the same after Relate deepens it.
		for i := 0; i < 2; i++ {
			shallow := filepath.Join(t.TempDir(), "shallow")
			gittest.Git(t, filepath.Dir(shallow), nil, "clone", "-q", "--no-local", "--depth", string(rune('1'+i)), "file://"+g.Dir, shallow)
			check(shallow, g.Commits[rng.Intn(len(g.Commits))], g.Commits[rng.Intn(len(g.Commits))])
		}
	}
}
