package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// git runs the git CLI in dir (a work tree) and fails the test on error.
func gitCLI(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@x", "GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@x")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// workClone clones the bare GitOps repository into a work tree.
func workClone(t testing.TB, bare string) string {
	t.Helper()
	wt := filepath.Join(t.TempDir(), "wt")
	gitCLI(t, filepath.Dir(bare), "clone", "-q", bare, wt)
	return wt
}

// Issue 12.1: a promotion merged with --no-ff (GitHub's default) or squashed
// must be seen by the guard exactly as history sees it.
func TestGuardSeesMergedPromotion(t *testing.T) {
	for _, strategy := range []string{"merge", "squash", "rebase"} {
		t.Run(strategy, func(t *testing.T) {
			dir, r := localGitOps(t)
			src, shas := sourceRepo(t, 9)
			d := &Deployer{Remote: r}
			ctx := context.Background()
			if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "development", Image: digest(8), SourceCommit: shas[8], SourceRepo: src}); err != nil {
				t.Fatal(err)
			}
			po, err := d.Promote(ctx, Promotion{App: "sample-app", From: "development", To: "production", ViaBranch: true, SourceRepo: src})
			if err != nil {
				t.Fatal(err)
			}
			// Someone else deploys meanwhile, so a merge is a real merge.
			if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(7), SourceCommit: shas[7], SourceRepo: src}); err != nil {
				t.Fatal(err)
			}
			wt := workClone(t, dir)
			gitCLI(t, wt, "fetch", "-q", "origin", po.Branch)
			switch strategy {
			case "merge":
				gitCLI(t, wt, "merge", "-q", "--no-ff", "-m", "Merge pull request #12 from acme/"+po.Branch, "FETCH_HEAD")
			case "squash":
				msg := gitCLI(t, wt, "log", "-1", "--format=%B", "FETCH_HEAD")
				subject, body, _ := strings.Cut(msg, "\n")
				gitCLI(t, wt, "merge", "-q", "--squash", "FETCH_HEAD")
				gitCLI(t, wt, "commit", "-q", "-m", subject+" (#12)"+"\n"+body)
			case "rebase":
				gitCLI(t, wt, "cherry-pick", "FETCH_HEAD")
			}
			gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")

			recs, err := History(ctx, r, Filter{App: "sample-app", Env: "production"})
			if err != nil || len(recs) != 1 || recs[0].SourceCommit != shas[8] {
				t.Fatalf("history of production after %s: %+v %v", strategy, recs, err)
			}
			before := head(t, dir, "main")
			_, err = d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(3), SourceCommit: shas[3], SourceRepo: src})
			if !errors.Is(err, ErrRollback) {
				t.Fatalf("deploy of c3 over a %s-merged c8: %v (want a rollback refusal)", strategy, err)
			}
			if head(t, dir, "main") != before {
				t.Fatal("refused deploy moved main")
			}
		})
	}
}

// Issue 12.2: a depth-1 source clone must not disable the guard.
func TestGuardDeepensShallowSourceClone(t *testing.T) {
	_, r := localGitOps(t)
	origin, shas := sourceRepo(t, 9)
	shallow := filepath.Join(t.TempDir(), "shallow")
	gitCLI(t, filepath.Dir(shallow), "clone", "-q", "--depth", "1", "file://"+origin, shallow)
	if _, err := os.Stat(filepath.Join(shallow, ".git", "shallow")); err != nil {
		t.Fatal("the test clone is not shallow")
	}
	d := &Deployer{Remote: r}
	ctx := context.Background()
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(8), SourceCommit: shas[8], SourceRepo: origin}); err != nil {
		t.Fatal(err)
	}
	_, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(3), SourceCommit: shas[3], SourceRepo: shallow})
	if !errors.Is(err, ErrRollback) {
		t.Fatalf("rollback judged in a shallow clone: %v", err)
	}
	// A shallow clone whose remote is gone: refused, not waved through.
	gone := filepath.Join(t.TempDir(), "gone")
	gitCLI(t, filepath.Dir(gone), "clone", "-q", "--depth", "1", "file://"+origin, gone)
	gitCLI(t, gone, "remote", "set-url", "origin", "file://"+filepath.Join(t.TempDir(), "missing"))
	_, err = d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(4), SourceCommit: shas[4], SourceRepo: gone})
	if !errors.Is(err, ErrUnknownSource) {
		t.Fatalf("shallow clone with no reachable remote: %v", err)
	}
}

// Issue 12.7: promote finds the entry deploy finds when images[].name is the
// image repository (the usual kustomize pattern).
func TestPromoteFindsEntryNamedByRepository(t *testing.T) {
	dir, r := localGitOps(t)
	wt := workClone(t, dir)
	for _, env := range []string{"staging", "production"} {
		p := filepath.Join(wt, "sample-app/overlays", env, "kustomization.yaml")
		k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/sample-app\n    newTag: v1\n"
		os.WriteFile(p, []byte(k), 0o644)
	}
	// The base names the image by repository too, or the entry would match nothing.
	dep := filepath.Join(wt, "sample-app/base/deployment.yaml")
	data, _ := os.ReadFile(dep)
	os.WriteFile(dep, []byte(strings.Replace(string(data), "image: sample-app", "image: ghcr.io/acme/sample-app:v0", 1)), 0o644)
	gitCLI(t, wt, "commit", "-qam", "images named by repository")
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
	_, shas := sourceRepo(t, 1)
	d := &Deployer{Remote: r}
	ctx := context.Background()
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(5), SourceCommit: shas[0]}); err != nil {
		t.Fatal(err)
	}
	out, err := d.Promote(ctx, Promotion{App: "sample-app", From: "staging", To: "production"})
	if err != nil {
		t.Fatalf("promote: %v", err)
	}
	if out.Image != digest(5) || !strings.Contains(fileAt(t, dir, "main", "sample-app/overlays/production/kustomization.yaml"), digest(5).Digest) {
		t.Fatalf("promoted %v", out.Image)
	}
}

// Issue 12.8: kustomizations without kind:, named kustomization.yml or Kustomization.
func TestDeployKustomizationFileNames(t *testing.T) {
	dir, r := localGitOps(t)
	wt := workClone(t, dir)
	base := filepath.Join(wt, "sample-app/overlays")
	gitCLI(t, wt, "mv", "sample-app/overlays/staging/kustomization.yaml", "sample-app/overlays/staging/kustomization.yml")
	gitCLI(t, wt, "mv", "sample-app/overlays/production/kustomization.yaml", "sample-app/overlays/production/Kustomization")
	os.WriteFile(filepath.Join(base, "development/kustomization.yaml"), []byte("resources:\n  - ../../base\nimages:\n  - name: sample-app\n    newTag: dev\n"), 0o644)
	gitCLI(t, wt, "commit", "-qam", "other names")
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
	_, shas := sourceRepo(t, 1)
	d := &Deployer{Remote: r}
	for i, c := range []struct{ env, file string }{
		{"staging", "kustomization.yml"}, {"production", "Kustomization"}, {"development", "kustomization.yaml"},
	} {
		out, err := d.Deploy(context.Background(), Request{App: "sample-app", Env: c.env, Image: digest(20 + i), SourceCommit: shas[0]})
		if err != nil {
			t.Fatalf("%s/%s: %v", c.env, c.file, err)
		}
		if got := fileAt(t, dir, "main", "sample-app/overlays/"+c.env+"/"+c.file); !strings.Contains(got, digest(20+i).Digest) || out.Change.File != "sample-app/overlays/"+c.env+"/"+c.file {
			t.Errorf("%s: %s\n%s", c.file, out.Change.File, got)
		}
	}
	_, err := d.Deploy(context.Background(), Request{App: "sample-app", Env: "qa", Image: digest(1), SourceCommit: shas[0]})
	if err == nil || !strings.Contains(err.Error(), "(environments: development, production, staging)") {
		t.Errorf("missing env lists: %v", err)
	}
}

// Issue 12.10: 32 deployers on a loaded machine all land; a lost race to a
// newer build can end as superseded.
func TestThirtyTwoDeployersUnderLoadAllLand(t *testing.T) {
	dir, r := localGitOps(t)
	_, shas := sourceRepo(t, 1)
	start := countCommits(t, dir)
	stop := make(chan struct{})
	var burners sync.WaitGroup
	for i := 0; i < 2; i++ { // keep both cores busy, as a loaded CI machine is
		burners.Add(1)
		go func() {
			defer burners.Done()
			x := 0
			for {
				select {
				case <-stop:
					return
				default:
					for j := 0; j < 1e5; j++ {
						x += j
					}
				}
			}
		}()
	}
	var wg sync.WaitGroup
	var failed atomic.Int32
	var tries atomic.Int64
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// All must land: the budget is time, and each attempt now renders
			// the environment, which -race on a loaded 2-core machine makes
			// slow; the default 5 m is for one real push, not 32 at once.
			d := &Deployer{Remote: r, BaseBackoff: 20 * time.Millisecond, RetryTimeout: 25 * time.Minute}
			out, err := d.Deploy(context.Background(), Request{App: "sample-app", Env: "development", Image: digest(5000 + i), SourceCommit: shas[0]})
			if err != nil {
				failed.Add(1)
				t.Errorf("deployer %d: %v", i, err)
				return
			}
			tries.Add(int64(out.Attempts))
		}(i)
	}
	wg.Wait()
	close(stop)
	burners.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of 32 deployers gave up", failed.Load())
	}
	if got := countCommits(t, dir) - start; got != 32 {
		t.Fatalf("%d commits landed, want 32", got)
	}
	t.Logf("32 deployers: %d attempts", tries.Load())
}

func TestSupersededOK(t *testing.T) {
	dir, r := localGitOps(t)
	src, shas := sourceRepo(t, 3)
	d := &Deployer{Remote: r}
	ctx := context.Background()
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(2), SourceCommit: shas[2], SourceRepo: src}); err != nil {
		t.Fatal(err)
	}
	before := head(t, dir, "main")
	out, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[1], SourceRepo: src, SupersededOK: true})
	if err != nil || !out.Superseded || out.Previous == nil || out.Previous.SourceCommit != shas[2] {
		t.Fatalf("superseded: %+v %v", out, err)
	}
	if head(t, dir, "main") != before {
		t.Fatal("a superseded deploy committed")
	}
}

// The retry budget is time (default 5 minutes), not a count of attempts.
func TestRetryBudgetDefault(t *testing.T) {
	d := &Deployer{}
	d.defaults()
	if d.RetryTimeout != 5*time.Minute {
		t.Fatalf("default retry budget %s, want 5m", d.RetryTimeout)
	}
	d = &Deployer{RetryTimeout: time.Second}
	d.defaults()
	if d.RetryTimeout != time.Second {
		t.Fatal("defaults overwrote RetryTimeout")
	}
}

// Issue 12.11: a `git revert` of a deploy shows in history and status.
func TestRevertShowsInHistoryAndStatus(t *testing.T) {
	dir, r := localGitOps(t)
	src, shas := sourceRepo(t, 2)
	d := &Deployer{Remote: r}
	ctx := context.Background()
	first, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[0], SourceRepo: src})
	if err != nil {
		t.Fatal(err)
	}
	second, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(2), SourceCommit: shas[1], SourceRepo: src})
	if err != nil {
		t.Fatal(err)
	}
	wt := workClone(t, dir)
	gitCLI(t, wt, "revert", "--no-edit", second.Commit)
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")

	recs, err := History(ctx, r, Filter{Env: "staging"})
	if err != nil || len(recs) != 3 {
		t.Fatalf("history: %+v %v", recs, err)
	}
	if recs[0].Reverts != second.Commit || recs[0].Image != digest(1).String() || recs[0].SourceCommit != shas[0] || !recs[1].Reverted {
		t.Errorf("revert record: %+v / %+v", recs[0], recs[1])
	}
	sts, err := Status(ctx, r, Filter{App: "sample-app", Env: "staging"})
	if err != nil || len(sts) != 1 {
		t.Fatalf("status: %+v %v", sts, err)
	}
	if sts[0].Image != digest(1).String() || sts[0].SourceCommit != shas[0] || !strings.Contains(sts[0].Note, "revert of "+second.Commit[:12]) {
		t.Errorf("status after revert: %+v", sts[0])
	}
	// The guard reads the revert too: c1 runs again, so deploying c1 is no rollback.
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(3), SourceCommit: shas[0], SourceRepo: src}); err != nil {
		t.Errorf("deploy after revert: %v", err)
	}
	all, err := Status(ctx, r, Filter{})
	if err != nil || len(all) != 3 {
		t.Fatalf("status of all environments: %+v %v", all, err)
	}
	for _, s := range all {
		if s.Env == "development" && !strings.Contains(s.Note, "no deploy record") {
			t.Errorf("development was never deployed by Slipway: %+v", s)
		}
	}
	var buf bytes.Buffer
	if err := WriteStatusTable(&buf, all); err != nil || !strings.Contains(buf.String(), "staging") {
		t.Errorf("table: %v\n%s", err, buf.String())
	}
	_ = first
}

// Issue 12.16: re-running promote --via-branch never replaces the branch.
func TestPromoteViaBranchTwiceKeepsBranch(t *testing.T) {
	dir, r := localGitOps(t)
	_, shas := sourceRepo(t, 1)
	d := &Deployer{Remote: r}
	ctx := context.Background()
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(9), SourceCommit: shas[0]}); err != nil {
		t.Fatal(err)
	}
	first, err := d.Promote(ctx, Promotion{App: "sample-app", From: "staging", To: "production", ViaBranch: true, AllowUnknownSource: true})
	if err != nil {
		t.Fatal(err)
	}
	// A reviewer pushes a fixup onto the branch.
	wt := workClone(t, dir)
	gitCLI(t, wt, "fetch", "-q", "origin", first.Branch)
	gitCLI(t, wt, "checkout", "-q", "FETCH_HEAD")
	gitCLI(t, wt, "commit", "-q", "--allow-empty", "-m", "review fixup")
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:refs/heads/"+first.Branch)
	reviewed := head(t, dir, first.Branch)
	again, err := d.Promote(ctx, Promotion{App: "sample-app", From: "staging", To: "production", ViaBranch: true, AllowUnknownSource: true})
	if err != nil {
		t.Fatal(err)
	}
	if !again.BranchExists || head(t, dir, first.Branch) != reviewed {
		t.Fatalf("second promote: %+v; branch now %s, reviewed %s", again.Outcome, head(t, dir, first.Branch), reviewed)
	}
}

// Issue 12.23: a kustomization with no images: list (Argo CD's
// kustomize-guestbook) gets an entry for the container its resources run.
func TestDeployAddsImagesEntryFromResources(t *testing.T) {
	dir, r := localGitOps(t)
	wt := workClone(t, dir)
	os.MkdirAll(filepath.Join(wt, "kustomize-guestbook"), 0o755)
	kust := "# Argo CD example\nnamePrefix: kustomize-\n\nresources:\n- guestbook-ui-deployment.yaml\n- guestbook-ui-svc.yaml\n"
	deploy := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook-ui
spec:
  replicas: 1
  selector:
    matchLabels:
      app: guestbook-ui
  template:
    metadata:
      labels:
        app: guestbook-ui
    spec:
      containers:
      - image: gcr.io/google-samples/gb-frontend:v5
        name: guestbook-ui
        ports:
        - containerPort: 80
`
	svc := "apiVersion: v1\nkind: Service\nmetadata:\n  name: guestbook-ui\nspec:\n  ports:\n  - port: 80\n  selector:\n    app: guestbook-ui\n"
	os.WriteFile(filepath.Join(wt, "kustomize-guestbook/kustomization.yaml"), []byte(kust), 0o644)
	os.WriteFile(filepath.Join(wt, "kustomize-guestbook/guestbook-ui-deployment.yaml"), []byte(deploy), 0o644)
	os.WriteFile(filepath.Join(wt, "kustomize-guestbook/guestbook-ui-svc.yaml"), []byte(svc), 0o644)
	gitCLI(t, wt, "add", ".")
	gitCLI(t, wt, "commit", "-qm", "guestbook")
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
	_, shas := sourceRepo(t, 1)
	d := &Deployer{Remote: r}
	img := Image{Repo: "registry.example/acme/frontend", Digest: digest(77).Digest}
	// By container name = app.
	out, err := d.Deploy(context.Background(), Request{App: "guestbook-ui", Env: "dev", Image: img, SourceCommit: shas[0], Path: "kustomize-guestbook/kustomization.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	got := fileAt(t, dir, "main", "kustomize-guestbook/kustomization.yaml")
	want := kust + "images:\n- name: gcr.io/google-samples/gb-frontend\n  newName: registry.example/acme/frontend\n  digest: " + img.Digest + "\n"
	if got != want {
		t.Fatalf("kustomization:\n%s\nwant:\n%s", got, want)
	}
	if out.Change.Before != "gcr.io/google-samples/gb-frontend:v5" {
		t.Errorf("change %+v", out.Change)
	}
	// The next deploy edits the entry it added.
	img2 := Image{Repo: img.Repo, Digest: digest(78).Digest}
	if _, err := d.Deploy(context.Background(), Request{App: "guestbook-ui", Env: "dev", Image: img2, SourceCommit: shas[0], Path: "kustomize-guestbook/kustomization.yaml"}); err != nil {
		t.Fatal(err)
	}
	if got := fileAt(t, dir, "main", "kustomize-guestbook/kustomization.yaml"); strings.Count(got, "- name:") != 1 || !strings.Contains(got, img2.Digest) {
		t.Errorf("second deploy:\n%s", got)
	}
	// By --image-name, for an app named otherwise.
	gitCLI(t, wt, "pull", "-q", "origin", "main")
	os.WriteFile(filepath.Join(wt, "kustomize-guestbook/kustomization.yaml"), []byte(kust), 0o644)
	gitCLI(t, wt, "commit", "-qam", "reset")
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
	_, err = d.Deploy(context.Background(), Request{App: "frontend-app", Env: "dev", Image: Image{Repo: "registry.example/acme/other", Digest: img.Digest}, SourceCommit: shas[0], Path: "kustomize-guestbook/kustomization.yaml"})
	if !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), "--image-name") {
		t.Fatalf("unknown app: %v", err)
	}
	if _, err := d.Deploy(context.Background(), Request{App: "frontend-app", Env: "dev", Image: img, SourceCommit: shas[0], Path: "kustomize-guestbook/kustomization.yaml", ImageName: "gcr.io/google-samples/gb-frontend"}); err != nil {
		t.Fatalf("--image-name: %v", err)
	}
}

// Issue 12.14: SSH errors name Slipway's variables.
func TestSSHErrorsNameOurVariables(t *testing.T) {
	_, err := NewRemote("git@git.example.com:acme/gitops.git", "main", env(map[string]string{"GITOPS_SSH_KEY_FILE": "/nonexistent/id_ed25519"}))
	if err == nil || !strings.Contains(err.Error(), "GITOPS_SSH_KEY_FILE: neither a readable file nor a PEM key") || strings.Contains(err.Error(), "/nonexistent") {
		t.Errorf("missing key file: %v", err)
	}
	_, err = NewRemote("ssh://git@git.example.com/acme/gitops.git", "main", env(nil))
	if err == nil || !strings.Contains(err.Error(), "GITOPS_SSH_KEY_FILE") || strings.Contains(err.Error(), "not-specified") {
		t.Errorf("no key, no agent: %v", err)
	}
	r := &Remote{public: "git@git.example.com:acme/gitops.git", knownHosts: "/etc/kh"}
	for _, raw := range []string{
		"ssh: handshake failed: knownhosts: key is unknown",
		"unable to find any valid known_hosts file, set SSH_KNOWN_HOSTS env variable",
	} {
		got := r.explain("clone", errors.New(raw)).Error()
		if !strings.Contains(got, "GITOPS_SSH_KNOWN_HOSTS") || strings.Contains(got, "set SSH_KNOWN_HOSTS") {
			t.Errorf("%q explained as %q", raw, got)
		}
	}
	if got := r.explain("clone", errors.New("error creating SSH agent: \"SSH agent requested but SSH_AUTH_SOCK not-specified\"")).Error(); !strings.Contains(got, "GITOPS_SSH_KEY_FILE") || strings.Contains(got, "not-specified") {
		t.Errorf("agent error explained as %q", got)
	}
}

// Issue 12.5: URLs that do not parse never print the token.
func TestBadURLsNeverPrintTheToken(t *testing.T) {
	const tok = "s3cr3t-TOKEN-value"
	for _, u := range []string{
		"https://ci:" + tok + "@git example.com/acme/gitops.git",
		"https://ci:" + tok + "@git.example.com/%zz",
		"https://ci:" + tok + "@git.example.com:99999/acme/gitops.git",
		"https://ci:" + tok + "@git.example.com:port/acme/gitops.git",
		"https://ci:s3cr3t/TOKEN-value@git.example.com/acme/gitops.git",
		"https://ci:" + tok + "@/acme",
	} {
		r, err := NewRemote(u, "main", env(map[string]string{"GITOPS_TOKEN": tok}))
		shown := fmt.Sprint(err)
		if r != nil {
			shown += r.String()
		}
		if strings.Contains(shown, tok) || strings.Contains(shown, "s3cr3t/TOKEN") || strings.Contains(shown, "s3cr3t") {
			t.Errorf("%s: shows the secret: %s", strings.ReplaceAll(u, tok, "TOKEN"), shown)
		}
	}
	// A '/' in the password is read as part of the password, not as a host.
	r, err := NewRemote("https://ci:pa/ss@git.example.com/acme/gitops.git", "main", env(nil))
	if err != nil || r.URL != "https://git.example.com/acme/gitops.git" || r.Auth.(*githttp.BasicAuth).Password != "pa/ss" {
		t.Fatalf("password with a slash: %+v %v", r, err)
	}
}

// FuzzRemoteURLNeverLeaksToken: whatever the URL around it, a known token
// (in the URL or in GITOPS_TOKEN) never comes out of NewRemote's error or String.
func FuzzRemoteURLNeverLeaksToken(f *testing.F) {
	for _, s := range []string{"git.example.com/acme/gitops.git", "git example.com/x", "h:99999/x", "%zz", "h/a@b", "[::1]:80/x", ""} {
		f.Add("https", "ci", s)
	}
	const tok = "tok-4f9d2c1e8b7a"
	f.Fuzz(func(t *testing.T, scheme, user, rest string) {
		if scheme != "http" {
			scheme = "https"
		}
		for _, u := range []string{scheme + "://" + user + ":" + tok + "@" + rest, scheme + "://" + rest} {
			r, err := NewRemote(u, "main", env(map[string]string{"GITOPS_TOKEN": tok}))
			shown := fmt.Sprint(err)
			if r != nil {
				shown += " " + r.String()
			}
			if strings.Contains(shown, tok) {
				t.Fatalf("token shown for %q: %s", u, shown)
			}
		}
	})
}

// Issue 12.6: a build from a modified tree says so in its deploy record.
func TestDirtySourceTrailer(t *testing.T) {
	dir, r := localGitOps(t)
	_, shas := sourceRepo(t, 1)
	out, err := (&Deployer{Remote: r}).Deploy(context.Background(), Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[0], SourceDirty: true})
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := exec.Command("git", "--git-dir", dir, "log", "-1", "--format=%B", out.Commit).Output()
	if !strings.Contains(string(msg), "\nSource-Dirty: true\n") {
		t.Errorf("message:\n%s", msg)
	}
	recs, err := History(context.Background(), r, Filter{})
	if err != nil || len(recs) != 1 || !recs[0].SourceDirty {
		t.Errorf("history: %+v %v", recs, err)
	}
}
