package gitops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A hand-pushed record whose Source-Commit (or Rollback-Of) is not a
// commit's name (40 or 64 lowercase hex) is read as invalid: history and
// status show "invalid", never the junk cut to 12 characters so it looks
// like a SHA, and --json names the trailer in invalid_trailers with no
// source_commit. A 64-hex (SHA-256) name is a commit's name.
func TestInvalidCommitTrailers(t *testing.T) {
	ctx := context.Background()
	dir, r := localGitOps(t)
	src, shas := sourceRepo(t, 1)
	if _, err := (&Deployer{Remote: r}).Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[0], SourceRepo: src}); err != nil {
		t.Fatal(err)
	}
	hex40 := "0123456789abcdef0123456789abcdef01234567"
	for i, c := range []struct{ source, rollbackOf, want string }{
		{hex40[:40] + "\x1b[2Kx", "", "invalid"},
		{hex40[:12], "", "invalid"},
		{hex40[:39], "", "invalid"},
		{hex40 + "8", "", "invalid"},
		{strings.ToUpper(hex40), "", "invalid"},
		{"0123456789ab\u202eevil", "", "invalid"},
		{hex40 + hex40[:24], "", hex40[:12]},
		{hex40, "not-a-commit", hex40[:12]},
	} {
		wt := workClone(t, dir)
		p := filepath.Join(wt, "sample-app/overlays/staging/kustomization.yaml")
		data, _ := os.ReadFile(p)
		img := digest(10 + i)
		os.WriteFile(p, []byte(strings.ReplaceAll(string(data), digest(1).Digest, img.Digest)), 0o644)
		if i > 0 {
			prev := digest(9 + i)
			os.WriteFile(p, []byte(strings.ReplaceAll(string(data), prev.Digest, img.Digest)), 0o644)
		}
		msg := "deploy(sample-app): staging -> sha256:" + img.Short() + "\n\nImage: " + img.String() + "\nSource-Commit: " + c.source +
			"\nApp: sample-app\nEnvironment: staging\nPipeline-Run: local\n"
		if c.rollbackOf != "" {
			msg += "Rollback-Of: " + c.rollbackOf + "\n"
		}
		gitCLI(t, wt, "commit", "-qam", msg)
		gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
		head := gitCLI(t, wt, "rev-parse", "HEAD")

		recs, err := History(ctx, r, Filter{})
		if err != nil || len(recs) < 2 || recs[0].Commit != head {
			t.Fatalf("%q: history %+v %v", c.source, recs, err)
		}
		rec := recs[0]
		invalidSource := c.want == "invalid"
		if invalidSource != (rec.SourceCommit == "") || invalidSource != rec.sourceInvalid() {
			t.Errorf("%q: source %q, invalid trailers %v", c.source, rec.SourceCommit, rec.InvalidTrailers)
		}
		var b bytes.Buffer
		if err := WriteHistoryTable(&b, recs[:1]); err != nil {
			t.Fatal(err)
		}
		row := strings.Fields(strings.Split(b.String(), "\n")[1])
		if row[4] != c.want || strings.Contains(b.String(), "0123456789ab ") && invalidSource {
			t.Errorf("%q: history row %q, want source %q", c.source, row, c.want)
		}
		if c.rollbackOf != "" && (!strings.Contains(b.String(), "rollback of invalid") || !strings.Contains(strings.Join(rec.InvalidTrailers, ","), "Rollback-Of")) {
			t.Errorf("%q: rollback of %q shows as %q (%v)", c.source, c.rollbackOf, b.String(), rec.InvalidTrailers)
		}
		js, _ := json.Marshal(rec)
		if invalidSource != strings.Contains(string(js), `"invalid_trailers":["Source-Commit"`) || strings.Contains(string(js), "0123456789ab\\u202e") {
			t.Errorf("%q: json %s", c.source, js)
		}
		sts, err := Status(ctx, r, Filter{Env: "staging"})
		if err != nil || len(sts) != 1 {
			t.Fatalf("status %+v %v", sts, err)
		}
		if got := sts[0].SourceText(); got != c.want {
			t.Errorf("%q: status source %q, want %q", c.source, got, c.want)
		}
		b.Reset()
		if err := WriteStatusTable(&b, sts); err != nil {
			t.Fatal(err)
		}
		if row := strings.Fields(strings.Split(b.String(), "\n")[1]); row[3] != c.want {
			t.Errorf("%q: status row %q, want source %q", c.source, row, c.want)
		}
	}
}

// TestPromoteOfAnInvalidSourceSaysWhy: promote refuses a digest whose record
// carries a Source-Commit that is not a commit's name, and says that, not
// that the deploy was made with --allow-unknown-source (it was not).
func TestPromoteOfAnInvalidSourceSaysWhy(t *testing.T) {
	ctx := context.Background()
	dir, r := localGitOps(t)
	src, shas := sourceRepo(t, 1)
	if _, err := (&Deployer{Remote: r}).Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[0], SourceRepo: src}); err != nil {
		t.Fatal(err)
	}
	wt := workClone(t, dir)
	p := filepath.Join(wt, "sample-app/overlays/staging/kustomization.yaml")
	data, _ := os.ReadFile(p)
	img := digest(2)
	os.WriteFile(p, []byte(strings.ReplaceAll(string(data), digest(1).Digest, img.Digest)), 0o644)
	gitCLI(t, wt, "commit", "-qam", "deploy(sample-app): staging -> sha256:"+img.Short()+"\n\nImage: "+img.String()+
		"\nSource-Commit: 0123456789ab\nApp: sample-app\nEnvironment: staging\nPipeline-Run: local\n")
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
	_, err := (&Deployer{Remote: r}).Promote(ctx, Promotion{App: "sample-app", From: "staging", To: "production", SourceRepo: src})
	if !errors.Is(err, ErrPromoteUnknownSource) || strings.Contains(err.Error(), "allow-unknown-source") || !strings.Contains(err.Error(), "not a commit's name") {
		t.Fatalf("promote of a record with an invalid Source-Commit: %v", err)
	}
}
