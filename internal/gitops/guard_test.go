package gitops

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/gittest"
)

// TestGuardIsContainmentOnGeneratedGraphs (issue 17.4): the environment runs
// one commit of a generated graph (merges, squash merges, rebases with the
// old tip kept, cherry-picks, forks from old commits, dates that go
// backwards); deploying another is refused exactly when git says the new
// commit does not contain the running one, the refusal names how many
// commits it would drop (`git rev-list --count running ^new`), leaves the
// remote untouched, and --allow-rollback lets it through with a Rollback
// trailer. A deploy that contains the running commit carries no trailer.
func TestGuardIsContainmentOnGeneratedGraphs(t *testing.T) {
	seeds, pairs := 4, 5
	if testing.Short() {
		seeds = 2
	}
	ctx := context.Background()
	img := 0
	for seed := int64(1); seed <= int64(seeds); seed++ {
		g := gittest.GenerateGraph(t, 100+seed, 25)
		dir, r := localGitOps(t)
		d := &Deployer{Remote: r}
		rng := rand.New(rand.NewSource(seed))
		deploy := func(sha string, allow bool) error {
			img++
			_, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(img), SourceCommit: sha, SourceRepo: g.Dir, AllowRollback: allow})
			return err
		}
		last := func() Record {
			recs, err := History(ctx, r, Filter{App: "sample-app", Env: "production"})
			if err != nil || len(recs) == 0 {
				t.Fatalf("history: %v", err)
			}
			return recs[0]
		}
		for i := 0; i < pairs; i++ {
			running, next := g.Commits[rng.Intn(len(g.Commits))], g.Commits[rng.Intn(len(g.Commits))]
			if i == 0 {
				// The case at least once per graph: a commit that
				// does not contain the running one, if the graph has any.
				for _, c := range g.Commits {
					if ok, _ := gittest.Contains(t, g.Dir, c, running); !ok {
						next = c
						break
					}
				}
			}
			if err := deploy(running, true); err != nil {
				t.Fatal(err)
			}
			contains, dropped := gittest.Contains(t, g.Dir, next, running)
			why := fmt.Sprintf("seed %d: running %s, deploying %s (git: contains %v, drops %d)\nops: %s", seed, running[:7], next[:7], contains, dropped, strings.Join(g.Ops, "; "))
			before := head(t, dir, "main")
			err := deploy(next, false)
			if contains {
				if err != nil {
					t.Fatalf("%s: refused: %v", why, err)
				}
				if rec := last(); rec.Rollback || rec.SourceCommit != next {
					t.Fatalf("%s: record %+v", why, rec)
				}
				continue
			}
			want := fmt.Sprintf("would drop %d commit", dropped)
			if !errors.Is(err, ErrRollback) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--allow-rollback") {
				t.Fatalf("%s: err %v, want a refusal saying %q", why, err, want)
			}
			if head(t, dir, "main") != before {
				t.Fatalf("%s: the refused deploy moved the remote", why)
			}
			if err := deploy(next, true); err != nil {
				t.Fatalf("%s: --allow-rollback: %v", why, err)
			}
			if rec := last(); !rec.Rollback || rec.SourceCommit != next {
				t.Fatalf("%s: --allow-rollback record has no Rollback trailer: %+v", why, rec)
			}
		}
	}
}

// TestGuardRefusesDivergedEvenWhenSupersededOK: --superseded-ok ends a late
// re-run of an older commit quietly, but a diverged commit is no re-run: it
// is still refused.
func TestGuardRefusesDivergedEvenWhenSupersededOK(t *testing.T) {
	_, r := localGitOps(t)
	src, shas := sourceRepo(t, 3)
	gittest.Git(t, src, nil, "checkout", "-q", "-b", "side", shas[0])
	gittest.Git(t, src, nil, "commit", "-q", "--allow-empty", "-m", "side")
	side := gittest.Git(t, src, nil, "rev-parse", "HEAD")
	d := &Deployer{Remote: r}
	ctx := context.Background()
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(1), SourceCommit: shas[2], SourceRepo: src}); err != nil {
		t.Fatal(err)
	}
	out, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(2), SourceCommit: side, SourceRepo: src, SupersededOK: true})
	if !errors.Is(err, ErrRollback) || !strings.Contains(err.Error(), "would drop 2 commits") {
		t.Fatalf("diverged with --superseded-ok: %+v %v", out, err)
	}
	out, err = d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(3), SourceCommit: shas[1], SourceRepo: src, SupersededOK: true})
	if err != nil || !out.Superseded {
		t.Fatalf("older with --superseded-ok: %+v %v", out, err)
	}
}
