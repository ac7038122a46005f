package dora

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/gittest"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func sourceRepo(t testing.TB, n int) (string, []string) { return gittest.SourceRepo(t, n, t0) }

func img(n int) gitops.Image {
	return gitops.Image{Repo: "ghcr.io/acme/sample-app", Digest: fmt.Sprintf("sha256:%064x", n)}
}

// The figures of a small, exactly known history.
func TestCompute(t *testing.T) {
	src, shas := sourceRepo(t, 6)
	gdir := filepath.Join(t.TempDir(), "gitops.git")
	if _, err := gitops.EnsureLocal(gdir, "../../sample-app/deploy", "sample-app", "main", t0); err != nil {
		t.Fatal(err)
	}
	r, _ := gitops.NewRemote(gdir, "main", func(string) string { return "" })
	now := t0
	d := &gitops.Deployer{Remote: r, Now: func() time.Time { return now }}
	ctx := context.Background()
	deploy := func(at time.Duration, n int, sha string, fix bool) {
		now = t0.Add(at)
		if _, err := d.Deploy(ctx, gitops.Request{App: "sample-app", Env: "production", Image: img(n), SourceCommit: sha, SourceRepo: src, Fix: fix, AllowUnknownSource: true}); err != nil {
			t.Fatal(err)
		}
	}
	// c0..c1 shipped at +2h: lead times of c1 1h (first deploy: just c1).
	deploy(2*time.Hour, 1, shas[1], false)
	// c2, c3 at +5h: lead times 3h and 2h.
	deploy(5*time.Hour, 2, shas[3], false)
	// Rolled back 30 minutes later: the deploy at +5h failed; recovery 0.5h.
	now = t0.Add(5*time.Hour + 30*time.Minute)
	if _, err := d.Rollback(ctx, gitops.RollbackRequest{App: "sample-app", Env: "production", Steps: 1, Reason: "errors"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Unpin(ctx, "sample-app", "production", "fixed", ""); err != nil {
		t.Fatal(err)
	}
	// c4, c5 at +10h (from the rolled-back-to c1: c2..c5 ship: 8h, 7h, 6h, 5h).
	deploy(10*time.Hour, 3, shas[5], false)
	// The same digest as the first deploy again: a re-deployment.
	deploy(11*time.Hour, 1, shas[5], true)
	recs, err := gitops.History(ctx, r, gitops.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	ms := Compute(ctx, recs, &GitSource{Dir: src}, Options{Since: t0, Now: t0.Add(24 * time.Hour)})
	if len(ms) != 1 {
		t.Fatalf("%d metric sets", len(ms))
	}
	m := ms[0]
	if m.Deploys != 5 || m.Rollbacks != 1 || m.PerDay != 5 || m.Frequency != Elite {
		t.Errorf("frequency: %+v", m)
	}
	// Lead times (hours): 1; 3, 2; 8, 7, 6, 5 → sorted 1 2 3 5 6 7 8: median 5, p90 8.
	if m.LeadTime.Commits != 7 || m.LeadTime.MedianHours != 5 || m.LeadTime.P90Hours != 8 || m.LeadTime.Band != Elite {
		t.Errorf("lead time: %+v %v", m.LeadTime, m.LeadTime.Hours)
	}
	// Failed: the +5h deploy (rolled back) and the +10h deploy (followed by a --fix deploy).
	if m.Failure.Failed != 2 || m.Failure.Rate != 0.4 || m.Failure.Band != Low {
		t.Errorf("change failure: %+v", m.Failure)
	}
	// Recovery: 0.5h and 1h → median (nearest rank) 0.5h.
	if m.Recovery.Count != 2 || m.Recovery.MedianHours != 0.5 || m.Recovery.Band != Elite {
		t.Errorf("recovery: %+v", m.Recovery)
	}
	// Re-deployments: the rollback is not one (it is a rollback); the +11h deploy of digest 1 is.
	if len(m.Redeploys) != 1 || !strings.HasSuffix(m.Redeploys[0].Image, img(1).Digest) {
		t.Errorf("redeploys: %+v", m.Redeploys)
	}
	// A history whose commits the source repository does not have (force-pushed): unknown, not zero.
	ms = Compute(ctx, recs, &GitSource{Dir: t.TempDir()}, Options{Since: t0, Now: t0.Add(24 * time.Hour)})
	if ms[0].LeadTime.Commits != 0 || ms[0].LeadTime.UnknownRanges == 0 || ms[0].LeadTime.Band != None {
		t.Errorf("unknown commits: %+v", ms[0].LeadTime)
	}
	// DevLake payloads: one per deploy, oldest first.
	dl := DevLake(recs, "https://github.com/acme/sample-app", t0)
	if len(dl) != 5 || dl[0].Environment != "PRODUCTION" || dl[0].DeploymentCommits[0].CommitSha != shas[1] || dl[2].DisplayTitle != "rollback(sample-app): production" {
		t.Errorf("devlake: %+v", dl)
	}
}

// Ranges are exact git ranges: a merged branch's commits count once.
func TestRangeFollowsMerges(t *testing.T) {
	dir, shas := sourceRepo(t, 2) // c0, c1 on main
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=d", "GIT_AUTHOR_EMAIL=d@x", "GIT_COMMITTER_NAME=d", "GIT_COMMITTER_EMAIL=d@x")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("checkout", "-q", "-b", "feature", shas[0])
	os.WriteFile(filepath.Join(dir, "g"), []byte("x"), 0o644)
	git("add", "g")
	git("commit", "-qm", "b1")
	b1 := git("rev-parse", "HEAD")
	git("checkout", "-q", "main")
	git("merge", "-q", "--no-ff", "-m", "merge", "feature")
	m := git("rev-parse", "HEAD")
	cs, err := (&GitSource{Dir: dir}).Range(context.Background(), shas[0], m)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, c := range cs {
		got[c.SHA] = true
	}
	if len(cs) != 3 || !got[shas[1]] || !got[b1] || !got[m] {
		t.Errorf("range c0..merge: %v", cs)
	}
	if cs, _ := (&GitSource{Dir: dir}).Range(context.Background(), m, m); len(cs) != 0 {
		t.Errorf("empty range: %v", cs)
	}
}

// BenchmarkDora10k: 10,000 deploys across 20 apps × 3 environments over a
// 10,000-commit source history (metrics only; reading the GitOps log is
// BenchmarkHistory10k in internal/gitops).
func BenchmarkDora10k(b *testing.B) {
	recs, src := bigHistory(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ms := Compute(context.Background(), recs, &GitSource{Dir: src}, Options{Since: t0, Now: t0.Add(30 * 24 * time.Hour)})
		if len(ms) != 60 {
			b.Fatalf("%d metric sets", len(ms))
		}
	}
}

// bigHistory returns 10,000 deploy records (newest first) and a source
// repository of 10,000 linear commits made with git fast-import.
func bigHistory(b testing.TB) ([]gitops.Record, string) {
	dir := b.TempDir()
	var stream strings.Builder
	for c := 0; c < 10000; c++ {
		fmt.Fprintf(&stream, "commit refs/heads/main\nmark :%d\ncommitter d <d@x> %d +0000\ndata 2\nc\n", c+1, t0.Unix()+int64(c)*60)
		if c > 0 {
			fmt.Fprintf(&stream, "from :%d\n", c)
		}
		fmt.Fprintf(&stream, "M 100644 inline f\ndata %d\n%d\n", len(fmt.Sprint(c))+1, c)
	}
	cmd := exec.Command("git", "init", "-q", "-b", "main", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	fi := exec.Command("git", "-C", dir, "fast-import", "--quiet", "--export-marks="+filepath.Join(dir, ".marks"))
	fi.Stdin = strings.NewReader(stream.String())
	if out, err := fi.CombinedOutput(); err != nil {
		b.Fatalf("fast-import: %v %s", err, out)
	}
	marks, _ := os.ReadFile(filepath.Join(dir, ".marks"))
	shas := make([]string, 10001)
	for _, l := range strings.Split(strings.TrimSpace(string(marks)), "\n") {
		var n int
		var sha string
		fmt.Sscanf(l, ":%d %s", &n, &sha)
		shas[n] = sha
	}
	envs := []string{"development", "staging", "production"}
	var recs []gitops.Record
	for i := 0; i < 10000; i++ {
		app := fmt.Sprintf("app%02d", i%20)
		env := envs[(i/20)%3]
		r := gitops.Record{
			Time: t0.Add(time.Duration(i)*time.Minute + 30*time.Second), App: app, Env: env,
			Image: fmt.Sprintf("ghcr.io/acme/%s@sha256:%064x", app, i%997), SourceCommit: shas[i+1],
			Commit: fmt.Sprintf("%040x", i), Author: "ci",
		}
		if i%50 == 49 {
			r.Rollback = true
		}
		recs = append(recs, r)
	}
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	return recs, dir
}

// Lead time ends when Argo CD reported the deploy healthy, and a deploy it
// never reported healthy is a failed change, restored by the next healthy one.
func TestComputeToRunning(t *testing.T) {
	src, shas := sourceRepo(t, 3)
	gdir := filepath.Join(t.TempDir(), "gitops.git")
	if _, err := gitops.EnsureLocal(gdir, "../../sample-app/deploy", "sample-app", "main", t0); err != nil {
		t.Fatal(err)
	}
	r, _ := gitops.NewRemote(gdir, "main", func(string) string { return "" })
	now := t0
	d := &gitops.Deployer{Remote: r, Now: func() time.Time { return now }}
	ctx := context.Background()
	deploy := func(at time.Duration, n int, sha string, obs gitops.Observation) {
		now = t0.Add(at)
		out, err := d.Deploy(ctx, gitops.Request{App: "sample-app", Env: "staging", Image: img(n), SourceCommit: sha, SourceRepo: src, AllowUnknownSource: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Observe(ctx, out.Commit, []gitops.Observation{obs}); err != nil {
			t.Fatal(err)
		}
	}
	// c1 (committed at t0+1m) deployed at +2h, running healthy at +3h: lead time 2h59m.
	deploy(2*time.Hour, 1, shas[1], gitops.Observation{Application: "a", Result: "healthy", HealthyAt: t0.Add(3 * time.Hour), HistoryID: 1})
	// c2 deployed at +5h, Degraded: a failed change.
	deploy(5*time.Hour, 2, shas[2], gitops.Observation{Application: "a", Result: "degraded", HistoryID: 2})
	// The same source redeployed (another digest) at +6h, healthy at +6h30m: restores service.
	now = t0.Add(6 * time.Hour)
	out, err := d.Deploy(ctx, gitops.Request{App: "sample-app", Env: "staging", Image: img(3), SourceCommit: shas[2], SourceRepo: src})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Observe(ctx, out.Commit, []gitops.Observation{{Application: "a", Result: "healthy", HealthyAt: t0.Add(6*time.Hour + 30*time.Minute), HistoryID: 3}}); err != nil {
		t.Fatal(err)
	}
	recs, err := gitops.History(ctx, r, gitops.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	ms := Compute(ctx, recs, &GitSource{Dir: src}, Options{Since: t0, Now: t0.Add(24 * time.Hour)})
	if len(ms) != 1 {
		t.Fatalf("metrics %+v", ms)
	}
	m := ms[0]
	if m.LeadTime.ToRunning != 1 || m.LeadTime.ToCommitted != 1 {
		t.Errorf("to running %d, to committed %d", m.LeadTime.ToRunning, m.LeadTime.ToCommitted)
	}
	if got := m.LeadTime.Hours[len(m.LeadTime.Hours)-1]; got < 2.9 || got > 3 {
		t.Errorf("lead times %v: c1's ends when it ran healthy (2.98h), not at its commit (1.98h)", m.LeadTime.Hours)
	}
	if m.Failure.Failed != 1 || !strings.Contains(m.Failure.Failures[0].Note, "never healthy in Argo CD (degraded (a))") {
		t.Errorf("failures %+v", m.Failure)
	}
	if m.Recovery.Count != 1 || m.Recovery.MedianHours != 1.5 {
		t.Errorf("recovery %+v: the degraded deploy at +5h is restored when the next one ran healthy at +6h30m", m.Recovery)
	}
	if ev := m.DeployTimes[0]; ev.HealthyAt.IsZero() || ev.Cluster == "" {
		t.Errorf("event %+v", ev)
	}
}

// Issue 20 item 6: a wait gave up (not-healthy) and a later wait saw the
// deploy healthy: both are on record, and the deploy counts as running
// from the healthy look — not a failed change (Argo CD ran it without a
// new deploy), its lead time ends when it ran healthy.
func TestComputeFailedLookThenHealthy(t *testing.T) {
	src, shas := sourceRepo(t, 2)
	gdir := filepath.Join(t.TempDir(), "gitops.git")
	if _, err := gitops.EnsureLocal(gdir, "../../sample-app/deploy", "sample-app", "main", t0); err != nil {
		t.Fatal(err)
	}
	r, _ := gitops.NewRemote(gdir, "main", func(string) string { return "" })
	now := t0.Add(2 * time.Hour)
	d := &gitops.Deployer{Remote: r, Now: func() time.Time { return now }}
	ctx := context.Background()
	out, err := d.Deploy(ctx, gitops.Request{App: "sample-app", Env: "staging", Image: img(1), SourceCommit: shas[1], SourceRepo: src, AllowUnknownSource: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []gitops.Observation{
		{Application: "a", Result: "not-healthy", HistoryID: 1, ObservedAt: t0.Add(2*time.Hour + 10*time.Minute), Reason: "synced but Progressing"},
		{Application: "a", Result: "healthy", HealthyAt: t0.Add(3 * time.Hour), HistoryID: 1, ObservedAt: t0.Add(3 * time.Hour)},
	} {
		if err := d.Observe(ctx, out.Commit, []gitops.Observation{o}); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := gitops.History(ctx, r, gitops.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	ms := Compute(ctx, recs, &GitSource{Dir: src}, Options{Since: t0, Now: t0.Add(24 * time.Hour)})
	if len(ms) != 1 {
		t.Fatalf("metrics %+v", ms)
	}
	m := ms[0]
	if m.Failure.Failed != 0 {
		t.Errorf("a deploy Argo CD ran healthy after a failed look is a failed change: %+v", m.Failure)
	}
	if m.LeadTime.ToRunning != 1 {
		t.Errorf("to running %d", m.LeadTime.ToRunning)
	}
}
