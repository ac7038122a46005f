package gitops

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-billy/v5/util"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

func digest(n int) Image {
	return Image{Repo: "ghcr.io/acme/sample-app", Digest: fmt.Sprintf("sha256:%064x", n)}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// localGitOps seeds a bare repository from sample-app/deploy, plus extra
// apps with a development overlay each.
func localGitOps(t testing.TB, extraApps ...string) (dir string, r *Remote) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "gitops.git")
	if _, err := EnsureLocal(dir, "../../sample-app/deploy", "sample-app", "main", time.Now()); err != nil {
		t.Fatal(err)
	}
	// Served with object filters (uploadpack.allowFilter): deploys make
	// partial clones (TestPartialClone… covers a server without them).
	for _, kv := range [][2]string{{"uploadpack.allowFilter", "true"}, {"uploadpack.allowAnySHA1InWant", "true"}} {
		if out, err := exec.Command("git", "--git-dir", dir, "config", kv[0], kv[1]).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	r, err := NewRemote(dir, "main", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(extraApps) > 0 {
		repo, fs, err := r.clone(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, app := range extraApps {
			// A base the overlay builds: a deploy must change what renders.
			dep := fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      containers:\n        - name: %s\n          image: %s\n", app, app, app)
			util.WriteFile(fs, app+"/base/deployment.yaml", []byte(dep), 0o644)
			util.WriteFile(fs, app+"/base/kustomization.yaml", []byte("resources:\n  - deployment.yaml\n"), 0o644)
			k := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\nimages:\n  - name: %s\n    newTag: latest\n", app)
			util.WriteFile(fs, app+"/overlays/development/kustomization.yaml", []byte(k), 0o644)
		}
		wt, _ := repo.Worktree()
		wt.AddGlob(".")
		sig := &object.Signature{Name: "t", Email: "t@t", When: time.Now()}
		wt.Commit("add apps", &git.CommitOptions{Author: sig})
		if err := repo.Push(&git.PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return dir, r
}

// sourceRepo makes a source repository with n linear commits.
func sourceRepo(t testing.TB, n int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	var shas []string
	for i := 0; i < n; i++ {
		os.WriteFile(filepath.Join(dir, "main.go"), []byte(fmt.Sprintf("package main // v%d\n", i)), 0o644)
		wt.Add("main.go")
		sig := &object.Signature{Name: "dev", Email: "dev@x", When: time.Unix(int64(1700000000+i*60), 0)}
		h, err := wt.Commit(fmt.Sprintf("change %d", i), &git.CommitOptions{Author: sig})
		if err != nil {
			t.Fatal(err)
		}
		shas = append(shas, h.String())
	}
	return dir, shas
}

func head(t testing.TB, dir, branch string) string {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return ""
	}
	return ref.Hash().String()
}

func countCommits(t testing.TB, dir string) int {
	t.Helper()
	out, err := exec.Command("git", "--git-dir", dir, "rev-list", "--count", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscanf(strings.TrimSpace(string(out)), "%d", &n)
	return n
}

func fileAt(t testing.TB, dir, branch, path string) string {
	t.Helper()
	out, err := exec.Command("git", "--git-dir", dir, "show", branch+":"+path).CombinedOutput()
	if err != nil {
		t.Fatalf("git show %s:%s: %v %s", branch, path, err, out)
	}
	return string(out)
}

// clone (tests only) fetches the branch into memory; depth 0 is the whole history.
func (r *Remote) clone(ctx context.Context, depth int) (*git.Repository, billy.Filesystem, error) {
	fs := memfs.New()
	repo, err := git.CloneContext(ctx, memory.NewStorage(), fs, &git.CloneOptions{
		URL:           r.URL,
		Auth:          r.Auth,
		ReferenceName: plumbing.NewBranchReferenceName(r.Branch),
		SingleBranch:  true,
		Depth:         depth,
		Tags:          git.NoTags,
	})
	if err != nil {
		return nil, nil, r.explain("clone", err)
	}
	return repo, fs, nil
}
