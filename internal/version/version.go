// Package version derives what a build is from the source repository: the
// commit, its time, the branch, a semver tag, and the image tags and
// provenance labels that follow from them.
package version

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/slipway-ci/slipway/internal/redact"
)

// Info describes the source commit a pipeline run builds.
type Info struct {
	Commit     string    `json:"commit"`      // 40 hex, or "" outside a git checkout
	CommitTime time.Time `json:"commit_time"` // the reproducible build time (SOURCE_DATE_EPOCH)
	Branch     string    `json:"branch,omitempty"`
	Semver     string    `json:"semver,omitempty"` // "v1.2.3" when HEAD carries such a tag
	Dirty      bool      `json:"dirty"`
	RepoURL    string    `json:"repo_url,omitempty"` // org.opencontainers.image.source
}

var (
	semverRE = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$`)
	// ErrNoRepo means the directory is not inside a git checkout.
	ErrNoRepo = errors.New("not a git repository")
)

// Detect reads Info for the repository that contains dir. The environment
// fills what a CI checkout hides: GitHub Actions and Jenkins check out a
// detached HEAD, so GITHUB_HEAD_REF/GITHUB_REF_NAME or BRANCH_NAME name the branch.
//
// go-git reads the checkout; where it cannot (a repository extension it does
// not implement, such as the extensions.worktreeConfig of a sparse checkout,
// or any other read error) the git CLI answers, when installed.
func Detect(dir string, opts ...Option) (Info, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	info, err := detectGoGit(dir, o)
	if err != nil && haveGit() {
		return detectCLI(dir, err, o)
	}
	return info, err
}

func detectGoGit(dir string, o options) (Info, error) {
	repo, err := openRepo(dir)
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) {
			return fromEnv(Info{}), fmt.Errorf("read source version from %s: %w", dir, ErrNoRepo)
		}
		return Info{}, fmt.Errorf("read source version from %s: %w", dir, err)
	}
	head, err := repo.Head()
	if err != nil {
		// A repository with no commit yet has nothing to stamp either.
		return fromEnv(Info{}), fmt.Errorf("read source version from %s: HEAD: %w: %w", dir, err, ErrNoRepo)
	}
	c, err := repo.CommitObject(head.Hash())
	if err != nil {
		return Info{}, fmt.Errorf("read source version from %s: %w", dir, err)
	}
	info := Info{Commit: head.Hash().String(), CommitTime: c.Committer.When.UTC()}
	if head.Name().IsBranch() {
		info.Branch = head.Name().Short()
	}
	info.Semver = semverAt(repo, head.Hash())
	if rem, err := repo.Remote("origin"); err == nil && len(rem.Config().URLs) > 0 {
		info.RepoURL = PublicURL(rem.Config().URLs[0])
	}
	if wt, err := repo.Worktree(); err == nil {
		info.Dirty = dirty(wt, o)
	}
	return fromEnv(info), nil
}

// dirty reports uncommitted changes (untracked files included, ignored ones
// not, nor Slipway's own output, o.output). The git CLI answers exactly as a
// developer sees it (global excludes, autocrlf, file modes); go-git's status
// is the fallback.
func dirty(wt *git.Worktree, o options) bool {
	root := wt.Filesystem.Root()
	if haveGit() {
		return dirtyAt(root, o)
	}
	st, err := wt.Status()
	if err != nil {
		return false
	}
	for path, fs := range st {
		if (fs.Staging != git.Unmodified || fs.Worktree != git.Unmodified) && !o.isOutput(root, path) {
			return true
		}
	}
	return false
}

func fromEnv(info Info) Info {
	for _, k := range []string{"GITHUB_HEAD_REF", "GITHUB_REF_NAME", "BRANCH_NAME", "CI_COMMIT_REF_NAME"} {
		if v := os.Getenv(k); v != "" && info.Branch == "" {
			info.Branch = v
		}
	}
	if info.RepoURL == "" && os.Getenv("GITHUB_REPOSITORY") != "" {
		server := os.Getenv("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		info.RepoURL = strings.TrimSuffix(server, "/") + "/" + os.Getenv("GITHUB_REPOSITORY")
	}
	if info.CommitTime.IsZero() {
		if s, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
			info.CommitTime = time.Unix(s, 0).UTC()
		} else {
			info.CommitTime = time.Unix(0, 0).UTC()
		}
	}
	return info
}

func semverAt(repo *git.Repository, h plumbing.Hash) string {
	iter, err := repo.Tags()
	if err != nil {
		return ""
	}
	var found []string
	_ = iter.ForEach(func(ref *plumbing.Reference) error {
		target := ref.Hash()
		if tag, err := repo.TagObject(target); err == nil {
			target = tag.Target
		}
		if target == h && semverRE.MatchString(ref.Name().Short()) {
			found = append(found, ref.Name().Short())
		}
		return nil
	})
	sort.Strings(found)
	if len(found) == 0 {
		return ""
	}
	return found[len(found)-1]
}

// Short is the 12-hex abbreviation used in tags and commit subjects.
func Short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// DirtySuffix marks what was built from a modified working tree.
const DirtySuffix = "-dirty"

// Version is what the binary reports: the semver tag, else the short commit;
// "-dirty" is appended when the working tree had uncommitted changes.
func (i Info) Version() string {
	switch {
	case i.Semver != "":
		return i.Semver + i.dirtySuffix()
	case i.Commit != "":
		return Short(i.Commit) + i.dirtySuffix()
	}
	return "dev"
}

// Revision is the commit, with "-dirty" for a modified working tree: what
// labels and tags carry, so a dirty build never passes for the clean commit.
func (i Info) Revision() string {
	if i.Commit == "" {
		return ""
	}
	return i.Commit + i.dirtySuffix()
}

func (i Info) dirtySuffix() string {
	if i.Dirty {
		return DirtySuffix
	}
	return ""
}

var tagUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Tags are the image tags a build gets: the full commit SHA, "<branch>-<short sha>"
// and the semver tag when there is one. Never "latest": a tag that moves under
// a running release is exactly what digest pinning exists to prevent. A dirty
// tree gets "<sha>-dirty" and "<branch>-<short sha>-dirty", and no semver tag.
func (i Info) Tags() []string {
	if i.Commit == "" {
		return nil
	}
	tags := []string{i.Revision()}
	if i.Branch != "" {
		b := strings.Trim(tagUnsafe.ReplaceAllString(i.Branch, "-"), "-.")
		if b != "" {
			if len(b) > 100 {
				b = b[:100]
			}
			tags = append(tags, b+"-"+Short(i.Commit)+i.dirtySuffix())
		}
	}
	if i.Semver != "" && !i.Dirty {
		tags = append(tags, i.Semver)
	}
	return tags
}

// Labels are the OCI annotations the image carries.
func (i Info) Labels() map[string]string {
	l := map[string]string{
		"org.opencontainers.image.created": i.CommitTime.Format(time.RFC3339),
		"org.opencontainers.image.version": i.Version(),
	}
	if i.Commit != "" {
		l["org.opencontainers.image.revision"] = i.Revision()
	}
	if i.RepoURL != "" {
		l["org.opencontainers.image.source"] = i.RepoURL
	}
	return l
}

// PublicURL turns a remote URL into the https URL people open, for the
// org.opencontainers.image.source label: credentials stripped, scp-style and
// ssh:// remotes rewritten to https://HOST/PATH. A remote that is not a
// network URL (a local path, file://) gives "": a label must not carry a
// path of the build machine.
func PublicURL(u string) string {
	u = strings.TrimSpace(u)
	switch {
	case strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "ssh://") || strings.HasPrefix(u, "git://"):
		scheme, rest, _ := strings.Cut(u, "://")
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = rest[at+1:] // credentials, even with a '/' in a password
		}
		if scheme != "https" && scheme != "http" {
			scheme = "https"
			host, path, _ := strings.Cut(rest, "/")
			if h, _, ok := strings.Cut(host, ":"); ok {
				host = h // an SSH port is not the web port
			}
			rest = host + "/" + path
		}
		return strings.TrimSuffix(scheme+"://"+rest, ".git")
	case scpRemote.MatchString(u):
		m := scpRemote.FindStringSubmatch(u)
		return strings.TrimSuffix("https://"+m[1]+"/"+strings.TrimPrefix(m[2], "/"), ".git")
	}
	return ""
}

var scpRemote = regexp.MustCompile(`^(?:[A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+\.[A-Za-z]{2,}):([^/].*)$`)

// Ancestry says how commit a relates to commit b in the repository at dir.
type Ancestry int

// Ancestry values.
const (
	Unknown  Ancestry = iota // one of the commits is not in the repository
	Same                     // a == b
	Older                    // a is a strict ancestor of b
	Newer                    // a is a strict descendant of b: a contains b
	Diverged                 // neither contains the other
)

// String names the relation as people say it.
func (a Ancestry) String() string {
	switch a {
	case Same:
		return "same"
	case Older:
		return "older"
	case Newer:
		return "newer"
	case Diverged:
		return "diverged"
	}
	return "unknown"
}

// Relation is how commit a (a new build) relates to commit b (the one that
// runs now).
type Relation struct {
	Ancestry Ancestry
	// Dropped counts the commits b has and a lacks, `git rev-list --count
	// b ^a`: what replacing b by a takes away. It is 0 exactly when a
	// contains b (Same or Newer).
	Dropped int
}

// Contains reports whether a contains b: b is a or one of its ancestors, so
// deploying a drops nothing that runs now.
func (r Relation) Contains() bool { return r.Ancestry == Same || r.Ancestry == Newer }

// Compare reports how commit a relates to commit b in the repository at dir,
// and how many of b's commits a lacks. It walks all parents (merge commits
// included); a commit whose history the repository lacks (a shallow clone)
// is an error, never a guess.
func Compare(dir, a, b string) (Relation, error) {
	if a == b {
		return Relation{Ancestry: Same}, nil
	}
	repo, err := openRepo(dir)
	if err != nil {
		if !errors.Is(err, git.ErrRepositoryNotExists) && haveGit() {
			return compareCLI(dir, a, b)
		}
		return Relation{}, fmt.Errorf("open source repo %s: %w", dir, err)
	}
	ca, err := repo.CommitObject(plumbing.NewHash(a))
	if err != nil {
		return Relation{}, nil
	}
	cb, err := repo.CommitObject(plumbing.NewHash(b))
	if err != nil {
		return Relation{}, nil
	}
	// Everything a contains, then everything b has beyond it.
	inA := map[plumbing.Hash]bool{}
	err = object.NewCommitPreorderIter(ca, nil, nil).ForEach(func(c *object.Commit) error {
		inA[c.Hash] = true
		return nil
	})
	if err != nil {
		return Relation{}, fmt.Errorf("walk the history of %s in %s: %w", Short(a), dir, err)
	}
	if inA[cb.Hash] {
		return Relation{Ancestry: Newer}, nil
	}
	// a's history is closed under parents, so a path from b to a enters it
	// at a itself: a is b's ancestor exactly when the walk from b, stopping
	// at a's history, meets a as a parent.
	rel := Relation{Ancestry: Diverged}
	err = object.NewCommitPreorderIter(cb, inA, nil).ForEach(func(c *object.Commit) error {
		rel.Dropped++
		for _, p := range c.ParentHashes {
			if p == ca.Hash {
				rel.Ancestry = Older
			}
		}
		return nil
	})
	if err != nil {
		return Relation{}, fmt.Errorf("walk the history of %s in %s: %w", Short(b), dir, err)
	}
	return rel, nil
}

// ErrShallow means the source repository is a shallow clone whose history
// could not be deepened.
var ErrShallow = errors.New("shallow clone")

// Relate is Compare after making sure the repository can answer: a shallow
// clone is deepened from its own remote (`git fetch --unshallow origin`), and
// commits it lacks are fetched by SHA. A shallow history answers "unknown" or,
// worse, "not older" for a commit beyond its edge, which is why the guard
// never trusts one. Fetch failures are returned; the caller decides.
func Relate(ctx context.Context, dir, a, b string) (Relation, error) {
	if a == b {
		return Relation{Ancestry: Same}, nil
	}
	root, shallow, has, err := inspect(dir)
	if err != nil {
		return Relation{}, err
	}
	missing := !has(a) || !has(b)
	if shallow || missing {
		if _, err := exec.LookPath("git"); err != nil {
			return Relation{}, fmt.Errorf("%s is a shallow clone or lacks a commit, and git is not installed to fetch it", root)
		}
		if shallow {
			if err := gitFetch(ctx, root, "--unshallow"); err != nil {
				return Relation{}, fmt.Errorf("deepen the shallow clone %s: %w", root, err)
			}
		}
		for _, c := range []string{a, b} {
			if !hasCommitCLI(root, c) {
				_ = gitFetch(ctx, root, c) // a commit the remote lacks stays unknown
			}
		}
	}
	return Compare(root, a, b)
}

// inspect opens the repository containing dir: its top directory, whether
// it is shallow, and a commit lookup; by go-git, else by the git CLI.
func inspect(dir string) (root string, shallow bool, has func(string) bool, err error) {
	repo, err := openRepo(dir)
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) || !haveGit() {
			return "", false, nil, fmt.Errorf("open source repo %s: %w", dir, err)
		}
		top, cerr := gitCLI(dir, "rev-parse", "--show-toplevel")
		if cerr != nil {
			return "", false, nil, fmt.Errorf("open source repo %s: %w", dir, err)
		}
		return top, shallowCLI(top), func(c string) bool { return hasCommitCLI(top, c) }, nil
	}
	root = dir
	if wt, err := repo.Worktree(); err == nil {
		root = wt.Filesystem.Root()
	}
	sh, _ := repo.Storer.Shallow()
	return root, len(sh) > 0, func(c string) bool { return hasCommit(repo, c) }, nil
}

func hasCommit(repo *git.Repository, sha string) bool {
	_, err := repo.CommitObject(plumbing.NewHash(sha))
	return err == nil
}

// gitFetch runs `git fetch` from origin without prompting for credentials
// and without origin's credential on any argv (fetchEnv).
func gitFetch(ctx context.Context, root string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	env, err := fetchEnv(root)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", root, "fetch", "--quiet", "--no-tags", "origin"}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = err.Error()
		}
		return errors.New(redact.URLCredentials(firstLineOf(msg)))
	}
	return nil
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Root is the top directory of the git checkout that contains dir (the one
// holding .git), or "" when dir is not inside one.
func Root(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}
