package render_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/helm"
	"github.com/slipway-ci/slipway/internal/render"
)

func images(r *render.Result) string {
	var out []string
	for _, c := range r.Containers {
		out = append(out, c.ID()+"="+c.Image)
	}
	for _, o := range r.Opaque {
		out = append(out, "opaque "+o.ID)
	}
	return strings.Join(out, "; ")
}

// TestRenderFixtures renders the fixture repositories (the layouts of Argo
// CD's and Flux's public examples) with the real kustomize and Helm libraries.
func TestRenderFixtures(t *testing.T) {
	for _, tc := range []struct {
		repo, root string
		charts     bool
		want       string
	}{
		{"argocd", "kustomize-guestbook/overlays/staging/kustomization.yaml", false,
			"Deployment/kustomize-guestbook-ui container guestbook-ui=ghcr.io/acme/guestbook-ui@sha256:1111111111111111111111111111111111111111111111111111111111111111"},
		{"argocd", "helm-guestbook/values-staging.yaml", true,
			"Deployment/helm-guestbook container helm-guestbook=ghcr.io/acme/helm-guestbook:1.0"},
		{"argocd", "helm-guestbook/values-production.yaml", true,
			"Deployment/helm-guestbook container helm-guestbook=ghcr.io/acme/helm-guestbook@sha256:2222222222222222222222222222222222222222222222222222222222222222"},
		{"argocd", "helm-guestbook/values-production.yaml", false, "opaque chart helm-guestbook"},
		{"argocd", "apps/helm-guestbook-staging.yaml", true,
			"Deployment/helm-guestbook-staging container helm-guestbook=ghcr.io/acme/helm-guestbook@sha256:3333333333333333333333333333333333333333333333333333333333333333"},
		{"flux", "apps/staging/kustomization.yaml", true, "opaque HelmRelease podinfo/podinfo"},
		{"flux", "apps/production/kustomization.yaml", true,
			"Deployment/web init container migrate=ghcr.io/acme/web@sha256:4444444444444444444444444444444444444444444444444444444444444444; Deployment/web container web=ghcr.io/acme/web@sha256:4444444444444444444444444444444444444444444444444444444444444444"},
		{"components", "shop/overlays/staging/kustomization.yaml", false,
			"Deployment/shop container shop=ghcr.io/acme/shop@sha256:5555555555555555555555555555555555555555555555555555555555555555"},
		{"shadow", "twoimg/overlays/staging/kustomization.yaml", false, "Deployment/twoimg container twoimg=ghcr.io/acme/twoimg:1.0"},
		{"override", "app/overlays/staging/kustomization.yaml", false, "Deployment/app container app=ghcr.io/acme/app:2.0"},
		{"override", "app/base/deployment.yaml", false, "Deployment/app container app=ghcr.io/acme/app@sha256:6666666666666666666666666666666666666666666666666666666666666666"},
	} {
		t.Run(tc.repo+"/"+tc.root, func(t *testing.T) {
			opts := render.Options{}
			if tc.charts {
				opts.Charts = helm.Render
			}
			r, err := render.Render(context.Background(), os.DirFS("testdata/repos/"+tc.repo), tc.root, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := images(r); got != tc.want {
				t.Errorf("renders\n  %s\nwant\n  %s", got, tc.want)
			}
		})
	}
}
