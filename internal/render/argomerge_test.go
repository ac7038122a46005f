package render_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/helm"
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

// TestApplicationHelmModel checks every combination of where an Argo CD
// Application sets a chart's image digest — a values file, values,
// valuesObject, parameters, and the .argocd-source-<app>.yaml parameters —
// against Argo CD's order: values.yaml, valueFiles, then valuesObject if
// set else values (valuesObject replaces values), then parameters, the
// override file's parameters list replacing the Application's whole.
func TestApplicationHelmModel(t *testing.T) {
	d := func(c string) string { return "sha256:" + strings.Repeat(c, 64) }
	chart := map[string]string{
		"web/Chart.yaml":                "apiVersion: v2\nname: web\nversion: 1.0.0\n",
		"web/values.yaml":               "image:\n  repository: ghcr.io/acme/web\n  digest: " + d("0") + "\n",
		"web/values-staging.yaml":       "image:\n  digest: " + d("1") + "\n",
		"web/templates/deployment.yaml": chartDeployment,
	}
	n := 0
	for _, valueFile := range []bool{false, true} {
		for _, values := range []string{"", d("2")} {
			for _, valuesObject := range []string{"", "none", d("3")} { // none: a valuesObject without the image
				for _, param := range []string{"", d("4")} {
					for _, override := range []string{"", "empty", d("5")} {
						n++
						h := ""
						if valueFile {
							h += "      valueFiles: [values-staging.yaml]\n"
						}
						if values != "" {
							h += "      values: |\n        image:\n          digest: " + values + "\n"
						}
						switch valuesObject {
						case "none":
							h += "      valuesObject:\n        replicas: 2\n"
						case "":
						default:
							h += "      valuesObject:\n        image:\n          digest: " + valuesObject + "\n"
						}
						if param != "" {
							h += "      parameters:\n      - name: image.digest\n        value: " + param + "\n"
						}
						if h == "" {
							h = "      releaseName: web-staging\n"
						}
						files := map[string]string{}
						for k, v := range chart {
							files[k] = v
						}
						files["apps/web.yaml"] = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-staging\nspec:\n  source:\n    repoURL: https://github.com/acme/gitops.git\n    path: web\n    helm:\n" + h + "  destination:\n    namespace: web\n"
						switch override {
						case "empty":
							files["web/.argocd-source-web-staging.yaml"] = "helm:\n  parameters: []\n"
						case "":
						default:
							files["web/.argocd-source-web-staging.yaml"] = "helm:\n  parameters:\n  - name: image.digest\n    value: " + override + "\n    forcestring: true\n"
						}
						want := d("0")
						if valueFile {
							want = d("1")
						}
						switch {
						case valuesObject == d("3"):
							want = valuesObject
						case valuesObject == "none":
						case values != "":
							want = values
						}
						switch {
						case override == d("5"):
							want = override
						case override == "empty":
						case param != "":
							want = param
						}
						fsys := os.DirFS(writeTree(t, files))
						apps, err := render.FindApplications(context.Background(), fsys)
						if err != nil {
							t.Fatal(err)
						}
						r, err := render.Render(context.Background(), fsys, "web", render.Options{Applications: apps, Charts: helm.Render})
						if err != nil {
							t.Fatalf("%s: %v", files["apps/web.yaml"], err)
						}
						if len(r.Containers) != 1 || r.Containers[0].Image != "ghcr.io/acme/web@"+want {
							t.Errorf("valueFile %v values %v valuesObject %q param %v override %q: got %+v (opaque %+v), want digest %s", valueFile, values != "", valuesObject, param != "", override, r.Containers, r.Opaque, want[:12])
						}
					}
				}
			}
		}
	}
	if n != 72 {
		t.Fatalf("%d combinations", n)
	}
}
