package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/slipway-ci/slipway/internal/imagelock"
)

// TestJenkinsfileMatchesStages: the Jenkinsfile's stages are exactly
// Slipway's stages, in order, and each runs that stage with `go run ./ci`.
func TestJenkinsfileMatchesStages(t *testing.T) {
	data, err := os.ReadFile("../Jenkinsfile")
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRunState(&options{source: "../sample-app", stdout: os.Stdout, stderr: os.Stderr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := r.graph()
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile(`(?s)stage\('([^']+)'\)\s*\{(.*?)\n    \}`).FindAllStringSubmatch(string(data), -1)
	var names []string
	for _, b := range blocks {
		names = append(names, b[1])
		sh := regexp.MustCompile(`sh '([^']+)'`).FindAllStringSubmatch(b[2], -1)
		if len(sh) != 1 || (sh[0][1] != "go run ./ci "+b[1] && sh[0][1] != "go run ./ci run "+b[1]) {
			t.Errorf("stage %q runs %v, want exactly `go run ./ci %s`", b[1], sh, b[1])
		}
	}
	if strings.Join(names, ",") != strings.Join(g.Names(), ",") {
		t.Errorf("Jenkinsfile stages %v, Slipway stages %v", names, g.Names())
	}
	for _, env := range []string{"REGISTRY_USERNAME", "REGISTRY_PASSWORD", "GITOPS_TOKEN"} {
		if !strings.Contains(string(data), "'"+env+"'") {
			t.Errorf("Jenkinsfile does not bind %s with withCredentials", env)
		}
	}
	if !strings.Contains(string(data), "archiveArtifacts") {
		t.Error("no archiveArtifacts")
	}
}

var pinnedUse = regexp.MustCompile(`^[\w.-]+/[\w./-]+@[0-9a-f]{40}$`)

// TestWorkflowIsPinnedAndClusterFree checks the GitHub workflow: every action
// pinned by full commit SHA, least privilege, one pipeline step, no cluster access.
func TestWorkflowIsPinnedAndClusterFree(t *testing.T) {
	data, err := os.ReadFile("../.github/workflows/ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Permissions map[string]string `json:"permissions"`
		Concurrency map[string]any    `json:"concurrency"`
		Jobs        map[string]struct {
			Permissions map[string]string `json:"permissions"`
			Steps       []struct {
				Uses string `json:"uses"`
				Run  string `json:"run"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatal(err)
	}
	if len(wf.Permissions) != 1 || wf.Permissions["contents"] != "read" || wf.Concurrency["group"] == nil {
		t.Errorf("top-level permissions %v concurrency %v", wf.Permissions, wf.Concurrency)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.Index(line, "uses: "); i >= 0 {
			use, comment, _ := strings.Cut(strings.TrimSpace(line[i+6:]), " # ")
			if !pinnedUse.MatchString(use) || !strings.HasPrefix(comment, "v") {
				t.Errorf("action not pinned by SHA with a version comment: %s", strings.TrimSpace(line))
			}
		}
	}
	pipelineRuns := 0
	for _, s := range wf.Jobs["pipeline"].Steps {
		if strings.HasPrefix(s.Run, "go run ./ci") {
			pipelineRuns++
		}
	}
	if pipelineRuns != 1 {
		t.Errorf("pipeline job has %d `go run ./ci` steps, want 1", pipelineRuns)
	}
	for name, j := range wf.Jobs {
		if j.Permissions == nil {
			t.Errorf("job %s has no permissions block", name)
		}
	}
	for _, f := range []string{"../.github/workflows/ci.yml", "../Jenkinsfile"} {
		b, _ := os.ReadFile(f)
		for _, bad := range []string{"kubectl", "kubeconfig", "KUBECONFIG", "helm upgrade"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s mentions %s: CI must not talk to a cluster", f, bad)
			}
		}
	}
}

// Issue 12.16: make lint and the lint stage use one golangci-lint version, the lock's.
func TestMakeLintUsesTheLockVersion(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	out, err := exec.Command("make", "-s", "-C", "..", "lint-version").Output()
	if err != nil {
		t.Fatal(err)
	}
	lock, err := imagelock.Parse("ci/images.lock", builtinImages)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(out)), lock.MustGet("golangci-lint").Tag; got != want {
		t.Errorf("make lint uses golangci-lint %q, the lint stage %q", got, want)
	}
}
