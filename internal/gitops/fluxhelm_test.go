package gitops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/helm"
	"github.com/slipway-ci/slipway/internal/usage"
)

// fluxHelmExample is the layout of fluxcd/flux2-kustomize-helm-example with
// the chart in the repository: a HelmRelease in apps/base, each
// apps/{env} kustomization patching its values (adversarial fixture fh).
func fluxHelmExample(t *testing.T) (string, *Remote, []string) {
	t.Helper()
	dir, r := localGitOps(t)
	wt := workClone(t, dir)
	patch := func(image string) string {
		return "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\n  namespace: podinfo\nspec:\n  values:\n    image:\n" + image
	}
	files := map[string]string{
		"charts/podinfo/Chart.yaml":            "apiVersion: v2\nname: podinfo\nversion: 0.1.0\n",
		"charts/podinfo/values.yaml":           "image:\n  repository: ghcr.io/stefanprodan/podinfo\n  tag: \"6.7.0\"\n  digest: \"\"\n",
		"charts/podinfo/templates/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n    spec:\n      containers:\n      - name: podinfo\n        image: \"{{ .Values.image.repository }}{{ if .Values.image.digest }}@{{ .Values.image.digest }}{{ else }}:{{ .Values.image.tag }}{{ end }}\"\n",
		"apps/base/podinfo/kustomization.yaml": "resources:\n- release.yaml\n",
		"apps/base/podinfo/release.yaml":       "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\n  namespace: podinfo\nspec:\n  chart:\n    spec:\n      chart: ./charts/podinfo\n      sourceRef:\n        kind: GitRepository\n        name: flux-system\n  values:\n    replicaCount: 1\n",
		"apps/staging/kustomization.yaml":      "resources:\n- ../base/podinfo\npatches:\n- path: podinfo-values.yaml\n  target:\n    kind: HelmRelease\n",
		"apps/prod/kustomization.yaml":         "resources:\n- ../base/podinfo\npatches:\n- path: podinfo-values.yaml\n  target:\n    kind: HelmRelease\n",
		"apps/staging/podinfo-values.yaml":     patch("      repository: ghcr.io/stefanprodan/podinfo\n      tag: 6.7.0 # {\"$imagepolicy\": \"flux-system:podinfo:tag\"}\n"),
		"apps/prod/podinfo-values.yaml":        patch("      repository: ghcr.io/stefanprodan/podinfo\n      tag: 6.7.0\n"),
	}
	for p, c := range files {
		os.MkdirAll(filepath.Join(wt, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(wt, p), []byte(c), 0o644)
	}
	gitCLI(t, wt, "add", ".")
	gitCLI(t, wt, "commit", "-qm", "flux helm example")
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
	_, shas := sourceRepo(t, 1)
	return dir, r, shas
}

// TestFluxHelmExampleLayout (issue 18, adversarial fh): after a deploy
// through --path into staging's HelmRelease patch, status under the layout
// apps/{env}/kustomization.yaml lists both environments as they render (the
// chart with the patched values), and promote goes through prod's patch —
// using the chart's image.digest (item 7), not refusing "takes only a tag".
func TestFluxHelmExampleLayout(t *testing.T) {
	dir, r, shas := fluxHelmExample(t)
	ctx := context.Background()
	const layout = "apps/{env}/kustomization.yaml"
	d := &Deployer{Remote: r, Layout: layout, Charts: helm.Render}
	if _, err := d.Deploy(ctx, Request{App: "podinfo", Env: "staging", Image: digest(51), SourceCommit: shas[0], Path: "apps/staging/podinfo-values.yaml"}); err != nil {
		t.Fatal(err)
	}
	if got := fileAt(t, dir, "main", "apps/staging/podinfo-values.yaml"); !strings.Contains(got, "digest: "+digest(51).Digest) {
		t.Fatalf("staging:\n%s", got)
	}
	sts, err := Status(ctx, r, Filter{Layout: layout, Charts: helm.Render})
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, s := range sts {
		rows = append(rows, s.App+"/"+s.Env+" "+s.Image+" "+s.Note)
	}
	if len(sts) != 2 || sts[1].Image != digest(51).String() || !strings.Contains(sts[0].Note, "not deployed by digest") {
		t.Fatalf("status:\n%s", strings.Join(rows, "\n"))
	}
	if _, err := d.Promote(ctx, Promotion{App: "podinfo", From: "staging", To: "prod"}); err != nil {
		t.Fatal(err)
	}
	if got := fileAt(t, dir, "main", "apps/prod/podinfo-values.yaml"); !strings.Contains(got, "repository: "+digest(51).Repo+"\n") || !strings.Contains(got, "digest: "+digest(51).Digest) {
		t.Errorf("prod:\n%s", got)
	}
	sts, err = Status(ctx, r, Filter{Layout: layout, Charts: helm.Render, Env: "prod"})
	if err != nil || len(sts) != 1 || sts[0].Image != digest(51).String() {
		t.Errorf("status prod: %+v %v", sts, err)
	}
}

// TestNoMatchNamesNoEmptyElement: the no-match error lists only the names
// it looked for ("using , REPO" was printed for a request without
// --image-name).
func TestNoMatchNamesNoEmptyElement(t *testing.T) {
	_, r, shas := fluxHelmExample(t)
	d := &Deployer{Remote: r, Layout: "apps/{env}/kustomization.yaml"}
	_, err := d.Deploy(context.Background(), Request{App: "web", Env: "prod", Image: digest(52), SourceCommit: shas[0]})
	if !errors.Is(err, ErrNoMatch) || strings.Contains(err.Error(), "using , ") || !strings.Contains(err.Error(), "using "+digest(52).Repo) {
		t.Errorf("got %v", err)
	}
}

// TestMissingEnvironmentIsUsage (issue 18, finding 6): an environment or
// --path file that does not exist under a custom layout is a usage error
// (exit 2, as the README says), naming what the layout finds.
func TestMissingEnvironmentIsUsage(t *testing.T) {
	_, r, shas := fluxHelmExample(t)
	d := &Deployer{Remote: r, Layout: "apps/{env}/kustomization.yaml"}
	_, err := d.Deploy(context.Background(), Request{App: "podinfo", Env: "qa", Image: digest(53), SourceCommit: shas[0]})
	if !usage.Is(err) || !strings.Contains(err.Error(), "apps/qa/kustomization.yaml") {
		t.Errorf("missing environment: %v (usage %v)", err, usage.Is(err))
	}
	d = &Deployer{Remote: r, Layout: "charts/{app}/values-{env}.yaml"}
	_, err = d.Deploy(context.Background(), Request{App: "podinfo", Env: "qa", Image: digest(53), SourceCommit: shas[0]})
	if !usage.Is(err) || !strings.Contains(err.Error(), "values-qa.yaml") {
		t.Errorf("missing environment: %v (usage %v)", err, usage.Is(err))
	}
	_, err = d.Deploy(context.Background(), Request{App: "podinfo", Env: "qa", Image: digest(53), SourceCommit: shas[0], Path: "apps/qa.yaml"})
	if !usage.Is(err) || !strings.Contains(err.Error(), "apps/qa.yaml") {
		t.Errorf("missing --path: %v (usage %v)", err, usage.Is(err))
	}
}
