package gitops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/helm"
	"github.com/slipway-ci/slipway/internal/manifest"
)

// deploymentTemplate takes a digest when the values have one, else a tag.
const deploymentTemplate = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: sample-app
spec:
  template:
    spec:
      containers:
        - name: sample-app
          image: "{{ .Values.image.repository | default "nginx" }}{{ if (.Values.image | default dict).digest }}@{{ .Values.image.digest }}{{ else }}:{{ (.Values.image | default dict).tag | default "latest" }}{{ end }}"
`

// Issue 18: Helm values files, a Flux HelmRelease and Argo CD's
// .argocd-source override deploy through the same Deployer, byte for byte.
func TestDeployHelmLayouts(t *testing.T) {
	dir, r := localGitOps(t)
	wt := workClone(t, dir)
	files := map[string]string{
		"charts/sample-app/Chart.yaml":                "apiVersion: v2\nname: sample-app\nversion: 0.1.0\n",
		"charts/sample-app/values-staging.yaml":       "# staging\nimage:\n  repository: ghcr.io/acme/sample-app\n  tag: v1\n  digest: \"\"\n\nreplicaCount: 2\n",
		"clusters/staging/sample-app.yaml":            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: sample-app\nspec:\n  values:\n    image:\n      repository: ghcr.io/acme/sample-app # {\"$imagepolicy\": \"flux-system:sample-app:name\"}\n      digest: sha256:" + strings.Repeat("00", 32) + " # {\"$imagepolicy\": \"flux-system:sample-app:digest\"}\n",
		"helm-guestbook/values.yaml":                  "replicaCount: 1\nservice:\n  type: ClusterIP\n",
		"helm-guestbook/Chart.yaml":                   "apiVersion: v2\nname: helm-guestbook\nversion: 0.1.0\n",
		"helm-guestbook/templates/deployment.yaml":    deploymentTemplate,
		"charts/sample-app/templates/deployment.yaml": deploymentTemplate,
	}
	for p, c := range files {
		os.MkdirAll(filepath.Join(wt, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(wt, p), []byte(c), 0o644)
	}
	gitCLI(t, wt, "add", ".")
	gitCLI(t, wt, "commit", "-qm", "helm layouts")
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
	_, shas := sourceRepo(t, 1)
	ctx := context.Background()

	d := &Deployer{Remote: r, Layout: "charts/{app}/values-{env}.yaml", Charts: helm.Render}
	out, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(41), SourceCommit: shas[0]})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(files["charts/sample-app/values-staging.yaml"], `digest: ""`, `digest: "`+digest(41).Digest+`"`, 1)
	if got := fileAt(t, dir, "main", "charts/sample-app/values-staging.yaml"); got != want || len(out.Change.Lines) != 1 {
		t.Errorf("values file:\n%s\nwant:\n%s\n%+v", got, want, out.Change)
	}

	d = &Deployer{Remote: r, Charts: helm.Render}
	out, err = d.Deploy(ctx, Request{App: "sample-app", Env: "flux-staging", Image: digest(42), SourceCommit: shas[0], Path: "clusters/staging/sample-app.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	got := fileAt(t, dir, "main", "clusters/staging/sample-app.yaml")
	if !strings.Contains(got, "digest: "+digest(42).Digest+"\n") || strings.Contains(got, ":digest") || !strings.Contains(got, ":name") || len(out.Change.Notes) != 1 {
		t.Errorf("HelmRelease:\n%s\n%+v", got, out.Change)
	}

	_, err = d.Deploy(ctx, Request{App: "sample-app", Env: "argo-prod", Image: digest(43), SourceCommit: shas[0], Path: "charts/sample-app/.argocd-source-sample-app.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	got = fileAt(t, dir, "main", "charts/sample-app/.argocd-source-sample-app.yaml")
	if !strings.HasPrefix(got, "helm:\n  parameters:\n  - name: image.repository\n") || !strings.Contains(got, "value: "+digest(43).Digest) {
		t.Errorf(".argocd-source:\n%s", got)
	}
	// The same digest again: unchanged.
	if out, err := d.Deploy(ctx, Request{App: "sample-app", Env: "argo-prod", Image: digest(43), SourceCommit: shas[0], Path: "charts/sample-app/.argocd-source-sample-app.yaml"}); err != nil || !out.Unchanged {
		t.Errorf("again: %+v %v", out, err)
	}

	before := head(t, dir, "main")
	_, err = d.Deploy(ctx, Request{App: "sample-app", Env: "dev", Image: digest(44), SourceCommit: shas[0], Path: "helm-guestbook/values.yaml"})
	if !errors.Is(err, manifest.ErrHelmPaths) || !strings.Contains(err.Error(), "--helm-value") || head(t, dir, "main") != before {
		t.Errorf("values without an image: %v", err)
	}
	// Configured paths: written even where the values lack them.
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "dev", Image: digest(44), SourceCommit: shas[0], Path: "helm-guestbook/values.yaml",
		Values: &manifest.Values{Repository: "image.repository", Digest: "image.digest"}}); err != nil {
		t.Fatal(err)
	}
	if got := fileAt(t, dir, "main", "helm-guestbook/values.yaml"); got != files["helm-guestbook/values.yaml"]+"image:\n  repository: ghcr.io/acme/sample-app\n  digest: "+digest(44).Digest+"\n" {
		t.Errorf("configured paths:\n%s", got)
	}
}

func TestDeployWritesTheTagWhereTheFileKeepsOne(t *testing.T) {
	if got := ImageTag("ghcr.io/acme/app:1.4.0@" + digest(1).Digest); got != "1.4.0" {
		t.Errorf("ImageTag %q", got)
	}
	if got := ImageTag("127.0.0.1:5005/acme/app@" + digest(1).Digest); got != "" {
		t.Errorf("ImageTag of a port %q", got)
	}
	dir, r := localGitOps(t)
	wt := workClone(t, dir)
	os.MkdirAll(filepath.Join(wt, "charts/sample-app/templates"), 0o755)
	os.WriteFile(filepath.Join(wt, "charts/sample-app/Chart.yaml"), []byte("apiVersion: v2\nname: sample-app\nversion: 0.1.0\n"), 0o644)
	os.WriteFile(filepath.Join(wt, "charts/sample-app/templates/deployment.yaml"), []byte(deploymentTemplate), 0o644)
	os.WriteFile(filepath.Join(wt, "charts/sample-app/values-qa.yaml"), []byte("image:\n  repository: ghcr.io/acme/sample-app\n  tag: \"\"\n"), 0o644)
	gitCLI(t, wt, "add", ".")
	gitCLI(t, wt, "commit", "-qm", "tag-only chart")
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
	_, shas := sourceRepo(t, 1)
	d := &Deployer{Remote: r, Layout: "charts/{app}/values-{env}.yaml", Charts: helm.Render}
	if _, err := d.Deploy(context.Background(), Request{App: "sample-app", Env: "qa", Image: digest(45), Tag: "1.4.0", SourceCommit: shas[0]}); err != nil {
		t.Fatal(err)
	}
	want := "image:\n  repository: ghcr.io/acme/sample-app\n  tag: \"1.4.0@" + digest(45).Digest + "\"\n"
	if got := fileAt(t, dir, "main", "charts/sample-app/values-qa.yaml"); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if err := (&Request{App: "a", Env: "e", SourceCommit: shas[0], Tag: "bad tag"}).Validate(); err == nil {
		t.Error("a bad tag was accepted")
	}
}
