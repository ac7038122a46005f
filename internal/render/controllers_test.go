package render_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/helm"
	"github.com/slipway-ci/slipway/internal/render"
)

// TestControllerOverrides: every object that tells a controller how to
// render the deployed path (an ApplicationSet's list generator, a Flux
// Kustomization's images and patches, a HelmRelease's values) is applied by
// the render and named as the override that sets what runs; what cannot be
// expanded here (other generators, postBuild, valuesFrom) is not proven.
// The shapes are the adversarial pass's fixture rt (issue 18).
func TestControllerOverrides(t *testing.T) {
	const dig1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	base := map[string]string{
		"web/base/deployment.yaml":    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: ghcr.io/acme/web:1.0\n",
		"web/base/kustomization.yaml": "resources:\n- deployment.yaml\n",
	}
	for _, env := range []string{"staging", "prod"} {
		base["web/overlays/"+env+"/kustomization.yaml"] = "resources:\n- ../../base\nimages:\n- name: ghcr.io/acme/web\n  newName: 127.0.0.1:23799/acme/web\n  digest: " + dig1 + "\n"
	}
	appset := func(gen string) string {
		return "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: web\nspec:\n  generators:\n" + gen +
			"  template:\n    metadata:\n      name: 'web-{{env}}'\n    spec:\n      source:\n        repoURL: https://example.com/gitops.git\n        targetRevision: HEAD\n        path: 'web/overlays/{{env}}'\n        kustomize:\n          images:\n          - ghcr.io/acme/web:1.0\n      destination:\n        namespace: web\n"
	}
	flux := func(extra string) string {
		return "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: web\n  namespace: flux-system\nspec:\n  path: ./web/overlays/staging\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n" + extra
	}
	for _, tc := range []struct {
		name, file, content, root string
		want                      string // image of the container, and the override naming the file
		unproven                  string // or: what the render says it cannot render
	}{
		{"ApplicationSet list generator", "argocd/appset.yaml", appset("  - list:\n      elements:\n      - env: prod\n"), "web/overlays/prod/kustomization.yaml",
			"ghcr.io/acme/web:1.0 of Application web-prod (ApplicationSet web, argocd/appset.yaml) | spec.template.spec.source.kustomize.images ghcr.io/acme/web:1.0 in argocd/appset.yaml", ""},
		{"ApplicationSet list generator, another env untouched", "argocd/appset.yaml", appset("  - list:\n      elements:\n      - env: prod\n"), "web/overlays/staging/kustomization.yaml",
			"127.0.0.1:23799/acme/web@" + dig1 + " | ", ""},
		{"ApplicationSet git generator", "argocd/appset.yaml", appset("  - git:\n      repoURL: https://example.com/gitops.git\n      directories:\n      - path: web/overlays/*\n"), "web/overlays/prod/kustomization.yaml",
			"", "git generator"},
		{"Flux Kustomization spec.images", "clusters/staging/web.yaml", flux("  images:\n  - name: ghcr.io/acme/web\n    newTag: \"1.0\"\n"), "web/overlays/staging/kustomization.yaml",
			"ghcr.io/acme/web:1.0 of Flux Kustomization web (clusters/staging/web.yaml) | spec.images ghcr.io/acme/web:1.0 in clusters/staging/web.yaml", ""},
		{"Flux Kustomization spec.patches", "clusters/staging/web.yaml", flux("  patches:\n  - target:\n      kind: Deployment\n    patch: |\n      - op: replace\n        path: /spec/template/spec/containers/0/image\n        value: ghcr.io/acme/web-canary:0.9\n"), "web/overlays/staging/kustomization.yaml",
			"ghcr.io/acme/web-canary:0.9 of Flux Kustomization web (clusters/staging/web.yaml) | ", ""},
		{"Flux Kustomization postBuild", "clusters/staging/web.yaml", flux("  postBuild:\n    substitute:\n      tag: \"1.0\"\n"), "web/overlays/staging/kustomization.yaml",
			"", "spec.postBuild"},
		{"Flux Kustomization of another path", "clusters/staging/web.yaml", flux("  images:\n  - name: ghcr.io/acme/web\n    newTag: \"1.0\"\n"), "web/overlays/prod/kustomization.yaml",
			"127.0.0.1:23799/acme/web@" + dig1 + " | ", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{tc.file: tc.content}
			for k, v := range base {
				files[k] = v
			}
			fsys := os.DirFS(writeTree(t, files))
			apps, err := render.FindApplications(context.Background(), fsys)
			if err != nil {
				t.Fatal(err)
			}
			r, err := render.Render(context.Background(), fsys, tc.root, render.Options{Charts: helm.Render, Applications: apps})
			if err != nil {
				t.Fatal(err)
			}
			if tc.unproven != "" {
				if len(r.Opaque) == 0 || !strings.Contains(r.Opaque[0].Reason, tc.unproven) || len(r.Containers) > 0 {
					t.Errorf("renders %+v, opaque %+v; want not proven (%s)", r.Containers, r.Opaque, tc.unproven)
				}
				return
			}
			var got []string
			for _, c := range r.Containers {
				s := c.Image
				if c.Via != "" {
					s += " of " + c.Via
				}
				got = append(got, s)
			}
			var ovs []string
			for _, o := range r.Overrides {
				ovs = append(ovs, o.String())
			}
			if g := strings.Join(got, "; ") + " | " + strings.Join(ovs, "; "); g != tc.want {
				t.Errorf("renders %q\nwant     %q (opaque %+v)", g, tc.want, r.Opaque)
			}
		})
	}
}

// TestHelmReleaseValues: a Flux HelmRelease's values over a chart of the
// repository are what runs when its values.yaml is deployed to.
func TestHelmReleaseValues(t *testing.T) {
	files := map[string]string{
		"charts/web/Chart.yaml":                "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"charts/web/values.yaml":               "image:\n  repository: ghcr.io/acme/web\n  tag: \"2.0\"\n",
		"charts/web/templates/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n",
		"clusters/prod/web.yaml":               "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: web\n  namespace: web\nspec:\n  chart:\n    spec:\n      chart: ./charts/web\n      sourceRef:\n        kind: GitRepository\n        name: flux-system\n  values:\n    image:\n      tag: \"1.0\"\n",
	}
	fsys := os.DirFS(writeTree(t, files))
	apps, err := render.FindApplications(context.Background(), fsys)
	if err != nil {
		t.Fatal(err)
	}
	r, err := render.Render(context.Background(), fsys, "charts/web/values.yaml", render.Options{Charts: helm.Render, Applications: apps})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Containers) != 1 || r.Containers[0].Image != "ghcr.io/acme/web:1.0" || len(r.Overrides) == 0 || r.Overrides[0].File != "clusters/prod/web.yaml" || r.Overrides[0].Field != "spec.values" {
		t.Errorf("renders %+v overrides %+v; want ghcr.io/acme/web:1.0 set by spec.values in clusters/prod/web.yaml", r.Containers, r.Overrides)
	}
}
