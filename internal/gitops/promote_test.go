package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPromote(t *testing.T) {
	dir, r := localGitOps(t)
	src, shas := sourceRepo(t, 2)
	d := &Deployer{Remote: r}
	ctx := context.Background()
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "development", Image: digest(7), SourceCommit: shas[1], SourceRepo: src}); err != nil {
		t.Fatal(err)
	}
	out, err := d.Promote(ctx, Promotion{App: "sample-app", From: "development", To: "staging", SourceRepo: src})
	if err != nil {
		t.Fatal(err)
	}
	if out.Unchanged || out.Image != digest(7) || out.Source != shas[1] {
		t.Errorf("promote %+v", out)
	}
	if k := fileAt(t, dir, "main", "sample-app/overlays/staging/kustomization.yaml"); !strings.Contains(k, digest(7).Digest) {
		t.Errorf("staging:\n%s", k)
	}
	recs, _ := History(ctx, r, Filter{Env: "staging"})
	if len(recs) != 1 || recs[0].SourceCommit != shas[1] || recs[0].Image != digest(7).String() {
		t.Errorf("staging record %+v", recs)
	}
	again, err := d.Promote(ctx, Promotion{App: "sample-app", From: "development", To: "staging"})
	if err != nil || !again.Unchanged {
		t.Errorf("second promote: %+v %v", again, err)
	}
	// An environment never deployed through Slipway has nothing to promote.
	if _, err := d.Promote(ctx, Promotion{App: "sample-app", From: "production", To: "staging"}); err == nil || !strings.Contains(err.Error(), "no deploy record") {
		t.Errorf("promote from undeployed env: %v", err)
	}
}

func TestPromoteViaBranch(t *testing.T) {
	dir, r := localGitOps(t)
	_, shas := sourceRepo(t, 1)
	d := &Deployer{Remote: r}
	ctx := context.Background()
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(9), SourceCommit: shas[0]}); err != nil {
		t.Fatal(err)
	}
	mainBefore := head(t, dir, "main")
	out, err := d.Promote(ctx, Promotion{App: "sample-app", From: "staging", To: "production", ViaBranch: true})
	if err != nil {
		t.Fatal(err)
	}
	branch := "promote/sample-app/production/" + digest(9).Short()
	if out.Branch != branch || head(t, dir, branch) != out.Commit {
		t.Errorf("branch %q commit %s, remote has %s", out.Branch, out.Commit, head(t, dir, branch))
	}
	if head(t, dir, "main") != mainBefore {
		t.Error("--via-branch changed main")
	}
	if k := fileAt(t, dir, branch, "sample-app/overlays/production/kustomization.yaml"); !strings.Contains(k, digest(9).Digest) {
		t.Errorf("branch file:\n%s", k)
	}
	if out.CompareURL != "" {
		t.Errorf("compare URL for a local repo: %q", out.CompareURL)
	}
	if got := CompareURL("https://github.com/acme/gitops.git", "main", branch); got != "https://github.com/acme/gitops/compare/main..."+branch+"?expand=1" {
		t.Errorf("compare URL %q", got)
	}
	if got := CompareURL("git@github.com:acme/gitops.git", "main", "b"); got != "https://github.com/acme/gitops/compare/main...b?expand=1" {
		t.Errorf("scp compare URL %q", got)
	}
}

func TestHistory(t *testing.T) {
	_, r := localGitOps(t)
	_, shas := sourceRepo(t, 1)
	clock := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	d := &Deployer{Remote: r, Now: func() time.Time { clock = clock.Add(time.Hour); return clock }}
	ctx := context.Background()
	envs := []string{"development", "staging", "development", "production", "development"}
	for i, e := range envs {
		if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: e, Image: digest(i + 1), SourceCommit: shas[0]}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := History(ctx, r, Filter{})
	if err != nil || len(all) != 5 {
		t.Fatalf("%d records, %v", len(all), err)
	}
	if all[0].Env != "development" || all[0].Image != digest(5).String() || !all[0].Time.After(all[1].Time) {
		t.Errorf("not newest first: %+v", all[0])
	}
	dev, _ := History(ctx, r, Filter{Env: "development"})
	if len(dev) != 3 {
		t.Errorf("development: %d", len(dev))
	}
	since, _ := History(ctx, r, Filter{Since: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)})
	if len(since) != 3 {
		t.Errorf("since 12:00: %d records, want 3", len(since))
	}
	data, _ := json.Marshal(all[0])
	var m map[string]any
	json.Unmarshal(data, &m)
	want := []string{"actor", "app", "author", "commit", "env", "image", "source_commit", "time"}
	if len(m) != len(want) {
		t.Errorf("json keys %v, want exactly %v", m, want)
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Errorf("json lacks %q", k)
		}
	}
	var b strings.Builder
	WriteHistoryTable(&b, all)
	if !strings.Contains(b.String(), "sample-app  development  3") || !strings.Contains(b.String(), "5 deployments") {
		t.Errorf("table:\n%s", b.String())
	}
}

// TestPromoteNeverBorrowsASourceCommit: after a hand edit of staging (status
// says no deploy record put the digest there), promote refuses rather than
// ship the digest with the Source-Commit of the last record, which is for
// another digest; --source-commit states it. A hand edit back to a digest
// an earlier record put there promotes with that record's commit.
func TestPromoteNeverBorrowsASourceCommit(t *testing.T) {
	dir, r := localGitOps(t)
	src, shas := sourceRepo(t, 3)
	d := &Deployer{Remote: r}
	ctx := context.Background()
	for i, n := range []int{1, 2} {
		if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(n), SourceCommit: shas[i], SourceRepo: src}); err != nil {
			t.Fatal(err)
		}
	}
	handEdit := func(from, to Image) {
		t.Helper()
		wt := workClone(t, dir)
		p := filepath.Join(wt, "sample-app/overlays/staging/kustomization.yaml")
		data, _ := os.ReadFile(p)
		if !strings.Contains(string(data), from.Digest) {
			t.Fatalf("staging does not hold %s:\n%s", from, data)
		}
		os.WriteFile(p, []byte(strings.ReplaceAll(string(data), from.Digest, to.Digest)), 0o644)
		gitCLI(t, wt, "commit", "-qam", "hotfix by hand")
		gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
	}
	handEdit(digest(2), digest(9))
	sts, _ := Status(ctx, r, Filter{Env: "staging"})
	if len(sts) != 1 || !strings.Contains(sts[0].Note, "no deploy record") {
		t.Fatalf("status after a hand edit: %+v", sts)
	}
	before := head(t, dir, "main")
	_, err := d.Promote(ctx, Promotion{App: "sample-app", From: "staging", To: "production", SourceRepo: src})
	if !errors.Is(err, ErrHandEdit) || !strings.Contains(err.Error(), "edited by hand") || !strings.Contains(err.Error(), digest(9).String()) || !strings.Contains(err.Error(), "--source-commit") {
		t.Fatalf("promote of a hand-edited digest: %v", err)
	}
	if head(t, dir, "main") != before {
		t.Fatal("a refused promote committed")
	}
	// A given commit is stated; one contradicting a record is refused.
	out, err := d.Promote(ctx, Promotion{App: "sample-app", From: "staging", To: "production", SourceRepo: src, SourceCommit: shas[2]})
	if err != nil || out.Image != digest(9) || out.Source != shas[2] {
		t.Fatalf("promote --source-commit: %+v %v", out, err)
	}
	// Back by hand to digest(1), which a record put there: its commit.
	handEdit(digest(9), digest(1))
	if _, err := d.Promote(ctx, Promotion{App: "sample-app", From: "staging", To: "development", SourceRepo: src, SourceCommit: shas[2]}); err == nil || !strings.Contains(err.Error(), "contradicts") {
		t.Fatalf("a --source-commit contradicting the record: %v", err)
	}
	out, err = d.Promote(ctx, Promotion{App: "sample-app", From: "staging", To: "development", SourceRepo: src})
	if err != nil || out.Image != digest(1) || out.Source != shas[0] {
		t.Fatalf("promote of a digest an earlier record put there: %+v %v", out, err)
	}
}

// Issue 17 (trust, item 4c): a digest whose deploy record says
// Source-Commit: unknown (deploy --allow-unknown-source) is not a hand edit:
// promote refuses saying the record's source commit is unknown and asking
// for --source-commit, and with it promotes as built from that commit.
func TestPromoteOfAnUnknownSourceSaysSo(t *testing.T) {
	dir, r := localGitOps(t)
	src, shas := sourceRepo(t, 2)
	d := &Deployer{Remote: r}
	ctx := context.Background()
	put, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(5), SourceRepo: src, AllowUnknownSource: true})
	if err != nil {
		t.Fatal(err)
	}
	before := head(t, dir, "main")
	_, err = d.Promote(ctx, Promotion{App: "sample-app", From: "staging", To: "production", SourceRepo: src})
	if !errors.Is(err, ErrPromoteUnknownSource) || strings.Contains(err.Error(), "hand") || !strings.Contains(err.Error(), "Source-Commit: unknown") ||
		!strings.Contains(err.Error(), short(put.Commit)) || !strings.Contains(err.Error(), "--source-commit") {
		t.Fatalf("promote of a digest deployed with an unknown source: %v", err)
	}
	if head(t, dir, "main") != before {
		t.Fatal("a refused promote committed")
	}
	out, err := d.Promote(ctx, Promotion{App: "sample-app", From: "staging", To: "production", SourceRepo: src, SourceCommit: shas[1]})
	if err != nil || out.Image != digest(5) || out.Source != shas[1] {
		t.Fatalf("promote --source-commit of an unknown-source record: %+v %v", out, err)
	}
}
