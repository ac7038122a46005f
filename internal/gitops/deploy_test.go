package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

func TestDeployCommitsDigestWithTrailers(t *testing.T) {
	dir, r := localGitOps(t)
	src, shas := sourceRepo(t, 2)
	d := &Deployer{Remote: r}
	before := head(t, dir, "main")
	out, err := d.Deploy(context.Background(), Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[1], SourceRepo: src, PipelineRun: "https://ci.example/run/7"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Unchanged || out.Commit != head(t, dir, "main") || out.Commit == before {
		t.Fatalf("outcome %+v", out)
	}
	msg, _ := exec.Command("git", "--git-dir", dir, "log", "-1", "--format=%B", "main").Output()
	want := Message("sample-app", "staging", digest(1), shas[1], "https://ci.example/run/7")
	if strings.TrimSpace(string(msg)) != strings.TrimSpace(want) {
		t.Errorf("message:\n%s\nwant:\n%s", msg, want)
	}
	if want != ("deploy(sample-app): staging -> sha256:000000000000\n\nImage: ghcr.io/acme/sample-app@sha256:" + fmt.Sprintf("%064x", 1) + "\nSource-Commit: " + shas[1] + "\nApp: sample-app\nEnvironment: staging\nPipeline-Run: https://ci.example/run/7\nActor: unknown\n") {
		t.Errorf("subject/trailer format: %q", want)
	}
	k := fileAt(t, dir, "main", "sample-app/overlays/staging/kustomization.yaml")
	if !strings.Contains(k, "newName: ghcr.io/acme/sample-app\n    digest: "+digest(1).Digest) || !strings.Contains(k, "# Slipway writes the image below") {
		t.Errorf("overlay after deploy:\n%s", k)
	}
	// Same digest again: unchanged, no commit.
	out2, err := d.Deploy(context.Background(), Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[1], SourceRepo: src})
	if err != nil || !out2.Unchanged || head(t, dir, "main") != out.Commit {
		t.Errorf("redeploy: %+v %v", out2, err)
	}
}

func TestFailedDeployLeavesRemoteUntouched(t *testing.T) {
	dir, r := localGitOps(t)
	_, shas := sourceRepo(t, 1)
	before := head(t, dir, "main")
	d := &Deployer{Remote: r}
	cases := []struct {
		req  Request
		want string
	}{
		{Request{App: "sample-app", Env: "qa", Image: digest(1), SourceCommit: shas[0]}, "environment \"qa\" not found for sample-app (environments: development, production, staging)"},
		{Request{App: "billing", Env: "staging", Image: digest(1), SourceCommit: shas[0]}, "app \"billing\" not found (apps: sample-app)"},
		{Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[0], Path: "sample-app/base/service.yaml"}, "no matching image entry"},
		{Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[0], Path: "nope.yaml"}, "nope.yaml"},
		{Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: "abc"}, "source commit"},
		{Request{App: "Sample App", Env: "staging", Image: digest(1), SourceCommit: shas[0]}, "app \"Sample App\""},
	}
	for _, c := range cases {
		_, err := d.Deploy(context.Background(), c.req)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.req, err, c.want)
		}
	}
	if head(t, dir, "main") != before {
		t.Error("a failed deploy changed the remote")
	}
}

func TestDeployToWorkloadPath(t *testing.T) {
	dir, r := localGitOps(t)
	_, shas := sourceRepo(t, 1)
	d := &Deployer{Remote: r}
	out, err := d.Deploy(context.Background(), Request{App: "sample-app", Env: "production", Image: digest(3), SourceCommit: shas[0], Path: "sample-app/base/deployment.yaml"})
	if err != nil || out.Unchanged {
		t.Fatal(out, err)
	}
	got := fileAt(t, dir, "main", "sample-app/base/deployment.yaml")
	if !strings.Contains(got, "image: "+digest(3).String()) || !strings.Contains(got, "readOnlyRootFilesystem: true") {
		t.Errorf("deployment:\n%s", got)
	}
}

func TestRegressionGuard(t *testing.T) {
	dir, r := localGitOps(t)
	src, shas := sourceRepo(t, 3)
	var log bytes.Buffer
	d := &Deployer{Remote: r, Log: &log}
	ctx := context.Background()
	deploy := func(n int, sha string, allow bool) (*Outcome, error) {
		return d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(n), SourceCommit: sha, SourceRepo: src, AllowRollback: allow})
	}
	if _, err := deploy(2, shas[2], false); err != nil {
		t.Fatal(err)
	}
	before := head(t, dir, "main")
	// A re-run of an old workflow: older source commit, older image.
	_, err := deploy(1, shas[1], false)
	if !errors.Is(err, ErrRollback) || !strings.Contains(err.Error(), "rollback") || !strings.Contains(err.Error(), shas[1]) || !strings.Contains(err.Error(), shas[2]) {
		t.Fatalf("old build: %v", err)
	}
	if head(t, dir, "main") != before {
		t.Fatal("refused rollback changed the remote")
	}
	if _, err := deploy(1, shas[1], true); err != nil {
		t.Fatalf("--allow-rollback: %v", err)
	}
	if !strings.Contains(log.String(), "rolling sample-app/production back") {
		t.Errorf("no rollback warning: %s", log.String())
	}
	// Forward again works; a commit the source repository does not know is
	// refused (exit 1 upstream) unless --allow-unknown-source.
	if _, err := deploy(3, shas[2], false); err != nil {
		t.Fatal(err)
	}
	before = head(t, dir, "main")
	if _, err := deploy(4, strings.Repeat("f", 40), false); !errors.Is(err, ErrUnknownSource) || !strings.Contains(err.Error(), "--allow-unknown-source") {
		t.Fatalf("unknown commit: %v", err)
	}
	if head(t, dir, "main") != before {
		t.Fatal("refused unknown source changed the remote")
	}
	log.Reset()
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(4), SourceCommit: strings.Repeat("f", 40), SourceRepo: src, AllowUnknownSource: true}); err != nil || !strings.Contains(log.String(), "--allow-unknown-source") {
		t.Fatalf("unknown commit with --allow-unknown-source: %v %s", err, log.String())
	}
	// A source repository that cannot be read is refused the same way.
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(6), SourceCommit: shas[0], SourceRepo: t.TempDir()}); !errors.Is(err, ErrUnknownSource) {
		t.Errorf("unreadable source repo: %v", err)
	}
	// Guard reads the environment's own last deploy, not another environment's.
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(5), SourceCommit: shas[0], SourceRepo: src}); err != nil {
		t.Errorf("staging has no newer deploy, got %v", err)
	}
}

func TestGuardFindsRecordBeyondShallowDepth(t *testing.T) {
	dir, r := localGitOps(t, "other")
	src, shas := sourceRepo(t, 2)
	d := &Deployer{Remote: r, HistoryDepth: 2}
	ctx := context.Background()
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[1], SourceRepo: src}); err != nil {
		t.Fatal(err)
	}
	// Push the staging record out of a depth-2 clone with other deploys.
	for i := 0; i < 5; i++ {
		if _, err := d.Deploy(ctx, Request{App: "other", Env: "development", Image: digest(100 + i), SourceCommit: shas[1]}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(2), SourceCommit: shas[0], SourceRepo: src})
	if !errors.Is(err, ErrRollback) {
		t.Fatalf("record 6 commits back with depth 2: %v", err)
	}
	_ = dir
}

// TestConcurrentDeploys: 16 pipelines at once, 8 deploying different apps
// and 8 deploying the same app and environment. Every one lands as its own
// commit; none is lost.
func TestConcurrentDeploys(t *testing.T) {
	apps := []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"}
	dir, r := localGitOps(t, apps...)
	_, shas := sourceRepo(t, 1)
	start := countCommits(t, dir)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	attempts := make([]int, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req := Request{Env: "development", Image: digest(1000 + i), SourceCommit: shas[0]}
			if i < 8 {
				req.App = apps[i]
			} else {
				req.App = "sample-app"
			}
			d := &Deployer{Remote: r}
			out, err := d.Deploy(context.Background(), req)
			errs[i] = err
			if out != nil {
				attempts[i] = out.Attempts
			}
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("deployer %d: %v", i, err)
		}
	}
	if got := countCommits(t, dir) - start; got != 16 {
		t.Errorf("%d new commits, want 16", got)
	}
	for i, app := range apps {
		if k := fileAt(t, dir, "main", app+"/overlays/development/kustomization.yaml"); !strings.Contains(k, digest(1000+i).Digest) {
			t.Errorf("%s lost its update:\n%s", app, k)
		}
	}
	recs, err := History(context.Background(), r, Filter{App: "sample-app", Env: "development"})
	if err != nil || len(recs) != 8 {
		t.Errorf("sample-app/development has %d deploy records, want 8 (%v)", len(recs), err)
	}
	final := fileAt(t, dir, "main", "sample-app/overlays/development/kustomization.yaml")
	if !strings.Contains(final, recs[0].Image[len(recs[0].Image)-71:]) {
		t.Errorf("the file does not hold the newest record's image %s:\n%s", recs[0].Image, final)
	}
	total := 0
	for _, a := range attempts {
		total += a
	}
	t.Logf("16 concurrent deploys: %d push attempts in all", total)
}
