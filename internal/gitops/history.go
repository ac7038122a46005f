package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Filter selects deployments.
type Filter struct {
	App   string
	Env   string
	Since time.Time
}

func (f Filter) match(r Record) bool {
	return (f.App == "" || r.App == f.App) && (f.Env == "" || r.Env == f.Env) && (f.Since.IsZero() || !r.Time.Before(f.Since))
}

// History reads deployments from the branch's log, newest first. A local
// repository is read in place; a remote one is fetched into memory (no
// checkout). The walk stops at Since.
func History(ctx context.Context, r *Remote, f Filter) ([]Record, error) {
	repo, err := r.openForRead(ctx)
	if err != nil {
		return nil, err
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(r.Branch), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		// A clone names the branch as remote-tracking too.
		ref, err = repo.Reference(plumbing.NewRemoteReferenceName("origin", r.Branch), true)
	}
	if err != nil {
		return nil, fmt.Errorf("history %s: branch %q: %w", r, r.Branch, err)
	}
	iter, err := repo.Log(&git.LogOptions{From: ref.Hash(), Order: git.LogOrderCommitterTime})
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", r, err)
	}
	defer iter.Close()
	var out []Record
	err = iter.ForEach(func(c *object.Commit) error {
		if !f.Since.IsZero() && c.Committer.When.Before(f.Since) {
			return errStop
		}
		if rec, ok := recordOf(c); ok && f.match(rec) {
			out = append(out, rec)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, fmt.Errorf("history %s: %w", r, err)
	}
	return out, nil
}

var errStop = errors.New("stop")

func (r *Remote) openForRead(ctx context.Context) (*git.Repository, error) {
	if r.local != "" {
		repo, err := git.PlainOpen(r.local)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", r, err)
		}
		return repo, nil
	}
	repo, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{
		URL: r.URL, Auth: r.Auth, ReferenceName: plumbing.NewBranchReferenceName(r.Branch),
		SingleBranch: true, NoCheckout: true, Tags: git.NoTags,
	})
	if err != nil {
		return nil, r.explain("fetch", err)
	}
	return repo, nil
}

// WriteHistoryTable prints records for people, with counts per app and
// environment at the bottom ("how often was this deployed?").
func WriteHistoryTable(w io.Writer, recs []Record) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tAPP\tENV\tIMAGE\tSOURCE\tCOMMIT\tAUTHOR")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.Format(time.RFC3339), r.App, r.Env, shortImage(r.Image), short(r.SourceCommit), short(r.Commit), r.Author)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	type key struct{ app, env string }
	counts := map[key]int{}
	last := map[key]time.Time{}
	for _, r := range recs {
		k := key{r.App, r.Env}
		counts[k]++
		if r.Time.After(last[k]) {
			last[k] = r.Time
		}
	}
	keys := make([]key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].app != keys[j].app {
			return keys[i].app < keys[j].app
		}
		return keys[i].env < keys[j].env
	})
	fmt.Fprintf(w, "\n%d deployments\n", len(recs))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tENV\tDEPLOYS\tLAST")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", k.app, k.env, counts[k], last[k].Format(time.RFC3339))
	}
	return tw.Flush()
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func shortImage(s string) string {
	if i := len(s) - 64; i > 0 && s[i-7:i] == "sha256:" {
		return s[:i+12]
	}
	return s
}
