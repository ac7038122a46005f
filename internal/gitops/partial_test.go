package gitops

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// partialRepo is a bare repository (served by the real git-upload-pack)
// with two apps: web, and other, whose production overlay carries a 1 MB
// comment block (another team's large manifest). config is git config for
// the server side (uploadpack.allowFilter, …).
func partialRepo(t *testing.T, config ...string) (dir string, bigBlob plumbing.Hash) {
	t.Helper()
	work := t.TempDir()
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(work, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, app := range []string{"web", "other"} {
		write(app+"/base/deployment.yaml", fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      containers:\n        - name: %s\n          image: ghcr.io/acme/%s:1.0\n", app, app, app))
		write(app+"/base/kustomization.yaml", "resources:\n  - deployment.yaml\n")
		for _, e := range []string{"staging", "production"} {
			write(app+"/overlays/"+e+"/kustomization.yaml", "resources:\n  - ../../base\n")
		}
	}
	big := "resources:\n  - ../../base\n" + strings.Repeat("# a large manifest of another team, padded to well over the partial clone's blob limit\n", 12000)
	write("other/overlays/production/kustomization.yaml", big)
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-qm", "seed")
	dir = filepath.Join(t.TempDir(), "gitops.git")
	git("clone", "-q", "--bare", work, dir)
	for i := 0; i+1 < len(config); i += 2 {
		git("--git-dir", dir, "config", config[i], config[i+1])
	}
	return dir, plumbing.NewHash(git("rev-parse", "HEAD:other/overlays/production/kustomization.yaml"))
}

// TestPartialCloneLeavesOtherAppsLargeFiles: where the server allows object
// filters, a deploy's clone never holds another app's large file; reading
// it (a render that needs it) fetches it on demand, by id where the server
// allows that, else with the head's tree. A deploy into web, and one into
// the large file's own environment, both land and prove by render.
func TestPartialCloneLeavesOtherAppsLargeFiles(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		config []string
	}{
		{"by id", []string{"uploadpack.allowFilter", "true", "uploadpack.allowAnySHA1InWant", "true", "http.receivepack", "true"}},
		{"by head", []string{"uploadpack.allowFilter", "true", "http.receivepack", "true"}},
		{"no filter", []string{"http.receivepack", "true"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, big := partialRepo(t, c.config...)
			// Served over smart HTTP: the repository's own configuration
			// decides (a local path is served with filters, see
			// TestLocalRepositoryClonesPartially).
			url := smartHTTP(t, filepath.Dir(dir)) + "/" + filepath.Base(dir)
			r, err := NewRemote(url, "main", env(map[string]string{"GITOPS_TOKEN": gitToken}))
			if err != nil {
				t.Fatal(err)
			}
			snap, err := r.cloneBare(ctx, 50)
			if err != nil {
				t.Fatal(err)
			}
			if c.name == "no filter" {
				if snap.lazy != nil {
					t.Fatal("a partial clone from a server without filters")
				}
				return
			}
			if snap.lazy == nil {
				t.Fatal("not a partial clone")
			}
			if snap.lazy.HasEncodedObject(big) == nil {
				t.Fatal("the clone holds the other app's large file")
			}
			if _, ok := snap.readFile("web/overlays/staging/kustomization.yaml"); !ok || snap.lazy.fetched != 0 {
				t.Fatalf("small file: ok=%v, %d lazy fetches", ok, snap.lazy.fetched)
			}
			data, ok := snap.readFile("other/overlays/production/kustomization.yaml")
			if !ok || len(data) < lazyBlobLimit || snap.lazy.fetched != 1 {
				t.Fatalf("large file on demand: ok=%v, %d bytes, %d lazy fetches", ok, len(data), snap.lazy.fetched)
			}
			// A blob the head does not hold: not found, and asked for once at most.
			if _, err := snap.lazy.EncodedObject(plumbing.BlobObject, plumbing.NewHash(strings.Repeat("ab", 20))); err != plumbing.ErrObjectNotFound || snap.lazy.fetched != 1 {
				t.Fatalf("a blob nowhere: %v, %d lazy fetches", err, snap.lazy.fetched)
			}
			d := &Deployer{Remote: r}
			for i, app := range []string{"web", "other"} {
				img := Image{Repo: "ghcr.io/acme/" + app, Digest: fmt.Sprintf("sha256:%064x", i+1)}
				out, err := d.Deploy(ctx, Request{App: app, Env: "production", Image: img, SourceCommit: benchSource, AllowUnknownSource: true})
				if err != nil {
					t.Fatalf("%s: %v", app, err)
				}
				if out.Rendered == nil || out.Rendered.Unproven != "" || len(out.Rendered.Workloads) != 1 {
					t.Fatalf("%s: not proven by a render: %+v", app, out.Rendered)
				}
				got := fileAt(t, dir, "main", app+"/overlays/production/kustomization.yaml")
				if !strings.Contains(got, img.Digest) || (app == "other" && len(got) < lazyBlobLimit) {
					t.Fatalf("%s: pushed %d bytes without the digest", app, len(got))
				}
			}
			if out, err := exec.Command("git", "--git-dir", dir, "fsck", "--strict").CombinedOutput(); err != nil {
				t.Fatalf("fsck: %v %s", err, out)
			}
		})
	}
}

// TestPartialCloneRetriesOnANewHead: a deploy that lost a race fetches only
// the new head (with the filter) and lands on it.
func TestPartialCloneRetriesOnANewHead(t *testing.T) {
	ctx := context.Background()
	dir, big := partialRepo(t, "uploadpack.allowFilter", "true")
	r, err := NewRemote(dir, "main", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := r.cloneBare(ctx, 50)
	if err != nil || snap.lazy == nil {
		t.Fatalf("partial clone: %v", err)
	}
	old := snap.head.Hash
	d := &Deployer{Remote: r}
	if _, err := d.Deploy(ctx, Request{App: "web", Env: "staging", Image: Image{Repo: "ghcr.io/acme/web", Digest: fmt.Sprintf("sha256:%064x", 7)}, SourceCommit: benchSource, AllowUnknownSource: true}); err != nil {
		t.Fatal(err)
	}
	if err := snap.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if snap.lazy == nil || snap.head.Hash == old || snap.head.Hash.String() != head(t, dir, "main") {
		t.Fatalf("refresh: head %s, lazy %v", snap.head.Hash, snap.lazy != nil)
	}
	if snap.lazy.HasEncodedObject(big) == nil {
		t.Fatal("the refresh fetched the other app's large file")
	}
	if data, ok := snap.readFile("web/overlays/staging/kustomization.yaml"); !ok || !strings.Contains(string(data), fmt.Sprintf("%064x", 7)) {
		t.Fatalf("refreshed tree: %q", data)
	}
}

// TestHistoryReadsAPartialClone: history, status and the rest read a remote
// (here smart HTTP, `git http-backend`) through a partial clone of the whole
// history: commits and trees, not other apps' large files.
func TestHistoryReadsAPartialClone(t *testing.T) {
	ctx := context.Background()
	dir, big := partialRepo(t, "uploadpack.allowFilter", "true", "uploadpack.allowAnySHA1InWant", "true", "http.receivepack", "true")
	url := smartHTTP(t, filepath.Dir(dir)) + "/" + filepath.Base(dir)
	r, err := NewRemote(url, "main", env(map[string]string{"GITOPS_TOKEN": gitToken}))
	if err != nil {
		t.Fatal(err)
	}
	img := Image{Repo: "ghcr.io/acme/web", Digest: fmt.Sprintf("sha256:%064x", 9)}
	if _, err := (&Deployer{Remote: r}).Deploy(ctx, Request{App: "web", Env: "staging", Image: img, SourceCommit: benchSource, AllowUnknownSource: true}); err != nil {
		t.Fatal(err)
	}
	repo, err := r.openForRead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := repo.Storer.(*lazyStorage)
	if !ok || st.HasEncodedObject(big) == nil {
		t.Fatalf("not a partial clone (%T), or it holds the large file", repo.Storer)
	}
	recs, err := History(ctx, r, Filter{})
	if err != nil || len(recs) != 1 || recs[0].Image != img.String() {
		t.Fatalf("history: %v %+v", err, recs)
	}
}

// TestLocalRepositoryClonesPartially: a GitOps repository given as a local
// path, whose configuration allows no filters, is still cloned partially
// (Slipway's own git-upload-pack serves it with filters): another app's
// large file is neither fetched nor inflated, and a deploy that reads it
// fetches it by id.
func TestLocalRepositoryClonesPartially(t *testing.T) {
	ctx := context.Background()
	dir, big := partialRepo(t)
	for _, repo := range []string{dir, "file://" + dir} {
		r, err := NewRemote(repo, "main", env(nil))
		if err != nil {
			t.Fatal(err)
		}
		snap, err := r.cloneBare(ctx, 50)
		if err != nil {
			t.Fatal(err)
		}
		if snap.lazy == nil || snap.lazy.HasEncodedObject(big) == nil {
			t.Fatalf("%s: a whole clone of a local repository (partial: %v)", repo, snap.lazy != nil)
		}
		data, ok := snap.readFile("other/overlays/production/kustomization.yaml")
		if !ok || len(data) < lazyBlobLimit || snap.lazy.fetched != 1 {
			t.Fatalf("%s: large file on demand: ok=%v, %d bytes, %d lazy fetches", repo, ok, len(data), snap.lazy.fetched)
		}
	}
}
