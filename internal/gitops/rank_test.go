package gitops

import (
	"context"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/helm"
)

// TestDeployNeverGivesAVendorSidecarTheAppsImage (finding 4, fixture v4): a
// vendor image sharing the app's last path segment is listed first; the
// explicit --image-name, and without it the entry whose repository is the
// one deployed, is edited, and the render proof looks at the app's
// container only.
func TestDeployNeverGivesAVendorSidecarTheAppsImage(t *testing.T) {
	dep := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: server\n          image: ghcr.io/acme/web-server:1.0\n        - name: ui\n          image: docker.io/vendor/web:1.5\n"
	overlay := "resources:\n  - ../../base\nimages:\n  - name: docker.io/vendor/web\n    newTag: \"2.0\"\n  - name: ghcr.io/acme/web-server\n    newTag: \"1.0\"\n"
	extra := map[string]string{
		"web/base/deployment.yaml":                   dep,
		"web/base/kustomization.yaml":                "resources:\n  - deployment.yaml\n",
		"web/overlays/staging/kustomization.yaml":    overlay,
		"web/overlays/production/kustomization.yaml": "resources:\n  - ../../base\nimages:\n  - name: docker.io/vendor/web\n    newTag: \"2.0\"\n  - name: ghcr.io/acme/web-server\n    newName: reg.example.com/acme/web\n    newTag: \"1.0\"\n",
	}
	dir, r := fixtureRemote(t, "override", extra)
	d := &Deployer{Remote: r, Charts: helm.Render}
	img := imgN("reg.example.com/acme/web", 1)
	out, err := d.Deploy(context.Background(), Request{App: "web", Env: "staging", Image: img, ImageName: "ghcr.io/acme/web-server", SourceCommit: fixtureSource})
	if err != nil {
		t.Fatal(err)
	}
	got := fileAt(t, dir, "main", "web/overlays/staging/kustomization.yaml")
	want := "resources:\n  - ../../base\nimages:\n  - name: docker.io/vendor/web\n    newTag: \"2.0\"\n  - name: ghcr.io/acme/web-server\n    newName: reg.example.com/acme/web\n    digest: " + img.Digest + "\n"
	if got != want {
		t.Fatalf("staging:\n%s\nwant\n%s", got, want)
	}
	if len(out.Rendered.Workloads) != 1 || !strings.Contains(out.Rendered.Workloads[0].Workload, "server") {
		t.Errorf("rendered %+v", out.Rendered.Workloads)
	}
	// v3: no --image-name, an exact newName entry after the vendor one.
	if _, err := d.Deploy(context.Background(), Request{App: "web", Env: "production", Image: img, SourceCommit: fixtureSource}); err != nil {
		t.Fatal(err)
	}
	if got := fileAt(t, dir, "main", "web/overlays/production/kustomization.yaml"); !strings.Contains(got, "- name: docker.io/vendor/web\n    newTag: \"2.0\"\n") || !strings.Contains(got, "digest: "+img.Digest) {
		t.Fatalf("production:\n%s", got)
	}
}
