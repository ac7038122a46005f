package cli

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/slipway-ci/slipway/helm"
)

// TestInterruptedReadersExit130 (issue 18, finding 3): a command interrupted
// (Ctrl-C, SIGTERM) while it renders an environment exits 130 and prints no
// record — no status table of "context canceled" rows, no report, no
// promote. The interruption comes from inside the render (the chart
// renderer cancels the run); commands that render nothing are interrupted
// before they start.
func TestInterruptedReadersExit130(t *testing.T) {
	noEngineEnv(t)
	reg := "127.0.0.1:1/acme/guestbook"
	dig := func(n int) string { return fmt.Sprintf("sha256:%064x", n) }
	values := func(n int) string {
		return "image:\n  repository: " + reg + "\n  digest: \"" + dig(n) + "\"\n"
	}
	bare := layoutRepo(t, map[string]string{
		"charts/guestbook/Chart.yaml":                "apiVersion: v2\nname: guestbook\nversion: 0.1.0\n",
		"charts/guestbook/values.yaml":               "replicaCount: 1\nimage:\n  repository: gcr.io/heptio-images/ks-guestbook-demo\n  tag: \"0.1\"\n",
		"charts/guestbook/values-staging.yaml":       values(0),
		"charts/guestbook/values-prod.yaml":          values(0),
		"charts/guestbook/templates/deployment.yaml": guestbookChart,
	})
	layout := "charts/{app}/values-{env}.yaml"
	out := t.TempDir()
	src := strings.Repeat("1", 40)
	cli := func(ctx context.Context, p Project, args ...string) (string, string, int) {
		var o, e bytes.Buffer
		args = append(args, "--gitops-repo", bare, "--layout", layout, "--out", out)
		code := Execute(ctx, p, args, &o, &e)
		return o.String(), e.String(), code
	}
	plain := Project{Name: "slipway", BinaryOnly: true, Charts: helm.Render}
	if o, e, code := cli(context.Background(), plain, "deploy", "--app", "guestbook", "--env", "staging", "--image", reg+"@"+dig(1), "--source-commit", src, "--allow-unknown-source"); code != 0 {
		t.Fatalf("deploy: exit %d\n%s%s", code, o, e)
	}
	head := func() string {
		b, _ := os.ReadFile(filepath.Join(bare, "refs", "heads", "main"))
		if len(b) == 0 {
			b, _ = os.ReadFile(filepath.Join(bare, "packed-refs"))
		}
		return string(b)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		midRender  bool // interrupted by the chart renderer, else before it starts
		outputFile string
	}{
		{"status", []string{"status"}, true, ""},
		{"status --json", []string{"status", "--json"}, true, ""},
		{"status --app --env", []string{"status", "--app", "guestbook", "--env", "staging"}, true, ""},
		{"report", []string{"report", "--out-file", filepath.Join(out, "report.html")}, true, filepath.Join(out, "report.html")},
		{"promote", []string{"promote", "--app", "guestbook", "--from", "staging", "--to", "prod"}, true, ""},
		{"deploy", []string{"deploy", "--app", "guestbook", "--env", "prod", "--image", reg + "@" + dig(2), "--source-commit", src, "--allow-unknown-source"}, true, ""},
		{"history", []string{"history"}, false, ""},
		{"history --json", []string{"history", "--json"}, false, ""},
		{"dora", []string{"dora", "--json"}, false, ""},
		{"wait", []string{"wait", "--app", "guestbook", "--env", "staging"}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("ARGOCD_SERVER", "127.0.0.1:1")
			t.Setenv("ARGOCD_AUTH_TOKEN", "t")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var once sync.Once
			called := false
			p := plain
			p.Charts = func(c context.Context, chart fs.FS, values map[string]any, release, namespace string) ([]byte, error) {
				once.Do(func() { called = true; cancel() })
				return helm.Render(c, chart, values, release, namespace)
			}
			if !tc.midRender {
				cancel()
			}
			before := head()
			o, e, code := cli(ctx, p, tc.args...)
			if code != 130 || o != "" || !strings.Contains(e, "interrupted") {
				t.Errorf("exit %d, want 130 with no output\nstdout: %q\nstderr: %s", code, o, e)
			}
			if tc.midRender && !called {
				t.Errorf("the command rendered nothing: not interrupted mid-render")
			}
			if head() != before {
				t.Errorf("the GitOps branch moved")
			}
			if tc.outputFile != "" {
				if _, err := os.Stat(tc.outputFile); err == nil {
					t.Errorf("%s written", tc.outputFile)
				}
			}
		})
	}
}
