package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/affected"
)

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=d", "GIT_AUTHOR_EMAIL=d@x", "GIT_COMMITTER_NAME=d", "GIT_COMMITTER_EMAIL=d@x")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func writeIn(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// shopRepo is a monorepo of two services, orders (which imports
// internal/money) and billing; it returns the checkout, the image lock, a
// function that commits everything at a given time, and the configuration.
func shopRepo(t *testing.T) (string, []byte, func(string, time.Time) string, Project) {
	t.Helper()
	root := t.TempDir()
	lock, err := os.ReadFile("../../ci/images.lock")
	if err != nil {
		t.Fatal(err)
	}
	writeIn(t, root, "go.mod", "module example.com/shop\n\ngo 1.26\n")
	writeIn(t, root, "internal/money/money.go", "package money\n")
	writeIn(t, root, "services/orders/main.go", "package main\n\nimport _ \"example.com/shop/internal/money\"\n\nfunc main() {}\n")
	writeIn(t, root, "services/billing/main.go", "package main\n\nfunc main() {}\n")
	writeIn(t, root, "ci/images.lock", string(lock))
	writeIn(t, root, "README.md", "# shop\n")
	gitIn(t, root, "init", "-q", "-b", "main")
	commit := func(msg string, when time.Time) string {
		gitIn(t, root, "add", "-A")
		cmd := exec.Command("git", "-C", root, "commit", "-qm", msg)
		stamp := when.Format(time.RFC3339)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=d", "GIT_AUTHOR_EMAIL=d@x", "GIT_COMMITTER_NAME=d", "GIT_COMMITTER_EMAIL=d@x",
			"GIT_AUTHOR_DATE="+stamp, "GIT_COMMITTER_DATE="+stamp)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("commit: %v %s", err, out)
		}
		return gitIn(t, root, "rev-parse", "HEAD")
	}
	proj := Project{
		Apps: []App{
			{Name: "orders", Source: ".", Main: "./services/orders"},
			{Name: "billing", Source: ".", Main: "./services/billing"},
		},
		ImageLock: lock, Global: affected.Global{Dirs: []string{"ci"}},
	}.withDefaults()
	return root, lock, commit, proj
}

// A standalone deploy (a Jenkins deploy stage, `go run ./ci deploy`) at a
// commit that changed nothing an app depends on accepts the image the
// pipeline built there: its revision label names the app's inputs' commit,
// not HEAD. Another app's image with that label is still refused: its inputs
// are from a later commit.
func TestDeployAcceptsTheInputsCommitLabel(t *testing.T) {
	noEngineEnv(t)
	host := ggcrRegistry(t, true)
	root, _, commit, proj := shopRepo(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c1 := commit("base", t0)
	writeIn(t, root, "services/billing/main.go", "package main\n\nfunc main() { println() }\n")
	c2 := commit("billing", t0.Add(time.Hour))
	manifests, _ := filepath.Abs("../../sample-app/deploy")
	t.Chdir(root)
	// The local GitOps repository is seeded from each app's manifests: the
	// sample app's, renamed (written after the commits: untracked, so they
	// are outside both apps' committed inputs and the test's history).
	for i, a := range []string{"orders", "billing"} {
		err := filepath.WalkDir(manifests, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(manifests, p)
			writeIn(t, root, "deploy-"+a+"/"+filepath.ToSlash(rel), strings.ReplaceAll(string(b), "sample-app", a))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		proj.Apps[i].Deploy = "deploy-" + a
	}
	dir, out := t.TempDir(), filepath.Join(root, "out")
	exec := func(args ...string) (string, string, int) {
		var o, e strings.Builder
		code := Execute(context.Background(), proj, args, &o, &e)
		return o.String(), e.String(), code
	}
	stdout, stderr, code := exec("push", "--tarball", labelledImageTar(t, dir, c1), "--image", host+"/shop/orders", "--source-commit", c1, "--out", out)
	if code != 0 {
		t.Fatalf("push: exit %d\n%s", code, stderr)
	}
	ref := lastLine(stdout)
	_, stderr, code = exec("deploy", "--app", "orders", "--env", "development", "--image", ref, "--source-commit", c2, "--out", out)
	if code != 0 || !strings.Contains(stderr, "the newest commit up to "+c2[:12]+" that changed orders's inputs") {
		t.Fatalf("deploy of orders at %s, image labelled %s (its inputs' commit): exit %d\n%s", c2[:12], c1[:12], code, stderr)
	}
	_, stderr, code = exec("deploy", "--app", "billing", "--env", "development", "--image", ref, "--source-commit", c2, "--out", out)
	if code != 1 || !strings.Contains(stderr, "label says it was built from "+c1) {
		t.Fatalf("deploy of billing (inputs at %s) with an image labelled %s: exit %d, want 1\n%s", c2[:12], c1[:12], code, stderr)
	}
}

// Issue 19.8: with ci/ its own module, the service's go.sum (if any) does
// not describe what `go run ./ci` compiles; every setup-go step caches by
// every go.sum, so a runner restores the compiled pipeline.
func TestWorkflowCachesByEveryGoSum(t *testing.T) {
	p := testProject()
	p.Apps[0].Image = "registry.acme.io/payments/sample-app"
	data, err := GenerateGitHubActions(p)
	if err != nil {
		t.Fatal(err)
	}
	setups, cached := strings.Count(data, "uses: actions/setup-go@"), strings.Count(data, `cache-dependency-path: "**/go.sum"`)
	if setups == 0 || setups != cached {
		t.Errorf("%d setup-go steps, %d cache by every go.sum", setups, cached)
	}
}
