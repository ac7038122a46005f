package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain runs the pipeline's tests without the shell's Slipway, GitOps, CI,
// Docker, registry and git variables: a developer's SLIPWAY_IMAGES (a mirror)
// or a runner's CI=true must not change what the plan says. The repositories
// the tests make are committed with a git configuration of their own (an
// identity, nothing signed, no hooks), not the developer's ~/.gitconfig.
func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		for _, family := range []string{"SLIPWAY_", "GITOPS_", "CI", "DOCKER_", "REGISTRY_", "GITHUB_", "GITLAB_", "JENKINS_", "BUILDKITE", "TF_BUILD", "CHANGE_TARGET", "TRIVY_", "GIT_"} {
			if strings.HasPrefix(name, family) && name != "GIT_EXEC_PATH" {
				os.Unsetenv(name)
			}
		}
	}
	dir, err := os.MkdirTemp("", "shop-ci-test")
	if err != nil {
		panic(err)
	}
	cfg := filepath.Join(dir, "gitconfig")
	if err := os.WriteFile(cfg, []byte("[user]\n\tname = Shop Test\n\temail = test@shop.invalid\n[commit]\n\tgpgsign = false\n"), 0o600); err != nil {
		panic(err)
	}
	os.Setenv("GIT_CONFIG_GLOBAL", cfg)
	os.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
