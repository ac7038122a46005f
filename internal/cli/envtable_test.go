package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/secret"
)

// publicVariables are the environment variables Slipway reads whose values
// are not secret, each with why. A variable the code reads must be here or
// in secret.Variables (the one table of secret-bearing variables, which
// every run's redactor learns): TestEveryVariableClassified fails on a new
// one until someone decides which it is.
var publicVariables = map[string]string{
	"ACTIONS_ID_TOKEN_REQUEST_URL":        "an endpoint; the request token is secret",
	"ARGOCD_INSECURE":                     "a switch",
	"ARGOCD_PLAINTEXT":                    "a switch",
	"ARGOCD_SERVER":                       "an address (a credential in it is learned as a URL's)",
	"BRANCH_NAME":                         "CI metadata",
	"BUILD_URL":                           "CI metadata",
	"BUILD_USER_ID":                       "an actor's name, recorded on purpose",
	"CGO_ENABLED":                         "a build setting",
	"CHANGE_TARGET":                       "CI metadata",
	"CI_COMMIT_REF_NAME":                  "CI metadata",
	"CI_IMAGE":                            "an image reference",
	"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "CI metadata",
	"CI_PIPELINE_URL":                     "CI metadata",
	"CI_PROJECT_URL":                      "CI metadata",
	"DAGGER_SESSION_PORT":                 "a port",
	"DOCKER_CONFIG":                       "a directory (testenv's own for tests)",
	"DOCKER_HOST":                         "an address",
	"GITHUB_ACTIONS":                      "CI metadata",
	"GITHUB_ACTOR":                        "an actor's name, recorded on purpose",
	"GITHUB_BASE_REF":                     "CI metadata",
	"GITHUB_HEAD_REF":                     "CI metadata",
	"GITHUB_REF_NAME":                     "CI metadata",
	"GITHUB_REPOSITORY":                   "CI metadata",
	"GITHUB_RUN_ATTEMPT":                  "CI metadata",
	"GITHUB_RUN_ID":                       "CI metadata",
	"GITHUB_SERVER_URL":                   "CI metadata",
	"GITHUB_STEP_SUMMARY":                 "a file path",
	"GITHUB_TRIGGERING_ACTOR":             "an actor's name, recorded on purpose",
	"GITHUB_WORKFLOW_REF":                 "CI metadata (the signing identity)",
	"GITLAB_CI":                           "CI metadata",
	"GITLAB_USER_LOGIN":                   "an actor's name, recorded on purpose",
	"GITOPS_AUTHOR_EMAIL":                 "a commit identity",
	"GITOPS_AUTHOR_NAME":                  "a commit identity",
	"GITOPS_BRANCH":                       "a branch name",
	"GITOPS_REPO":                         "a URL (a credential in it is learned as a URL's)",
	"GITOPS_SSH_KNOWN_HOSTS":              "public host keys",
	"GITOPS_USERNAME":                     "a user name; the token is secret",
	"GITOPS_VERIFY_KEY_FILE":              "a public key",
	"GIT_ALTERNATE_OBJECT_DIRECTORIES":    "git's own, cleared for children",
	"GIT_CEILING_DIRECTORIES":             "git's own, cleared for children",
	"GIT_COMMON_DIR":                      "git's own, cleared for children",
	"GIT_CONFIG_COUNT":                    "git's own (values learned through the origin URL they carry)",
	"GIT_CONFIG_GLOBAL":                   "a path (testenv's own for tests)",
	"GIT_CONFIG_NOSYSTEM":                 "a switch (testenv sets it for tests)",
	"GIT_DIR":                             "git's own, cleared for children",
	"GIT_EXEC_PATH":                       "a path (testenv keeps it)",
	"GIT_INDEX_FILE":                      "git's own, cleared for children",
	"GIT_NAMESPACE":                       "git's own, cleared for children",
	"GIT_OBJECT_DIRECTORY":                "git's own, cleared for children",
	"GIT_WORK_TREE":                       "git's own, cleared for children",
	"GOLANGCI_LINT_CACHE":                 "a path",
	"JENKINS_URL":                         "CI metadata",
	"JOB_URL":                             "CI metadata",
	"LC_ALL":                              "a locale",
	"REGISTRY_AUTH_FILE":                  "a path (testenv clears it)",
	"REGISTRY_HOST":                       "a host name",
	"REGISTRY_USERNAME":                   "a user name; the password is secret",
	"SLIPWAY_CACHE_BUST":                  "a switch",
	"SLIPWAY_CACHE_NAMESPACE":             "a name",
	"SLIPWAY_CACHE_REPO":                  "a repository (a credential in it is learned as a URL's)",
	"SLIPWAY_FULCIO_URL":                  "a URL (a credential in it is learned as a URL's)",
	"SLIPWAY_GIT_PASSWORD":                "set by Slipway for its git children from origin's URL, whose credential every run learns",
	"SLIPWAY_GIT_USERNAME":                "set by Slipway for its git children",
	"SLIPWAY_IMAGES":                      "a path",
	"SLIPWAY_REKOR_URL":                   "a URL (a credential in it is learned as a URL's)",
	"SLIPWAY_TEST_ARTIFACTS":              "a path",
	"SLIPWAY_TRIVY_STATE":                 "a path",
	"SLIPWAY_VERIFY_KEY":                  "a public key",
	"SOURCE_DATE_EPOCH":                   "a time",
	"SSH_ASKPASS":                         "a program path (testenv clears it)",
	"SSH_AUTH_SOCK":                       "a socket path",
	"SSH_KNOWN_HOSTS":                     "public host keys",
	"TF_BUILD":                            "CI metadata",
	"TRIVY_CACHE_DIR":                     "a path",
	"TRIVY_CHECKS_BUNDLE_REPOSITORY":      "a repository",
	"TRIVY_DB_REPOSITORY":                 "a repository",
	"TRIVY_DISABLE_VEX_NOTICE":            "a switch",
	"TRIVY_JAVA_DB_REPOSITORY":            "a repository",
	"TRIVY_NO_PROGRESS":                   "a switch",
	"TRIVY_USERNAME":                      "a user name; the password is secret",
	"XDG_CACHE_HOME":                      "a directory (testenv's own for tests)",
	"XDG_CONFIG_HOME":                     "a directory (testenv's own for tests)",
	"XDG_DATA_HOME":                       "a directory (testenv's own for tests)",
	"XDG_STATE_HOME":                      "a directory (testenv's own for tests)",
}

var envNameRE = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)

// readVariables are the environment variable names Slipway's own code
// (this module, tests and the example modules left out) names in a file
// that reads the environment: every string constant shaped like one.
func readVariables(t *testing.T) map[string]string {
	t.Helper()
	root := filepath.Join("..", "..")
	found := map[string]string{}
	fset := token.NewFileSet()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil && p != root {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		readsEnv := false
		ast.Inspect(f, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				switch id.Name {
				case "Getenv", "getenv", "LookupEnv", "Environ", "environ":
					readsEnv = true
				}
			}
			return true
		})
		if !readsEnv {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && envNameRE.MatchString(s) {
					found[s] = p
				}
			}
			return true
		})
		return nil
	})
	return found
}

// TestEveryVariableClassified is issue 17 (round 2) item 2's class: every
// variable the code reads is either secret (secret.Variables, learned by
// every run's redactor) or listed as public with a reason; a new variable
// fails here until classified. A name that says it holds a secret (TOKEN,
// PASSWORD, PASSPHRASE, SECRET, a private KEY) cannot be public without a
// reason that says why. Before the fix ARGOCD_AUTH_TOKEN was read and not
// learned: Argo CD's 401 body repeated it whole.
func TestEveryVariableClassified(t *testing.T) {
	isSecret := map[string]bool{}
	for _, v := range secret.Variables {
		isSecret[v] = true
	}
	var names []string
	vars := readVariables(t)
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		_, public := publicVariables[n]
		switch {
		case isSecret[n] && public:
			t.Errorf("%s is in both secret.Variables and publicVariables", n)
		case !isSecret[n] && !public:
			t.Errorf("%s (read in %s) is neither in secret.Variables nor in publicVariables: decide whether its value is secret", n, vars[n])
		}
	}
	for _, n := range secret.Variables {
		if _, ok := vars[n]; !ok {
			t.Errorf("secret.Variables lists %s, which no code reads", n)
		}
	}
}

// TestSecretSetLearnsEverySecretVariable: every variable of the one table
// is learned by a run's redactor, and the README's list of the variables
// whose values are redacted names each.
func TestSecretSetLearnsEverySecretVariable(t *testing.T) {
	env := map[string]string{}
	for i, n := range secret.Variables {
		env[n] = "value-of-" + strconv.Itoa(i) + "-" + strings.Repeat(strconv.Itoa(i%10), 20)
	}
	set := newSecretSet(Project{}, func(k string) string { return env[k] })
	for _, n := range secret.Variables {
		text := "server said: bad credential " + env[n] + " for you"
		if got := set.String(text); strings.Contains(got, env[n][8:]) {
			t.Errorf("%s is not learned: %q", n, got)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const intro = "every run learns the value of each variable below"
	_, rest, ok := strings.Cut(string(readme), intro)
	if !ok {
		t.Fatalf("README no longer says %q", intro)
	}
	i := strings.Index(rest, "| variable |")
	j := strings.Index(rest[i:], "\n\n")
	table := rest[i : i+j]
	for _, n := range secret.Variables {
		if !strings.Contains(table, "`"+n+"`") {
			t.Errorf("README's table of redacted variables does not name %s", n)
		}
	}
}
