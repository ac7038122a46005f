package cli

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/pipeline"
)

func readResult(t *testing.T, out string) *pipeline.Result {
	t.Helper()
	res, err := pipeline.LoadResult(out)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Issue 12.3: in CI an empty CI_IMAGE or GITOPS_REPO is a missing secret.
func TestCIRefusesEmptyPublishTargets(t *testing.T) {
	noEngineEnv(t)
	t.Setenv("CI", "true")
	t.Setenv("CI_IMAGE", "")
	t.Setenv("GITOPS_REPO", "")
	out := t.TempDir()
	scannedImageTar(t, out, pipeline.GatePassed)
	_, stderr, code := run(t, "run", "push", "deploy", "--out", out, "--source", "../../sample-app")
	if code != 2 || !strings.Contains(stderr, "CI_IMAGE is empty and CI is set") || !strings.Contains(stderr, "--local") {
		t.Fatalf("empty CI_IMAGE: exit %d\n%s", code, stderr)
	}
	t.Setenv("CI_IMAGE", "127.0.0.1:1/acme/app")
	_, stderr, code = run(t, "run", "push", "deploy", "--out", out, "--source", "../../sample-app")
	if code != 2 || !strings.Contains(stderr, "GITOPS_REPO is empty and CI is set") {
		t.Fatalf("empty GITOPS_REPO: exit %d\n%s", code, stderr)
	}
	_, stderr, code = run(t, "deploy", "--app", "sample-app", "--env", "development", "--image", dig(1), "--source-commit", strings.Repeat("a", 40), "--out", out, "--source", "../../sample-app")
	if code != 2 || !strings.Contains(stderr, "GITOPS_REPO is empty") {
		t.Fatalf("deploy command: exit %d\n%s", code, stderr)
	}
	for _, p := range []string{"registry", "gitops.git"} {
		if _, err := os.Stat(filepath.Join(out, p)); err == nil {
			t.Errorf("refused run created out/%s", p)
		}
	}
	// --local is the explicit opt-in (from a clean checkout: CI publishes no dirty tree).
	t.Setenv("CI_IMAGE", "")
	stdout, stderr, code := run(t, "run", "push", "deploy", "--local", "--out", out, "--source", cleanSampleApp(t))
	if code != 0 || !shaLine.MatchString(lastLine(stdout)) {
		t.Fatalf("--local: exit %d\n%s", code, stderr)
	}
}

// cleanSampleApp copies sample-app into a fresh git repository with one
// commit, so a test does not depend on this checkout being clean.
func cleanSampleApp(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sample-app")
	if out, err := exec.Command("cp", "-r", "../../sample-app", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-qm", "sample-app"}} {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=d", "GIT_AUTHOR_EMAIL=d@x", "GIT_COMMITTER_NAME=d", "GIT_COMMITTER_EMAIL=d@x")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	return dir
}

// Issue 12.4: push refuses a digest the gate did not pass, across split runs.
func TestPushStageEnforcesScanGate(t *testing.T) {
	noEngineEnv(t)
	for _, c := range []struct {
		name, verdict, want string
	}{
		{"failed", pipeline.GateFailed, "failed the scan gate"},
		{"unscanned", "", "has no scan verdict"},
		{"other digest", "other", "but the scan gate judged"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			switch c.verdict {
			case "":
				builtImageTar(t, out)
			case "other":
				scannedImageTar(t, out, pipeline.GatePassed)
				builtImageTar(t, out) // rebuilt after the scan: another digest
			default:
				scannedImageTar(t, out, c.verdict)
			}
			_, stderr, code := run(t, "run", "push", "--out", out, "--source", "../../sample-app")
			if code != 1 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "--skip-gate") {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			if _, err := os.Stat(filepath.Join(out, "registry", "blobs")); err == nil {
				t.Error("a refused push wrote to the registry")
			}
			if res := readResult(t, out); res.Image.Ref != "" {
				t.Errorf("refused push recorded a ref: %+v", res.Image)
			}
			stdout, stderr, code := run(t, "run", "push", "--out", out, "--source", "../../sample-app", "--skip-gate", "CVE-2026-1 has no fix; accepted by sec-team #42")
			if code != 0 || !refLine.MatchString(lastLine(stdout)) {
				t.Fatalf("--skip-gate: exit %d\n%s", code, stderr)
			}
			if g := readResult(t, out).Gate; g == nil || g.SkippedBy != "CVE-2026-1 has no fix; accepted by sec-team #42" {
				t.Errorf("skip reason not recorded: %+v", g)
			}
		})
	}
}

// Issue 12.6: CI refuses to publish from a modified tree.
func TestCIRefusesDirtyTree(t *testing.T) {
	noEngineEnv(t)
	src := t.TempDir()
	gitIn := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", src}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=d", "GIT_AUTHOR_EMAIL=d@x", "GIT_COMMITTER_NAME=d", "GIT_COMMITTER_EMAIL=d@x")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/app\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	os.MkdirAll(filepath.Join(src, "deploy", "base"), 0o755) // plan checks the manifests' directory
	os.WriteFile(filepath.Join(src, "deploy", "base", "kustomization.yaml"), []byte("resources: []\n"), 0o644)
	gitIn("init", "-q", "-b", "main")
	gitIn("add", ".")
	gitIn("commit", "-qm", "one")
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() { println() }\n"), 0o644)
	out := t.TempDir()
	scannedImageTar(t, out, pipeline.GatePassed)
	t.Setenv("CI", "true")
	t.Setenv("CI_IMAGE", "127.0.0.1:1/acme/app")
	t.Setenv("GITOPS_REPO", t.TempDir())
	_, stderr, code := run(t, "run", "push", "deploy", "--out", out, "--source", src)
	if code != 2 || !strings.Contains(stderr, "uncommitted changes") || !strings.Contains(stderr, "-dirty") {
		t.Fatalf("dirty tree in CI: exit %d\n%s", code, stderr)
	}
	stdout, _, code := run(t, "plan", "--json", "--out", out, "--source", src)
	if code != 0 || !strings.Contains(stdout, "-dirty") {
		t.Errorf("plan of a dirty tree does not show -dirty tags: %s", stdout)
	}
}

// Issue 12.9: a failed deploy replaces the deploy record, it does not keep
// the previous run's.
func TestFailedDeployClearsPreviousRecord(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	scannedImageTar(t, out, pipeline.GatePassed)
	if _, stderr, code := run(t, "run", "push", "deploy", "--out", out, "--source", "../../sample-app"); code != 0 {
		t.Fatalf("first publish: %s", stderr)
	}
	if readResult(t, out).Deploy == nil {
		t.Fatal("no deploy record after a deploy")
	}
	t.Setenv("GITOPS_REPO", filepath.Join(t.TempDir(), "missing.git"))
	if _, _, code := run(t, "run", "deploy", "--out", out, "--source", "../../sample-app"); code != 1 {
		t.Fatalf("deploy to a missing repository: exit %d", code)
	}
	res := readResult(t, out)
	if res.Deploy != nil || res.Stages["deploy"].Status != pipeline.Failed {
		t.Errorf("result.json after a failed deploy: deploy=%+v stage=%+v", res.Deploy, res.Stages["deploy"])
	}
	md, _ := os.ReadFile(filepath.Join(out, "summary.md"))
	if strings.Contains(string(md), "GitOps:") {
		t.Errorf("summary.md still reports a deploy:\n%s", md)
	}
}

// Issue 12.16: history and status read; they never create out/gitops.git.
func TestReadCommandsCreateNothing(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	for _, cmd := range []string{"history", "status"} {
		_, stderr, code := run(t, cmd, "--out", out, "--source", "../../sample-app")
		if code != 2 || !strings.Contains(stderr, "does not exist yet") {
			t.Errorf("%s with no repository: exit %d %s", cmd, code, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "gitops.git")); err == nil {
		t.Error("a read command created out/gitops.git")
	}
}

// Issue 12.11: status after a publish names what runs where.
func TestStatusCommand(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	scannedImageTar(t, out, pipeline.GatePassed)
	stdout, stderr, code := run(t, "run", "push", "deploy", "--out", out, "--source", "../../sample-app")
	if code != 0 {
		t.Fatalf("publish: %s", stderr)
	}
	commit := lastLine(stdout)
	stdout, stderr, code = run(t, "status", "--env", "development", "--json", "--out", out, "--source", "../../sample-app")
	var sts []map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &sts) != nil || len(sts) != 1 || sts[0]["commit"] != commit {
		t.Fatalf("status: exit %d %s %s", code, stdout, stderr)
	}
	if _, stderr, code := run(t, "status", "--env", "qa", "--out", out, "--source", "../../sample-app"); code != 2 || !strings.Contains(stderr, `environment "qa" does not exist`) || !strings.Contains(stderr, "development, production, staging") {
		t.Errorf("unknown env: exit %d %s", code, stderr)
	}
}

// Issue 12.16: Ctrl-C exits 130, not 1.
func TestInterruptExits130(t *testing.T) {
	noEngineEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var o, e strings.Builder
	code := execute(ctx, []string{"deploy", "--app", "sample-app", "--env", "development", "--image", dig(1), "--source-commit", strings.Repeat("a", 40), "--out", t.TempDir(), "--source", "../../sample-app"}, &o, &e)
	if code != 130 || !strings.Contains(e.String(), "interrupted") {
		t.Fatalf("exit %d %s", code, e.String())
	}
}
