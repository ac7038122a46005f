package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway"
)

// This repository's wrappers are generated from config(): they must match.
func TestWrappersAreGenerated(t *testing.T) {
	t.Chdir("..") // the pipeline runs from the repository root
	for _, w := range []struct {
		kind, file string
		args       []string
	}{
		{"github-actions", ".github/workflows/ci.yml", nil},
		// This repository configures no GitOps.Repo (a local run seeds its own);
		// its Jenkinsfile names the one `make lint` passes (JENKINS_GITOPS_REPO).
		{"jenkinsfile", "Jenkinsfile", []string{"--gitops-repo", jenkinsGitOpsRepo(t)}},
	} {
		var out, errb strings.Builder
		args := append([]string{"generate", w.kind, "--check", "--output", w.file}, w.args...)
		if code := slipway.Run(context.Background(), config(), args, &out, &errb); code != 0 {
			t.Errorf("%s: exit %d: %s (run `go run ./ci generate %s`)", w.file, code, errb.String(), w.kind)
		}
	}
}

func TestConfigIsValid(t *testing.T) {
	t.Chdir("..")
	if err := config().Validate(); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if code := slipway.Run(context.Background(), config(), []string{"plan", "--json"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"ledger"`) {
		t.Fatalf("plan: exit %d %s", code, errb.String())
	}
}

// jenkinsGitOpsRepo is the Makefile's JENKINS_GITOPS_REPO: one value for
// `make lint` and this test.
func jenkinsGitOpsRepo(t *testing.T) string {
	t.Helper()
	mk, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mk), "\n") {
		if v, ok := strings.CutPrefix(line, "JENKINS_GITOPS_REPO := "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("Makefile sets no JENKINS_GITOPS_REPO")
	return ""
}
