package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/helm"
)

// pushFile commits one file to the bare repository's main branch, as a
// person editing the GitOps repository would.
func pushFile(t *testing.T, bare, file, content string) {
	t.Helper()
	wt := filepath.Join(t.TempDir(), "wt")
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	git(filepath.Dir(wt), "clone", "-q", bare, wt)
	os.MkdirAll(filepath.Dir(filepath.Join(wt, file)), 0o755)
	if err := os.WriteFile(filepath.Join(wt, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	git(wt, "add", "-A")
	git(wt, "commit", "-qm", "edit "+file)
	git(wt, "push", "-q", "origin", "HEAD:main")
}

const guestbookChart = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
spec:
  template:
    spec:
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}{{ if .Values.image.digest }}@{{ .Values.image.digest }}{{ else }}:{{ .Values.image.tag }}{{ end }}"
`

// TestArgoCDHelmApplicationEndToEnd is scenario "ar" of issue 18: Argo CD
// Applications holding Helm values, a chart in the repository, and an
// .argocd-source override file. deploy refuses an edit the override
// shadows (naming the file), deploys through --path into the override
// file, and status, history, the report and promote all read what the
// environment renders: the digest the cluster will run.
func TestArgoCDHelmApplicationEndToEnd(t *testing.T) {
	noEngineEnv(t)
	reg := "127.0.0.1:1/acme/guestbook"
	dig := func(n int) string { return fmt.Sprintf("sha256:%064x", n) }
	app := func(env, helmSection string) string {
		return "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: guestbook-" + env + "\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: https://github.com/acme/gitops.git\n    targetRevision: HEAD\n    path: charts/guestbook\n    helm:\n" + helmSection + "  destination:\n    server: https://kubernetes.default.svc\n    namespace: guestbook\n"
	}
	bare := layoutRepo(t, map[string]string{
		"apps/guestbook-staging.yaml":                app("staging", "      releaseName: guestbook\n      values: |\n        # staging values\n        replicaCount: 2\n\n        image:\n          repository: "+reg+"   # upstream\n          digest: \""+dig(0)+"\"\n"),
		"apps/guestbook-prod.yaml":                   app("prod", "      valuesObject:\n        replicaCount: 3\n        image: {repository: "+reg+", digest: \""+dig(0)+"\"}\n"),
		"charts/guestbook/Chart.yaml":                "apiVersion: v2\nname: guestbook\nversion: 0.1.0\n",
		"charts/guestbook/values.yaml":               "replicaCount: 1\nimage:\n  repository: gcr.io/heptio-images/ks-guestbook-demo\n  tag: \"0.1\"\n",
		"charts/guestbook/templates/deployment.yaml": guestbookChart,
	})
	layout := "apps/{app}-{env}.yaml"
	out := t.TempDir()
	p := Project{Name: "slipway", BinaryOnly: true, Charts: helm.Render}
	cli := func(args ...string) (string, string, int) {
		var o, e bytes.Buffer
		args = append(args, "--gitops-repo", bare, "--layout", layout, "--out", out)
		code := Execute(context.Background(), p, args, &o, &e)
		return o.String(), e.String(), code
	}
	must := func(args ...string) string {
		t.Helper()
		o, e, code := cli(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, o, e)
		}
		return o
	}
	status := func() map[string]string {
		t.Helper()
		var sts []map[string]any
		o := must("status", "--json")
		if err := json.Unmarshal([]byte(o), &sts); err != nil {
			t.Fatalf("status: %v %s", err, o)
		}
		got := map[string]string{}
		for _, s := range sts {
			got[s["app"].(string)+"/"+s["env"].(string)] = fmt.Sprint(s["image"])
		}
		return got
	}
	deploy := func(n int, extra ...string) (string, string, int) {
		return cli(append([]string{"deploy", "--app", "guestbook", "--env", "staging", "--image", reg + "@" + dig(n), "--source-commit", strings.Repeat(fmt.Sprint(n%10), 40), "--allow-unknown-source"}, extra...)...)
	}

	// (1) Into the Application's helm.values: rendered and recorded.
	if o, e, code := deploy(1); code != 0 || !strings.Contains(o+e, "-> "+reg+"@"+dig(1)) {
		t.Fatalf("deploy 1: exit %d\n%s%s", code, o, e)
	}
	if got := status(); got["guestbook/staging"] != reg+"@"+dig(1) || got["guestbook/prod"] != reg+"@"+dig(0) {
		t.Fatalf("status after deploy 1: %v", got)
	}
	// (2) An override file pins the digest: the same edit renders no change.
	over := "charts/guestbook/.argocd-source-guestbook-staging.yaml"
	pushFile(t, bare, over, "helm:\n  parameters:\n  - name: image.digest\n    value: "+dig(9)+"\n    forcestring: true\n")
	if o, e, code := deploy(2); code != 1 || !strings.Contains(e, "renders no change") || !strings.Contains(e, "helm.parameters image.digest="+dig(9)+" in "+over) {
		t.Fatalf("deploy 2 shadowed by the override file: exit %d, want 1 naming %s\n%s%s", code, over, o, e)
	}
	// (3) Into the override file itself (--path): rendered through the Application.
	if o, e, code := deploy(2, "--path", over); code != 0 || !strings.Contains(o+e, "-> "+reg+"@"+dig(2)) {
		t.Fatalf("deploy 2 --path %s: exit %d\n%s%s", over, code, o, e)
	}
	if got := status(); got["guestbook/staging"] != reg+"@"+dig(2) {
		t.Fatalf("status after deploy 2: %v, want staging at %s", got, dig(2))
	}
	var recs []map[string]any
	if err := json.Unmarshal([]byte(must("history", "--app", "guestbook", "--json")), &recs); err != nil || len(recs) != 2 || recs[0]["path"] != over {
		t.Fatalf("history: %v %v", recs, err)
	}
	// The report reads what status reads (the chart rendered).
	page := filepath.Join(t.TempDir(), "report.html")
	must("report", "--out-file", page)
	html, _ := os.ReadFile(page)
	if !strings.Contains(string(html), strings.TrimPrefix(dig(2), "sha256:")[:12]) {
		t.Errorf("the report lacks staging's rendered digest %s", dig(2))
	}
	// (4) Promote ships what staging runs.
	must("promote", "--app", "guestbook", "--from", "staging", "--to", "prod", "--allow-unknown-source")
	if got := status(); got["guestbook/prod"] != reg+"@"+dig(2) || got["guestbook/staging"] != reg+"@"+dig(2) {
		t.Fatalf("status after promote: %v", got)
	}
}

// TestPlanNamesAMissingFile: plan, given a GitOps repository, says in one
// line that the app's file is not there, naming the file and the layout
// (the deploy would fail), with or without a known image repository.
func TestPlanNamesAMissingFile(t *testing.T) {
	noEngineEnv(t)
	bare := layoutRepo(t, map[string]string{
		"web/base/deployment.yaml": layoutDeployment, "web/base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
		"web/overlays/development/kustomization.yaml": layoutOverlay("../../base"),
	})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "missing: not in the GitOps repository: sample-app/overlays/development/kustomization.yaml in " + bare + ": app \"sample-app\" not found (apps: web) (layout {app}/overlays/{env}/kustomization.yaml)"},
		{[]string{"--image", "127.0.0.1:1/acme/sample-app"}, "missing: not in the GitOps repository: sample-app/overlays/development/kustomization.yaml in " + bare + ": app \"sample-app\" not found"},
		{[]string{"--layout", "envs/{env}/{app}.yaml"}, "missing: not in the GitOps repository: envs/development/sample-app.yaml in " + bare + ": file not found (layout envs/{env}/{app}.yaml, app \"sample-app\", environment \"development\"; apps: none)"},
	} {
		var o, e bytes.Buffer
		args := append([]string{"plan", "--publish", "--gitops-repo", bare, "--out", t.TempDir()}, tc.args...)
		code := execute(context.Background(), args, &o, &e)
		if code != 0 || !strings.Contains(o.String(), tc.want) || strings.Contains(o.String(), "would be refused") {
			t.Errorf("%v: exit %d\n%s\n%s\nwant %s", tc.args, code, o.String(), e.String(), tc.want)
		}
	}
	var o, e bytes.Buffer
	if code := execute(context.Background(), []string{"plan", "--publish", "--json", "--gitops-repo", bare, "--out", t.TempDir()}, &o, &e); code != 0 {
		t.Fatalf("plan --json: exit %d %s", code, e.String())
	}
	var doc struct {
		GitOps struct {
			Missing string `json:"missing"`
		} `json:"gitops"`
	}
	if err := json.Unmarshal(o.Bytes(), &doc); err != nil || !strings.Contains(doc.GitOps.Missing, "sample-app/overlays/development/kustomization.yaml") {
		t.Errorf("plan --json: %v %s", err, o.String())
	}
}
