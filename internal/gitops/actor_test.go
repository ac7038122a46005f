package gitops

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestActorFromTheCIEnvironment: the order of the sources, each named with
// its value; nothing known says "unknown". The environment is passed in:
// nothing of the shell's reaches the answer.
func TestActorFromTheCIEnvironment(t *testing.T) {
	for _, c := range []struct {
		env   map[string]string
		email string
		want  string
	}{
		{map[string]string{"GITHUB_TRIGGERING_ACTOR": "rerunner", "GITHUB_ACTOR": "octocat"}, "dev@x", "rerunner (GitHub)"},
		{map[string]string{"GITHUB_ACTOR": "octocat", "BUILD_USER_ID": "alice"}, "", "octocat (GitHub)"},
		{map[string]string{"BUILD_USER_ID": "alice", "GITLAB_USER_LOGIN": "bob"}, "", "alice (Jenkins)"},
		{map[string]string{"GITLAB_USER_LOGIN": "bob"}, "dev@x", "bob (GitLab)"},
		{nil, "dev@example.com", "dev@example.com (git config user.email)"},
		{nil, "", "unknown"},
		{map[string]string{"GITHUB_ACTOR": "  "}, "  ", "unknown"},
		// A value cannot add a trailer of its own.
		{map[string]string{"GITHUB_ACTOR": "evil\nSource-Commit: 0000"}, "", "evil Source-Commit: 0000 (GitHub)"},
	} {
		if got := Actor(env(c.env), func() string { return c.email }); got != c.want {
			t.Errorf("Actor(%v, %q) = %q, want %q", c.env, c.email, got, c.want)
		}
	}
}

// TestEveryRecordNamesItsActor: deploy, rollback, unpin, freeze and
// unfreeze commits carry the Actor trailer; history and status read it back
// and freeze entries name it. Before, every commit was by
// "Slipway <slipway@noreply.invalid>" and nothing said who.
func TestEveryRecordNamesItsActor(t *testing.T) {
	dir, r := localGitOps(t)
	src, shas := sourceRepo(t, 2)
	ctx := context.Background()
	alice := &Deployer{Remote: r, Actor: "alice (GitHub)"}
	bob := &Deployer{Remote: r, Actor: "bob (Jenkins)"}
	if _, err := alice.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[0], SourceRepo: src}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(2), SourceCommit: shas[1], SourceRepo: src}); err != nil {
		t.Fatal(err)
	}
	msg := gitCLI(t, t.TempDir(), "--git-dir", dir, "log", "-1", "--format=%B", "main") + "\n"
	if !strings.Contains(msg, "\nActor: bob (Jenkins)\n") {
		t.Fatalf("deploy commit:\n%s", msg)
	}
	recs, err := History(ctx, r, Filter{Env: "staging"})
	if err != nil || len(recs) != 2 || recs[0].Actor != "bob (Jenkins)" || recs[1].Actor != "alice (GitHub)" {
		t.Fatalf("history: %+v %v", recs, err)
	}
	var b strings.Builder
	WriteHistoryTable(&b, recs)
	if !strings.Contains(b.String(), "ACTOR") || !strings.Contains(b.String(), "alice (GitHub)") {
		t.Errorf("history table:\n%s", b.String())
	}
	sts, err := Status(ctx, r, Filter{Env: "staging"})
	if err != nil || len(sts) != 1 || sts[0].Actor != "bob (Jenkins)" {
		t.Fatalf("status: %+v %v", sts, err)
	}
	// A rollback and an unpin name theirs.
	if _, err := alice.Rollback(ctx, RollbackRequest{App: "sample-app", Env: "staging", Reason: "bad build"}); err != nil {
		t.Fatal(err)
	}
	if recs, _ := History(ctx, r, Filter{Env: "staging"}); recs[0].Actor != "alice (GitHub)" {
		t.Errorf("rollback record: %+v", recs[0])
	}
	if c, err := bob.Unpin(ctx, "sample-app", "staging", "fixed", ""); err != nil || c == "" {
		t.Fatalf("unpin: %q %v", c, err)
	}
	if msg := gitCLI(t, t.TempDir(), "--git-dir", dir, "log", "-1", "--format=%B", "main") + "\n"; !strings.Contains(msg, "\nActor: bob (Jenkins)\n") {
		t.Errorf("unpin commit:\n%s", msg)
	}
	// Freezes: the entry and the commit.
	if _, err := bob.Freeze(ctx, FreezeRequest{Env: "production", Until: time.Now().Add(time.Hour), Reason: "close"}); err != nil {
		t.Fatal(err)
	}
	fs, _ := Freezes(ctx, r, time.Now())
	if len(fs) != 1 || fs[0].By != "bob (Jenkins)" {
		t.Errorf("freeze entry: %+v", fs)
	}
	if msg := gitCLI(t, t.TempDir(), "--git-dir", dir, "log", "-1", "--format=%B", "main") + "\n"; !strings.Contains(msg, "\nActor: bob (Jenkins)\n") {
		t.Errorf("freeze commit:\n%s", msg)
	}
	// A Deployer nobody named records "unknown", not a guess.
	if _, err := (&Deployer{Remote: r}).Unfreeze(ctx, FreezeRequest{Env: "production", Reason: "done"}); err != nil {
		t.Fatal(err)
	}
	if msg := gitCLI(t, t.TempDir(), "--git-dir", dir, "log", "-1", "--format=%B", "main") + "\n"; !strings.Contains(msg, "\nActor: unknown\n") {
		t.Errorf("unfreeze commit:\n%s", msg)
	}
}
