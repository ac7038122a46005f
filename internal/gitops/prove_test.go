package gitops

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/helm"
)

// fixtureRemote makes a bare repository holding one fixture repository
// from ../render/testdata/repos (the layouts of Argo CD's and Flux's
// examples), with extra files laid over it.
func fixtureRemote(t testing.TB, name string, extra map[string]string) (string, *Remote) {
	t.Helper()
	wt := filepath.Join(t.TempDir(), "wt")
	if out, err := exec.Command("cp", "-r", filepath.Join("../render/testdata/repos", name), wt).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	for p, c := range extra {
		os.MkdirAll(filepath.Dir(filepath.Join(wt, p)), 0o755)
		if err := os.WriteFile(filepath.Join(wt, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bare := filepath.Join(t.TempDir(), name+".git")
	gitCLI(t, wt, "init", "-q", "-b", "main")
	gitCLI(t, wt, "add", "-A")
	gitCLI(t, wt, "commit", "-qm", "fixture "+name)
	gitCLI(t, filepath.Dir(bare), "clone", "-q", "--bare", wt, bare)
	r, err := NewRemote(bare, "main", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	return bare, r
}

const fixtureSource = "cccccccccccccccccccccccccccccccccccccccc"

func imgN(repo string, n int) Image {
	return Image{Repo: repo, Digest: digest(n).Digest}
}

// TestDeployRefusesEditsThatRenderNoChange: every edit that would not change
// what the cluster runs is refused with one line naming the file and what
// wins instead, and the remote is left exactly as it was.
func TestDeployRefusesEditsThatRenderNoChange(t *testing.T) {
	for _, tc := range []struct {
		name, repo, layout string
		extra              map[string]string
		req                Request
		want               []string
	}{
		{
			// (Deploying ghcr.io/acme/twoimg edits the second, the exact
			// repository, which renders: TestDeployNeverGivesAVendorSidecarTheAppsImage.)
			name: "two entries for one app: the one named as the app shadows nothing, the other wins",
			repo: "shadow", req: Request{App: "twoimg", Env: "staging", Image: imgN("reg.example.com/acme/twoimg", 1)},
			want: []string{"twoimg/overlays/staging/kustomization.yaml: refusing deploy: the edit renders no change", "ghcr.io/acme/twoimg:1.0", "Deployment/twoimg container twoimg", "images[name=ghcr.io/acme/twoimg] in twoimg/overlays/staging/kustomization.yaml"},
		},
		{
			name: "an overlay overrides the base's entry",
			repo: "override", req: Request{App: "app", Env: "staging", Image: imgN("ghcr.io/acme/app", 2), Path: "app/base/kustomization.yaml"},
			want: []string{"app/base/kustomization.yaml: refusing deploy: the edit renders no change", "ghcr.io/acme/app:2.0", "images[name=ghcr.io/acme/app] in app/overlays/staging/kustomization.yaml"},
		},
		{
			name: "Flux apps/staging: images: does not reach a HelmRelease",
			repo: "flux", layout: "apps/{env}/kustomization.yaml",
			extra: map[string]string{"apps/staging/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: podinfo\nresources:\n  - ../base/podinfo\npatches:\n  - path: podinfo-values.yaml\n    target:\n      kind: HelmRelease\nimages:\n  - name: ghcr.io/stefanprodan/podinfo\n    newTag: 6.7.0\n"},
			req:   Request{App: "podinfo", Env: "staging", Image: imgN("ghcr.io/stefanprodan/podinfo", 3)},
			want:  []string{"apps/staging/kustomization.yaml: refusing deploy: the edit renders no change", "no workload of podinfo", "HelmRelease podinfo/podinfo (its chart podinfo comes from HelmRepository podinfo"},
		},
		{
			name: "a HelmRelease's values that the environment's patch overrides",
			repo: "flux", layout: "apps/{env}/kustomization.yaml",
			req:  Request{App: "web", Env: "production", Image: imgN("ghcr.io/acme/web", 5), Path: "apps/base/web/release.yaml"},
			want: []string{"apps/base/web/release.yaml: refusing deploy: the edit renders no change", "kustomize build apps/production still runs ghcr.io/acme/web@sha256:4444", "Deployment/web container web", "(set in apps/production/web-values.yaml)"},
		},
		{
			name: "a manifest the directory's kustomization does not build",
			repo: "override", extra: map[string]string{"app/base/unused.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/acme/app:1.0\n"},
			req:  Request{App: "app", Env: "prod", Image: imgN("ghcr.io/acme/app", 4), Path: "app/base/unused.yaml"},
			want: []string{"app/base/unused.yaml: refusing deploy: the edit renders no change", "kustomize build app/base still runs ghcr.io/acme/app@sha256:6666"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, r := fixtureRemote(t, tc.repo, tc.extra)
			before := head(t, dir, "main")
			d := &Deployer{Remote: r, Layout: tc.layout, Charts: helm.Render}
			req := tc.req
			req.SourceCommit = fixtureSource
			_, err := d.Deploy(context.Background(), req)
			if !errors.Is(err, ErrNoEffect) {
				t.Fatalf("deploy: %v, want ErrNoEffect", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("not one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\nlacks %q", msg, w)
				}
			}
			if after := head(t, dir, "main"); after != before {
				t.Errorf("the remote moved: %s -> %s", before, after)
			}
		})
	}
}

// TestDeployProvesTheRenderedImage: deploys that do change what runs
// commit, and the outcome shows each workload's rendered before -> after.
func TestDeployProvesTheRenderedImage(t *testing.T) {
	for _, tc := range []struct {
		name, repo, layout string
		req                Request
		workloads          []string
	}{
		{
			name: "Argo CD kustomize overlay", repo: "argocd", layout: "kustomize-guestbook/overlays/{env}/kustomization.yaml",
			req:       Request{App: "guestbook-ui", Env: "staging", Image: imgN("ghcr.io/acme/guestbook-ui", 7)},
			workloads: []string{"Deployment/kustomize-guestbook-ui container guestbook-ui: ghcr.io/acme/guestbook-ui@sha256:1111111111111111111111111111111111111111111111111111111111111111 -> " + imgN("ghcr.io/acme/guestbook-ui", 7).String()},
		},
		{
			name: "a plain manifest", repo: "flux", req: Request{App: "plain", Env: "staging", Image: imgN("ghcr.io/acme/plain", 8), Path: "plain/deploy.yaml"},
			workloads: []string{"Deployment/plain container plain: ghcr.io/acme/plain:1 -> " + imgN("ghcr.io/acme/plain", 8).String()},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := map[string]string{"plain/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: plain\nspec:\n  template:\n    spec:\n      containers:\n        - name: plain\n          image: ghcr.io/acme/plain:1\n"}
			dir, r := fixtureRemote(t, tc.repo, extra)
			d := &Deployer{Remote: r, Layout: tc.layout, Charts: helm.Render}
			req := tc.req
			req.SourceCommit = fixtureSource
			req.DryRun = true
			before := head(t, dir, "main")
			out, err := d.Deploy(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if !out.DryRun || out.Commit != "" || head(t, dir, "main") != before {
				t.Fatalf("dry run committed: %+v", out)
			}
			var got []string
			for _, w := range out.Rendered.Workloads {
				got = append(got, w.Workload+": "+w.Before+" -> "+w.After)
			}
			if strings.Join(got, "\n") != strings.Join(tc.workloads, "\n") || out.Rendered.Unproven != "" {
				t.Errorf("rendered %q (unproven %q), want %q", got, out.Rendered.Unproven, tc.workloads)
			}
			req.DryRun = false
			out, err = d.Deploy(context.Background(), req)
			if err != nil || out.Commit == "" || head(t, dir, "main") != out.Commit {
				t.Fatalf("deploy: %+v %v", out, err)
			}
		})
	}
}
