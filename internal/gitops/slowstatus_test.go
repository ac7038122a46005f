package gitops

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/helm"
)

// TestStatusBoundsEachEnvironmentsRender (issue 18, finding 4): one
// environment whose render takes minutes does not hold up status: its row
// says "not rendered (took longer than …)" after EnvRenderLimit, the others
// are read as usual, and a long run reports progress.
func TestStatusBoundsEachEnvironmentsRender(t *testing.T) {
	limit, after := EnvRenderLimit, ProgressAfter
	EnvRenderLimit, ProgressAfter = 300*time.Millisecond, 0
	t.Cleanup(func() { EnvRenderLimit, ProgressAfter = limit, after })
	dir, r := localGitOps(t)
	wt := workClone(t, dir)
	files := map[string]string{
		"charts/web/Chart.yaml":                "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"charts/web/values.yaml":               "image:\n  repository: ghcr.io/acme/web\n  digest: \"\"\n",
		"charts/web/values-fast.yaml":          "image:\n  digest: " + digest(61).Digest + "\n",
		"charts/web/values-slow.yaml":          "slow: true\nimage:\n  digest: " + digest(62).Digest + "\n",
		"charts/web/templates/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: \"{{ .Values.image.repository }}@{{ .Values.image.digest }}\"\n",
	}
	for p, c := range files {
		os.MkdirAll(filepath.Join(wt, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(wt, p), []byte(c), 0o644)
	}
	gitCLI(t, wt, "add", ".")
	gitCLI(t, wt, "commit", "-qm", "slow")
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
	slow := func(ctx context.Context, chart fs.FS, values map[string]any, release, namespace string) ([]byte, error) {
		if values["slow"] == true {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Minute):
			}
		}
		return helm.Render(ctx, chart, values, release, namespace)
	}
	var progress bytes.Buffer
	start := time.Now()
	sts, err := Status(context.Background(), r, Filter{Layout: "charts/{app}/values-{env}.yaml", Charts: slow, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("status took %s", took)
	}
	got := map[string]EnvStatus{}
	for _, s := range sts {
		got[s.Env] = s
	}
	if s := got["slow"]; s.Note != "not rendered (took longer than 300ms)" || s.Image != "" {
		t.Errorf("slow: %+v", s)
	}
	if s := got["fast"]; s.Image != "ghcr.io/acme/web@"+digest(61).Digest {
		t.Errorf("fast: %+v", s)
	}
	if !strings.Contains(progress.String(), "status: read 2/2 environments") {
		t.Errorf("progress: %q", progress.String())
	}
}
