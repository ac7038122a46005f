package gitops

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func observation(app string, n int) Observation {
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	return Observation{Application: app, Server: "https://argocd.example.com", Revision: strings.Repeat("a", 40),
		SyncedAt: t0.Add(time.Duration(n) * time.Second), HealthyAt: t0.Add(time.Duration(n+2) * time.Second),
		HistoryID: int64(n), Result: "healthy", ObservedAt: t0.Add(time.Duration(n+3) * time.Second)}
}

func TestObserveWritesGitNotes(t *testing.T) {
	dir, r := localGitOps(t)
	_, shas := sourceRepo(t, 1)
	d := &Deployer{Remote: r}
	out, err := d.Deploy(context.Background(), Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[0]})
	if err != nil {
		t.Fatal(err)
	}
	branch := head(t, dir, "main")
	if err := d.Observe(context.Background(), out.Commit, []Observation{observation("sample-app-staging", 1)}); err != nil {
		t.Fatal(err)
	}
	if head(t, dir, "main") != branch {
		t.Fatal("recording an observation moved the branch")
	}
	// Real git reads it as a note of the deploy commit.
	note, err := exec.Command("git", "--git-dir", dir, "notes", "--ref=slipway", "show", out.Commit).CombinedOutput()
	if err != nil {
		t.Fatalf("git notes show: %v: %s", err, note)
	}
	for _, want := range []string{"Argo-CD-Application: sample-app-staging", "Result: healthy", "Synced-At: 2026-11-01T10:00:01Z", "Healthy-At: 2026-11-01T10:00:03Z", "History-Id: 1"} {
		if !strings.Contains(string(note), want) {
			t.Errorf("note lacks %q:\n%s", want, note)
		}
	}
	// A second Application is added; the same one again adds its block.
	second := observation("sample-app-staging-eu", 2)
	again := observation("sample-app-staging", 5)
	again.Result, again.HealthyAt, again.Reason = "degraded", time.Time{}, "Degraded: Deployment default/web exceeded its progress deadline"
	if err := d.Observe(context.Background(), out.Commit, []Observation{second}); err != nil {
		t.Fatal(err)
	}
	if err := d.Observe(context.Background(), out.Commit, []Observation{again}); err != nil {
		t.Fatal(err)
	}
	recs, err := History(context.Background(), r, Filter{App: "sample-app", Env: "staging"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("history: %v %v", recs, err)
	}
	obs := recs[0].Latest()
	if len(obs) != 2 || obs[0].Application != "sample-app-staging" || obs[0].Result != "degraded" || obs[1].HistoryID != 2 {
		t.Fatalf("observations read back: %+v", obs)
	}
	if all := recs[0].Observations; len(all) != 3 || all[0].Result != "healthy" || all[1].Result != "degraded" {
		t.Fatalf("every observation is kept: %+v", all)
	}
	if _, ok, failed := recs[0].Running(); ok || !failed {
		t.Errorf("a degraded observation is a failure to run")
	}
	sts, err := Status(context.Background(), r, Filter{App: "sample-app", Env: "staging"})
	if err != nil || len(sts) != 1 || len(sts[0].Observations) != 3 {
		t.Errorf("status: %+v %v", sts, err)
	}
	// git's own notes writer and Slipway's share the ref: git adds a note to
	// another commit, Slipway keeps it.
	if out, err := exec.Command("git", "--git-dir", dir, "notes", "--ref=slipway", "add", "-m", "Argo-CD-Application: by-hand\nResult: healthy", branch+"~1").CombinedOutput(); err != nil {
		t.Fatalf("git notes add: %v %s", err, out)
	}
	if err := d.Observe(context.Background(), out.Commit, []Observation{observation("sample-app-staging", 9)}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("git", "--git-dir", dir, "notes", "--ref=slipway", "list").CombinedOutput(); err != nil || strings.Count(strings.TrimSpace(string(out)), "\n") != 1 {
		t.Errorf("notes list: %v\n%s", err, out)
	}
}

func TestObserveConcurrentCompareAndSwap(t *testing.T) {
	_, r := localGitOps(t, "a1", "a2", "a3", "a4")
	_, shas := sourceRepo(t, 1)
	var commits []string
	for _, app := range []string{"a1", "a2", "a3", "a4"} {
		d := &Deployer{Remote: r}
		out, err := d.Deploy(context.Background(), Request{App: app, Env: "development", Image: digest(7), SourceCommit: shas[0]})
		if err != nil {
			t.Fatal(err)
		}
		commits = append(commits, out.Commit)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d := &Deployer{Remote: r}
			errs[i] = d.Observe(context.Background(), commits[i%4], []Observation{observation("app-"+string(rune('a'+i)), i)})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("observer %d: %v", i, err)
		}
	}
	recs, err := History(context.Background(), r, Filter{Env: "development"})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, rec := range recs {
		total += len(rec.Observations)
	}
	if total != 8 {
		t.Errorf("%d observations survived 8 concurrent writers, want 8 (none lost)", total)
	}
}

func TestNoteRoundTrip(t *testing.T) {
	in := []Observation{observation("a", 1), {Application: "b", HistoryID: -1, Result: "sync-failed", Reason: "one or more objects\nfailed to apply", ObservedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	got := parseNote(formatNote(in))
	if len(got) != 2 || got[0] != in[0] || got[1].Reason != "one or more objects failed to apply" || got[1].HistoryID != -1 || !got[1].SyncedAt.IsZero() {
		t.Errorf("round trip: %+v", got)
	}
	if parseNote("free text someone wrote\n") != nil {
		t.Error("a note that is not Slipway's yields no observation")
	}
}

func TestLineage(t *testing.T) {
	_, r := localGitOps(t, "other")
	src, shas := sourceRepo(t, 3)
	ctx := context.Background()
	d := &Deployer{Remote: r}
	first, err := d.Deploy(ctx, Request{App: "sample-app", Env: "development", Image: digest(1), SourceCommit: shas[0]})
	if err != nil {
		t.Fatal(err)
	}
	ours, err := d.Deploy(ctx, Request{App: "sample-app", Env: "development", Image: digest(2), SourceCommit: shas[1], SourceRepo: src})
	if err != nil {
		t.Fatal(err)
	}
	otherApp, err := d.Deploy(ctx, Request{App: "other", Env: "development", Image: digest(3), SourceCommit: shas[1], AllowUnknownSource: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLineage(r, "sample-app", "development", ours.Commit)
	if err != nil {
		t.Fatal(err)
	}
	check := func(rev string, want Relation) string {
		t.Helper()
		got, detail, err := l.Relate(ctx, rev)
		if err != nil || got != want {
			t.Errorf("Relate(%s) = %v %q %v, want %v", rev[:12], got, detail, err, want)
		}
		return detail
	}
	check(ours.Commit, Same)
	check(first.Commit, Behind)
	check(otherApp.Commit, Carries)
	check(strings.Repeat("b", 40), Unrelated)
	// A newer deploy of ours replaces it; Relate sees it without a new Lineage.
	newer, err := d.Deploy(ctx, Request{App: "sample-app", Env: "development", Image: digest(4), SourceCommit: shas[2], SourceRepo: src})
	if err != nil {
		t.Fatal(err)
	}
	if detail := check(newer.Commit, Replaced); !strings.Contains(detail, newer.Commit[:12]) || !strings.Contains(detail, "sha256:000000000000") {
		t.Errorf("detail %q names the replacing deploy", detail)
	}
}

// FuzzNote: whatever Argo CD's messages or names hold (line breaks, "Key:
// value" text), a note reads back as exactly the observations written:
// no field can forge another observation or another field.
func FuzzNote(f *testing.F) {
	f.Add("web-staging", "Deployment \"web\" exceeded its progress deadline", int64(3))
	f.Add("a\nArgo-CD-Application: forged", "x\nResult: healthy\nHealthy-At: 2026-01-01T00:00:00Z", int64(-1))
	f.Add("  ", "", int64(0))
	f.Fuzz(func(t *testing.T, app, reason string, id int64) {
		if strings.TrimSpace(app) == "" || !utf8ish(app+reason) {
			t.Skip()
		}
		in := []Observation{
			{Application: app, Result: "degraded", Reason: reason, HistoryID: id, ObservedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
			{Application: "second", Result: "healthy", HistoryID: 1},
		}
		got := parseNote(formatNote(in))
		if len(got) != 2 {
			t.Fatalf("%d observations read back from 2:\n%s", len(got), formatNote(in))
		}
		fold := func(s string) string { return strings.Join(strings.Fields(s), " ") }
		if got[0].Application != fold(app) || got[0].Reason != fold(reason) || got[0].Result != "degraded" || (id >= 0 && got[0].HistoryID != id) || (id < 0 && got[0].HistoryID != -1) || !got[0].HealthyAt.IsZero() {
			t.Errorf("read back %+v", got[0])
		}
		if got[1].Application != "second" || got[1].Result != "healthy" {
			t.Errorf("the second observation changed: %+v", got[1])
		}
	})
}

func utf8ish(s string) bool { return utf8.ValidString(s) }

// Issue 20 item 6: a failed wait, then a healthy one: both stay on record
// (an auditor sees the failed look and its time); what the deploy runs now
// is the latest, healthy, and it is no failure to run.
func TestObserveKeepsEveryObservation(t *testing.T) {
	_, r := localGitOps(t)
	_, shas := sourceRepo(t, 1)
	d := &Deployer{Remote: r}
	out, err := d.Deploy(context.Background(), Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[0]})
	if err != nil {
		t.Fatal(err)
	}
	failed := observation("sample-app-staging", 1)
	failed.Result, failed.HealthyAt, failed.Reason = "not-healthy", time.Time{}, "synced but Progressing — gave up after 14.7s (--wait-timeout 15s)"
	healthy := observation("sample-app-staging", 60)
	for _, o := range []Observation{failed, healthy} {
		if err := d.Observe(context.Background(), out.Commit, []Observation{o}); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := History(context.Background(), r, Filter{App: "sample-app", Env: "staging"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("history: %v %v", recs, err)
	}
	all := recs[0].Observations
	if len(all) != 2 || all[0].Result != "not-healthy" || !all[0].ObservedAt.Equal(failed.ObservedAt) || all[1].Result != "healthy" {
		t.Fatalf("the failed observation is lost: %+v", all)
	}
	if at, ok, failedRun := recs[0].Running(); !ok || failedRun || !at.Equal(healthy.HealthyAt) {
		t.Errorf("running %v %v %v: the latest observation is healthy", at, ok, failedRun)
	}
	if txt := recs[0].RunningText(); !strings.HasPrefix(txt, "healthy ") {
		t.Errorf("RunningText %q", txt)
	}
	// The other order: healthy, then a failed look (Degraded later): the
	// latest says it failed.
	rec := Record{Observations: []Observation{healthy, failed}}
	rec.Observations[1].ObservedAt = healthy.ObservedAt.Add(time.Minute)
	if _, ok, failedRun := rec.Running(); ok || !failedRun || rec.RunningText() != "not-healthy (sample-app-staging)" {
		t.Errorf("a later failed look: %v %v %q", ok, failedRun, rec.RunningText())
	}
}
