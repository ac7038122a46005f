package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-git/go-git/v5"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/slipway-ci/slipway/internal/render"
	"github.com/slipway-ci/slipway/internal/safetext"
)

// Filter selects deployments.
type Filter struct {
	App   string
	Env   string
	Since time.Time
	// Layout is where Status finds environments (default DefaultLayout).
	Layout string
	// Charts renders Helm charts when Status renders an environment to
	// read what it runs (nil: a chart is read from its values file).
	Charts render.ChartFunc
	// Progress, when set, gets a line per environment read once the
	// reading has taken longer than ProgressAfter (stderr for people).
	Progress io.Writer
}

func (f Filter) match(r Record) bool {
	return (f.App == "" || r.App == f.App) && (f.Env == "" || r.Env == f.Env) && (f.Since.IsZero() || !r.Time.Before(f.Since))
}

// History reads deployments from the branch's log, newest first, through
// the same walker as the regression guard (all parents, reverts included). A
// local repository is read in place; a remote one is fetched into memory (no
// checkout). The walk stops at Since.
func History(ctx context.Context, r *Remote, f Filter) ([]Record, error) {
	repo, headHash, err := r.readHead(ctx)
	if err != nil {
		return nil, err
	}
	var all []Record
	_, err = walkRecords(repo, headHash, func(rec Record) error {
		if !f.Since.IsZero() && rec.Time.Before(f.Since) {
			return errStopWalk
		}
		if (f.App == "" || rec.App == f.App) && (f.Env == "" || rec.Env == f.Env) {
			all = append(all, rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", r, err)
	}
	r.markSignatures(repo, all)
	fillReverts(all)
	notes, err := r.readNotes(ctx, repo)
	if err != nil {
		return nil, err
	}
	attachNotes(all, notes)
	out := all[:0]
	for _, rec := range all {
		if f.match(rec) {
			out = append(out, rec)
		}
	}
	if len(out) == 0 && (f.App != "" || f.Env != "") {
		// Nothing: a typo must not read as "never deployed".
		if err := f.checkAt(r, repo, headHash); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
	}
	return out, nil
}

// check refuses a filter naming an app or environment that breaks the name
// rule or that the repository does not know (manifests at the head, records).
func (f Filter) check(s *snapshot, recs []Record) error {
	if f.App != "" {
		if err := checkName("app", f.App); err != nil {
			return err
		}
	}
	if f.Env != "" {
		if err := checkName("environment", f.Env); err != nil {
			return err
		}
	}
	apps, envs := knownNames(s, f.Layout, recs)
	if f.App != "" && !contains(apps, f.App) {
		return unknown("app", f.App, s.remote, apps)
	}
	if f.Env != "" && !contains(envs, f.Env) {
		return unknown("environment", f.Env, s.remote, envs)
	}
	return nil
}

// checkAt is check on the branch head, reading every record.
func (f Filter) checkAt(r *Remote, repo *git.Repository, head plumbing.Hash) error {
	if f.App != "" && !nameRE.MatchString(f.App) || f.Env != "" && !nameRE.MatchString(f.Env) {
		return f.check(nil, nil)
	}
	c, err := repo.CommitObject(head)
	if err != nil {
		return nil
	}
	t, err := c.Tree()
	if err != nil {
		return nil
	}
	var recs []Record
	if _, err := walkRecords(repo, head, func(rec Record) error {
		recs = append(recs, rec)
		return nil
	}); err != nil {
		return nil
	}
	return f.check(&snapshot{repo: repo, head: c, tree: t, remote: r}, recs)
}

// fillReverts gives each revert record (newest first in recs) the image and
// source commit the environment runs again: those of the reverted record's
// predecessor for the same app and environment.
func fillReverts(recs []Record) {
	byCommit := map[string]int{}
	for i, r := range recs {
		byCommit[r.Commit] = i
	}
	for i := len(recs) - 1; i >= 0; i-- { // oldest first: a revert of a revert sees its target filled
		r := &recs[i]
		if r.Reverts == "" {
			continue
		}
		j, ok := byCommit[r.Reverts]
		if !ok {
			continue
		}
		target := recs[j]
		if target.Reverts != "" { // reverting a revert re-applies the original deploy
			if k, ok := byCommit[target.Reverts]; ok {
				r.Image, r.SourceCommit = recs[k].Image, recs[k].SourceCommit
			}
			continue
		}
		for k := j + 1; k < len(recs); k++ {
			p := recs[k]
			if p.App == target.App && p.Env == target.Env && p.Reverts == "" {
				r.Image, r.SourceCommit = p.Image, p.SourceCommit
				break
			}
		}
	}
}

// readHead opens the repository for reading and resolves the branch head.
func (r *Remote) readHead(ctx context.Context) (*git.Repository, plumbing.Hash, error) {
	repo, err := r.openForRead(ctx)
	if err != nil {
		return nil, plumbing.ZeroHash, err
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(r.Branch), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		// A clone names the branch as remote-tracking too.
		ref, err = repo.Reference(plumbing.NewRemoteReferenceName("origin", r.Branch), true)
	}
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("%s: branch %q: %w", r, r.Branch, err)
	}
	return repo, ref.Hash(), nil
}

func (r *Remote) openForRead(ctx context.Context) (*git.Repository, error) {
	if r.local != "" {
		repo, err := git.PlainOpen(r.local)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", r, err)
		}
		return repo, nil
	}
	// The whole history, and only the blobs something reads (a partial
	// clone, where the server allows filters): history reads commits.
	if snap, ok, err := r.partialClone(ctx, 0); err != nil {
		return nil, err
	} else if ok {
		return snap.repo, nil
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
	fmt.Fprintln(tw, "TIME\tAPP\tENV\tIMAGE\tSOURCE\tCOMMIT\tACTOR\tNOTE")
	for _, r := range recs {
		fmt.Fprint(tw, safetext.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.Format(time.RFC3339), r.App, r.Env, shortImage(r.Image), r.sourceText(), short(r.Commit), r.Who(), r.note()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	type key struct{ app, env string }
	counts := map[key]int{}
	last := map[key]time.Time{}
	for _, r := range recs {
		if !r.IsDeploy() {
			continue // a revert or an unpin is not a deployment
		}
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
		fmt.Fprint(tw, safetext.Sprintf("%s\t%s\t%d\t%s\n", k.app, k.env, counts[k], last[k].Format(time.RFC3339)))
	}
	return tw.Flush()
}

// note names what is special about a record: reverts, rollbacks, dirty sources.
func (r Record) note() string {
	var parts []string
	if r.Signature == SignatureUnverified {
		parts = append(parts, unverifiedNote)
	}
	if r.Reverts != "" {
		parts = append(parts, "revert of "+short(r.Reverts))
	}
	if r.Reverted {
		parts = append(parts, "reverted")
	}
	if r.RollbackOf != "" {
		parts = append(parts, "rollback of "+short(r.RollbackOf))
	} else if r.Rollback {
		parts = append(parts, "rollback")
	}
	if r.Pinned {
		parts = append(parts, "pinned")
	}
	if r.Unpin && r.Image == "" {
		parts = append(parts, "unpin")
	} else if r.Unpin {
		parts = append(parts, "unpinned (--unpin)")
	}
	if r.BreakGlass != "" {
		parts = append(parts, "break-glass: "+r.BreakGlass)
	}
	if r.Fix {
		parts = append(parts, "fix")
	}
	if r.Reason != "" {
		parts = append(parts, "reason: "+r.Reason)
	}
	if r.SourceDirty {
		parts = append(parts, "dirty source")
	}
	if r.Path != "" {
		parts = append(parts, "path: "+r.Path)
	}
	if t := r.RunningText(); t != "" {
		parts = append(parts, "argo cd: "+t)
	}
	return strings.Join(parts, ", ")
}

// short is a commit's name cut to 12 characters; what is not a commit's
// name ("unknown", "", junk from a hand-pushed record) is never cut to look
// like one: junk shows as "invalid".
func short(s string) string {
	switch {
	case IsCommitName(s):
		return s[:12]
	case s == "" || s == "unknown":
		return s
	}
	return "invalid"
}

func shortImage(s string) string {
	if i := len(s) - 64; i > 0 && s[i-7:i] == "sha256:" {
		return s[:i+12]
	}
	return s
}
