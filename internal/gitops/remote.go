package gitops

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/slipway-ci/slipway/internal/redact"
	"github.com/slipway-ci/slipway/internal/safetext"
	"github.com/slipway-ci/slipway/internal/secret"
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
	// knownHosts names the files SSH host keys are checked against.
	knownHosts string
	// authFrom names what credential the Remote sends, for messages:
	// "GITOPS_TOKEN", "the credentials in the URL", "the key in
	// GITOPS_SSH_KEY_FILE", "the ssh-agent's keys", or "" for none.
	authFrom string
	// noFilter: the server advertised no object filter (no partial clone);
	// nil for a Remote not made by NewRemote (then asked every clone).
	noFilter *atomic.Bool
	// CommitKey, when set, is the key deploy commits are signed with:
	// history, status and the report mark each record whose commit it
	// does not verify as unverified (Record.Signature).
	CommitKey *CommitKey
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
	r := &Remote{URL: repo, Branch: branch, noFilter: new(atomic.Bool)}
	switch {
	case strings.HasPrefix(repo, "https://") || strings.HasPrefix(repo, "http://"):
		if err := r.httpRemote(repo, getenv); err != nil {
			return nil, err
		}
	case strings.HasPrefix(repo, "ssh://") || (scpLike.MatchString(repo) && !strings.Contains(repo, "://") && !filepath.IsAbs(repo)):
		if err := r.sshRemote(repo, getenv); err != nil {
			return nil, err
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
		localFilters()
	}
	return r, nil
}

// httpRemote reads credentials out of an HTTPS URL before anything parses
// it, so no parse error can echo them: the userinfo runs to the last '@' (a
// password may hold '/', ':' or '@'), and every form of it is a secret.
func (r *Remote) httpRemote(repo string, getenv func(string) string) error {
	scheme, rest, _ := strings.Cut(repo, "://")
	tok := getenv("GITOPS_TOKEN")
	if tok != "" {
		r.secret = append(r.secret, tok)
	}
	var user, pass string
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		userinfo := rest[:at]
		rest = rest[at+1:]
		user, pass, _ = strings.Cut(userinfo, ":")
		r.secret = append(r.secret, userinfo, pass, user)
		if u, err := url.PathUnescape(user); err == nil {
			user = u
		}
		if p, err := url.PathUnescape(pass); err == nil {
			pass = p
		}
		r.secret = append(r.secret, pass)
	}
	clean := scheme + "://" + rest
	r.public = redact.String(clean, r.secret...)
	u, err := url.Parse(clean)
	if err != nil {
		return redact.Error(fmt.Errorf("gitops repository %s: not a valid URL; fix it or percent-encode special characters (a password belongs in GITOPS_TOKEN)", r.public), r.secret...)
	}
	if u.Host == "" || strings.ContainsAny(u.Host, " \t") {
		return redact.Error(fmt.Errorf("gitops repository %s: no host; want https://HOST/ORG/REPO.git", r.public), r.secret...)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return redact.Error(fmt.Errorf("gitops repository %s: bad port %q", r.public, p), r.secret...)
		}
	}
	if user != "" || pass != "" {
		r.Auth = &githttp.BasicAuth{Username: user, Password: pass}
		r.authFrom = "the credentials in the URL"
	}
	// GITOPS_TOKEN, when set, wins over credentials in the URL.
	if tok != "" {
		name := getenv("GITOPS_USERNAME")
		if name == "" {
			name = "x-access-token"
		}
		r.Auth = &githttp.BasicAuth{Username: name, Password: tok}
		r.authFrom = "GITOPS_TOKEN"
	}
	r.URL = u.String()
	return nil
}

// sshRemote sets up key authentication and host key checking for SSH URLs,
// with errors that name Slipway's variables, not go-git's.
func (r *Remote) sshRemote(repo string, getenv func(string) string) error {
	r.public = repo
	key := getenv("GITOPS_SSH_KEY_FILE")
	if key == "" {
		if getenv("SSH_AUTH_SOCK") == "" {
			return fmt.Errorf("gitops repository %s is SSH: set GITOPS_SSH_KEY_FILE to a private key file (a deploy key with write access), or run an ssh-agent", repo)
		}
		r.authFrom = "the ssh-agent's keys"
		return nil // go-git uses the agent
	}
	r.authFrom = "the key in GITOPS_SSH_KEY_FILE"
	data, from, err := secret.Key("GITOPS_SSH_KEY_FILE", key)
	if err != nil {
		return fmt.Errorf("%w (the deploy key's private key)", err)
	}
	user := "git"
	if u, err := url.Parse(repo); err == nil && u.User != nil {
		user = u.User.Username()
	} else if at := strings.Index(repo, "@"); at > 0 && !strings.Contains(repo, "://") {
		user = repo[:at]
	}
	pass := getenv("GITOPS_SSH_KEY_PASSPHRASE")
	if pass != "" {
		r.secret = append(r.secret, pass)
	}
	auth, err := gitssh.NewPublicKeys(user, data, pass)
	if err != nil {
		// Never echo the key: only where it came from and what is wrong with it.
		return fmt.Errorf("GITOPS_SSH_KEY_FILE (%s): cannot use it as an SSH private key (is it a private key, and GITOPS_SSH_KEY_PASSPHRASE right?)", from)
	}
	kh := getenv("GITOPS_SSH_KNOWN_HOSTS")
	var files []string
	if kh != "" {
		files = []string{kh}
	} else {
		for _, f := range []string{filepath.Join(os.Getenv("HOME"), ".ssh", "known_hosts"), "/etc/ssh/ssh_known_hosts"} {
			if _, err := os.Stat(f); err == nil {
				files = append(files, f)
			}
		}
		if len(files) == 0 {
			return fmt.Errorf("gitops repository %s is SSH and no known_hosts file exists: set GITOPS_SSH_KNOWN_HOSTS to a file with the server's host key (ssh-keyscan HOST > known_hosts)", repo)
		}
	}
	cb, err := gitssh.NewKnownHostsCallback(files...)
	if err != nil {
		return fmt.Errorf("GITOPS_SSH_KNOWN_HOSTS %s: %w", strings.Join(files, ", "), err)
	}
	auth.HostKeyCallback = cb
	r.knownHosts = strings.Join(files, ", ")
	r.Auth = auth
	return nil
}

// String is the repository without credentials.
func (r *Remote) String() string { return r.public }

// scrub removes credentials from an error message.
func (r *Remote) scrub(err error) error { return redact.Error(err, r.secret...) }

// explain names the repository (never its credentials) in a one-line error.
func (r *Remote) explain(op string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "knownhosts") || strings.Contains(msg, "SSH_KNOWN_HOSTS") || strings.Contains(msg, "host key"):
		where := r.knownHosts
		if where == "" {
			where = "none"
		}
		return r.scrub(fmt.Errorf("%s %s: the server's SSH host key is not trusted (known_hosts: %s); add it to the file in GITOPS_SSH_KNOWN_HOSTS (ssh-keyscan HOST >> FILE) after checking its fingerprint", op, r, where))
	case strings.Contains(msg, "SSH_AUTH_SOCK"):
		return r.scrub(fmt.Errorf("%s %s: no SSH key: set GITOPS_SSH_KEY_FILE to the deploy key's private key file", op, r))
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		said := serverSaid(msg, transport.ErrAuthenticationRequired, transport.ErrAuthorizationFailed)
		if r.authFrom == "" {
			return r.scrub(&remoteError{fmt.Sprintf("%s %s: the server wants credentials and none were given%s; set GITOPS_TOKEN for HTTPS or GITOPS_SSH_KEY_FILE for SSH", op, r, said), err})
		}
		return r.scrub(&remoteError{fmt.Sprintf("%s %s: the server rejected %s%s: wrong, expired or without write access to this repository; replace it", op, r, r.authFrom, said), err})
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return r.scrub(&remoteError{fmt.Sprintf("%s %s: repository not found%s; check the URL (a host answers so to a credential that may not read it, too)", op, r, serverSaid(msg, transport.ErrRepositoryNotFound)), err})
	case errors.Is(err, plumbing.ErrReferenceNotFound), strings.Contains(err.Error(), "couldn't find remote ref"):
		return r.scrub(fmt.Errorf("%s %s: branch %q not found (--gitops-branch)", op, r, r.Branch))
	}
	return r.scrub(&remoteError{fmt.Sprintf("%s %s: %s", op, r, safetext.Fold(msg)), err})
}

// remoteError is a one-line message about a remote, with the error it
// explains still reachable for errors.Is and errors.As.
type remoteError struct {
	msg string
	err error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.err }

// serverSaid is what a server added to a go-git sentinel's text (go-git
// writes "authentication required: REASON", often with REASON empty), as
// " (the server said: …)" on one line, or "" when it said nothing.
func serverSaid(msg string, sentinels ...error) string {
	for _, s := range sentinels {
		if rest, ok := strings.CutPrefix(msg, s.Error()); ok {
			msg = rest
			break
		}
	}
	msg = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(msg), ":"))
	if msg == "" {
		return ""
	}
	return " (the server said: " + safetext.Fold(msg) + ")"
}
