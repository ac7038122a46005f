package gitops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A rollback stays put: deploys and promotions are refused until someone unpins.
func TestRollbackPinsUntilUnpinned(t *testing.T) {
	dir, r := localGitOps(t)
	src, shas := sourceRepo(t, 4)
	d := &Deployer{Remote: r}
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(i), SourceCommit: shas[i], SourceRepo: src}); err != nil {
			t.Fatal(err)
		}
	}
	// Bad input first: nothing written.
	before := head(t, dir, "main")
	for _, rr := range []RollbackRequest{
		{App: "sample-app", Env: "production", Steps: 1},                                                     // no reason
		{App: "sample-app", Env: "production", Steps: 3, Reason: "x"},                                        // past the first deploy
		{App: "sample-app", Env: "qa", Steps: 1, Reason: "x"},                                                // nothing there
		{App: "sample-app", Env: "production", To: &Image{Repo: "r", Digest: digest(9).Digest}, Reason: "x"}, // never deployed
	} {
		if _, err := d.Rollback(ctx, rr); err == nil {
			t.Errorf("%+v accepted", rr)
		}
	}
	if head(t, dir, "main") != before {
		t.Fatal("a refused rollback wrote")
	}
	_, err := d.Rollback(ctx, RollbackRequest{App: "sample-app", Env: "production", Steps: 1, Reason: "p99 latency doubled"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fileAt(t, dir, "main", "sample-app/overlays/production/kustomization.yaml"), digest(2).Digest) {
		t.Fatal("rollback did not deploy the previous digest")
	}
	recs, _ := History(ctx, r, Filter{Env: "production"})
	if !recs[0].Pinned || recs[0].RollbackOf != recs[1].Commit || recs[0].Reason != "p99 latency doubled" || !recs[0].IsRollback() || recs[0].SourceCommit != shas[2] {
		t.Errorf("rollback record %+v", recs[0])
	}
	// Automation moving forward again is refused, naming the pin.
	_, err = d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(4), SourceCommit: shas[3], SourceRepo: src})
	if !errors.Is(err, ErrPinned) || !strings.Contains(err.Error(), "p99 latency doubled") || !strings.Contains(err.Error(), "unpin") {
		t.Fatalf("deploy into a pinned env: %v", err)
	}
	if _, err := d.Promote(ctx, Promotion{App: "sample-app", From: "production", To: "production"}); err == nil {
		t.Error("promote to itself accepted")
	}
	// A second rollback while pinned is deliberate: allowed.
	if _, err := d.Rollback(ctx, RollbackRequest{App: "sample-app", Env: "production", To: &Image{Repo: "ghcr.io/acme/sample-app", Digest: digest(1).Digest}, Reason: "further back"}); err != nil {
		t.Fatalf("rollback while pinned: %v", err)
	}
	// unpin lifts it with its own record; then deploys flow again.
	if c, err := d.Unpin(ctx, "sample-app", "production", "fixed in c3", ""); err != nil || c == "" {
		t.Fatalf("unpin: %q %v", c, err)
	}
	if c, err := d.Unpin(ctx, "sample-app", "production", "again", ""); err != nil || c != "" {
		t.Errorf("unpin when not pinned: %q %v", c, err)
	}
	recs, _ = History(ctx, r, Filter{Env: "production"})
	if !recs[0].Unpin || recs[0].Reason != "fixed in c3" || recs[0].Image != "" {
		t.Errorf("unpin record %+v", recs[0])
	}
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(4), SourceCommit: shas[3], SourceRepo: src}); err != nil {
		t.Fatalf("deploy after unpin: %v", err)
	}
	// --unpin deploys through a pin and records it.
	if _, err := d.Rollback(ctx, RollbackRequest{App: "sample-app", Env: "production", Steps: 1, Reason: "again"}); err != nil {
		t.Fatal(err)
	}
	out, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(5), SourceCommit: shas[3], SourceRepo: src, Unpin: true})
	if err != nil || out.Commit == "" {
		t.Fatalf("--unpin: %v", err)
	}
	recs, _ = History(ctx, r, Filter{Env: "production"})
	if !recs[0].Unpin || recs[0].Image != digest(5).String() {
		t.Errorf("--unpin record %+v", recs[0])
	}
}

// A freeze stops every deploy and promotion into the environment until
// --break-glass, which is recorded; writes use the compare-and-swap.
func TestFreeze(t *testing.T) {
	dir, r := localGitOps(t)
	src, shas := sourceRepo(t, 2)
	now := time.Date(2026, 12, 20, 10, 0, 0, 0, time.UTC)
	d := &Deployer{Remote: r, Now: func() time.Time { return now }}
	ctx := context.Background()
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[0], SourceRepo: src}); err != nil {
		t.Fatal(err)
	}
	until := time.Date(2026, 12, 27, 8, 0, 0, 0, time.UTC)
	before := head(t, dir, "main")
	for _, fr := range []FreezeRequest{
		{Env: "production", Until: now.Add(-time.Hour), Reason: "x"},
		{Env: "production", Until: until},
		{Env: "Prod", Until: until, Reason: "x"},
	} {
		if _, err := d.Freeze(ctx, fr); err == nil {
			t.Errorf("%+v accepted", fr)
		}
	}
	if head(t, dir, "main") != before {
		t.Fatal("a refused freeze wrote")
	}
	if _, err := d.Freeze(ctx, FreezeRequest{Env: "production", Until: until, Reason: "year-end close"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fileAt(t, dir, "main", FreezeFile), "year-end close") {
		t.Error("freeze file")
	}
	_, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(2), SourceCommit: shas[1], SourceRepo: src})
	if !errors.Is(err, ErrFrozen) || !strings.Contains(err.Error(), "2026-12-27T08:00:00Z") || !strings.Contains(err.Error(), "--break-glass") {
		t.Fatalf("deploy into a frozen env: %v", err)
	}
	if _, err := d.Promote(ctx, Promotion{App: "sample-app", From: "staging", To: "production", AllowUnknownSource: true}); !errors.Is(err, ErrFrozen) {
		t.Fatalf("promote into a frozen env: %v", err)
	}
	// Other environments are not frozen.
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(3), SourceCommit: shas[1], SourceRepo: src}); err != nil {
		t.Fatal(err)
	}
	out, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(2), SourceCommit: shas[1], SourceRepo: src, BreakGlass: "INC-42 hotfix"})
	if err != nil || out.Commit == "" {
		t.Fatalf("--break-glass: %v", err)
	}
	recs, _ := History(ctx, r, Filter{Env: "production"})
	if recs[0].BreakGlass != "INC-42 hotfix" {
		t.Errorf("break-glass not recorded: %+v", recs[0])
	}
	fs, err := Freezes(ctx, r, now)
	if err != nil || len(fs) != 1 {
		t.Fatalf("freezes: %+v %v", fs, err)
	}
	// After the date, the freeze no longer applies.
	now = until.Add(time.Minute)
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(4), SourceCommit: shas[1], SourceRepo: src}); err != nil {
		t.Fatalf("after the freeze: %v", err)
	}
	now = time.Date(2026, 12, 20, 10, 0, 0, 0, time.UTC)
	if c, err := d.Unfreeze(ctx, FreezeRequest{Env: "production", Reason: "close done"}); err != nil || c == "" {
		t.Fatalf("unfreeze: %q %v", c, err)
	}
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(5), SourceCommit: shas[1], SourceRepo: src}); err != nil {
		t.Fatalf("after unfreeze: %v", err)
	}
	// A malformed freeze file fails closed.
	wt := workClone(t, dir)
	os.MkdirAll(filepath.Join(wt, ".slipway"), 0o755)
	os.WriteFile(filepath.Join(wt, FreezeFile), []byte("freezes: [{env: production, until: someday}]\n"), 0o644)
	gitCLI(t, wt, "add", ".")
	gitCLI(t, wt, "commit", "-qm", "hand edit")
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(6), SourceCommit: shas[1], SourceRepo: src}); !errors.Is(err, ErrBadFreezeFile) {
		t.Fatalf("malformed freeze file: %v", err)
	}
}

func TestStatusNamesThePin(t *testing.T) {
	_, r := localGitOps(t)
	src, shas := sourceRepo(t, 3)
	d := &Deployer{Remote: r}
	ctx := context.Background()
	for i := 1; i <= 2; i++ {
		if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(i), SourceCommit: shas[i], SourceRepo: src}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Rollback(ctx, RollbackRequest{App: "sample-app", Env: "staging", Reason: "bad build"}); err != nil {
		t.Fatal(err)
	}
	sts, err := Status(ctx, r, Filter{App: "sample-app", Env: "staging"})
	if err != nil || !strings.Contains(sts[0].Note, "pinned: bad build") || !strings.Contains(sts[0].Note, "rollback") {
		t.Fatalf("status: %+v %v", sts, err)
	}
	if _, err := d.Unpin(ctx, "sample-app", "staging", "ok", ""); err != nil {
		t.Fatal(err)
	}
	if sts, _ := Status(ctx, r, Filter{App: "sample-app", Env: "staging"}); strings.Contains(sts[0].Note, "pinned") {
		t.Errorf("status after unpin: %+v", sts[0])
	}
}

// TestRefusalNamesTheCommand: a promote or a rollback refused by one of a
// deploy's checks (here the verification hook) says "refusing promote" or
// "refusing rollback", never "refusing deploy"; errors.Is still finds the
// deploy's error, and nothing is written.
func TestRefusalNamesTheCommand(t *testing.T) {
	dir, r := localGitOps(t)
	src, shas := sourceRepo(t, 3)
	ctx := context.Background()
	d := &Deployer{Remote: r}
	for i := 1; i <= 2; i++ {
		if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(i), SourceCommit: shas[i], SourceRepo: src}); err != nil {
			t.Fatal(err)
		}
	}
	before := head(t, dir, "main")
	d.Verify = func(context.Context, Request) (*Verification, error) { return nil, errors.New("no signature") }
	for cmd, run := range map[string]func() error{
		"rollback": func() error {
			_, err := d.Rollback(ctx, RollbackRequest{App: "sample-app", Env: "staging", Steps: 1, Reason: "x"})
			return err
		},
		"promote": func() error {
			_, err := d.Promote(ctx, Promotion{App: "sample-app", From: "staging", To: "production", SourceRepo: src})
			return err
		},
		"deploy": func() error {
			_, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(3), SourceCommit: shas[2], SourceRepo: src})
			return err
		},
	} {
		err := run()
		if !errors.Is(err, ErrUnverified) || !strings.HasPrefix(err.Error(), "refusing "+cmd+":") {
			t.Errorf("%s: %v", cmd, err)
		}
	}
	if head(t, dir, "main") != before {
		t.Fatal("a refusal wrote")
	}
}
