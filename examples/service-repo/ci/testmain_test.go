package main

import (
	"os"
	"strings"
	"testing"
)

// TestMain runs the pipeline's tests without the shell's Slipway, GitOps, CI,
// Docker and registry variables: a developer's SLIPWAY_IMAGES (a mirror) or a
// runner's CI=true must not change what the plan says.
func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		for _, family := range []string{"SLIPWAY_", "GITOPS_", "CI", "DOCKER_", "REGISTRY_", "GITHUB_", "GITLAB_", "JENKINS_", "BUILDKITE", "TF_BUILD", "CHANGE_TARGET", "TRIVY_"} {
			if strings.HasPrefix(name, family) {
				os.Unsetenv(name)
			}
		}
	}
	os.Exit(m.Run())
}
