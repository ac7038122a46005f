package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// run executes the CLI in-process with a clean engine environment.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func noEngineEnv(t *testing.T) {
	t.Setenv("DAGGER_SESSION_PORT", "")
	t.Setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", "")
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	// .ci/run sets CI=true; tests that want the CI rules set it themselves.
	for _, k := range ciVariables {
		t.Setenv(k, "")
	}
}

func TestNoEngineFailsFastWithOneLine(t *testing.T) {
	noEngineEnv(t)
	for _, args := range [][]string{{}, {"--publish"}, {"--publish", "--keep-going", "--severity", "CRITICAL"}, {"run"}, {"lint"}, {"test"}, {"build"}, {"scan"}, {"run", "build", "scan"}} {
		out := t.TempDir()
		start := time.Now()
		_, stderr, code := run(t, append(args, "--source", "../../sample-app", "--out", out)...)
		if code != 1 {
			t.Errorf("%v: exit %d, want 1\n%s", args, code, stderr)
		}
		var errLines []string
		for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
			if strings.HasPrefix(l, "error:") {
				errLines = append(errLines, l)
			}
		}
		if len(errLines) != 1 || !strings.Contains(errLines[0], "no Dagger engine") ||
			!strings.Contains(errLines[0], "start Docker") || !strings.Contains(errLines[0], "_EXPERIMENTAL_DAGGER_RUNNER_HOST") {
			t.Errorf("%v: stderr %q, want one error line naming the engine and both fixes", args, stderr)
		}
		if strings.Contains(stderr, "started") {
			t.Errorf("%v: a stage started without an engine:\n%s", args, stderr)
		}
		// Generous bound: the point is "seconds, not a hang"; the real figure is ~0.2 s.
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("%v: took %s", args, d)
		}
	}
}

func TestRunnerHostThatDoesNotAnswer(t *testing.T) {
	noEngineEnv(t)
	t.Setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", "tcp://user:hunter2@127.0.0.1:1")
	_, stderr, code := run(t, "lint", "--source", "../../sample-app", "--out", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "tcp://127.0.0.1:1 does not answer") {
		t.Errorf("exit %d stderr %q", code, stderr)
	}
	if strings.Contains(stderr, "hunter2") {
		t.Error("runner host password printed")
	}
}

func TestPlanWorksWithoutEngine(t *testing.T) {
	noEngineEnv(t)
	stdout, stderr, code := run(t, "plan", "--source", "../../sample-app", "--image", "registry.example.com/team/app")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"1. lint ∥ test ∥ build", "2. scan", "3. push",
		"golang:1.26-bookworm@sha256:", "aquasec/trivy:0.69.3@sha256:", "gcr.io/distroless/static-debian12:nonroot@sha256:",
		"slipway-go-mod", "slipway-trivy-db", "REGISTRY_PASSWORD", "GITOPS_TOKEN",
		"registry.example.com/team/app", "sample-app/overlays/development/kustomization.yaml",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, code = run(t, "plan", "--json", "--source", "../../sample-app")
	if code != 0 {
		t.Fatal(code)
	}
	var doc planDoc
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Waves) != 4 || strings.Join(doc.Waves[0], ",") != "lint,test,build" || len(doc.Images) != 4 || doc.Stages[0].Name != "lint" {
		t.Errorf("plan json %+v", doc)
	}
}

func TestPlanNeverPrintsSecretValues(t *testing.T) {
	noEngineEnv(t)
	t.Setenv("REGISTRY_PASSWORD", "s3cr3t-registry-value")
	t.Setenv("GITOPS_TOKEN", "ghp_s3cr3tgitopsvalue")
	t.Setenv("TRIVY_PASSWORD", "trivy-s3cr3t")
	for _, args := range [][]string{{"plan"}, {"plan", "--json"}} {
		stdout, stderr, _ := run(t, append(args, "--source", "../../sample-app")...)
		for _, s := range []string{"s3cr3t-registry-value", "ghp_s3cr3tgitopsvalue", "trivy-s3cr3t"} {
			if strings.Contains(stdout+stderr, s) {
				t.Errorf("%v printed a secret value", args)
			}
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	noEngineEnv(t)
	cases := [][]string{
		{"--no-such-flag"},
		{"no-such-command"},
		{"run", "deploy-everything", "--source", "../../sample-app"},
		{"plan", "--source", t.TempDir()},
		{"plan", "--source", "../../sample-app", "--images", filepath.Join(t.TempDir(), "missing.lock")},
	}
	for _, args := range cases {
		_, stderr, code := run(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr)
		}
		if !strings.HasPrefix(stderr, "error: ") && !strings.Contains(stderr, "\nerror: ") {
			t.Errorf("%v: stderr %q has no error line", args, stderr)
		}
	}
}

func TestImagesLockOverride(t *testing.T) {
	noEngineEnv(t)
	lock := filepath.Join(t.TempDir(), "mirror.lock")
	data, err := os.ReadFile("../../ci/images.lock")
	if err != nil {
		t.Fatal(err)
	}
	mirrored := strings.ReplaceAll(string(data), "golang:1.26", "mirror.corp.example/library/golang:1.26")
	if err := os.WriteFile(lock, []byte(mirrored), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLIPWAY_IMAGES", lock)
	stdout, _, code := run(t, "plan", "--source", "../../sample-app")
	if code != 0 || !strings.Contains(stdout, "mirror.corp.example/library/golang:1.26-bookworm@sha256:") || !strings.Contains(stdout, lock) {
		t.Errorf("SLIPWAY_IMAGES not used (exit %d):\n%s", code, stdout)
	}
	bad := filepath.Join(t.TempDir(), "bad.lock")
	os.WriteFile(bad, []byte(strings.ReplaceAll(string(data), "trivy:0.69.3", "trivy:0.69.5")), 0o644)
	_, stderr, code := run(t, "plan", "--source", "../../sample-app", "--images", bad)
	if code != 2 || !strings.Contains(stderr, "compromised") {
		t.Errorf("compromised trivy accepted: exit %d %s", code, stderr)
	}
}
