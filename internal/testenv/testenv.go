// Package testenv makes Slipway's tests independent of the shell and the
// machine that run them. Every test package's TestMain calls Main: it
// removes the variables Slipway reads (its own, the GitOps and registry
// secrets, the CI detection variables, the Docker and Dagger engine settings,
// git's own variables) before any test starts, so `SLIPWAY_IMAGES` set for a
// mirror or `CI=true` on a runner cannot change an answer; and it points
// every tool a test runs away from the developer's configuration (Isolate):
// git reads a global configuration testenv writes and no system one, HOME,
// the XDG directories and DOCKER_CONFIG are empty directories of its own, and
// TMPDIR is short. A global core.hooksPath, commit.gpgsign, protocol.version
// or a ~/.docker credsStore cannot fail a test. Engine tests read the
// developer's engine and registry on purpose: they call Engine, which puts
// the original values back for that test only.
package testenv

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// prefixes are the families of variables Slipway, its CI detection, the
// Dagger SDK and the Docker client read.
var prefixes = []string{
	"SLIPWAY_", "GITOPS_", "CI", "DOCKER_", "REGISTRY_", "ARGOCD_", "GITHUB_",
	"GITLAB_", "ACTIONS_", "TRIVY_", "DAGGER_", "_EXPERIMENTAL_DAGGER_", "BUILDKITE",
	// git's own: GIT_CONFIG_PARAMETERS and GIT_CONFIG_COUNT inject
	// configuration, GIT_CONFIG_GLOBAL/SYSTEM replace files, GIT_SSH_COMMAND,
	// GIT_ASKPASS, GIT_AUTHOR_* and GIT_DIR change what a command does.
	"GIT_",
}

// names are single variables outside those families that change an answer:
// CI systems' branch and URL variables, reproducible-build time, git's
// repository overrides (a test run from a git hook inherits GIT_DIR).
var names = []string{
	"TF_BUILD", "JENKINS_URL", "BRANCH_NAME", "CHANGE_TARGET", "BUILD_URL", "JOB_URL", "BUILD_USER_ID",
	"SOURCE_DATE_EPOCH", "KUBECONFIG", "SSH_AUTH_SOCK", "REGISTRY_AUTH_FILE", "SSH_ASKPASS",
}

// kept are variables inside those families that only tell tests where to
// leave what they produce, never what to answer, or where a tool is
// installed (git's helper programs).
var kept = map[string]bool{"SLIPWAY_TEST_ARTIFACTS": true, "GIT_EXEC_PATH": true}

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
	// unset are the variables Isolate set that the shell did not have:
	// Engine removes them again.
	unset = map[string]bool{}
	// ours are the values Isolate set: Scrub leaves them in place.
	ours = map[string]string{}
)

// Scrub removes every variable Scrubbed names from the process environment
// and remembers its value for Engine.
func Scrub() {
	mu.Lock()
	defer mu.Unlock()
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if Scrubbed(k) && (ours[k] == "" || ours[k] != v) {
			saved[k] = v
			os.Unsetenv(k)
		}
	}
}

// Main scrubs the environment, isolates the tests from the machine's
// configuration, runs the package's tests, removes what Isolate made and
// exits with the tests' status. Use it as the whole TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	Scrub()
	root, err := Isolate()
	if err != nil {
		os.Stderr.WriteString("testenv: " + err.Error() + "\n")
		os.Exit(2)
	}
	code := m.Run()
	_ = os.RemoveAll(root)
	os.Exit(code)
}

// Identity is the author and committer of every commit a test makes
// without naming one: the global git configuration Isolate writes.
const (
	IdentityName  = "Slipway Test"
	IdentityEmail = "test@slipway.invalid"
)

// GitConfig is the global git configuration Isolate writes: an identity,
// main as the first branch, and nothing signed. Hooks, protocol and
// transport settings are git's defaults.
const GitConfig = "[user]\n\tname = " + IdentityName + "\n\temail = " + IdentityEmail + "\n" +
	"[init]\n\tdefaultBranch = main\n" +
	"[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n[push]\n\tgpgsign = false\n"

// shortTemp is the longest temporary directory Isolate builds under: a
// Unix socket's path holds at most 104 bytes on macOS (108 on Linux), and
// t.TempDir appends the test's name.
const shortTemp = 24

// Isolate points every tool a test runs at an empty configuration of its
// own, in a new directory it returns (Main removes it when the tests end):
//
//   - git: GIT_CONFIG_GLOBAL is a file holding GitConfig, GIT_CONFIG_NOSYSTEM
//     is set (Scrub removed GIT_CONFIG_PARAMETERS and friends);
//   - HOME and XDG_CONFIG_HOME, XDG_CACHE_HOME, XDG_DATA_HOME, XDG_STATE_HOME
//     are empty directories (no ~/.gitconfig, ~/.netrc, ~/.docker, ~/.ssh/known_hosts);
//   - DOCKER_CONFIG is a directory whose config.json names no credential
//     helper and no credentials;
//   - TMPDIR is a short directory (under /tmp when the shell's is long), so
//     a socket in t.TempDir() fits and no answer depends on its length.
//
// The go command keeps the shell's module cache, build cache and go env
// file (GOMODCACHE, GOCACHE, GOPATH, GOENV are set to what it used before
// HOME moved). Engine puts the shell's values back.
func Isolate() (string, error) {
	goDirs := goEnvDirs()
	base := os.TempDir()
	if len(base) > shortTemp {
		if fi, err := os.Stat("/tmp"); err == nil && fi.IsDir() {
			base = "/tmp"
		}
	}
	root, err := os.MkdirTemp(base, "sw")
	if err != nil {
		return "", err
	}
	dirs := map[string]string{
		"HOME": "home", "XDG_CONFIG_HOME": "config", "XDG_CACHE_HOME": "cache", "XDG_DATA_HOME": "data",
		"XDG_STATE_HOME": "state", "DOCKER_CONFIG": "docker", "TMPDIR": "t",
	}
	env := map[string]string{"GIT_CONFIG_GLOBAL": filepath.Join(root, "gitconfig"), "GIT_CONFIG_NOSYSTEM": "1"}
	for k, d := range dirs {
		env[k] = filepath.Join(root, d)
		if err := os.Mkdir(env[k], 0o700); err != nil {
			return root, err
		}
	}
	docker, _ := json.Marshal(map[string]any{"auths": map[string]any{}})
	if err := os.WriteFile(filepath.Join(env["DOCKER_CONFIG"], "config.json"), docker, 0o600); err != nil {
		return root, err
	}
	if err := os.WriteFile(env["GIT_CONFIG_GLOBAL"], []byte(GitConfig), 0o600); err != nil {
		return root, err
	}
	for k, v := range goDirs {
		if os.Getenv(k) == "" {
			env[k] = v
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for k, v := range env {
		if old, ok := os.LookupEnv(k); ok {
			if _, scrubbed := saved[k]; !scrubbed {
				saved[k] = old
			}
		} else if _, scrubbed := saved[k]; !scrubbed {
			unset[k] = true
		}
		if err := os.Setenv(k, v); err != nil {
			return root, err
		}
		ours[k] = v
	}
	return root, nil
}

// goEnvDirs are where the go command keeps its caches and reads its
// settings, as it resolves them with the shell's HOME.
func goEnvDirs() map[string]string {
	names := []string{"GOENV", "GOCACHE", "GOMODCACHE", "GOPATH"}
	out, err := exec.Command("go", append([]string{"env", "-json"}, names...)...).Output()
	dirs := map[string]string{}
	if err == nil && json.Unmarshal(out, &dirs) == nil {
		return dirs
	}
	// No go command: what it would use.
	if d, err := os.UserConfigDir(); err == nil {
		dirs["GOENV"] = filepath.Join(d, "go", "env")
	}
	if d, err := os.UserCacheDir(); err == nil {
		dirs["GOCACHE"] = filepath.Join(d, "go-build")
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs["GOPATH"] = filepath.Join(h, "go")
	}
	return dirs
}

// Engine gives one engine test the environment the shell had (the engine
// address, the registry and its credentials, SLIPWAY_IMAGES, HOME, git's
// and Docker's configuration), restored when the test ends. TMPDIR stays
// short.
func Engine(t testing.TB) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	for k, v := range saved {
		if k == "TMPDIR" {
			continue
		}
		t.Setenv(k, v)
	}
	for k := range unset {
		if k == "TMPDIR" || strings.HasPrefix(k, "GO") {
			continue
		}
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// Saved is the value the shell gave a variable Main removed or replaced
// ("" if none):
// for tests that are told where a lab runs (the argocd-tagged tests read
// the addresses and tokens hack/argocd-lab/start.sh gives them).
func Saved(name string) string {
	mu.Lock()
	defer mu.Unlock()
	return saved[name]
}
