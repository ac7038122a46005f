package gitops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A monorepo's affected apps land in one push: together or not at all.
func TestDeployAllIsAtomic(t *testing.T) {
	dir, r := localGitOps(t, "billing", "ledger")
	_, shas := sourceRepo(t, 1)
	d := &Deployer{Remote: r}
	before := head(t, dir, "main")
	start := countCommits(t, dir)
	// The second app's environment does not exist: nothing lands, not even the first.
	_, err := d.DeployAll(context.Background(), []Request{
		{App: "billing", Env: "development", Image: digest(1), SourceCommit: shas[0]},
		{App: "ledger", Env: "qa", Image: digest(2), SourceCommit: shas[0]},
	})
	if err == nil || !strings.Contains(err.Error(), "nothing was pushed for any app") {
		t.Fatalf("half-bad deploy: %v", err)
	}
	if head(t, dir, "main") != before {
		t.Fatal("a failed atomic deploy moved the branch")
	}
	outs, err := d.DeployAll(context.Background(), []Request{
		{App: "billing", Env: "development", Image: digest(1), SourceCommit: shas[0]},
		{App: "ledger", Env: "development", Image: digest(2), SourceCommit: shas[0]},
		{App: "sample-app", Env: "development", Image: digest(3), SourceCommit: shas[0]},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := countCommits(t, dir) - start; got != 3 {
		t.Fatalf("%d commits, want one per app", got)
	}
	if head(t, dir, "main") != outs[2].Commit {
		t.Error("the branch is not at the last app's commit")
	}
	parent := gitCLI(t, filepath.Dir(dir), "--git-dir", dir, "rev-parse", outs[2].Commit+"^")
	if parent != outs[1].Commit {
		t.Errorf("commits are not chained: %s^ = %s, want %s", outs[2].Commit, parent, outs[1].Commit)
	}
	recs, err := History(context.Background(), r, Filter{Env: "development"})
	if err != nil || len(recs) != 3 {
		t.Fatalf("history: %v %v", recs, err)
	}
	if _, err := d.DeployAll(context.Background(), []Request{
		{App: "billing", Env: "development", Image: digest(4), SourceCommit: shas[0]},
		{App: "billing", Env: "development", Image: digest(5), SourceCommit: shas[0]},
	}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate app: %v", err)
	}
}

// Layouts other than APP/overlays/ENV: Flux's apps/ENV and a flat APP/.
func TestDeployLayouts(t *testing.T) {
	dir, r := localGitOps(t)
	wt := workClone(t, dir)
	os.MkdirAll(filepath.Join(wt, "apps/staging"), 0o755)
	os.WriteFile(filepath.Join(wt, "apps/staging/kustomization.yaml"), []byte("kind: Kustomization\nresources:\n  - ../../sample-app/base\nimages:\n  - name: sample-app\n    newTag: v1\n"), 0o644)
	os.WriteFile(filepath.Join(wt, "sample-app/kustomization.yaml"), []byte("kind: Kustomization\nresources:\n  - base\nimages:\n  - name: sample-app\n    newTag: v1\n"), 0o644)
	gitCLI(t, wt, "add", ".")
	gitCLI(t, wt, "commit", "-qm", "layouts")
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
	_, shas := sourceRepo(t, 1)
	for i, c := range []struct{ layout, file string }{
		{"apps/{env}/kustomization.yaml", "apps/staging/kustomization.yaml"},
		{"{app}/kustomization.yaml", "sample-app/kustomization.yaml"},
	} {
		d := &Deployer{Remote: r, Layout: c.layout}
		out, err := d.Deploy(context.Background(), Request{App: "sample-app", Env: "staging", Image: digest(30 + i), SourceCommit: shas[0]})
		if err != nil || out.Change.File != c.file || !strings.Contains(fileAt(t, dir, "main", c.file), digest(30+i).Digest) {
			t.Errorf("layout %s: %+v %v", c.layout, out, err)
		}
	}
	for _, bad := range []string{"/abs/{app}", "../{app}/k.yaml", "{app}/{cluster}/k.yaml"} {
		if ValidateLayout(bad) == nil {
			t.Errorf("layout %q accepted", bad)
		}
	}
}
