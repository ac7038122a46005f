package gitops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// Relation is where a revision (what Argo CD synced) stands against a
// deploy commit in the branch's history.
type Relation int

// Relations of a revision to a deploy commit.
const (
	Unrelated Relation = iota // not in the branch (yet)
	Behind                    // an ancestor: the deploy is not seen yet
	Same                      // the deploy commit
	Carries                   // a descendant whose environment still runs the deploy
	Replaced                  // a descendant where a later record replaced the deploy
)

// Lineage judges revisions against one deploy commit of an app and
// environment, reading the GitOps repository's own history (refetched,
// at most every few seconds, when a revision is not known yet).
type Lineage struct {
	remote   *Remote
	app, env string
	commit   plumbing.Hash
	repo     *git.Repository
	fetched  time.Time
}

// NewLineage is the lineage of commit, the deploy of app to env.
func NewLineage(r *Remote, app, env, commit string) (*Lineage, error) {
	if !shaRE.MatchString(commit) {
		return nil, fmt.Errorf("deploy commit %q: want 40 lowercase hex", commit)
	}
	return &Lineage{remote: r, app: app, env: env, commit: plumbing.NewHash(commit)}, nil
}

func (l *Lineage) load(ctx context.Context, force bool) error {
	if l.repo != nil && (!force || time.Since(l.fetched) < 3*time.Second) {
		return nil
	}
	repo, _, err := l.remote.readHead(ctx)
	if err != nil {
		return err
	}
	l.repo, l.fetched = repo, time.Now()
	return nil
}

// Relate tells how rev relates to the deploy commit; for Replaced, detail
// names the record that replaced it.
func (l *Lineage) Relate(ctx context.Context, rev string) (Relation, string, error) {
	if rev == l.commit.String() {
		return Same, "", nil
	}
	if !shaRE.MatchString(rev) {
		return Unrelated, "", nil
	}
	if err := l.load(ctx, false); err != nil {
		return Unrelated, "", err
	}
	h := plumbing.NewHash(rev)
	revC, err := l.repo.CommitObject(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		if err := l.load(ctx, true); err != nil {
			return Unrelated, "", err
		}
		revC, err = l.repo.CommitObject(h)
	}
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return Unrelated, "", nil
	}
	if err != nil {
		return Unrelated, "", err
	}
	ours, err := l.repo.CommitObject(l.commit)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		if err := l.load(ctx, true); err != nil {
			return Unrelated, "", err
		}
		ours, err = l.repo.CommitObject(l.commit)
	}
	if err != nil {
		return Unrelated, "", fmt.Errorf("deploy commit %s is not on branch %s of %s", short(l.commit.String()), l.remote.Branch, l.remote)
	}
	if ok, err := ours.IsAncestor(revC); err != nil {
		return Unrelated, "", err
	} else if ok {
		st, _, err := findState(l.repo, h, l.app, l.env)
		if err != nil {
			return Unrelated, "", err
		}
		if st.last != nil && st.last.Commit == l.commit.String() {
			return Carries, "", nil
		}
		if st.last == nil {
			return Replaced, "a commit that leaves no deploy of " + l.app + " to " + l.env, nil
		}
		return Replaced, fmt.Sprintf("commit %s (%s/%s -> %s)", short(st.last.Commit), l.app, l.env, shortImage(st.last.Image)), nil
	}
	if ok, err := revC.IsAncestor(ours); err != nil {
		return Unrelated, "", err
	} else if ok {
		return Behind, "", nil
	}
	return Unrelated, "", nil
}
