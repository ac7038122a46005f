package argocd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Relation is where a revision Argo CD reports stands against the deploy
// commit, judged from the GitOps repository's own history.
type Relation int

const (
	// Unrelated is a revision not in the branch's history as Slipway reads it (Argo CD
	// follows something else, or the commit is not fetched yet).
	Unrelated Relation = iota
	// Behind is an ancestor of the deploy commit; Argo CD has not seen it yet.
	Behind
	// Same is the deploy commit itself.
	Same
	// Carries is a descendant in which the environment still runs the
	// deployed image (another app's commit on top, say).
	Carries
	// Replaced is a descendant in which a newer deploy replaced ours.
	Replaced
)

// Lineage judges a revision; for Replaced, detail names what replaced it.
type Lineage func(ctx context.Context, revision string) (rel Relation, detail string, err error)

// Target is what to wait for: the commit that deployed a file of a GitOps
// repository's branch.
type Target struct {
	Repo   string // the GitOps repository URL (or local path)
	Branch string
	File   string // the file the deploy edited, in the repository
	Commit string // the deploy commit
	// Applications names the Argo CD Applications to wait for ("name", or
	// "namespace/name"); empty: every Application whose source is Repo and
	// whose path holds File (the closest path wins).
	Applications []string
}

// Waiter polls Argo CD until the Applications that deploy a target are
// synced to its commit (or a descendant that carries it) and healthy.
type Waiter struct {
	Client  *Client
	Lineage Lineage
	// Timeout is the whole wait's budget (default 10 minutes); no request
	// outlives it.
	Timeout time.Duration
	// TimeoutFlag is --wait-timeout as the user gave it, for messages
	// (Timeout may be what is left of it for a later target); "": Timeout.
	TimeoutFlag string
	// Poll is the pause between two looks (default 2s).
	Poll time.Duration
	// RefreshEvery is how often a refresh (?refresh=normal) is asked again
	// while Argo CD still compares an older revision (default 10s).
	RefreshEvery time.Duration
	// Sync asks Argo CD to sync exactly the deploy commit when an
	// Application does not sync automatically (the role needs
	// "applications, sync").
	Sync bool
	Log  io.Writer
	Now  func() time.Time

	started time.Time     // when the running Wait began
	reserve time.Duration // what the last look gets to be answered
}

// Result is how a wait for one Application ended.
type Result string

// Results a wait records.
const (
	Healthy    Result = "healthy"     // synced to the commit (or a descendant carrying it) and Healthy
	Degraded   Result = "degraded"    // synced, and a resource is Degraded (an aborted rollout)
	SyncFailed Result = "sync-failed" // Argo CD's sync of the commit failed
	NotHealthy Result = "not-healthy" // synced, but not Healthy within the timeout
)

// Observation is what Argo CD said about one Application deploying the
// commit: the facts a record keeps.
type Observation struct {
	Application string
	Server      string
	Revision    string    // the revision Argo CD synced (the commit or a descendant)
	SyncedAt    time.Time // the sync operation's end, or the history entry's deployedAt (zero: unknown)
	HealthyAt   time.Time // Argo CD's health transition time, else when Slipway saw Healthy
	HistoryID   int64     // Argo CD's history id of the sync (-1: none found)
	Result      Result
	Reason      string    // for a failure: the one line
	ObservedAt  time.Time // when Slipway looked last
}

// Kind classifies a failed wait.
type Kind string

// Kinds of failure.
const (
	KindDegraded    Kind = "degraded"
	KindSyncFailed  Kind = "sync-failed"
	KindReplaced    Kind = "replaced"
	KindNotFound    Kind = "not-found"
	KindNotTracking Kind = "not-tracking"
	KindDenied      Kind = "denied"
	KindUnreachable Kind = "unreachable"
	KindTimeout     Kind = "timeout"
	KindManual      Kind = "manual-sync"
)

// Failure is a wait that did not end synced and healthy; its message is
// one line naming the Application and what is wrong.
type Failure struct {
	Kind        Kind
	Application string
	Msg         string
}

func (f *Failure) Error() string { return f.Msg }

func (w *Waiter) defaults() {
	if w.Timeout <= 0 {
		w.Timeout = 10 * time.Minute
	}
	if w.Poll <= 0 {
		w.Poll = 2 * time.Second
	}
	if w.RefreshEvery <= 0 {
		w.RefreshEvery = 10 * time.Second
	}
	if w.Log == nil {
		w.Log = io.Discard
	}
	if w.Now == nil {
		w.Now = time.Now
	}
}

// appState is what the wait knows of one Application.
type appState struct {
	name         string
	source       int // index of the source that deploys the file
	multi        bool
	lastRefresh  time.Time
	app          *Application
	err          error // the last request's error
	answered     bool
	answeredAt   time.Time // the last answer
	silent       bool      // the last request got no answer (failed or cut by the deadline)
	rel          Relation
	relDetail    string
	rev          string
	done         *Observation
	said         map[string]bool // lines already logged
	degraded     int             // consecutive looks that saw Degraded
	syncAsked    bool
	manual       bool
	retry        *OperationState // a failed attempt of the commit's sync that Argo CD retries
	windowsAsked bool
	relate       func(string) (Relation, string, error)
	tree         *ResourceTree
}

func (s *appState) sayOnce(w io.Writer, format string, a ...any) {
	line := fmt.Sprintf(format, a...)
	if s.said[line] {
		return
	}
	s.said[line] = true
	fmt.Fprintln(w, line)
}

// Wait blocks until every Application that deploys t is synced to t.Commit
// (or a descendant that carries it) and Healthy, and returns what Argo CD
// said of each. It fails fast (a *Failure) on a failed sync, an error
// condition (ComparisonError, InvalidSpecError, …) Argo CD reports, a Degraded
// resource, a newer deploy that replaced the commit, a missing
// Application, a token without rights; and at the timeout with the last
// state seen. Observations are returned with a failure too, for the
// Applications Argo CD had synced.
func (w *Waiter) Wait(ctx context.Context, t Target) ([]Observation, error) {
	w.defaults()
	outer, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	// The looks end a little before the timeout, so that explaining the
	// last state (a resource tree) still fits in it; the pause before the
	// last look is cut short so that it happens just before that end (a
	// look gets `reserve` to be answered), not up to a whole Poll earlier.
	grace := min(300*time.Millisecond, w.Timeout/10)
	reserve := min(300*time.Millisecond, w.Timeout/10)
	w.reserve = reserve
	looksEnd := time.Now().Add(w.Timeout - grace)
	ctx, cancelLooks := context.WithDeadline(outer, looksEnd)
	defer cancelLooks()
	started := w.Now()
	w.started = started
	states, err := w.find(ctx, t)
	if err != nil {
		return nil, err
	}
	relCache := map[string]struct {
		rel    Relation
		detail string
	}{}
	relate := func(rev string) (Relation, string, error) {
		if rev == "" {
			return Unrelated, "", nil
		}
		if c, ok := relCache[rev]; ok && c.rel != Unrelated {
			return c.rel, c.detail, nil
		}
		rel, detail, err := w.Lineage(ctx, rev)
		if err != nil {
			return Unrelated, "", err
		}
		relCache[rev] = struct {
			rel    Relation
			detail string
		}{rel, detail}
		return rel, detail, nil
	}
	for {
		pending := 0
		for _, st := range states {
			if st.done != nil {
				continue
			}
			if err := w.step(ctx, t, st, relate); err != nil {
				return observations(states), err
			}
			if st.done == nil {
				pending++
			}
		}
		if pending == 0 {
			for _, st := range states {
				fmt.Fprintf(w.Log, "argocd: %s synced to %s and healthy (%s after the wait began)\n", st.name, short(st.done.Revision), w.Now().Sub(started).Round(100*time.Millisecond))
			}
			return observations(states), nil
		}
		left := time.Until(looksEnd) - reserve
		if left <= 0 || ctx.Err() != nil {
			err := w.timeout(outer, t, states)
			return observations(states), err
		}
		select {
		case <-ctx.Done():
			err := w.timeout(outer, t, states)
			return observations(states), err
		case <-time.After(min(w.Poll, left)):
		}
	}
}

func observations(states []*appState) []Observation {
	var out []Observation
	for _, st := range states {
		if st.done != nil {
			out = append(out, *st.done)
		}
	}
	return out
}

// find resolves the Applications to wait for.
func (w *Waiter) find(ctx context.Context, t Target) ([]*appState, error) {
	var out []*appState
	newState := func(app *Application, idx int) *appState {
		return &appState{name: app.Metadata.Name, source: idx, multi: len(app.Spec.Sources) > 0, app: app, said: map[string]bool{}}
	}
	if len(t.Applications) > 0 {
		for _, name := range t.Applications {
			var app *Application
			err := w.retry(ctx, func() error {
				var err error
				app, err = w.Client.Get(ctx, name, false)
				return err
			})
			if err != nil {
				return nil, w.requestFailure(name, err)
			}
			idx, _, why := app.matchSource(t.Repo, t.Branch, t.File)
			if idx < 0 {
				if why == "" {
					why = "deploys " + app.describeSources()
				}
				return nil, &Failure{Kind: KindNotTracking, Application: name, Msg: fmt.Sprintf("Argo CD Application %s does not deploy %s of %s (branch %s): it %s", name, t.File, t.Repo, t.Branch, why)}
			}
			st := newState(app, idx)
			st.name = name
			out = append(out, st)
		}
		return out, nil
	}
	var apps []Application
	if err := w.retry(ctx, func() error {
		var err error
		apps, err = w.Client.List(ctx)
		return err
	}); err != nil {
		return nil, w.requestFailure("", err)
	}
	best := -1
	var whys []string
	type cand struct {
		app   *Application
		idx   int
		depth int
	}
	var cands []cand
	for i := range apps {
		idx, depth, why := apps[i].matchSource(t.Repo, t.Branch, t.File)
		if idx < 0 {
			if why != "" {
				whys = append(whys, apps[i].Metadata.Name+" "+why)
			}
			continue
		}
		cands = append(cands, cand{&apps[i], idx, depth})
		if depth > best {
			best = depth
		}
	}
	for _, c := range cands {
		if c.depth == best {
			out = append(out, newState(c.app, c.idx))
		}
	}
	if len(out) == 0 {
		msg := fmt.Sprintf("no Argo CD Application deploys %s of %s (branch %s): the token sees %d Application(s)", t.File, t.Repo, t.Branch, len(apps))
		if len(whys) > 0 {
			msg += "; " + strings.Join(whys, "; ")
		}
		if len(apps) == 0 {
			msg += " (does its role allow \"applications, get\"?)"
		} else {
			msg += "; name it with --argocd-app"
		}
		return nil, &Failure{Kind: KindNotFound, Msg: msg}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	names := make([]string, len(out))
	for i, st := range out {
		names[i] = st.name
	}
	fmt.Fprintf(w.Log, "argocd: waiting for %s to sync %s (%s) and become healthy\n", strings.Join(names, ", "), short(t.Commit), t.File)
	return out, nil
}

// retry runs a request until it gets an answer: network errors and 5xx
// are retried until the context ends.
func (w *Waiter) retry(ctx context.Context, f func() error) error {
	var last error
	for {
		err := f()
		if err == nil || !transient(err) {
			return err
		}
		// A request the wait's own deadline cut says less than the error
		// before it (connection refused, say).
		if ctx.Err() == nil || last == nil {
			last = err
		}
		// The last try happens just before the looks end, not a whole
		// Poll earlier.
		pause := w.Poll
		if dl, ok := ctx.Deadline(); ok {
			left := time.Until(dl) - w.reserve
			if left <= 0 {
				return last
			}
			pause = min(pause, left)
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(pause):
		}
	}
}

func transient(err error) bool {
	var ne *NetError
	if errors.As(err, &ne) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && ae.Status >= 500
}

// requestFailure explains a request that failed for good.
func (w *Waiter) requestFailure(app string, err error) error {
	var ae *APIError
	var ne *NetError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		return &Failure{Kind: KindDenied, Application: app, Msg: fmt.Sprintf("Argo CD at %s refused %s (HTTP 401: %s): the token is invalid or expired; create a new one for the wait account", w.Client, EnvToken, ae.Message)}
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden && app != "":
		return &Failure{Kind: KindDenied, Application: app, Msg: fmt.Sprintf("Argo CD at %s denied %s on Application %s (HTTP 403: %s): it does not exist, or the token's role lacks \"applications, get\" on it (p, role:slipway-wait, applications, get, */*, allow)", w.Client, EnvToken, app, ae.Message)}
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
		return &Failure{Kind: KindDenied, Msg: fmt.Sprintf("Argo CD at %s denied %s (HTTP 403: %s): the token's role lacks \"applications, get\" (p, role:slipway-wait, applications, get, */*, allow)", w.Client, EnvToken, ae.Message)}
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound && app != "":
		return &Failure{Kind: KindNotFound, Application: app, Msg: fmt.Sprintf("Argo CD at %s has no Application %s (--argocd-app)", w.Client, app)}
	case errors.As(err, &ne) && ne.Timeout:
		return &Failure{Kind: KindUnreachable, Application: app, Msg: fmt.Sprintf("Argo CD at %s (%s) did not answer in time: %s%s", w.Client, EnvServer, ne.Op, w.gaveUp())}
	case errors.As(err, &ne):
		return &Failure{Kind: KindUnreachable, Application: app, Msg: fmt.Sprintf("Argo CD at %s (%s) is unreachable: %v%s", w.Client, EnvServer, ne, w.gaveUp())}
	}
	msg := fmt.Sprintf("Argo CD at %s: %v", w.Client, err)
	if transient(err) {
		msg += w.gaveUp() // retried (a 5xx) until the wait's end
	}
	return &Failure{Kind: KindUnreachable, Application: app, Msg: msg}
}

// step looks at one Application once.
func (w *Waiter) step(ctx context.Context, t Target, st *appState, relate func(string) (Relation, string, error)) error {
	now := w.Now()
	refresh := st.lastRefresh.IsZero() || ((st.rel == Behind || st.rel == Unrelated) && now.Sub(st.lastRefresh) >= w.RefreshEvery)
	if refresh {
		st.lastRefresh = now
	}
	app, err := w.Client.Get(ctx, st.name, refresh)
	if err != nil {
		if transient(err) || ctx.Err() != nil {
			st.silent = true
		}
		if ctx.Err() != nil {
			return nil // the timeout reports it
		}
		st.err = err
		if transient(err) {
			return nil
		}
		return w.requestFailure(st.name, err)
	}
	st.app, st.err, st.answered, st.relate = app, nil, true, relate
	st.answeredAt, st.silent = w.Now(), false
	if idx, _, _ := app.matchSource(t.Repo, t.Branch, t.File); idx >= 0 {
		st.source, st.multi = idx, len(app.Spec.Sources) > 0
	} else {
		return &Failure{Kind: KindNotTracking, Application: st.name, Msg: fmt.Sprintf("Argo CD Application %s no longer deploys %s of %s: it deploys %s", st.name, t.File, t.Repo, app.describeSources())}
	}
	s := app.Status
	st.rev = pick(s.Sync.revisions(), st.source)
	rel, detail, err := relate(st.rev)
	if err != nil {
		return fmt.Errorf("argocd: judge revision %s of %s: %w", short(st.rev), st.name, err)
	}
	st.rel, st.relDetail = rel, detail

	// A failed sync operation of our commit (or a descendant carrying it).
	if op := s.OperationState; op != nil && (op.Phase == "Failed" || op.Phase == "Error") {
		if orel, _, err := relate(pick(op.revisions(), st.source)); err == nil && (orel == Same || orel == Carries) {
			msg := fmt.Sprintf("Argo CD could not sync %s to %s: %s", st.name, short(pick(op.revisions(), st.source)), oneLine(op.Message))
			if r := failedResources(op); r != "" {
				msg = strings.TrimSuffix(msg, ".") + " (" + r + ")"
			}
			st.done = w.observe(st, SyncFailed, msg)
			return &Failure{Kind: KindSyncFailed, Application: st.name, Msg: msg}
		}
	}
	// A failed attempt that Argo CD retries: said once per attempt; the
	// wait goes on, Argo CD may still succeed (or give up: Failed above).
	if st.retry = st.retrying(relate); st.retry != nil {
		op := st.retry
		st.sayOnce(w.Log, "argocd: %s: Argo CD's sync of %s failed and is retried (retry %d): %s", st.name, short(pick(op.revisions(), st.source)), op.RetryCount, oneLine(op.Message))
	}
	// An error condition (ComparisonError: Argo CD cannot build the
	// manifests; InvalidSpecError; UnknownError) present in the answer to
	// our refresh stops Argo CD from ever comparing the commit: fail now
	// with its message. A SyncError is about a sync attempt, so only one of
	// the commit (or a descendant carrying it) counts.
	for _, c := range s.Conditions {
		if !strings.HasSuffix(c.Type, "Error") || c.Type == "SyncError" && rel != Same && rel != Carries {
			continue
		}
		at := ""
		if st.rev != "" {
			at = " at " + short(st.rev)
		}
		msg := fmt.Sprintf("Argo CD reports %s on %s%s: %s", c.Type, st.name, at, oneLine(c.Message))
		st.done = w.observe(st, SyncFailed, msg)
		if rel != Same && rel != Carries {
			// Argo CD synced nothing of the deploy: the record names no
			// revision (its reason says what Argo CD compared).
			st.done.Revision, st.done.SyncedAt, st.done.HistoryID = "", time.Time{}, -1
		}
		return &Failure{Kind: KindSyncFailed, Application: st.name, Msg: msg}
	}
	switch rel {
	case Replaced:
		return &Failure{Kind: KindReplaced, Application: st.name, Msg: fmt.Sprintf("Argo CD Application %s is at %s, where %s replaced deploy commit %s", st.name, short(st.rev), detail, short(t.Commit))}
	case Behind, Unrelated:
		return nil
	}
	switch s.Sync.Status {
	case "Synced":
		if op := s.OperationState; op != nil && op.Phase == "Running" {
			return nil
		}
		w.reportRollouts(ctx, st)
		switch s.Health.Status {
		case "Healthy":
			st.done = w.observe(st, Healthy, "")
			return nil
		case "Degraded":
			st.degraded++
			if st.degraded < 2 {
				return nil // confirm on the next look: a status that lags one reconcile
			}
			msg := fmt.Sprintf("Argo CD Application %s is synced to %s but Degraded: %s", st.name, short(st.rev), w.healthDetail(ctx, st))
			st.done = w.observe(st, Degraded, msg)
			return &Failure{Kind: KindDegraded, Application: st.name, Msg: msg}
		}
		st.degraded = 0
	case "OutOfSync":
		st.degraded = 0
		if app.Automatic() {
			if !st.windowsAsked {
				// Argo CD says nothing in the Application when a sync
				// window holds its automated sync: ask, once.
				st.windowsAsked = true
				if sw, err := w.Client.SyncWindows(ctx, st.name); err == nil {
					if b := sw.blocked(); b != "" {
						st.sayOnce(w.Log, "argocd: %s is OutOfSync at %s: %s; waiting", st.name, short(st.rev), b)
					}
				}
			}
			return nil
		}
		st.manual = true
		if op := s.OperationState; op != nil && op.Phase == "Running" {
			return nil
		}
		if !w.Sync {
			st.sayOnce(w.Log, "argocd: %s does not sync automatically: waiting for a manual sync of %s (or pass --sync, with a token allowed to sync)", st.name, short(t.Commit))
			return nil
		}
		if st.syncAsked {
			return nil
		}
		pos := 0
		if st.multi {
			pos = st.source + 1
		}
		err := w.Client.Sync(ctx, st.name, t.Commit, pos)
		var ae *APIError
		switch {
		case err == nil:
			st.syncAsked = true
			fmt.Fprintf(w.Log, "argocd: asked Argo CD to sync %s to %s\n", st.name, short(t.Commit))
		case errors.As(err, &ae) && ae.Status == http.StatusForbidden && strings.Contains(ae.Message, "sync window"):
			return &Failure{Kind: KindSyncFailed, Application: st.name, Msg: fmt.Sprintf("Argo CD refused to sync %s to %s: %s (a sync window of its project; sync when it allows, or in Argo CD if the window allows manual syncs)", st.name, short(t.Commit), ae.Message)}
		case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
			return &Failure{Kind: KindDenied, Application: st.name, Msg: fmt.Sprintf("Argo CD denied the sync of %s (HTTP 403: %s): %s's role lacks \"applications, sync\"; sync it in Argo CD, or grant the role p, role:slipway-wait, applications, sync, */*, allow", st.name, ae.Message, EnvToken)}
		case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
			return w.requestFailure(st.name, err)
		case errors.As(err, &ae) && strings.Contains(ae.Message, "in progress"):
			// Another operation runs; look again.
		default:
			if !transient(err) {
				return &Failure{Kind: KindSyncFailed, Application: st.name, Msg: fmt.Sprintf("Argo CD refused to sync %s to %s: %v", st.name, short(t.Commit), err)}
			}
		}
	}
	return nil
}

// retrying is the Application's sync operation of the deploy commit (or a
// descendant carrying it) when an attempt failed and Argo CD retries it.
func (s *appState) retrying(relate func(string) (Relation, string, error)) *OperationState {
	op := s.app.Status.OperationState
	if op == nil || op.Phase != "Running" || op.RetryCount == 0 {
		return nil
	}
	if orel, _, err := relate(pick(op.revisions(), s.source)); err != nil || (orel != Same && orel != Carries) {
		return nil
	}
	return op
}

// targetRevision is what the deploying source of the Application follows.
func (s *appState) targetRevision() string {
	if s.app == nil {
		return ""
	}
	srcs := s.app.sources()
	if s.source < 0 || s.source >= len(srcs) {
		return ""
	}
	return srcs[s.source].TargetRevision
}

// pick is the revision of source i (Revisions, one per source) or the
// only one.
func pick(revs []string, i int) string {
	if len(revs) == 0 {
		return ""
	}
	if i < len(revs) && len(revs) > 1 {
		return revs[i]
	}
	return revs[0]
}

// observe records what Argo CD says of the synced revision.
func (w *Waiter) observe(st *appState, res Result, reason string) *Observation {
	now := w.Now()
	s := st.app.Status
	o := &Observation{Application: st.name, Server: w.Client.String(), Revision: st.rev, HistoryID: -1, Result: res, Reason: reason, ObservedAt: now.UTC()}
	if op := s.OperationState; op != nil && op.FinishedAt != nil && pick(op.revisions(), st.source) == st.rev && (op.Phase == "Succeeded" || res == SyncFailed) {
		o.SyncedAt = op.FinishedAt.UTC()
	}
	// The sync that put the deploy in the cluster: the history entry of the
	// revision Argo CD reports, else (a descendant whose manifests for this
	// path did not change syncs nothing) the newest entry of the deploy
	// commit or a descendant that carries it.
	for i := len(s.History) - 1; i >= 0; i-- {
		h := s.History[i]
		rev := pick(h.revisions(), st.source)
		ok := rev == st.rev
		if !ok && st.relate != nil && rev != "" {
			rel, _, err := st.relate(rev)
			ok = err == nil && (rel == Same || rel == Carries)
		}
		if ok {
			o.HistoryID = h.ID
			if o.SyncedAt.IsZero() {
				o.SyncedAt = h.DeployedAt.UTC()
			}
			break
		}
	}
	if res == Healthy {
		o.HealthyAt = now.UTC()
		if lt := s.Health.LastTransitionTime; lt != nil && !lt.Before(o.SyncedAt) && !lt.After(now) {
			o.HealthyAt = lt.UTC()
		}
	}
	return o
}

// failedResources lists the resources a sync could not apply, with Argo
// CD's (kubectl's) message.
func failedResources(op *OperationState) string {
	if op.SyncResult == nil {
		return ""
	}
	var parts []string
	said := oneLine(op.Message)
	for _, r := range op.SyncResult.Resources {
		if r.Status == "SyncFailed" || r.HookPhase == "Failed" || r.HookPhase == "Error" {
			m := oneLine(r.Message)
			if m != "" && strings.Contains(said, m) {
				continue // Argo CD's operation message already quotes it
			}
			parts = append(parts, resourceName(r.Group, r.Kind, r.Namespace, r.Name)+": "+m)
		}
	}
	return limit(parts)
}

func limit(parts []string) string {
	const max = 3
	if len(parts) > max {
		parts = append(parts[:max:max], fmt.Sprintf("and %d more", len(parts)-max))
	}
	return strings.Join(parts, "; ")
}

// healthDetail names the resources that are not Healthy, with their health
// messages: from the Application's status when Argo CD persists resource
// health, else from its resource tree.
func (w *Waiter) healthDetail(ctx context.Context, st *appState) string {
	s := st.app.Status
	var parts []string
	for _, r := range s.Resources {
		if r.Health != nil && r.Health.Status != "" && r.Health.Status != "Healthy" {
			parts = append(parts, resourceHealth(r.Group, r.Kind, r.Namespace, r.Name, r.Health))
		}
	}
	if len(parts) == 0 {
		tree := st.tree
		if tree == nil {
			tree, _ = w.Client.ResourceTree(ctx, st.name)
		}
		if tree != nil {
			for _, n := range tree.Nodes {
				if n.Health != nil && n.Health.Status != "" && n.Health.Status != "Healthy" {
					parts = append(parts, resourceHealth(n.Group, n.Kind, n.Namespace, n.Name, n.Health))
				}
			}
		}
	}
	if len(parts) == 0 {
		if s.Health.Message != "" {
			return s.Health.Status + ": " + oneLine(s.Health.Message)
		}
		return "health " + s.Health.Status
	}
	return limit(parts)
}

func resourceHealth(group, kind, ns, name string, h *Health) string {
	s := resourceName(group, kind, ns, name) + " " + h.Status
	if h.Message != "" {
		s += ": " + oneLine(h.Message)
	}
	return s
}

// reportRollouts logs each change of an Argo Rollout's health as Argo CD
// shows it (Progressing, Suspended at a pause step, Degraded when aborted).
func (w *Waiter) reportRollouts(ctx context.Context, st *appState) {
	st.tree = nil
	has := false
	for _, r := range st.app.Status.Resources {
		if r.Kind == "Rollout" && r.Group == "argoproj.io" {
			has = true
		}
	}
	if !has || st.app.Status.Health.Status == "Healthy" && !st.said["rollout-seen"] {
		return
	}
	st.said["rollout-seen"] = true
	tree, err := w.Client.ResourceTree(ctx, st.name)
	if err != nil {
		return
	}
	st.tree = tree
	for _, n := range tree.Nodes {
		if n.Kind != "Rollout" || n.Group != "argoproj.io" || n.Health == nil {
			continue
		}
		line := fmt.Sprintf("argocd: %s: rollout %s %s", st.name, n.Name, n.Health.Status)
		if n.Health.Message != "" {
			line += ": " + oneLine(n.Health.Message)
		}
		for _, i := range n.Info {
			if strings.EqualFold(i.Name, "Step") || strings.EqualFold(i.Name, "Status") {
				line += " (" + i.Name + " " + i.Value + ")"
			}
		}
		st.sayOnce(w.Log, "%s", line)
	}
}

// timeout explains, in one line, the first Application that is not there.
func (w *Waiter) timeout(ctx context.Context, t Target, states []*appState) error {
	for _, st := range states {
		if st.done != nil {
			continue
		}
		if !st.answered && st.err != nil {
			return w.requestFailure(st.name, st.err)
		}
		var msg string
		kind := KindTimeout
		s := st.app.Status
		switch {
		case st.rel == Behind || st.rel == Unrelated:
			at := "no revision"
			if st.rev != "" {
				at = short(st.rev)
			}
			msg = fmt.Sprintf("Argo CD Application %s still compares %s, not deploy commit %s (refreshed every %s", st.name, at, short(t.Commit), w.RefreshEvery)
			// The hint only when what the Application follows may not be
			// the branch: HEAD is the repository's default branch.
			switch tr := st.targetRevision(); {
			case tr == "" || tr == "HEAD":
				msg += fmt.Sprintf("; it follows HEAD: is %s the repository's default branch?", t.Branch)
			case strings.TrimPrefix(tr, "refs/heads/") != t.Branch:
				msg += fmt.Sprintf("; it follows %s, not branch %s", tr, t.Branch)
			}
			msg += ")"
		case st.retry != nil:
			op := st.retry
			kind = KindSyncFailed
			msg = fmt.Sprintf("Argo CD's sync of %s to %s failed and is still retried (retry %d): %s", st.name, short(pick(op.revisions(), st.source)), op.RetryCount, oneLine(op.Message))
			if r := failedResources(op); r != "" {
				msg = strings.TrimSuffix(msg, ".") + " (" + r + ")"
			}
		case s.Sync.Status == "OutOfSync" && st.manual:
			kind = KindManual
			msg = fmt.Sprintf("Argo CD Application %s is waiting for a manual sync of %s (sync it in Argo CD, or pass --sync with a token allowed to sync)", st.name, short(t.Commit))
		case s.Sync.Status != "Synced":
			msg = fmt.Sprintf("Argo CD Application %s is %s at %s", st.name, orUnknown(s.Sync.Status), short(st.rev))
			if r := outOfSync(s); r != "" {
				msg += ": " + r
			}
			if s.Sync.Status == "OutOfSync" && st.app.Automatic() {
				if sw, err := w.Client.SyncWindows(ctx, st.name); err == nil {
					if b := sw.blocked(); b != "" {
						msg += "; " + b
					}
				}
			}
			if op := s.OperationState; op != nil && op.Message != "" {
				msg += " (last operation " + op.Phase + ": " + oneLine(op.Message) + ")"
			}
		default:
			msg = fmt.Sprintf("Argo CD Application %s is synced to %s but %s: %s", st.name, short(st.rev), orUnknown(s.Health.Status), w.healthDetail(ctx, st))
			st.done = w.observe(st, NotHealthy, "")
		}
		if st.silent {
			// The state above is the last one Argo CD gave: say so, and
			// for how long it has been silent since.
			msg += fmt.Sprintf("; Argo CD did not answer for the last %s", waited(w.Now().Sub(st.answeredAt)))
			if st.err != nil {
				msg += fmt.Sprintf(" (%v)", st.err)
			}
		}
		msg += w.gaveUp()
		if st.done != nil {
			st.done.Reason = msg
		}
		return &Failure{Kind: kind, Application: st.name, Msg: msg}
	}
	return &Failure{Kind: KindTimeout, Msg: strings.TrimPrefix(w.gaveUp(), " — ")}
}

// gaveUp says how long the wait really waited, against its budget.
func (w *Waiter) gaveUp() string {
	return fmt.Sprintf(" — gave up after %s (--wait-timeout %s)", waited(w.Now().Sub(w.started)), w.timeoutText())
}

// waited is a measured duration as a person reads it, never rounded up
// to a whole second: 14.6s, not 15s.
func waited(d time.Duration) string {
	if d >= time.Second {
		return d.Truncate(100 * time.Millisecond).String()
	}
	return d.Truncate(time.Millisecond).String()
}

func outOfSync(s Status) string {
	var parts []string
	for _, r := range s.Resources {
		if r.Status != "" && r.Status != "Synced" {
			parts = append(parts, resourceName(r.Group, r.Kind, r.Namespace, r.Name)+" "+r.Status)
		}
	}
	for _, c := range s.Conditions {
		parts = append(parts, c.Type+": "+oneLine(c.Message))
	}
	return limit(parts)
}

func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}

// roundDur is a duration as a person reads it: the budget left for a
// second target is 19.999999s of a 20s --wait-timeout.
// timeoutText is --wait-timeout as given, else the budget rounded.
func (w *Waiter) timeoutText() string {
	if w.TimeoutFlag != "" {
		return w.TimeoutFlag
	}
	return roundDur(w.Timeout)
}

func roundDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// short abbreviates a commit SHA to 12 hex digits; anything else (Argo CD's
// unresolved "refs/heads/main", a tag) stays whole.
func short(s string) string {
	if len(s) <= 12 {
		return s
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return s
		}
	}
	return s[:12]
}
