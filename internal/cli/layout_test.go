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

// layoutRepo writes a GitOps repository holding app "web" in staging and
// production in the given layout, and returns its bare clone.
func layoutRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	wt := filepath.Join(t.TempDir(), "wt")
	for p, c := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(wt, p)), 0o755)
		if err := os.WriteFile(filepath.Join(wt, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(dir string, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	git(wt, "init", "-q", "-b", "main")
	git(wt, "add", "-A")
	git(wt, "commit", "-qm", "layout")
	bare := filepath.Join(t.TempDir(), "gitops.git")
	git(filepath.Dir(bare), "clone", "-q", "--bare", wt, bare)
	return bare
}

const layoutDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: web
`

func layoutOverlay(base string) string {
	return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - " + base + "\nimages:\n  - name: web\n    newName: 127.0.0.1:1/acme/web\n    digest: sha256:" + strings.Repeat("0", 64) + "\n"
}

const layoutChart = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}@{{ .Values.image.digest }}"
`

// TestEveryCommandOverLayouts: deploy, promote, rollback, status, history,
// dora and the report find the app's file through one layout resolver
// (--layout), over several layouts of real repositories.
func TestEveryCommandOverLayouts(t *testing.T) {
	noEngineEnv(t)
	zero := "127.0.0.1:1/acme/web@sha256:" + strings.Repeat("0", 64)
	for _, tc := range []struct {
		layout string
		files  map[string]string
	}{
		{"{app}/overlays/{env}/kustomization.yaml", map[string]string{
			"web/base/deployment.yaml": layoutDeployment, "web/base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
			"web/overlays/staging/kustomization.yaml": layoutOverlay("../../base"), "web/overlays/production/kustomization.yaml": layoutOverlay("../../base"),
		}},
		{"apps/{env}/kustomization.yaml", map[string]string{
			"apps/base/web/deployment.yaml": layoutDeployment, "apps/base/web/kustomization.yaml": "resources:\n  - deployment.yaml\n",
			"apps/staging/kustomization.yaml": layoutOverlay("../base/web"), "apps/production/kustomization.yaml": layoutOverlay("../base/web"),
		}},
		{"envs/{env}/{app}/kustomization.yaml", map[string]string{
			"base/web/deployment.yaml": layoutDeployment, "base/web/kustomization.yaml": "resources:\n  - deployment.yaml\n",
			"envs/staging/web/kustomization.yaml": layoutOverlay("../../../base/web"), "envs/production/web/kustomization.yaml": layoutOverlay("../../../base/web"),
		}},
		{"charts/{app}/values-{env}.yaml", map[string]string{
			"charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n", "charts/web/templates/deployment.yaml": layoutChart,
			"charts/web/values.yaml":            "image:\n  repository: 127.0.0.1:1/acme/web\n  digest: sha256:" + strings.Repeat("0", 64) + "\n",
			"charts/web/values-staging.yaml":    "image:\n  repository: 127.0.0.1:1/acme/web\n  digest: sha256:" + strings.Repeat("0", 64) + "\n",
			"charts/web/values-production.yaml": "image:\n  repository: 127.0.0.1:1/acme/web\n  digest: sha256:" + strings.Repeat("0", 64) + "\n",
		}},
	} {
		t.Run(tc.layout, func(t *testing.T) {
			bare := layoutRepo(t, tc.files)
			out := t.TempDir()
			p := Project{Name: "slipway", BinaryOnly: true, Charts: helm.Render}
			cli := func(args ...string) (string, string, int) {
				var o, e bytes.Buffer
				args = append(args, "--gitops-repo", bare, "--layout", tc.layout, "--out", out)
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
			img := func(n int) string { return fmt.Sprintf("127.0.0.1:1/acme/web@sha256:%064x", n) }
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
			if got := status(); len(got) != 2 || got["web/staging"] != zero || got["web/production"] != zero {
				t.Fatalf("status before: %v", got)
			}
			o := must("deploy", "--app", "web", "--env", "staging", "--image", img(1), "--source-commit", strings.Repeat("a", 40), "--allow-unknown-source", "--dry-run")
			if !strings.Contains(o, "container web: "+zero+" -> "+img(1)) || lastLine(o) != "dry-run" {
				t.Errorf("dry run:\n%s", o)
			}
			must("deploy", "--app", "web", "--env", "staging", "--image", img(1), "--source-commit", strings.Repeat("a", 40), "--allow-unknown-source")
			must("deploy", "--app", "web", "--env", "staging", "--image", img(2), "--source-commit", strings.Repeat("b", 40), "--allow-unknown-source")
			must("promote", "--app", "web", "--from", "staging", "--to", "production", "--allow-unknown-source")
			if got := status(); got["web/staging"] != img(2) || got["web/production"] != img(2) || len(got) != 2 {
				t.Fatalf("status after promote: %v", got)
			}
			must("rollback", "--app", "web", "--env", "staging", "--reason", "test")
			if got := status(); got["web/staging"] != img(1) || got["web/production"] != img(2) {
				t.Fatalf("status after rollback: %v", got)
			}
			var recs []map[string]any
			if err := json.Unmarshal([]byte(must("history", "--app", "web", "--json")), &recs); err != nil || len(recs) != 4 {
				t.Fatalf("history: %v %v", recs, err)
			}
			if o := must("dora", "--json", "--source-repo", t.TempDir()); !strings.Contains(o, "web") {
				t.Errorf("dora: %s", o)
			}
			report := filepath.Join(t.TempDir(), "report.html")
			must("report", "--out-file", report)
			html, _ := os.ReadFile(report)
			if !strings.Contains(string(html), "staging") || !strings.Contains(string(html), img(1)[len(img(1))-64:][:12]) {
				t.Errorf("report lacks staging or its digest")
			}
		})
	}
}

// TestPlanShowsTheRenderedImage: plan renders what the deploy would change
// (a dry-run deploy of a placeholder digest) when the GitOps repository
// exists and the image repository is known.
func TestPlanShowsTheRenderedImage(t *testing.T) {
	noEngineEnv(t)
	bare := layoutRepo(t, map[string]string{
		"sample-app/base/deployment.yaml":                    strings.ReplaceAll(layoutDeployment, "web", "sample-app"),
		"sample-app/base/kustomization.yaml":                 "resources:\n  - deployment.yaml\n",
		"sample-app/overlays/development/kustomization.yaml": strings.ReplaceAll(layoutOverlay("../../base"), "web", "sample-app"),
	})
	var o, e bytes.Buffer
	code := execute(context.Background(), []string{"plan", "--publish", "--gitops-repo", bare, "--image", "127.0.0.1:1/acme/sample-app", "--out", t.TempDir()}, &o, &e)
	want := "renders Deployment/sample-app container sample-app: 127.0.0.1:1/acme/sample-app@sha256:" + strings.Repeat("0", 64) + " -> 127.0.0.1:1/acme/sample-app@sha256:<digest of the build>"
	if code != 0 || !strings.Contains(o.String(), want) {
		t.Fatalf("exit %d\n%s\n%s\nwant %s", code, o.String(), e.String(), want)
	}
}
