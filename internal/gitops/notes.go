package gitops

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// NotesRef holds what Slipway observed after a deploy: git notes on the
// deploy commits (`git log --notes=slipway`), so the branch gets no new
// commit.
const NotesRef = "refs/notes/slipway"

// Observation is what Argo CD reported about a deploy commit, as `wait`
// saw it: an Application synced to Revision (the commit, or a descendant
// that still carries its image) at SyncedAt, Healthy at HealthyAt, or not.
type Observation struct {
	Application string    `json:"application"`
	Server      string    `json:"server,omitempty"`
	Revision    string    `json:"revision,omitempty"`
	SyncedAt    time.Time `json:"synced_at,omitzero"`
	HealthyAt   time.Time `json:"healthy_at,omitzero"`
	// HistoryID is Argo CD's id of the sync in the Application's history
	// (-1: none found).
	HistoryID int64 `json:"history_id"`
	// Result is "healthy", or how it failed: "degraded", "sync-failed",
	// "not-healthy" (synced, not healthy within the wait's timeout).
	Result     string    `json:"result"`
	Reason     string    `json:"reason,omitempty"`
	ObservedAt time.Time `json:"observed_at"`
}

// Healthy reports whether the Application ran the commit healthy.
func (o Observation) Healthy() bool { return o.Result == "healthy" }

// Latest is the newest observation of each Application (and Argo CD
// server), in the order they first appear: what the deploy's state is now.
// Observations keeps every one, a failed wait before a healthy one too.
func (r Record) Latest() []Observation {
	return latestObservations(r.Observations)
}

func latestObservations(obs []Observation) []Observation {
	var out []Observation
	for _, n := range obs {
		found := false
		for i, o := range out {
			if o.Application == n.Application && o.Server == n.Server {
				found = true
				// Later in the note and not older: the newer look.
				if !n.ObservedAt.Before(o.ObservedAt) {
					out[i] = n
				}
			}
		}
		if !found {
			out = append(out, n)
		}
	}
	return out
}

// Running is when the deploy was running, judged by the latest observation
// of each Application: every one healthy, at the latest of their
// HealthyAt. ok is false when nothing was observed; failed is true when
// the latest observation of one says it did not become healthy (a failed
// wait that a later wait saw healthy is not: Argo CD runs it).
func (r Record) Running() (at time.Time, ok, failed bool) {
	latest := r.Latest()
	if len(latest) == 0 {
		return time.Time{}, false, false
	}
	for _, o := range latest {
		if !o.Healthy() {
			return time.Time{}, false, true
		}
		if o.HealthyAt.After(at) {
			at = o.HealthyAt
		}
	}
	return at, true, false
}

// RunningText says what Argo CD reported, for a table: "healthy TIME",
// the failure ("degraded"), or "" when nothing was observed.
func (r Record) RunningText() string {
	at, ok, failed := r.Running()
	switch {
	case ok:
		return "healthy " + at.UTC().Format(time.RFC3339)
	case failed:
		for _, o := range r.Latest() {
			if !o.Healthy() {
				return o.Result + " (" + o.Application + ")"
			}
		}
	}
	return ""
}

// Note keys.
const (
	noteApplication = "Argo-CD-Application"
	noteServer      = "Argo-CD-Server"
	noteRevision    = "Revision"
	noteResult      = "Result"
	noteSyncedAt    = "Synced-At"
	noteHealthyAt   = "Healthy-At"
	noteHistoryID   = "History-Id"
	noteObservedAt  = "Observed-At"
	noteReason      = "Reason"
)

// formatNote renders observations as blocks of "Key: value" lines.
func formatNote(obs []Observation) string {
	var b strings.Builder
	for i, o := range obs {
		if i > 0 {
			b.WriteString("\n")
		}
		line := func(k, v string) {
			if v != "" {
				fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(strings.Fields(v), " "))
			}
		}
		ts := func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format(time.RFC3339)
		}
		line(noteApplication, o.Application)
		line(noteServer, o.Server)
		line(noteRevision, o.Revision)
		line(noteResult, o.Result)
		line(noteSyncedAt, ts(o.SyncedAt))
		line(noteHealthyAt, ts(o.HealthyAt))
		if o.HistoryID >= 0 {
			line(noteHistoryID, strconv.FormatInt(o.HistoryID, 10))
		}
		line(noteObservedAt, ts(o.ObservedAt))
		line(noteReason, o.Reason)
	}
	return b.String()
}

// parseNote reads formatNote's blocks; lines it does not know are skipped.
func parseNote(s string) []Observation {
	var out []Observation
	var cur *Observation
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if k == noteApplication {
			out = append(out, Observation{Application: v, HistoryID: -1})
			cur = &out[len(out)-1]
			continue
		}
		if cur == nil {
			continue
		}
		t, _ := time.Parse(time.RFC3339, v)
		switch k {
		case noteServer:
			cur.Server = v
		case noteRevision:
			cur.Revision = v
		case noteResult:
			cur.Result = v
		case noteSyncedAt:
			cur.SyncedAt = t
		case noteHealthyAt:
			cur.HealthyAt = t
		case noteObservedAt:
			cur.ObservedAt = t
		case noteHistoryID:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				cur.HistoryID = n
			}
		case noteReason:
			cur.Reason = v
		}
	}
	return out
}

// mergeObservations keeps every observation, oldest first: a later wait
// adds its look, it never erases an earlier one (a failed wait stays on
// record when a later one sees the deploy healthy).
func mergeObservations(old, add []Observation) []Observation {
	return append(append([]Observation(nil), old...), add...)
}

// Observe records observations of a deploy commit as a git note under
// NotesRef and pushes it with a compare-and-swap on the notes ref,
// retrying on concurrent updates until RetryTimeout, as deploys do. The
// branch is not touched. Observations are appended: an Application already
// observed on that commit keeps its earlier observations (Record.Latest is
// the newest of each).
func (d *Deployer) Observe(ctx context.Context, commit string, obs []Observation) error {
	d.defaults()
	if !shaRE.MatchString(commit) {
		return fmt.Errorf("observe: commit %q: want 40 lowercase hex", commit)
	}
	if len(obs) == 0 {
		return nil
	}
	deadline := time.Now().Add(d.RetryTimeout)
	var lastErr error
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			if time.Now().After(deadline) {
				return fmt.Errorf("record the observation of %s in %s (%s): %w: %d attempts in %s, last: %w", short(commit), d.Remote, NotesRef, ErrConflict, attempt-1, d.RetryTimeout, lastErr)
			}
			if err := sleep(ctx, d.backoff(attempt)); err != nil {
				return err
			}
		}
		err := d.observeOnce(ctx, commit, obs)
		if err == nil {
			return nil
		}
		if !isConflict(err) {
			return err
		}
		lastErr = err
		fmt.Fprintf(d.Log, "record observation: attempt %d lost a race (%v); retrying\n", attempt, firstLine(err.Error()))
	}
}

// fetchNotes fetches the notes ref into a fresh in-memory repository; the
// head is zero when the remote has no notes yet.
func (r *Remote) fetchNotes(ctx context.Context) (*git.Repository, plumbing.Hash, error) {
	repo, err := git.Init(memory.NewStorage(), nil)
	if err != nil {
		return nil, plumbing.ZeroHash, err
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{r.URL}}); err != nil {
		return nil, plumbing.ZeroHash, err
	}
	err = repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin", Auth: r.Auth, Tags: git.NoTags, Depth: 1,
		RefSpecs: []config.RefSpec{config.RefSpec("+" + NotesRef + ":" + NotesRef)},
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
	case isMissingRef(err):
		return repo, plumbing.ZeroHash, nil
	default:
		return nil, plumbing.ZeroHash, r.explain("fetch "+NotesRef, err)
	}
	ref, err := repo.Reference(plumbing.ReferenceName(NotesRef), true)
	if err != nil {
		return repo, plumbing.ZeroHash, nil
	}
	return repo, ref.Hash(), nil
}

func isMissingRef(err error) bool {
	return errors.Is(err, plumbing.ErrReferenceNotFound) || errors.Is(err, git.ErrRemoteNotFound) ||
		strings.Contains(err.Error(), "couldn't find remote ref") || errors.Is(err, git.NoMatchingRefSpecError{})
}

func (d *Deployer) observeOnce(ctx context.Context, commit string, obs []Observation) error {
	r := d.Remote
	repo, old, err := r.fetchNotes(ctx)
	if err != nil {
		return err
	}
	root := &object.Tree{}
	if !old.IsZero() {
		c, err := repo.CommitObject(old)
		if err != nil {
			return fmt.Errorf("read %s of %s: %w", NotesRef, r, err)
		}
		if root, err = c.Tree(); err != nil {
			return fmt.Errorf("read %s of %s: %w", NotesRef, r, err)
		}
	}
	prev := ""
	notePath := commit
	if f, err := root.File(commit); err == nil {
		prev, _ = f.Contents()
	} else if f, err := root.File(commit[:2] + "/" + commit[2:]); err == nil {
		prev, _ = f.Contents()
		notePath = commit[:2] + "/" + commit[2:]
	} else if _, err := root.Tree(commit[:2]); err == nil {
		notePath = commit[:2] + "/" + commit[2:] // the tree fans out: follow it
	}
	content := formatNote(mergeObservations(parseNote(prev), obs))
	snap := &snapshot{repo: repo, tree: root, remote: r}
	tree, objs, err := snap.writeFile(notePath, []byte(content))
	if err != nil {
		return fmt.Errorf("write note: %w", err)
	}
	sig := object.Signature{Name: d.AuthorName, Email: d.AuthorEmail, When: d.Now()}
	c := &object.Commit{Author: sig, Committer: sig, TreeHash: tree, Message: "Notes added by 'slipway wait'\n"}
	if !old.IsZero() {
		c.ParentHashes = []plumbing.Hash{old}
	}
	obj := repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return err
	}
	h, err := repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return err
	}
	return r.pushRef(ctx, repo, append(objs, h), plumbing.ReferenceName(NotesRef), old, h)
}

// readNotes reads every note under NotesRef into a map from the annotated
// commit to its observations. A remote repository's notes are fetched into
// repo (a clone of the branch); no notes is an empty map.
func (r *Remote) readNotes(ctx context.Context, repo *git.Repository) (map[string][]Observation, error) {
	var head plumbing.Hash
	ref, err := repo.Reference(plumbing.ReferenceName(NotesRef), true)
	switch {
	case err == nil:
		head = ref.Hash()
	case r.local != "":
		return map[string][]Observation{}, nil
	default:
		nrepo, h, err := r.fetchNotes(ctx)
		if err != nil {
			return nil, err
		}
		if h.IsZero() {
			return map[string][]Observation{}, nil
		}
		repo, head = nrepo, h
	}
	c, err := repo.CommitObject(head)
	if err != nil {
		return nil, fmt.Errorf("read %s of %s: %w", NotesRef, r, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("read %s of %s: %w", NotesRef, r, err)
	}
	out := map[string][]Observation{}
	err = tree.Files().ForEach(func(f *object.File) error {
		if f.Mode != filemode.Regular && f.Mode != filemode.Executable {
			return nil
		}
		name := strings.ReplaceAll(f.Name, "/", "")
		if !shaRE.MatchString(name) {
			return nil
		}
		s, err := f.Contents()
		if err != nil {
			return err
		}
		if obs := parseNote(s); len(obs) > 0 {
			out[name] = obs
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s of %s: %w", NotesRef, r, err)
	}
	return out, nil
}

// attachNotes gives each record the observations noted on its commit.
func attachNotes(recs []Record, notes map[string][]Observation) {
	for i := range recs {
		if obs, ok := notes[recs[i].Commit]; ok {
			o := append([]Observation(nil), obs...)
			sort.SliceStable(o, func(a, b int) bool { return o[a].Application < o[b].Application })
			recs[i].Observations = o
		}
	}
}
