package gitops

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// render builds a kustomization with the kustomize Go API, as Argo CD does,
// and returns the Deployment's container images.
func renderDir(t *testing.T, dir string) []string {
	t.Helper()
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var images []string
	for _, res := range resMap.Resources() {
		if res.GetKind() != "Deployment" {
			continue
		}
		m, err := res.Map()
		if err != nil {
			t.Fatal(err)
		}
		spec := m["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
		for _, c := range spec["containers"].([]any) {
			images = append(images, c.(map[string]any)["image"].(string))
		}
	}
	return images
}

func TestSampleOverlaysRender(t *testing.T) {
	for _, env := range []string{"development", "staging", "production"} {
		images := renderDir(t, filepath.Join("../../sample-app/deploy/overlays", env))
		if len(images) != 1 || images[0] != "registry.example.com/slipway/sample-app@sha256:0000000000000000000000000000000000000000000000000000000000000000" {
			t.Errorf("%s renders %v", env, images)
		}
	}
}

// TestDeployedOverlaysRenderTheDigest: what Argo CD would run after a deploy
// and a promotion is exactly image@digest.
func TestDeployedOverlaysRenderTheDigest(t *testing.T) {
	dir, r := localGitOps(t)
	_, shas := sourceRepo(t, 1)
	d := &Deployer{Remote: r}
	ctx := context.Background()
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "development", Image: digest(77), SourceCommit: shas[0]}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Promote(ctx, Promotion{App: "sample-app", From: "development", To: "staging"}); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "checkout")
	if out, err := exec.Command("git", "clone", "-q", dir, work).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	for env, want := range map[string]string{
		"development": digest(77).String(),
		"staging":     digest(77).String(),
		"production":  "registry.example.com/slipway/sample-app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
	} {
		images := renderDir(t, filepath.Join(work, "sample-app/overlays", env))
		if len(images) != 1 || images[0] != want {
			t.Errorf("%s renders %v, want %s", env, images, want)
		}
	}
}
