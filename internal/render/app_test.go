package render_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/helm"
	"github.com/slipway-ci/slipway/internal/render"
)

func TestSameRepo(t *testing.T) {
	same := []string{"https://github.com/acme/gitops.git", "https://github.com/acme/gitops", "git@github.com:acme/gitops.git", "ssh://git@github.com/acme/gitops", "ssh://git@github.com:22/acme/gitops.git/", "HTTPS://GitHub.com/Acme/GitOps"}
	for _, a := range same {
		for _, b := range same {
			if !render.SameRepo(a, b) {
				t.Errorf("SameRepo(%q, %q) = false", a, b)
			}
		}
	}
	for _, b := range []string{"https://github.com/acme/config.git", "https://gitlab.com/acme/gitops.git", "git@github.com:other/gitops.git"} {
		if render.SameRepo(same[0], b) {
			t.Errorf("SameRepo(%q, %q) = true", same[0], b)
		}
	}
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const chartDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas | default 1 }}
  template:
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}{{ if .Values.image.digest }}@{{ .Values.image.digest }}{{ else }}:{{ .Values.image.tag }}{{ end }}"
`

// TestApplicationsRenderAsArgoCD: the Helm and kustomize settings of an
// Application are applied the way Argo CD applies them.
func TestApplicationsRenderAsArgoCD(t *testing.T) {
	d := func(c string) string { return "sha256:" + strings.Repeat(c, 64) }
	chart := map[string]string{
		"web/Chart.yaml":                "apiVersion: v2\nname: web\nversion: 1.0.0\n",
		"web/values.yaml":               "image:\n  repository: ghcr.io/acme/web\n  tag: \"1.0\"\n",
		"web/values-staging.yaml":       "image:\n  digest: " + d("1") + "\n",
		"web/templates/deployment.yaml": chartDeployment,
	}
	app := func(helmSection string) string {
		return "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-staging\nspec:\n  source:\n    repoURL: https://github.com/acme/gitops.git\n    path: web\n    helm:\n" + helmSection + "  destination:\n    namespace: web\n"
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		root  string
		opts  render.Options
		want  string
	}{
		{"valuesObject replaces values (not merged)", map[string]string{"apps/web.yaml": app("      values: |\n        image:\n          digest: " + d("2") + "\n      valuesObject:\n        image:\n          tag: \"3.0\"\n")},
			"apps/web.yaml", render.Options{}, "ghcr.io/acme/web:3.0"},
		{"values over valueFiles", map[string]string{"apps/web.yaml": app("      valueFiles: [values-staging.yaml]\n      values: |\n        image:\n          digest: " + d("2") + "\n")},
			"apps/web.yaml", render.Options{}, "ghcr.io/acme/web@" + d("2")},
		{"parameters over values", map[string]string{"apps/web.yaml": app("      valueFiles: [values-staging.yaml]\n      values: |\n        image:\n          digest: " + d("2") + "\n      parameters:\n      - name: image.digest\n        value: " + d("3") + "\n")},
			"apps/web.yaml", render.Options{}, "ghcr.io/acme/web@" + d("3")},
		{"an override file's parameters replace the Application's list", map[string]string{
			"apps/web.yaml":                       app("      parameters:\n      - name: image.digest\n        value: " + d("3") + "\n      - name: image.tag\n        value: \"9.9\"\n"),
			"web/.argocd-source-web-staging.yaml": "helm:\n  parameters:\n  - name: image.tag\n    value: \"4.0\"\n",
		}, "apps/web.yaml", render.Options{}, "ghcr.io/acme/web:4.0"},
		{"an override file for another Application is not applied", map[string]string{
			"apps/web.yaml":                    app("      valueFiles: [values-staging.yaml]\n"),
			"web/.argocd-source-web-prod.yaml": "helm:\n  parameters:\n  - name: image.digest\n    value: " + d("5") + "\n",
		}, "apps/web.yaml", render.Options{}, "ghcr.io/acme/web@" + d("1")},
		{"the values file rendered as the Application tracking it", map[string]string{"apps/web.yaml": app("      valueFiles: [values-staging.yaml]\n      parameters:\n      - name: image.digest\n        value: " + d("6") + "\n")},
			"web/values-staging.yaml", render.Options{}, "ghcr.io/acme/web@" + d("6") + " of Application web-staging (apps/web.yaml)"},
		{"an Application of another repository does not track the path", map[string]string{"apps/web.yaml": app("      valueFiles: [values-staging.yaml]\n      parameters:\n      - name: image.digest\n        value: " + d("6") + "\n")},
			"web/values-staging.yaml", render.Options{RepoURL: "https://github.com/acme/other.git"}, "ghcr.io/acme/web@" + d("1")},
		{"an Application of this repository, named by another URL form", map[string]string{"apps/web.yaml": app("      valueFiles: [values-staging.yaml]\n      parameters:\n      - name: image.digest\n        value: " + d("6") + "\n")},
			"web/values-staging.yaml", render.Options{RepoURL: "git@github.com:acme/gitops.git"}, "ghcr.io/acme/web@" + d("6") + " of Application web-staging (apps/web.yaml)"},
		{"a multi-source Application's $ref values file", map[string]string{
			"apps/web.yaml":         "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-staging\nspec:\n  sources:\n  - repoURL: https://github.com/acme/gitops.git\n    path: web\n    helm:\n      valueFiles: [$values/envs/staging/web.yaml]\n  - repoURL: https://github.com/acme/gitops.git\n    ref: values\n",
			"envs/staging/web.yaml": "image:\n  digest: " + d("7") + "\n",
		}, "envs/staging/web.yaml", render.Options{}, "ghcr.io/acme/web@" + d("7")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range chart {
				files[k] = v
			}
			for k, v := range tc.files {
				files[k] = v
			}
			fsys := os.DirFS(writeTree(t, files))
			opts := tc.opts
			opts.Charts = helm.Render
			apps, err := render.FindApplications(context.Background(), fsys)
			if err != nil {
				t.Fatal(err)
			}
			opts.Applications = apps
			root := tc.root
			if strings.HasPrefix(root, "envs/") {
				root = "apps/web.yaml" // a values file outside the chart renders through its Application
			}
			r, err := render.Render(context.Background(), fsys, root, opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range r.Containers {
				s := c.Image
				if c.Via != "" {
					s += " of " + c.Via
				}
				got = append(got, s)
			}
			if strings.Join(got, "; ") != tc.want {
				t.Errorf("renders %q\nwant     %q (opaque %+v)", strings.Join(got, "; "), tc.want, r.Opaque)
			}
		})
	}
}

// TestFindApplicationsSkipsBigFilesAndTemplates: the search for
// Applications reads small YAML files only, never a chart's templates.
func TestFindApplicationsSkipsBigFilesAndTemplates(t *testing.T) {
	a := "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: x\nspec:\n  source:\n    path: x\n"
	fsys := os.DirFS(writeTree(t, map[string]string{
		"apps/x.yaml":              a,
		"apps/multi.yaml":          "---\n" + a + "---\n" + strings.Replace(a, "name: x", "name: y", 1),
		"big/huge.yaml":            a + "# " + strings.Repeat("x", 2<<20) + "\n",
		"chart/Chart.yaml":         "name: chart\n",
		"chart/templates/app.yaml": "{{ if .Values.x }}\n" + a + "{{ end }}\n",
		"notes/README.md":          a,
	}))
	apps, err := render.FindApplications(context.Background(), fsys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range apps {
		got = append(got, x.File+":"+x.Name)
	}
	if strings.Join(got, ",") != "apps/multi.yaml:x,apps/multi.yaml:y,apps/x.yaml:x" {
		t.Errorf("found %v", got)
	}
}
