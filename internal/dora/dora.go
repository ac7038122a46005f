// Package dora computes the four DORA metrics per app and environment from
// Slipway's deploy records (the GitOps log) and the source repository: how
// often, how fast from commit to deploy, how often a deploy goes wrong, and
// how fast service comes back. Definitions and edge cases are in README.md
// ("DORA metrics").
package dora

import (
	"bufio"
	"container/heap"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/natural"
	"github.com/slipway-ci/slipway/internal/version"
)

// Bands, best first.
const (
	Elite  = "elite"
	High   = "high"
	Medium = "medium"
	Low    = "low"
	None   = "n/a" // no data
)

// Metrics are one app and environment's figures over the window.
type Metrics struct {
	App  string    `json:"app"`
	Env  string    `json:"env"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// RequestedFrom is the window start asked for (--since), set only when
	// the records of this app and environment begin later: From is then
	// their first deploy, so days with no data do not dilute the figures,
	// and WindowNote says so.
	RequestedFrom time.Time `json:"requested_from,omitzero"`
	WindowNote    string    `json:"window_note,omitempty"`
	Deploys       int       `json:"deploys"`
	PerDay        float64   `json:"deploys_per_day"`
	PerWeek       float64   `json:"deploys_per_week"`
	Frequency     string    `json:"frequency_band"`
	LeadTime      LeadTime  `json:"lead_time"`
	Failure       Failure   `json:"change_failure"`
	Recovery      Recovery  `json:"recovery"`
	Redeploys     []Event   `json:"redeploys"`
	Rollbacks     int       `json:"rollbacks"`
	BreakGlass    []Event   `json:"break_glass"`
	DeployTimes   []Event   `json:"deploys_list"`
}

// LeadTime is commit time → deploy time, over every source commit a deploy
// shipped: those in (previously deployed Source-Commit, this Source-Commit].
type LeadTime struct {
	Commits int `json:"commits"`
	// ToRunning counts the deploys measured to when Argo CD reported them
	// synced and healthy (a `wait` observation); the others are measured to
	// their GitOps commit (ToCommitted).
	ToRunning     int `json:"to_running"`
	ToCommitted   int `json:"to_committed"`
	UnknownRanges int `json:"unknown_ranges"` // deploys whose commits the source repository lacks
	// FutureDated counts shipped commits whose committer time is after the
	// deploy that shipped them (a skewed clock, a rewritten date): they give
	// no sample, and are named in FutureDatedCommits.
	FutureDated        int       `json:"future_dated"`
	FutureDatedCommits []string  `json:"future_dated_commits,omitempty"`
	MedianHours        float64   `json:"median_hours"`
	P90Hours           float64   `json:"p90_hours"`
	Band               string    `json:"band"`
	Hours              []float64 `json:"-"` // every sample, for the distribution chart
}

// Failure is the change failure rate: deploys followed by a rollback, a
// revert or a deploy marked --fix, over all deploys.
type Failure struct {
	Failed   int     `json:"failed"`
	Rate     float64 `json:"rate"`
	Band     string  `json:"band"`
	Failures []Event `json:"failures"`
}

// Recovery is failed deployment recovery time: a failed deploy → the
// rollback, revert or fix that restored service.
type Recovery struct {
	Count       int     `json:"count"`
	MedianHours float64 `json:"median_hours"`
	Band        string  `json:"band"`
}

// Event names one deploy record.
type Event struct {
	Time   time.Time `json:"time"`
	Commit string    `json:"commit"`
	Image  string    `json:"image"`
	Source string    `json:"source_commit,omitempty"`
	Note   string    `json:"note,omitempty"`
	Kind   string    `json:"kind"` // deploy, rollback, redeploy, revert, fix, break-glass
	// SyncedAt and HealthyAt are when Argo CD synced the deploy and reported
	// it healthy (`wait`'s observations; zero when not observed); Cluster
	// says so in words ("healthy …", "degraded (app)").
	SyncedAt  time.Time `json:"synced_at,omitzero"`
	HealthyAt time.Time `json:"healthy_at,omitzero"`
	Cluster   string    `json:"cluster,omitempty"`
}

// Commit is a source commit with its committer time.
type Commit struct {
	SHA  string
	Time time.Time
}

// Source answers which commits a deploy shipped.
type Source interface {
	// Range lists the commits in (from, to]; from "" means just to.
	Range(ctx context.Context, from, to string) ([]Commit, error)
}

// Options bound the computation.
type Options struct {
	Since time.Time // window start (records before it still give the previous deploy)
	Now   time.Time
}

// Compute returns metrics per app and environment, sorted by app then env.
// recs is the history, newest first (gitops.History).
func Compute(ctx context.Context, recs []gitops.Record, src Source, opts Options) []Metrics {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	type key struct{ app, env string }
	byEnv := map[key][]gitops.Record{}
	for i := len(recs) - 1; i >= 0; i-- { // oldest first
		r := recs[i]
		byEnv[key{r.App, r.Env}] = append(byEnv[key{r.App, r.Env}], r)
	}
	keys := make([]key, 0, len(byEnv))
	for k := range byEnv {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].app != keys[j].app {
			return natural.Less(keys[i].app, keys[j].app)
		}
		return natural.Less(keys[i].env, keys[j].env)
	})
	var out []Metrics
	for _, k := range keys {
		out = append(out, compute(ctx, k.app, k.env, byEnv[k], src, opts))
	}
	return out
}

func compute(ctx context.Context, app, env string, recs []gitops.Record, src Source, opts Options) Metrics {
	m := Metrics{App: app, Env: env, From: opts.Since, To: opts.Now, Redeploys: []Event{}, BreakGlass: []Event{}, DeployTimes: []Event{}}
	m.Failure.Failures = []Event{}
	reverted := map[string]gitops.Record{}
	for _, r := range recs {
		if r.Reverts != "" {
			reverted[r.Reverts] = r
		}
	}
	var deploys []gitops.Record
	for _, r := range recs {
		if r.IsDeploy() {
			deploys = append(deploys, r)
		}
	}
	if len(deploys) > 0 {
		switch first := deploys[0].Time; {
		case m.From.IsZero():
			m.From = first
		case first.After(m.From) && first.Before(opts.Now):
			// No data before the first deploy: rating the requested window
			// would count days this environment did not exist as days
			// without deploys.
			m.RequestedFrom, m.From = m.From, first
			m.WindowNote = fmt.Sprintf("window starts at the first deploy, %s (asked from %s): there are no records before it",
				first.UTC().Format(time.RFC3339), m.RequestedFrom.UTC().Format(time.RFC3339))
		}
	}
	seen := map[string]bool{}
	prevSource := ""
	var recoveries []float64
	for i, d := range deploys {
		digest := d.Image[strings.LastIndex(d.Image, "@")+1:]
		inWindow := !d.Time.Before(m.From) && !d.Time.After(opts.Now)
		ev := Event{Time: d.Time, Commit: d.Commit, Image: d.Image, Source: d.SourceCommit, Kind: "deploy", Cluster: d.RunningText()}
		for _, o := range d.Latest() {
			if o.SyncedAt.After(ev.SyncedAt) {
				ev.SyncedAt = o.SyncedAt
			}
		}
		if at, ok, _ := d.Running(); ok {
			ev.HealthyAt = at
		}
		if d.IsRollback() {
			ev.Kind = "rollback"
		} else if seen[digest] {
			ev.Kind = "redeploy"
		}
		if d.Fix {
			ev.Note = "fix"
		}
		if inWindow {
			m.Deploys++
			m.DeployTimes = append(m.DeployTimes, ev)
			if d.IsRollback() {
				m.Rollbacks++
			}
			if ev.Kind == "redeploy" {
				ev.Note = "digest deployed here before"
				m.Redeploys = append(m.Redeploys, ev)
			}
			if d.BreakGlass != "" {
				bg := ev
				bg.Kind, bg.Note = "break-glass", d.BreakGlass
				m.BreakGlass = append(m.BreakGlass, bg)
			}
			// Lead time: the commits this deploy shipped (not for rollbacks,
			// which ship nothing new).
			// The end is when the cluster ran it healthy, when Argo CD said so.
			if !d.IsRollback() && d.SourceCommit != "" && d.SourceCommit != prevSource && src != nil {
				commits, err := src.Range(ctx, prevSource, d.SourceCommit)
				if err != nil {
					m.LeadTime.UnknownRanges++
				}
				end := d.Time
				if at, ok, _ := d.Running(); ok && at.After(d.Time) {
					end = at
				}
				if len(commits) > 0 {
					if _, ok, _ := d.Running(); ok {
						m.LeadTime.ToRunning++
					} else {
						m.LeadTime.ToCommitted++
					}
				}
				for _, c := range commits {
					h := end.Sub(c.Time).Hours()
					if h < 0 {
						m.LeadTime.FutureDated++
						m.LeadTime.FutureDatedCommits = append(m.LeadTime.FutureDatedCommits, c.SHA)
						continue
					}
					m.LeadTime.Hours = append(m.LeadTime.Hours, h)
				}
			}
			// Failure: the next event says this deploy went wrong.
			if restored, ok := nextRestore(d, deploys[i+1:], reverted); ok {
				m.Failure.Failed++
				fe := ev
				fe.Note = "restored by " + restored.Commit[:min(12, len(restored.Commit))]
				if _, _, failed := d.Running(); failed {
					fe.Note = "never healthy in Argo CD (" + d.RunningText() + "); " + fe.Note
				}
				m.Failure.Failures = append(m.Failure.Failures, fe)
				recoveries = append(recoveries, restoredAt(restored).Sub(d.Time).Hours())
			} else if _, _, failed := d.Running(); failed {
				// Argo CD said it never became healthy: a failed change,
				// restored by the next deploy that ran healthy.
				m.Failure.Failed++
				fe := ev
				fe.Note = "never healthy in Argo CD (" + d.RunningText() + ")"
				for _, l := range deploys[i+1:] {
					if at, ok, _ := l.Running(); ok {
						fe.Note += "; restored by " + l.Commit[:min(12, len(l.Commit))]
						recoveries = append(recoveries, at.Sub(d.Time).Hours())
						break
					}
				}
				m.Failure.Failures = append(m.Failure.Failures, fe)
			}
		}
		seen[digest] = true
		// A rollback moves the baseline back too: the next deploy ships what
		// is new since the rolled-back-to commit.
		prevSource = d.SourceCommit
	}
	days := opts.Now.Sub(m.From).Hours() / 24
	if days < 1 {
		days = 1
	}
	m.PerDay = round(float64(m.Deploys)/days, 3)
	m.PerWeek = round(float64(m.Deploys)/days*7, 2)
	m.Frequency = frequencyBand(m.Deploys, m.PerDay)
	sort.Float64s(m.LeadTime.Hours)
	m.LeadTime.Commits = len(m.LeadTime.Hours)
	m.LeadTime.MedianHours = round(percentile(m.LeadTime.Hours, 50), 2)
	m.LeadTime.P90Hours = round(percentile(m.LeadTime.Hours, 90), 2)
	m.LeadTime.Band = hoursBand(m.LeadTime.Hours, m.LeadTime.MedianHours, 24, 24*7, 24*30)
	if m.Deploys > 0 {
		m.Failure.Rate = round(float64(m.Failure.Failed)/float64(m.Deploys), 4)
		switch r := m.Failure.Rate; {
		case r <= 0.05:
			m.Failure.Band = Elite
		case r <= 0.10:
			m.Failure.Band = High
		case r <= 0.15:
			m.Failure.Band = Medium
		default:
			m.Failure.Band = Low
		}
	} else {
		m.Failure.Band = None
	}
	sort.Float64s(recoveries)
	m.Recovery.Count = len(recoveries)
	m.Recovery.MedianHours = round(percentile(recoveries, 50), 2)
	m.Recovery.Band = hoursBand(recoveries, m.Recovery.MedianHours, 1, 24, 24*7)
	return m
}

// restoredAt is when a restoring record restored service: when Argo CD
// reported it healthy, else its commit.
func restoredAt(r gitops.Record) time.Time {
	if at, ok, _ := r.Running(); ok && at.After(r.Time) {
		return at
	}
	return r.Time
}

// nextRestore finds what restored service after d: the next deploy of the
// environment when it is a rollback or marked --fix, or a revert of d.
func nextRestore(d gitops.Record, later []gitops.Record, reverted map[string]gitops.Record) (gitops.Record, bool) {
	if rv, ok := reverted[d.Commit]; ok {
		if len(later) == 0 || rv.Time.Before(later[0].Time) {
			return rv, true
		}
	}
	if len(later) > 0 && (later[0].IsRollback() || later[0].Fix) {
		return later[0], true
	}
	return gitops.Record{}, false
}

func frequencyBand(n int, perDay float64) string {
	switch {
	case n == 0:
		return None
	case perDay >= 1:
		return Elite
	case perDay >= 1.0/7:
		return High
	case perDay >= 1.0/30:
		return Medium
	}
	return Low
}

func hoursBand(samples []float64, median, elite, high, medium float64) string {
	switch {
	case len(samples) == 0:
		return None
	case median < elite:
		return Elite
	case median < high:
		return High
	case median < medium:
		return Medium
	}
	return Low
}

// percentile of sorted samples (nearest rank).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	if rank < 0 {
		rank = 0
	}
	return sorted[rank]
}

func round(f float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(f*p) / p
}

// GitSource reads commit ranges from a source repository. The commit graph
// (hash, committer time, parents of every commit on every ref) is read once
// with one `git log`; ranges are then walked in memory, as `git rev-list
// from..to` does: 10,000 deploys cost one process, not 10,000. A commit the
// repository lacks (after a force-push, in a shallow clone) makes the range
// unknown.
type GitSource struct {
	Dir string

	loaded  bool
	loadErr error
	commits map[string]*node
}

type node struct {
	sha     string
	time    time.Time
	parents []string
}

func (g *GitSource) load(ctx context.Context) error {
	if g.loaded {
		return g.loadErr
	}
	g.loaded = true
	cmd := exec.CommandContext(ctx, "git", "-C", g.Dir, "log", "--all", "--format=%H %ct %P")
	cmd.Env = version.GitEnv(g.Dir, append(os.Environ(), "GIT_TERMINAL_PROMPT=0"))
	out, err := cmd.Output()
	if err != nil {
		g.loadErr = fmt.Errorf("read the commits of %s: not a git repository with history", g.Dir)
		return g.loadErr
	}
	g.commits = map[string]*node{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		sec, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		g.commits[f[0]] = &node{sha: f[0], time: time.Unix(sec, 0).UTC(), parents: f[2:]}
	}
	return nil
}

// Range lists the commits in (from, to] with their committer times; from ""
// means just to (the first deploy of an environment).
func (g *GitSource) Range(ctx context.Context, from, to string) ([]Commit, error) {
	if err := g.load(ctx); err != nil {
		return nil, err
	}
	top, ok := g.commits[to]
	if !ok {
		return nil, fmt.Errorf("commit %s is not in %s", to, g.Dir)
	}
	if from == "" {
		return []Commit{{SHA: top.sha, Time: top.time}}, nil
	}
	if _, ok := g.commits[from]; !ok {
		return nil, fmt.Errorf("commit %s is not in %s", from, g.Dir)
	}
	// Paint down from both ends, newest first: what only `to` reaches is the range.
	const want, stop = 1, 2
	marks := map[string]int{to: want}
	marks[from] |= stop
	q := &timeQueue{}
	heap.Push(q, g.commits[to])
	if from != to {
		heap.Push(q, g.commits[from])
	}
	for q.Len() > 0 {
		if q.allMarked(marks, stop) {
			break
		}
		n := heap.Pop(q).(*node)
		m := marks[n.sha]
		for _, p := range n.parents {
			pn, ok := g.commits[p]
			if !ok {
				continue
			}
			if marks[p]|m != marks[p] {
				_, seen := marks[p]
				marks[p] |= m
				if !seen || m&stop != 0 {
					heap.Push(q, pn)
				}
			}
		}
	}
	var out []Commit
	for sha, m := range marks {
		if m == want {
			out = append(out, Commit{SHA: sha, Time: g.commits[sha].time})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

type timeQueue []*node

func (q timeQueue) Len() int           { return len(q) }
func (q timeQueue) Less(i, j int) bool { return q[i].time.After(q[j].time) }
func (q timeQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *timeQueue) Push(x any)        { *q = append(*q, x.(*node)) }
func (q *timeQueue) Pop() any {
	old := *q
	n := old[len(old)-1]
	*q = old[:len(old)-1]
	return n
}

// allMarked: every queued commit is reachable from the stop side, so nothing
// older can still be in the range.
func (q timeQueue) allMarked(marks map[string]int, flag int) bool {
	for _, n := range q {
		if marks[n.sha]&flag == 0 {
			return false
		}
	}
	return true
}
