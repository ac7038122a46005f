package gitops

import (
	"context"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/helm"
)

// TestDeployRecordsThePathItEdited: a deploy through --path or a layout
// records the file it edited (Path trailer); history reads it back, and
// status, where it cannot render the environment, reads that file rather
// than the layout's (which the deploy did not touch).
func TestDeployRecordsThePathItEdited(t *testing.T) {
	ctx := context.Background()
	dir, r := fixtureRemote(t, "argocd", nil)
	layout := "apps/{app}-{env}.yaml"
	over := "helm-guestbook/.argocd-source-helm-guestbook-staging.yaml"
	d := &Deployer{Remote: r, Layout: layout, Charts: helm.Render}
	img := imgN("ghcr.io/acme/helm-guestbook", 71)
	out, err := d.Deploy(ctx, Request{App: "helm-guestbook", Env: "staging", Image: img, SourceCommit: fixtureSource, Path: over})
	if err != nil {
		t.Fatal(err)
	}
	msg := gitCLI(t, dir, "log", "-1", "--format=%B", "main") + "\n"
	if !strings.Contains(msg, "\nPath: "+over+"\n") {
		t.Errorf("commit message lacks the Path trailer:\n%s", msg)
	}
	recs, err := History(ctx, r, Filter{App: "helm-guestbook"})
	if err != nil || len(recs) != 1 || recs[0].Path != over || recs[0].Commit != out.Commit {
		t.Fatalf("history: %+v %v", recs, err)
	}
	var b strings.Builder
	WriteHistoryTable(&b, recs)
	if !strings.Contains(b.String(), "path: "+over) {
		t.Errorf("history table does not show the path:\n%s", b.String())
	}
	// Rendered (a chart renderer): what the Application renders with the override.
	sts, err := Status(ctx, r, Filter{Layout: layout, Charts: helm.Render, App: "helm-guestbook"})
	if err != nil || len(sts) != 1 || sts[0].Image != img.String() || sts[0].Commit != out.Commit {
		t.Fatalf("status (rendered): %+v %v", sts, err)
	}
	// Not rendered (no chart renderer): the file the record names, saying so.
	sts, err = Status(ctx, r, Filter{Layout: layout, App: "helm-guestbook"})
	if err != nil || len(sts) != 1 || sts[0].Image != img.String() || sts[0].Commit != out.Commit || !strings.Contains(sts[0].Note, "read from "+over+", not rendered") {
		t.Fatalf("status (not rendered): %+v %v", sts, err)
	}

	// Promote reads From as status does (one function): not rendered, the
	// file the last deploy edited, not the Application's stale values.
	var log strings.Builder
	pd := &Deployer{Remote: r, Layout: layout, Log: &log}
	po, err := pd.Promote(ctx, Promotion{App: "helm-guestbook", From: "staging", To: "production", ToPath: "helm-guestbook/values-production.yaml", AllowUnknownSource: true})
	if err != nil || po.Image != img || !strings.Contains(log.String(), "promoting what "+over+" holds") {
		t.Fatalf("promote: %+v %v\n%s", po, err, log.String())
	}
	if got := fileAt(t, dir, "main", "helm-guestbook/values-production.yaml"); !strings.Contains(got, img.Digest) {
		t.Errorf("values-production.yaml after promote:\n%s", got)
	}

	// The default layout's own file: no Path trailer (records as before).
	dir2, r2 := fixtureRemote(t, "override", nil)
	d2 := &Deployer{Remote: r2}
	if _, err := d2.Deploy(ctx, Request{App: "app", Env: "staging", Image: imgN("ghcr.io/acme/app", 72), SourceCommit: fixtureSource}); err != nil {
		t.Fatal(err)
	}
	if msg := gitCLI(t, dir2, "log", "-1", "--format=%B", "main"); strings.Contains(msg, "Path:") {
		t.Errorf("default layout recorded a Path:\n%s", msg)
	}
}
