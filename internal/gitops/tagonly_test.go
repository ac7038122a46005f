package gitops

import (
	"context"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/helm"
)

// TestDeployTagOnlyChart (adv18 #8, Argo CD's helm-guestbook): the
// environment's values file has no image; the chart's values.yaml says it
// takes repository and tag. Without the image's tag the deploy is refused
// naming the value (the chart's tag is the old repository's) and the remote
// is untouched; with --image REPO:TAG@sha256:… the tag carries the digest
// and the Helm render proves the workload runs it.
func TestDeployTagOnlyChart(t *testing.T) {
	ctx := context.Background()
	tmpl := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n    spec:\n      containers:\n      - name: guestbook\n        image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n"
	prod := "# production overrides\nreplicaCount: 3\n"
	dir, r := filesRemote(t, map[string]string{
		"helm-guestbook/Chart.yaml":                "apiVersion: v2\nname: helm-guestbook\nversion: 0.1.0\n",
		"helm-guestbook/values.yaml":               "replicaCount: 1\nimage:\n  repository: gcr.io/heptio-images/ks-guestbook-demo\n  tag: 0.1\n",
		"helm-guestbook/values-production.yaml":    prod,
		"helm-guestbook/templates/deployment.yaml": tmpl,
	})
	d := &Deployer{Remote: r, Layout: "{app}/values-{env}.yaml", Charts: helm.Render}
	img := imgN("reg.example.com/acme/helm-guestbook", 8)
	before := head(t, dir, "main")
	_, err := d.Deploy(ctx, Request{App: "helm-guestbook", Env: "production", Image: img, SourceCommit: fixtureSource, AllowUnknownSource: true})
	if err == nil || !strings.Contains(err.Error(), "image.tag \"0.1\" is gcr.io/heptio-images/ks-guestbook-demo's tag") || head(t, dir, "main") != before {
		t.Fatalf("without a tag: %v", err)
	}
	out, err := d.Deploy(ctx, Request{App: "helm-guestbook", Env: "production", Image: img, Tag: "0.2", SourceCommit: fixtureSource, AllowUnknownSource: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := prod + "image:\n  repository: " + img.Repo + "\n  tag: \"0.2@" + img.Digest + "\"\n"; fileAt(t, dir, "main", "helm-guestbook/values-production.yaml") != want {
		t.Fatalf("got:\n%s", fileAt(t, dir, "main", "helm-guestbook/values-production.yaml"))
	}
	if out.Rendered == nil || out.Rendered.Unproven != "" || len(out.Rendered.Workloads) != 1 ||
		out.Rendered.Workloads[0].Before != "gcr.io/heptio-images/ks-guestbook-demo:0.1" || out.Rendered.Workloads[0].After != img.Repo+":0.2@"+img.Digest {
		t.Fatalf("render: %+v", out.Rendered)
	}
}
