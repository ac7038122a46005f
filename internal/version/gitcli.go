package version

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
)

// openRepo opens the repository that contains dir with go-git. Linked
// worktrees (`git worktree add`: .git is a file naming
// .git/worktrees/NAME, whose commondir holds the objects and refs) are read
// through their common directory.
func openRepo(dir string) (*git.Repository, error) {
	return git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
}

// The git CLI answers where go-git cannot read a checkout: repository
// extensions it does not implement (extensions.worktreeConfig, which
// `git sparse-checkout` and `git worktree` turn on), or layouts it misreads.
// It is only a fallback: go-git needs no git installed.

// haveGit reports whether the git CLI is installed.
func haveGit() bool {
	_, err := exec.LookPath("git")
	return err == nil
}

// errNotRepo is the git CLI's "not a git repository".
var errNotRepo = errors.New("not a git repository")

// gitCLI runs git in dir and returns its trimmed stdout. The environment
// cannot redirect it to another repository (GIT_DIR and friends are
// dropped, as go-git ignores them) and it never prompts.
func gitCLI(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = GitEnv(dir, scrubbedEnv())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "not a git repository") {
			return "", errNotRepo
		}
		if msg == "" {
			msg = err.Error()
		}
		return "", &cliError{args: args, msg: firstLineOf(msg), err: err}
	}
	return strings.TrimSpace(string(out)), nil
}

// scrubbedEnv is the process's environment for git: never prompting, and
// with nothing that redirects it to another repository.
func scrubbedEnv() []string {
	env := []string{"GIT_TERMINAL_PROMPT=0", "LC_ALL=C"}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY",
			"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES", "LC_ALL":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// cliError is a git command that failed; exitCode tells "no" from "broken".
type cliError struct {
	args []string
	msg  string
	err  error
}

func (e *cliError) Error() string { return "git " + strings.Join(e.args, " ") + ": " + e.msg }
func (e *cliError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// detectCLI is Detect by the git CLI. goGitErr is why go-git could not read
// the checkout; it is returned when git cannot answer either.
func detectCLI(dir string, goGitErr error, o options) (Info, error) {
	head, err := gitCLI(dir, "rev-parse", "--verify", "-q", "HEAD^{commit}")
	if errors.Is(err, errNotRepo) {
		return fromEnv(Info{}), fmt.Errorf("read source version from %s: %w", dir, ErrNoRepo)
	}
	if err != nil {
		if exitCode(err) == 1 {
			// A repository with no commit yet has nothing to stamp either.
			return fromEnv(Info{}), fmt.Errorf("read source version from %s: HEAD: no commit yet: %w", dir, ErrNoRepo)
		}
		return Info{}, fmt.Errorf("read source version from %s: %w (and %w)", dir, goGitErr, err)
	}
	info := Info{Commit: head}
	ct, err := gitCLI(dir, "log", "-1", "--format=%ct", head)
	if err != nil {
		return Info{}, fmt.Errorf("read source version from %s: %w", dir, err)
	}
	secs, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return Info{}, fmt.Errorf("read source version from %s: commit time %q: %w", dir, ct, err)
	}
	info.CommitTime = time.Unix(secs, 0).UTC()
	if b, err := gitCLI(dir, "symbolic-ref", "-q", "--short", "HEAD"); err == nil {
		info.Branch = b // a detached HEAD has none
	}
	if tags, err := gitCLI(dir, "tag", "--points-at", head); err == nil {
		var found []string
		for _, t := range strings.Fields(tags) {
			if semverRE.MatchString(t) {
				found = append(found, t)
			}
		}
		sort.Strings(found)
		if len(found) > 0 {
			info.Semver = found[len(found)-1]
		}
	}
	if u, err := gitCLI(dir, "config", "--get", "remote.origin.url"); err == nil && u != "" {
		info.RepoURL = PublicURL(u)
	}
	if top, err := gitCLI(dir, "rev-parse", "--show-toplevel"); err == nil {
		info.Dirty = dirtyAt(top, o)
	}
	return fromEnv(info), nil
}

// hasCommitCLI reports whether the repository at dir has commit sha.
func hasCommitCLI(dir, sha string) bool {
	_, err := gitCLI(dir, "cat-file", "-e", sha+"^{commit}")
	return err == nil
}

// compareCLI is Compare by the git CLI.
func compareCLI(dir, a, b string) (Relation, error) {
	if !hasCommitCLI(dir, a) || !hasCommitCLI(dir, b) {
		return Relation{}, nil
	}
	contains, err := isAncestorCLI(dir, b, a)
	if err != nil {
		return Relation{}, err
	}
	if contains {
		return Relation{Ancestry: Newer}, nil
	}
	n, err := gitCLI(dir, "rev-list", "--count", b, "^"+a)
	if err != nil {
		return Relation{}, fmt.Errorf("relate %s and %s in %s: %w", Short(a), Short(b), dir, err)
	}
	rel := Relation{Ancestry: Diverged}
	if rel.Dropped, err = strconv.Atoi(n); err != nil {
		return Relation{}, fmt.Errorf("relate %s and %s in %s: rev-list --count said %q", Short(a), Short(b), dir, n)
	}
	older, err := isAncestorCLI(dir, a, b)
	if err != nil {
		return Relation{}, err
	}
	if older {
		rel.Ancestry = Older
	}
	return rel, nil
}

// isAncestorCLI reports whether a is an ancestor of b (or b itself).
func isAncestorCLI(dir, a, b string) (bool, error) {
	_, err := gitCLI(dir, "merge-base", "--is-ancestor", a, b)
	switch {
	case err == nil:
		return true, nil
	case exitCode(err) == 1:
		return false, nil
	}
	return false, fmt.Errorf("relate %s and %s in %s: %w", Short(a), Short(b), dir, err)
}

// shallowCLI reports whether the repository at dir is a shallow clone.
func shallowCLI(dir string) bool {
	out, err := gitCLI(dir, "rev-parse", "--is-shallow-repository")
	return err == nil && out == "true"
}
