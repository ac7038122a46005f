package gitops

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/helm"
)

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// deployWithin runs a deploy and fails the test if it does not return
// within limit (a generous bound: the render must never wait on a server).
func deployWithin(t *testing.T, ctx context.Context, d *Deployer, req Request, limit time.Duration) (*Outcome, error) {
	t.Helper()
	type res struct {
		out *Outcome
		err error
	}
	ch := make(chan res, 1)
	go func() {
		out, err := d.Deploy(ctx, req)
		ch <- res{out, err}
	}()
	select {
	case r := <-ch:
		return r.out, r.err
	case <-time.After(limit):
		t.Fatalf("deploy still running after %s", limit)
		return nil, nil
	}
}

// TestDeployNeverWaitsOnARemoteResource: an overlay naming a remote
// resource (a server that accepts and never answers, a git base) is not
// fetched: the deploy warns `not proven by a render` and goes on.
func TestDeployNeverWaitsOnARemoteResource(t *testing.T) {
	addr := silentServer(t)
	for _, remote := range []string{
		"http://" + addr + "/remote.yaml",
		"https://" + addr + "/remote.yaml",
		"github.com/acme/platform//base?ref=v1",
		"git@" + addr + ":acme/platform.git//base",
	} {
		t.Run(remote, func(t *testing.T) {
			overlay := "resources:\n  - ../../base\n  - " + remote + "\nimages:\n  - name: ghcr.io/acme/app\n    newTag: \"2.0\"\n"
			dir, r := fixtureRemote(t, "override", map[string]string{"app/overlays/remote/kustomization.yaml": overlay})
			before := head(t, dir, "main")
			d := &Deployer{Remote: r, Charts: helm.Render}
			req := Request{App: "app", Env: "remote", Image: imgN("ghcr.io/acme/app", 2), SourceCommit: fixtureSource}
			out, err := deployWithin(t, context.Background(), d, req, 60*time.Second)
			if err != nil {
				t.Fatalf("deploy: %v", err)
			}
			if out.Rendered == nil || !strings.Contains(out.Rendered.Unproven, "remote resource is not fetched") || !strings.Contains(out.Rendered.Unproven, remote) {
				t.Errorf("unproven = %+v, want the remote resource named", out.Rendered)
			}
			if head(t, dir, "main") == before {
				t.Error("nothing was committed")
			}
		})
	}
}

// TestDeployCancelledWhileRenderingPushesNothing: a cancelled context
// (Ctrl-C, SIGTERM) returns promptly with the context's error, remote untouched.
func TestDeployCancelledWhileRenderingPushesNothing(t *testing.T) {
	dir, r := fixtureRemote(t, "override", nil)
	before := head(t, dir, "main")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := &Deployer{Remote: r, Charts: helm.Render}
	req := Request{App: "app", Env: "staging", Image: imgN("ghcr.io/acme/app", 2), SourceCommit: fixtureSource}
	_, err := deployWithin(t, ctx, d, req, 30*time.Second)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("deploy: %v, want context.Canceled", err)
	}
	if head(t, dir, "main") != before {
		t.Error("the remote moved")
	}
}

// TestDeployRendersYAMLDirectives: a manifest starting with `%YAML 1.2`
// renders (the proof holds) and its bytes are not changed.
func TestDeployRendersYAMLDirectives(t *testing.T) {
	dep := "%YAML 1.2\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/acme/app:1.0\n"
	dir, r := fixtureRemote(t, "override", map[string]string{"app/base/deployment.yaml": dep})
	d := &Deployer{Remote: r, Charts: helm.Render}
	req := Request{App: "app", Env: "staging", Image: imgN("ghcr.io/acme/app", 2), SourceCommit: fixtureSource}
	out, err := d.Deploy(context.Background(), req)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if out.Rendered == nil || out.Rendered.Unproven != "" || len(out.Rendered.Workloads) != 1 ||
		out.Rendered.Workloads[0].After != imgN("ghcr.io/acme/app", 2).String() {
		t.Errorf("rendered = %+v, want the digest proven", out.Rendered)
	}
	if got := fileAt(t, dir, "main", "app/base/deployment.yaml"); got != dep {
		t.Errorf("the manifest changed:\n%s", got)
	}
}

// TestDeployAppliesArgoCDOverrides: Argo CD's .argocd-source files in the
// rendered directory are applied as Argo CD applies them (`kustomize edit
// set image`: the whole entry replaced); an override that wins over the
// edit is refused naming the file, remote untouched.
func TestDeployAppliesArgoCDOverrides(t *testing.T) {
	for _, f := range []string{".argocd-source-app-staging.yaml", ".argocd-source.yaml"} {
		t.Run(f, func(t *testing.T) {
			file := "app/overlays/staging/" + f
			dir, r := fixtureRemote(t, "override", map[string]string{file: "kustomize:\n  images:\n    - ghcr.io/acme/app:2.0\n"})
			before := head(t, dir, "main")
			d := &Deployer{Remote: r, Charts: helm.Render}
			req := Request{App: "app", Env: "staging", Image: imgN("ghcr.io/acme/app", 2), SourceCommit: fixtureSource}
			_, err := d.Deploy(context.Background(), req)
			if !errors.Is(err, ErrNoEffect) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "ghcr.io/acme/app:2.0") {
				t.Fatalf("deploy: %v, want ErrNoEffect naming %s", err, file)
			}
			if head(t, dir, "main") != before {
				t.Error("the remote moved")
			}
		})
	}
	// An override for another image does not stop the deploy.
	dir, r := fixtureRemote(t, "override", map[string]string{"app/overlays/staging/.argocd-source.yaml": "kustomize:\n  images:\n    - ghcr.io/acme/other:2.0\n"})
	before := head(t, dir, "main")
	d := &Deployer{Remote: r, Charts: helm.Render}
	if _, err := d.Deploy(context.Background(), Request{App: "app", Env: "staging", Image: imgN("ghcr.io/acme/app", 2), SourceCommit: fixtureSource}); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if head(t, dir, "main") == before {
		t.Error("nothing committed")
	}
}

// TestDeployRefusesWhatKustomizeRejects (issue 18, finding 5): an
// environment kustomize itself rejects (an unknown field, a resource that
// does not exist) is refused, naming the file and kustomize's error — the
// controller fails on it too — and nothing is pushed; only what cannot be
// rendered here (the remote resources above) is "not proven".
func TestDeployRefusesWhatKustomizeRejects(t *testing.T) {
	for name, overlay := range map[string]string{
		"unknown field":    "x-img: &img ghcr.io/acme/app\nresources:\n  - ../../base\nimages:\n  - name: *img\n    newTag: \"2.0\"\n",
		"missing resource": "resources:\n  - ../../base\n  - missing.yaml\nimages:\n  - name: ghcr.io/acme/app\n    newTag: \"2.0\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir, r := fixtureRemote(t, "override", map[string]string{"app/overlays/bad/kustomization.yaml": overlay})
			before := head(t, dir, "main")
			d := &Deployer{Remote: r, Charts: helm.Render}
			_, err := d.Deploy(context.Background(), Request{App: "app", Env: "bad", Image: imgN("ghcr.io/acme/app", 2), SourceCommit: fixtureSource})
			if !errors.Is(err, ErrDoesNotBuild) || !strings.Contains(err.Error(), "app/overlays/bad/kustomization.yaml") || !strings.Contains(err.Error(), "kustomize build app/overlays/bad") {
				t.Errorf("deploy: %v, want refused naming the file and kustomize's error", err)
			}
			if head(t, dir, "main") != before {
				t.Error("the branch moved")
			}
		})
	}
}
