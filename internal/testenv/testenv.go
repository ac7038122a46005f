// Package testenv makes Slipway's tests independent of the shell that runs
// them. Every test package's TestMain calls Main: it removes the variables
// Slipway reads (its own, the GitOps and registry secrets, the CI detection
// variables, the Docker and Dagger engine settings) before any test starts,
// so `SLIPWAY_IMAGES` set for a mirror or `CI=true` on a runner cannot change
// an answer. Engine tests read the developer's engine and registry on
// purpose: they call Engine, which puts the original values back for that
// test only.
package testenv

import (
	"os"
	"strings"
	"sync"
	"testing"
)

// prefixes are the families of variables Slipway, its CI detection, the
// Dagger SDK and the Docker client read.
var prefixes = []string{
	"SLIPWAY_", "GITOPS_", "CI", "DOCKER_", "REGISTRY_", "ARGOCD_", "GITHUB_",
	"GITLAB_", "ACTIONS_", "TRIVY_", "DAGGER_", "_EXPERIMENTAL_DAGGER_", "BUILDKITE",
}

// names are single variables outside those families that change an answer:
// CI systems' branch and URL variables, reproducible-build time, git's
// repository overrides (a test run from a git hook inherits GIT_DIR).
var names = []string{
	"TF_BUILD", "JENKINS_URL", "BRANCH_NAME", "CHANGE_TARGET", "BUILD_URL", "JOB_URL", "BUILD_USER_ID",
	"SOURCE_DATE_EPOCH", "KUBECONFIG", "SSH_AUTH_SOCK",
	"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
}

// kept are variables inside those families that only tell tests where to
// leave what they produce, never what to answer.
var kept = map[string]bool{"SLIPWAY_TEST_ARTIFACTS": true}

// Scrubbed reports whether Main removes the variable name.
func Scrubbed(name string) bool {
	if kept[name] {
		return false
	}
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, n := range names {
		if name == n {
			return true
		}
	}
	return false
}

var (
	mu    sync.Mutex
	saved = map[string]string{}
)

// Scrub removes every variable Scrubbed names from the process environment
// and remembers its value for Engine.
func Scrub() {
	mu.Lock()
	defer mu.Unlock()
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if Scrubbed(k) {
			saved[k] = v
			os.Unsetenv(k)
		}
	}
}

// Main scrubs the environment, runs the package's tests and exits with
// their status. Use it as the whole TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	Scrub()
	os.Exit(m.Run())
}

// Engine gives one engine test the environment the shell had (the engine
// address, the registry and its credentials, SLIPWAY_IMAGES), restored when
// the test ends.
func Engine(t testing.TB) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	for k, v := range saved {
		t.Setenv(k, v)
	}
}

// Saved is the value the shell gave a variable Main removed ("" if none):
// for tests that are told where a lab runs (the argocd-tagged tests read
// the addresses and tokens hack/argocd-lab/start.sh gives them).
func Saved(name string) string {
	mu.Lock()
	defer mu.Unlock()
	return saved[name]
}
