package gitops

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestStatusAndPromoteReadWhatRenders (finding 2): a deploy through --path
// into a kustomize Component the staging overlay uses leaves the overlay's
// own file without a digest; status shows what staging renders (the new
// digest), and promote ships that digest to production, not the file's.
func TestStatusAndPromoteReadWhatRenders(t *testing.T) {
	dir, r := localGitOps(t)
	wt := workClone(t, dir)
	files := map[string]string{
		"web/base/deployment.yaml":                   "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/web:1.0\n",
		"web/base/kustomization.yaml":                "resources:\n  - deployment.yaml\n",
		"web/components/img/kustomization.yaml":      "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nimages:\n  - name: ghcr.io/acme/web\n    newTag: \"1.0\"\n",
		"web/overlays/staging/kustomization.yaml":    "resources:\n  - ../../base\ncomponents:\n  - ../../components/img\n",
		"web/overlays/production/kustomization.yaml": "resources:\n  - ../../base\n",
	}
	for f, body := range files {
		os.MkdirAll(filepath.Join(wt, filepath.Dir(f)), 0o755)
		if err := os.WriteFile(filepath.Join(wt, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitCLI(t, wt, "add", ".")
	gitCLI(t, wt, "commit", "-qm", "web")
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
	_, shas := sourceRepo(t, 1)
	ctx := context.Background()
	var log bytes.Buffer
	d := &Deployer{Remote: r, Log: &log}
	d1 := Image{Repo: "ghcr.io/acme/web", Digest: digest(1).Digest}
	if _, err := d.Deploy(ctx, Request{App: "web", Env: "staging", Image: d1, SourceCommit: shas[0], Path: "web/components/img/kustomization.yaml"}); err != nil {
		t.Fatal(err)
	}
	sts, err := Status(ctx, r, Filter{App: "web", Env: "staging"})
	if err != nil || len(sts) != 1 {
		t.Fatalf("status: %v %v", sts, err)
	}
	if sts[0].Image != d1.String() || sts[0].SourceCommit != shas[0] {
		t.Errorf("status of staging after a deploy into its component: image %q source %q note %q; want %s from %s", sts[0].Image, sts[0].SourceCommit, sts[0].Note, d1, shas[0])
	}
	out, err := d.Promote(ctx, Promotion{App: "web", From: "staging", To: "production"})
	if err != nil {
		t.Fatalf("promote: %v", err)
	}
	if out.Image != d1 || out.Source != shas[0] {
		t.Errorf("promote shipped %s from %s, want %s from %s", out.Image, out.Source, d1, shas[0])
	}
	if got := renderDir(t, filepath.Join(cloneAt(t, dir), "web/overlays/production")); len(got) != 1 || got[0] != d1.String() {
		t.Errorf("production renders %v after the promotion, want %s", got, d1)
	}
}

func cloneAt(t *testing.T, bare string) string {
	t.Helper()
	return workClone(t, bare)
}
