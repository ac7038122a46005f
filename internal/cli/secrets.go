package cli

import (
	"context"
	"os"
	"os/exec"
	"reflect"
	"strings"

	"github.com/slipway-ci/slipway/internal/redact"
	"github.com/slipway-ci/slipway/internal/secret"
	"github.com/slipway-ci/slipway/internal/version"
)

// newSecretSet learns every secret value a run of p can read: the
// contract's secret variables (the content of the file a *_FILE variable
// names), and each custom stage's Secrets.
func newSecretSet(p Project, getenv func(string) string) *redact.Set {
	names := append([]string(nil), secret.Variables...)
	for _, s := range p.Stages {
		names = append(names, s.Secrets...)
	}
	set := redact.NewSet()
	for _, v := range secret.Values(getenv, names...) {
		set.Add(v)
	}
	// A password in a URL (GITOPS_REPO=https://ci:TOKEN@host/…) is one too.
	for _, k := range []string{"GITOPS_REPO", "_EXPERIMENTAL_DAGGER_RUNNER_HOST"} {
		if _, rest, ok := strings.Cut(getenv(k), "://"); ok {
			if at := strings.LastIndex(rest, "@"); at >= 0 {
				if _, pass, ok := strings.Cut(rest[:at], ":"); ok {
					set.Add(pass)
				}
			}
		}
	}
	return set
}

// learnToken makes the redactor learn each token fetch returns (the
// GitHub OIDC token exists only once fetched).
func (o *options) learnToken(fetch func(context.Context) (string, error)) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		tok, err := fetch(ctx)
		if tok != "" {
			o.secrets.Add(tok)
		}
		return tok, o.secrets.Error(err)
	}
}

// learnDiscovered teaches set every credential the run finds without being
// told it is one, before any command runs: the userinfo of a URL in any
// environment value (GITOPS_REPO=https://ci:TOKEN@…, a proxy URL), in any
// argument (--gitops-repo https://alice:TOKEN@…), in any string of the Go
// configuration, and in the git configuration of the source checkouts
// (origin's URL as a Jenkins or GitLab checkout writes it, an insteadOf
// rewrite): a git server or a proxy that echoes it back in an error (an
// ERR line, a 401 body, a `remote:` line) then prints *** instead.
func learnDiscovered(set *redact.Set, p Project, environ, args []string) {
	learn := func(text string) {
		for _, s := range redact.URLSecrets(text) {
			set.Add(s)
		}
	}
	for _, kv := range environ {
		_, v, _ := strings.Cut(kv, "=")
		learn(v)
	}
	for _, a := range args {
		learn(a)
	}
	walkStrings(reflect.ValueOf(p), 0, learn)
	seen := map[string]bool{}
	for _, dir := range checkoutDirs(p, args) {
		root := version.Root(dir)
		if root == "" || seen[root] {
			continue
		}
		seen[root] = true
		learn(gitConfigValues(root))
	}
}

// checkoutDirs are the directories whose git checkouts a run may fetch
// from or read: the working directory, every --source and --source-repo
// argument and every app's configured source.
func checkoutDirs(p Project, args []string) []string {
	dirs := []string{"."}
	for i, a := range args {
		for _, f := range []string{"--source", "--source-repo"} {
			if v, ok := strings.CutPrefix(a, f+"="); ok {
				dirs = append(dirs, v)
			} else if a == f && i+1 < len(args) {
				dirs = append(dirs, args[i+1])
			}
		}
	}
	for _, a := range p.Apps {
		if a.Source != "" {
			dirs = append(dirs, a.Source)
		}
	}
	return dirs
}

// gitConfigValues is the git configuration as seen in root (the
// repository's own, the user's and the system's), one entry a line; ""
// when git cannot read it. A local read: nothing is contacted.
func gitConfigValues(root string) string {
	// root is a directory handed to git's -C, never a command or an option
	// (version.Root makes it absolute).
	cmd := exec.Command("git", "-C", root, "config", "--list", "--includes") //nolint:gosec // fixed program and arguments; root is a path
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// walkStrings calls f with every string reachable from v (a configuration
// value: structs, slices, maps, pointers), functions and bytes left out.
func walkStrings(v reflect.Value, depth int, f func(string)) {
	if depth > 12 || !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.String:
		f(v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), depth+1, f)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			walkStrings(v.Field(i), depth+1, f)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := 0; i < v.Len(); i++ {
			walkStrings(v.Index(i), depth+1, f)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			walkStrings(it.Key(), depth+1, f)
			walkStrings(it.Value(), depth+1, f)
		}
	}
}
