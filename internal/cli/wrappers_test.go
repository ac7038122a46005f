package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/imagelock"
)

func monoProject() Project {
	p := testProject()
	p.Apps = append(p.Apps, App{Name: "ledger", Source: "../../ledger"})
	p.Stages = append(DefaultStages(), StageSpec{Name: "integration", Needs: []string{StageBuild}, Secrets: []string{"DB_PASSWORD"},
		Run: func(context.Context, dag.StageEnv) error { return nil }})
	return p
}

// The generated Jenkinsfile has one Jenkins stage per Slipway stage, lint ∥
// test as a parallel block, each running that stage with `go run ./ci`.
func TestGeneratedJenkinsfile(t *testing.T) {
	for name, p := range map[string]Project{"one app": testProject(), "monorepo with a custom stage": monoProject()} {
		t.Run(name, func(t *testing.T) {
			p.GitOpsRepo = "https://git.acme.io/platform/gitops.git"
			for i := range p.Apps {
				p.Apps[i].Image = "registry.acme.io/team/" + p.Apps[i].Name
			}
			data, err := GenerateJenkinsfile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`(?s)stage\('lint & test & build'\) \{\s+parallel \{\s+stage\('lint'\).*stage\('test'\).*stage\('build'\)`).MatchString(data) {
				t.Errorf("lint ∥ test ∥ build is not a parallel block:\n%s", data)
			}
			var ran []string
			for _, m := range regexp.MustCompile(`sh '([^']+)'`).FindAllStringSubmatch(data, -1) {
				ran = append(ran, m[1])
			}
			want := []string{"go run ./ci lint", "go run ./ci test", "go run ./ci build", "go run ./ci scan"}
			if len(p.Stages) > 6 {
				want = append(want, "go run ./ci run integration")
			}
			want = append(want, "go run ./ci run push", "go run ./ci run deploy")
			if strings.Join(ran, ",") != strings.Join(want, ",") {
				t.Errorf("Jenkins runs %v, want %v", ran, want)
			}
			for _, env := range []string{"REGISTRY_USERNAME", "REGISTRY_PASSWORD", "GITOPS_TOKEN"} {
				if !strings.Contains(data, "'"+env+"'") {
					t.Errorf("Jenkinsfile does not bind %s with withCredentials", env)
				}
			}
			if len(p.Stages) > 6 && !strings.Contains(data, "variable: 'DB_PASSWORD'") {
				t.Error("the custom stage's secret is not bound")
			}
			if !strings.Contains(data, "archiveArtifacts") || strings.Contains(data, "kubectl") {
				t.Error("archiveArtifacts missing, or kubectl present")
			}
		})
	}
}

// The generated workflow: actions pinned by SHA, least privilege, one
// `go run ./ci` step, a SARIF upload per app, no cluster access; actionlint agrees.
func TestGeneratedWorkflow(t *testing.T) {
	for name, p := range map[string]Project{"one app": testProject(), "monorepo": monoProject()} {
		t.Run(name, func(t *testing.T) {
			data, err := GenerateGitHubActions(p)
			if err != nil {
				t.Fatal(err)
			}
			var wf struct {
				Permissions map[string]string `json:"permissions"`
				Jobs        map[string]struct {
					Permissions map[string]string `json:"permissions"`
					Steps       []struct {
						Uses string            `json:"uses"`
						Run  string            `json:"run"`
						With map[string]string `json:"with"`
					} `json:"steps"`
				} `json:"jobs"`
			}
			if err := yaml.Unmarshal([]byte(data), &wf); err != nil {
				t.Fatal(err)
			}
			if len(wf.Permissions) != 1 || wf.Permissions["contents"] != "read" {
				t.Errorf("top-level permissions %v", wf.Permissions)
			}
			pinned := regexp.MustCompile(`^[\w.-]+/[\w./-]+@[0-9a-f]{40}$`)
			runs, sarifs := 0, 0
			for _, job := range wf.Jobs {
				for _, s := range job.Steps {
					if s.Uses != "" && !pinned.MatchString(s.Uses) {
						t.Errorf("action %q is not pinned by commit SHA", s.Uses)
					}
					if strings.Contains(s.Run, "go run ./ci") {
						runs++
					}
					if strings.Contains(s.Uses, "upload-sarif") {
						sarifs++
					}
				}
			}
			if runs != 2 || sarifs != len(p.Apps) { // verify's and publish's
				t.Errorf("%d go run ./ci steps, %d SARIF uploads for %d apps", runs, sarifs, len(p.Apps))
			}
			if strings.Contains(data, "kubectl") || strings.Contains(data, "KUBECONFIG") {
				t.Error("the workflow talks to a cluster")
			}
			if bin, err := exec.LookPath("actionlint"); err == nil {
				f := filepath.Join(t.TempDir(), "ci.yml")
				os.WriteFile(f, []byte(data), 0o644)
				if out, err := exec.Command(bin, f).CombinedOutput(); err != nil {
					t.Errorf("actionlint: %v\n%s", err, out)
				}
			}
		})
	}
}

// generate --check fails when the committed file differs.
func TestGenerateCheck(t *testing.T) {
	noEngineEnv(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "Jenkinsfile")
	repo := "--gitops-repo=https://git.acme.io/platform/gitops.git"
	if _, stderr, code := run(t, "generate", "jenkinsfile", "--output", f, repo); code != 2 || !strings.Contains(stderr, "App.Image of sample-app is empty") {
		t.Fatalf("no App.Image: exit %d %s", code, stderr)
	}
	f = filepath.Join(dir, "ci.yml")
	if _, stderr, code := run(t, "generate", "github-actions", "--output", f); code != 0 {
		t.Fatal(stderr)
	}
	if _, _, code := run(t, "generate", "github-actions", "--check", "--output", f); code != 0 {
		t.Error("fresh file reported as stale")
	}
	os.WriteFile(f, []byte("name: ci\n"), 0o644)
	if _, stderr, code := run(t, "generate", "github-actions", "--check", "--output", f); code != 1 || !strings.Contains(stderr, "generate github-actions") {
		t.Errorf("stale file: exit %d %s", code, stderr)
	}
	if _, _, code := run(t, "generate", "gitlab"); code != 2 {
		t.Errorf("unknown kind: exit %d", code)
	}
}

// Issue 12.16: make lint and the lint stage use one golangci-lint version, the lock's.
func TestMakeLintUsesTheLockVersion(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	out, err := exec.Command("make", "-s", "-C", "../..", "lint-version").Output()
	if err != nil {
		t.Fatal(err)
	}
	lock, err := imagelock.Load("../../ci/images.lock")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(out)), lock.MustGet("golangci-lint").Tag; got != want {
		t.Errorf("make lint uses golangci-lint %q, the lint stage %q", got, want)
	}
}
