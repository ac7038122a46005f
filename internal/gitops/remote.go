package gitops

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/slipway-ci/slipway/internal/redact"
)

// Remote is a GitOps repository and branch, with credentials resolved from
// the environment. Its String never shows them.
type Remote struct {
	URL    string
	Branch string
	Auth   transport.AuthMethod
	public string
	local  string // filesystem path of a local repository, for direct reads
	secret []string
}

var scpLike = regexp.MustCompile(`^([A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:[^/]`)

// NewRemote resolves a repository given as a URL (https://, ssh://, git://,
// file://), an scp-style address (git@github.com:org/repo.git) or a local path.
// Credentials: GITOPS_TOKEN for HTTPS (user GITOPS_USERNAME, default
// x-access-token), GITOPS_SSH_KEY_FILE (+ GITOPS_SSH_KEY_PASSPHRASE,
// GITOPS_SSH_KNOWN_HOSTS) for SSH.
func NewRemote(repo, branch string, getenv func(string) string) (*Remote, error) {
	if repo == "" {
		return nil, errors.New("gitops repository: empty; pass --gitops-repo or set GITOPS_REPO")
	}
	if branch == "" {
		branch = "main"
	}
	if !plumbing.NewBranchReferenceName(branch).IsBranch() || strings.ContainsAny(branch, " ~^:?*[\\") {
		return nil, fmt.Errorf("gitops branch %q is not a valid branch name", branch)
	}
	r := &Remote{URL: repo, Branch: branch}
	switch {
	case strings.HasPrefix(repo, "https://") || strings.HasPrefix(repo, "http://"):
		u, err := url.Parse(repo)
		if err != nil {
			return nil, fmt.Errorf("gitops repository: %w", err)
		}
		// Credentials in the URL are used, then stripped from everything shown;
		// GITOPS_TOKEN, when set, wins over them.
		if u.User != nil {
			p, _ := u.User.Password()
			r.Auth = &githttp.BasicAuth{Username: u.User.Username(), Password: p}
			r.secret = append(r.secret, p, u.User.Username())
		}
		if tok := getenv("GITOPS_TOKEN"); tok != "" {
			user := getenv("GITOPS_USERNAME")
			if user == "" {
				user = "x-access-token"
			}
			r.Auth = &githttp.BasicAuth{Username: user, Password: tok}
			r.secret = append(r.secret, tok)
		}
		u.User = nil
		r.public, r.URL = u.String(), u.String()
	case strings.HasPrefix(repo, "ssh://") || (scpLike.MatchString(repo) && !strings.Contains(repo, "://") && !filepath.IsAbs(repo)):
		r.public = repo
		if key := getenv("GITOPS_SSH_KEY_FILE"); key != "" {
			user := "git"
			if u, err := url.Parse(repo); err == nil && u.User != nil {
				user = u.User.Username()
			} else if at := strings.Index(repo, "@"); at > 0 && !strings.Contains(repo, "://") {
				user = repo[:at]
			}
			pass := getenv("GITOPS_SSH_KEY_PASSPHRASE")
			auth, err := gitssh.NewPublicKeysFromFile(user, key, pass)
			if err != nil {
				// Never echo the key: only the file name and what is wrong with it.
				return nil, fmt.Errorf("GITOPS_SSH_KEY_FILE %s: cannot use it as an SSH private key (is it a private key, and GITOPS_SSH_KEY_PASSPHRASE right?)", key)
			}
			if kh := getenv("GITOPS_SSH_KNOWN_HOSTS"); kh != "" {
				cb, err := gitssh.NewKnownHostsCallback(kh)
				if err != nil {
					return nil, fmt.Errorf("GITOPS_SSH_KNOWN_HOSTS %s: %w", kh, err)
				}
				auth.HostKeyCallback = cb
			}
			r.Auth = auth
			if pass != "" {
				r.secret = append(r.secret, pass)
			}
		}
	case strings.HasPrefix(repo, "git://"):
		r.public = repo
	default:
		path := strings.TrimPrefix(repo, "file://")
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("gitops repository %s: %w", repo, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("gitops repository %s: no such directory (create it with `git init --bare`, or omit --gitops-repo for the local default)", repo)
		}
		r.URL, r.public, r.local = abs, abs, abs
	}
	return r, nil
}

// String is the repository without credentials.
func (r *Remote) String() string { return r.public }

// scrub removes credentials from an error message.
func (r *Remote) scrub(err error) error { return redact.Error(err, r.secret...) }

// explain names the repository (never its credentials) in a one-line error.
func (r *Remote) explain(op string, err error) error {
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return r.scrub(fmt.Errorf("%s %s: %w (set GITOPS_TOKEN for HTTPS or GITOPS_SSH_KEY_FILE for SSH)", op, r, err))
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return r.scrub(fmt.Errorf("%s %s: %w", op, r, err))
	case errors.Is(err, plumbing.ErrReferenceNotFound), strings.Contains(err.Error(), "couldn't find remote ref"):
		return r.scrub(fmt.Errorf("%s %s: branch %q not found (--gitops-branch)", op, r, r.Branch))
	}
	return r.scrub(fmt.Errorf("%s %s: %w", op, r, err))
}
