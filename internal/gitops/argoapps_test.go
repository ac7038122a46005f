package gitops

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/helm"
)

func argoApp(name, path, extra string) string {
	return "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: " + name + "\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: https://github.com/acme/gitops.git\n    targetRevision: HEAD\n    path: " + path + "\n" + extra + "  destination:\n    server: https://kubernetes.default.svc\n    namespace: " + name + "\n"
}

// TestDeployAppliesTheApplicationsTrackingThePath (issue 18, adv18 item 1):
// an Argo CD Application elsewhere in the repository that tracks the
// deployed path renders it with its own overrides (kustomize images, Helm
// values, valuesObject, parameters, spec.sources, .argocd-source files):
// an edit that they shadow is refused naming the Application's file and
// field, and the remote is left as it was.
func TestDeployAppliesTheApplicationsTrackingThePath(t *testing.T) {
	for _, tc := range []struct {
		name, repo string
		extra      map[string]string
		req        Request
		want       []string
	}{
		{
			name:  "spec.source.kustomize.images replaces the overlay's entry (fixture ak)",
			repo:  "override",
			extra: map[string]string{"argocd/app-staging.yaml": argoApp("app-staging", "app/overlays/staging", "    kustomize:\n      images:\n      - ghcr.io/acme/app:2.0\n")},
			req:   Request{App: "app", Env: "staging", Image: imgN("ghcr.io/acme/app", 81)},
			want:  []string{"app/overlays/staging/kustomization.yaml: refusing deploy: the edit renders no change", "still runs ghcr.io/acme/app:2.0", "of Application app-staging (argocd/app-staging.yaml)", "set by spec.source.kustomize.images ghcr.io/acme/app:2.0 in argocd/app-staging.yaml"},
		},
		{
			name:  "spec.sources[] with kustomize images",
			repo:  "override",
			extra: map[string]string{"clusters/prod/apps.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: app-staging\nspec:\n  sources:\n  - repoURL: https://github.com/acme/gitops.git\n    path: ./app/overlays/staging\n    kustomize:\n      images: [\"ghcr.io/acme/app=ghcr.io/acme/app@sha256:" + strings.Repeat("9", 64) + "\"]\n  - repoURL: https://github.com/acme/config.git\n    ref: values\n  destination:\n    namespace: app\n"},
			req:   Request{App: "app", Env: "staging", Image: imgN("ghcr.io/acme/app", 82)},
			want:  []string{"refusing deploy: the edit renders no change", "still runs ghcr.io/acme/app@sha256:9999", "set by spec.sources[].kustomize.images ghcr.io/acme/app=ghcr.io/acme/app@sha256:9999", "in clusters/prod/apps.yaml"},
		},
		{
			name: "an .argocd-source file's images replace the Application's (a JSON merge patch)",
			repo: "override",
			extra: map[string]string{
				"argocd/app-staging.yaml":                              argoApp("app-staging", "app/overlays/staging", "    kustomize:\n      images:\n      - ghcr.io/acme/other:1.0\n"),
				"app/overlays/staging/.argocd-source-app-staging.yaml": "kustomize:\n  images:\n  - ghcr.io/acme/app:2.5\n",
			},
			req:  Request{App: "app", Env: "staging", Image: imgN("ghcr.io/acme/app", 83)},
			want: []string{"still runs ghcr.io/acme/app:2.5", "set by kustomize.images ghcr.io/acme/app:2.5 in app/overlays/staging/.argocd-source-app-staging.yaml"},
		},
		{
			name: "helm valuesObject over the values file deployed into (the argocd fixture's Application)",
			repo: "argocd",
			req:  Request{App: "helm-guestbook", Env: "staging", Image: imgN("ghcr.io/acme/helm-guestbook", 84), Path: "helm-guestbook/values-staging.yaml", Tag: "1.1"},
			want: []string{"helm-guestbook/values-staging.yaml: refusing deploy: the edit renders no change", "sha256:3333", "of Application helm-guestbook-staging (apps/helm-guestbook-staging.yaml)", "set by spec.source.helm.valuesObject", "in apps/helm-guestbook-staging.yaml"},
		},
		{
			name: "helm parameters over values files",
			repo: "argocd",
			extra: map[string]string{"apps/helm-guestbook-staging.yaml": argoApp("helm-guestbook-staging", "helm-guestbook",
				"    helm:\n      valueFiles:\n      - values-staging.yaml\n      parameters:\n      - name: image.digest\n        value: sha256:"+strings.Repeat("7", 64)+"\n")},
			req:  Request{App: "helm-guestbook", Env: "staging", Image: imgN("ghcr.io/acme/helm-guestbook", 85), Path: "helm-guestbook/values-staging.yaml", Tag: "1.1"},
			want: []string{"sha256:7777", "set by spec.source.helm.parameters image.digest=sha256:7777", "in apps/helm-guestbook-staging.yaml"},
		},
		{
			name: "an .argocd-source file's helm parameters next to a chart, no Application in the repository",
			repo: "argocd",
			extra: map[string]string{
				"apps/helm-guestbook-staging.yaml":                          "# moved to another repository\n",
				"helm-guestbook/.argocd-source-helm-guestbook-staging.yaml": "helm:\n  parameters:\n  - name: image.digest\n    value: sha256:" + strings.Repeat("8", 64) + "\n    forcestring: true\n",
			},
			req:  Request{App: "helm-guestbook", Env: "staging", Image: imgN("ghcr.io/acme/helm-guestbook", 86), Path: "helm-guestbook/values-staging.yaml", Tag: "1.1"},
			want: []string{"sha256:8888", "set by helm.parameters image.digest=sha256:8888", "in helm-guestbook/.argocd-source-helm-guestbook-staging.yaml"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, r := fixtureRemote(t, tc.repo, tc.extra)
			before := head(t, dir, "main")
			d := &Deployer{Remote: r, Charts: helm.Render}
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

// TestDeployThroughTrackingApplications: Applications that track the path
// without shadowing the edit let it through, and the proof shows each
// Application's rendered workload; one pinned to another revision, or
// using another values file, does not count.
func TestDeployThroughTrackingApplications(t *testing.T) {
	for _, tc := range []struct {
		name, repo string
		extra      map[string]string
		req        Request
		via        string // the Application the rendered workload names ("": none)
	}{
		{
			name:  "kustomize images for another image",
			repo:  "override",
			extra: map[string]string{"argocd/app-staging.yaml": argoApp("app-staging", "app/overlays/staging", "    kustomize:\n      namePrefix: staging-\n      images:\n      - ghcr.io/acme/sidecar:1.0\n")},
			req:   Request{App: "app", Env: "staging", Image: imgN("ghcr.io/acme/app", 91)},
			via:   "Deployment/staging-app container app of Application app-staging (argocd/app-staging.yaml)",
		},
		{
			name:  "an Application pinned to another revision does not track the branch",
			repo:  "override",
			extra: map[string]string{"argocd/app-staging.yaml": strings.Replace(argoApp("app-staging", "app/overlays/staging", "    kustomize:\n      images:\n      - ghcr.io/acme/app:2.0\n"), "targetRevision: HEAD", "targetRevision: v1.2.0", 1)},
			req:   Request{App: "app", Env: "staging", Image: imgN("ghcr.io/acme/app", 92)},
			via:   "Deployment/app container app",
		},
		{
			name: "the production Application uses another values file",
			repo: "argocd",
			extra: map[string]string{
				"apps/helm-guestbook-production.yaml": argoApp("helm-guestbook-production", "helm-guestbook",
					"    helm:\n      valueFiles:\n      - values-production.yaml\n      parameters:\n      - name: image.digest\n        value: sha256:"+strings.Repeat("7", 64)+"\n"),
				"apps/helm-guestbook-staging.yaml": argoApp("helm-guestbook-staging", "helm-guestbook", "    helm:\n      valueFiles:\n      - values-staging.yaml\n"),
			},
			req: Request{App: "helm-guestbook", Env: "staging", Image: imgN("ghcr.io/acme/helm-guestbook", 93), Path: "helm-guestbook/values-staging.yaml", Tag: "1.1"},
			via: "Deployment/helm-guestbook-staging container helm-guestbook of Application helm-guestbook-staging (apps/helm-guestbook-staging.yaml)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r := fixtureRemote(t, tc.repo, tc.extra)
			d := &Deployer{Remote: r, Charts: helm.Render}
			req := tc.req
			req.SourceCommit = fixtureSource
			out, err := d.Deploy(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if out.Rendered == nil || len(out.Rendered.Workloads) != 1 || out.Rendered.Workloads[0].Workload != tc.via || !strings.HasSuffix(out.Rendered.Workloads[0].After, req.Image.Digest) {
				t.Fatalf("rendered: %+v", out.Rendered)
			}
		})
	}
}

// TestDeployValuesOfAChartFromAHelmRepository: a multi-source Application
// takes its chart from a Helm repository and its values from this one
// ($values/…): a deploy into that values file is not refused as "no
// workload" but goes on unproven (the chart cannot be rendered here),
// naming the Application.
func TestDeployValuesOfAChartFromAHelmRepository(t *testing.T) {
	app := "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: podinfo-staging\nspec:\n  sources:\n  - repoURL: https://stefanprodan.github.io/podinfo\n    chart: podinfo\n    targetRevision: 6.7.0\n    helm:\n      valueFiles:\n      - $values/envs/staging/podinfo/values.yaml\n  - repoURL: https://github.com/acme/gitops.git\n    targetRevision: HEAD\n    ref: values\n  destination:\n    namespace: podinfo\n"
	dir, r := fixtureRemote(t, "override", map[string]string{
		"argocd/podinfo-staging.yaml":      app,
		"envs/staging/podinfo/values.yaml": "replicaCount: 2\nimage:\n  repository: ghcr.io/stefanprodan/podinfo\n  tag: 6.7.0\n  digest: \"\"\n",
	})
	var log strings.Builder
	d := &Deployer{Remote: r, Layout: "envs/{env}/{app}/values.yaml", Charts: helm.Render, Log: &log}
	img := imgN("ghcr.io/stefanprodan/podinfo", 111)
	out, err := d.Deploy(context.Background(), Request{App: "podinfo", Env: "staging", Image: img, SourceCommit: fixtureSource})
	if err != nil {
		t.Fatal(err)
	}
	if out.Rendered == nil || !strings.Contains(out.Rendered.Unproven, "Application podinfo-staging (argocd/podinfo-staging.yaml)") || !strings.Contains(out.Rendered.Unproven, "Helm repository") || !strings.Contains(log.String(), "not proven by a render") {
		t.Errorf("rendered: %+v\n%s", out.Rendered, log.String())
	}
	if got := fileAt(t, dir, "main", "envs/staging/podinfo/values.yaml"); !strings.Contains(got, "digest: \""+img.Digest+"\"") {
		t.Errorf("values:\n%s", got)
	}
}

// TestStatusAndPromoteReadTheApplicationsRender: an Application override
// that makes the environment run a tag wins over the digest its file
// holds: status says it is not deployed by digest (not the file's digest),
// and promote refuses to ship the file's digest as what it runs.
func TestStatusAndPromoteReadTheApplicationsRender(t *testing.T) {
	ctx := context.Background()
	d1 := imgN("ghcr.io/acme/app", 121)
	dir, r := fixtureRemote(t, "override", map[string]string{
		"app/overlays/staging/kustomization.yaml": "resources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/app\n    digest: " + d1.Digest + "\n",
		"argocd/app-staging.yaml":                 argoApp("app-staging", "app/overlays/staging", "    kustomize:\n      images:\n      - ghcr.io/acme/app:2.0\n"),
	})
	sts, err := Status(ctx, r, Filter{App: "app", Env: "staging"})
	if err != nil || len(sts) != 1 || sts[0].Image != "" || !strings.Contains(sts[0].Note, "not deployed by digest: app/overlays/staging/kustomization.yaml renders ghcr.io/acme/app:2.0, not a digest reference") {
		t.Fatalf("status: %+v %v", sts, err)
	}
	before := head(t, dir, "main")
	d := &Deployer{Remote: r}
	_, err = d.Promote(ctx, Promotion{App: "app", From: "staging", To: "prod", SourceCommit: fixtureSource, AllowUnknownSource: true})
	if err == nil || !strings.Contains(err.Error(), "refusing: staging runs no digest") || head(t, dir, "main") != before {
		t.Fatalf("promote: %v", err)
	}
}

// TestAnotherEnvironmentsOverrideFileDoesNotShadow: with no Application in
// the repository, a chart's .argocd-source file named for another
// environment (Image Updater pinning production) does not refuse a deploy
// to staging; production's own still refuses a deploy to production.
func TestAnotherEnvironmentsOverrideFileDoesNotShadow(t *testing.T) {
	extra := map[string]string{
		"apps/helm-guestbook-staging.yaml":                             "# moved to another repository\n",
		"helm-guestbook/.argocd-source-helm-guestbook-production.yaml": "helm:\n  parameters:\n  - name: image.digest\n    value: sha256:" + strings.Repeat("8", 64) + "\n",
		"helm-guestbook/.argocd-source-helm-guestbook-staging.yaml":    "helm:\n  parameters:\n  - name: replicaCount\n    value: \"2\"\n",
	}
	_, r := fixtureRemote(t, "argocd", extra)
	d := &Deployer{Remote: r, Charts: helm.Render}
	req := Request{App: "helm-guestbook", Env: "staging", Image: imgN("ghcr.io/acme/helm-guestbook", 131), Path: "helm-guestbook/values-staging.yaml", Tag: "1.1", SourceCommit: fixtureSource}
	out, err := d.Deploy(context.Background(), req)
	if err != nil {
		t.Fatalf("staging: %v", err)
	}
	if w := out.Rendered.Workloads; len(w) != 1 || !strings.Contains(w[0].Workload, ".argocd-source-helm-guestbook-staging.yaml") {
		t.Errorf("staging rendered: %+v", out.Rendered)
	}
	req.Env, req.Image, req.Path = "production", imgN("ghcr.io/acme/helm-guestbook", 132), "helm-guestbook/values-production.yaml"
	if _, err := d.Deploy(context.Background(), req); !errors.Is(err, ErrNoEffect) || !strings.Contains(err.Error(), "in helm-guestbook/.argocd-source-helm-guestbook-production.yaml") {
		t.Fatalf("production: %v", err)
	}
}
