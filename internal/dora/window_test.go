package dora

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/gitops"
)

// fakeSource answers Range from a fixed list of commits per source commit.
type fakeSource map[string][]Commit

func (f fakeSource) Range(_ context.Context, _, to string) ([]Commit, error) { return f[to], nil }

func rec(app, env string, n int, at time.Time, src string) gitops.Record {
	return gitops.Record{App: app, Env: env, Image: fmt.Sprintf("r.io/a@sha256:%064x", n), SourceCommit: src, Time: at, Commit: fmt.Sprintf("%040x", n)}
}

// newestFirst reverses oldest-first records into History's order.
func newestFirst(recs []gitops.Record) []gitops.Record {
	out := make([]gitops.Record, len(recs))
	for i, r := range recs {
		out[len(recs)-1-i] = r
	}
	return out
}

// TestWindowClampedToTheData: a repository whose first deploy is younger
// than the window is rated over the span it has data for, and says so; one
// with older records keeps the window asked for. Property over generated
// ages and deploy counts: frequency is never diluted by days with no data.
func TestWindowClampedToTheData(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	since := now.Add(-90 * 24 * time.Hour)
	r := rand.New(rand.NewSource(9))
	for i := 0; i < 200; i++ {
		age := time.Duration(1+r.Intn(200*24)) * time.Hour // first deploy this long ago
		n := 1 + r.Intn(30)
		var recs []gitops.Record
		for k := 0; k < n; k++ {
			at := now.Add(-age + time.Duration(float64(age)*float64(k)/float64(n)))
			recs = append(recs, rec("app", "prod", k+1, at, fmt.Sprintf("%040x", k+1)))
		}
		m := Compute(context.Background(), newestFirst(recs), nil, Options{Since: since, Now: now})[0]
		first := recs[0].Time
		if first.After(since) {
			if !m.From.Equal(first) || !m.RequestedFrom.Equal(since) || !strings.Contains(m.WindowNote, "first deploy") {
				t.Fatalf("first deploy %s ago, 90d asked: from %s, requested %s, note %q; want the window clamped to the first deploy and said so", age, m.From, m.RequestedFrom, m.WindowNote)
			}
			days := now.Sub(first).Hours() / 24
			if days < 1 {
				days = 1
			}
			inWindow := n
			if want := round(float64(inWindow)/days, 3); m.PerDay != want {
				t.Fatalf("age %s, %d deploys: %.3f/day, want %.3f", age, n, m.PerDay, want)
			}
		} else if !m.From.Equal(since) || !m.RequestedFrom.IsZero() || m.WindowNote != "" {
			t.Fatalf("records older than the window: from %s, requested %s, note %q; want the window as asked", m.From, m.RequestedFrom, m.WindowNote)
		}
	}
	// The reported case: a one-day-old repository with daily deploys is elite.
	var recs []gitops.Record
	for k := 0; k < 3; k++ {
		recs = append(recs, rec("app", "prod", k+1, now.Add(-20*time.Hour+time.Duration(k)*5*time.Hour), fmt.Sprintf("%040x", k+1)))
	}
	if m := Compute(context.Background(), newestFirst(recs), nil, Options{Since: since, Now: now})[0]; m.Frequency != Elite {
		t.Errorf("a one-day-old repository with 3 deploys: %s (%.3f/day over %s–%s)", m.Frequency, m.PerDay, m.From, m.To)
	}
}

// TestFutureDatedCommitsAreCounted: a commit whose time is after the deploy
// that shipped it (a skewed clock, a rewritten date) gives no lead-time
// sample, and is counted and named, never silently dropped.
func TestFutureDatedCommitsAreCounted(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	at := now.Add(-10 * time.Hour)
	sha := func(n int) string { return fmt.Sprintf("%040x", n) }
	src := fakeSource{sha(1): {
		{SHA: sha(11), Time: at.Add(-3 * time.Hour)},
		{SHA: sha(12), Time: at.Add(2 * time.Hour)}, // dated after the deploy
		{SHA: sha(13), Time: at.Add(48 * time.Hour)},
	}}
	m := Compute(context.Background(), []gitops.Record{rec("app", "prod", 1, at, sha(1))}, src, Options{Now: now})[0]
	if m.LeadTime.Commits != 1 || m.LeadTime.FutureDated != 2 {
		t.Errorf("lead time %+v; want 1 sample and 2 future-dated commits", m.LeadTime)
	}
	if got := strings.Join(m.LeadTime.FutureDatedCommits, ","); got != sha(12)+","+sha(13) {
		t.Errorf("future-dated commits %q", got)
	}
}

// TestAppsSortNaturally: app2 before app10.
func TestAppsSortNaturally(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	var recs []gitops.Record
	for i, app := range []string{"app10", "app2", "app1", "app11"} {
		recs = append(recs, rec(app, "prod", i+1, now.Add(-time.Hour), fmt.Sprintf("%040x", i+1)))
	}
	var got []string
	for _, m := range Compute(context.Background(), recs, nil, Options{Now: now}) {
		got = append(got, m.App)
	}
	if strings.Join(got, " ") != "app1 app2 app10 app11" {
		t.Errorf("order %v", got)
	}
}
