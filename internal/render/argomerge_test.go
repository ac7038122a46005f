package render_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/render"
)

// TestApplicationOverridesModel checks every combination of where Argo CD
// can set a kustomization's images — the Application's
// spec.source.kustomize.images, .argocd-source.yaml, and
// .argocd-source-<app>.yaml, each absent, empty, setting the app's image
// or another — against a model of Argo CD: the override files are JSON
// merge patches over the source in that order (a list replaces the list
// whole), then each image of the resulting list is `kustomize edit set
// image` (the app's entry replaced whole).
func TestApplicationOverridesModel(t *testing.T) {
	digest := "sha256:" + strings.Repeat("d", 64)
	base := map[string]string{
		"web/base/deployment.yaml":                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/web:0.1\n        - name: side\n          image: ghcr.io/acme/side:0.1\n",
		"web/base/kustomization.yaml":             "resources:\n  - deployment.yaml\n",
		"web/overlays/staging/kustomization.yaml": "resources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/web\n    newName: reg.example.com/acme/web\n    digest: " + digest + "\n",
	}
	// nil: absent; []: empty list; else the list.
	choices := [][]string{nil, {}, {"ghcr.io/acme/web:2.0"}, {"ghcr.io/acme/side:9.0"}, {"ghcr.io/acme/side:9.0", "ghcr.io/acme/web=reg.example.com/acme/web:3.0"}}
	yamlList := func(indent string, l []string) string {
		if len(l) == 0 {
			return " []\n"
		}
		s := "\n"
		for _, x := range l {
			s += indent + "- " + x + "\n"
		}
		return s
	}
	n := 0
	for _, inApp := range choices {
		for _, inAll := range choices {
			for _, inNamed := range choices {
				n++
				files := map[string]string{}
				for k, v := range base {
					files[k] = v
				}
				kust := ""
				if inApp != nil {
					kust = "    kustomize:\n      images:" + yamlList("      ", inApp)
				}
				files["argocd/web-staging.yaml"] = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-staging\nspec:\n  source:\n    repoURL: https://github.com/acme/gitops.git\n    path: web/overlays/staging\n" + kust + "  destination:\n    namespace: web\n"
				if inAll != nil {
					files["web/overlays/staging/.argocd-source.yaml"] = "kustomize:\n  images:" + yamlList("  ", inAll)
				}
				if inNamed != nil {
					files["web/overlays/staging/.argocd-source-web-staging.yaml"] = "kustomize:\n  images:" + yamlList("  ", inNamed)
				}
				// The model.
				eff := inApp
				if inAll != nil {
					eff = inAll
				}
				if inNamed != nil {
					eff = inNamed
				}
				want := map[string]string{"web": "reg.example.com/acme/web@" + digest, "side": "ghcr.io/acme/side:0.1"}
				for _, img := range eff {
					name, ref, renamed := strings.Cut(img, "=")
					if !renamed {
						ref = img
						name = ref[:strings.LastIndex(ref, ":")]
					}
					switch name {
					case "ghcr.io/acme/web":
						want["web"] = ref // the whole entry replaced: no digest left
					case "ghcr.io/acme/side":
						want["side"] = ref
					}
				}
				fsys := os.DirFS(writeTree(t, files))
				apps, err := render.FindApplications(context.Background(), fsys)
				if err != nil {
					t.Fatal(err)
				}
				r, err := render.Render(context.Background(), fsys, "web/overlays/staging/kustomization.yaml", render.Options{Applications: apps})
				if err != nil {
					t.Fatalf("app %v, all %v, named %v: %v", inApp, inAll, inNamed, err)
				}
				got := map[string]string{}
				for _, c := range r.Containers {
					got[c.Container] = c.Image
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("app %q, .argocd-source.yaml %q, .argocd-source-web-staging.yaml %q:\n got %v\nwant %v", inApp, inAll, inNamed, got, want)
				}
			}
		}
	}
	if n != 125 {
		t.Fatalf("%d combinations", n)
	}
}
