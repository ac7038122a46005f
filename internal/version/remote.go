package version

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// A source checkout's origin may carry its credential in the URL
// (https://user:TOKEN@host/…, as Jenkins and GitLab CI checkouts often do).
// Given to git that way, the URL reaches the argv of git-remote-http, where
// every user of the machine reads it in the process list. Slipway never runs
// git with such a URL: remoteEnv rewrites it to the bare URL (a
// url.<bare>.insteadOf entry) and hands the username and password to a
// credential helper bound to that host, all through the environment
// (GIT_CONFIG_COUNT/GIT_CONFIG_KEY_n/GIT_CONFIG_VALUE_n), which only the same
// user can read. Every argv stays free of the credential.

// Environment variables the credential helper reads its answer from.
const (
	envGitUsername = "SLIPWAY_GIT_USERNAME"
	envGitPassword = "SLIPWAY_GIT_PASSWORD"
)

// credentialHelper answers `git credential get` from the environment; its
// text (on sh's argv) names the variables, never their values.
const credentialHelper = `!f() { test "$1" = get || exit 0; printf 'username=%s\npassword=%s\n' "$` + envGitUsername + `" "$` + envGitPassword + `"; }; f`

// urlCredential is the credential embedded in a remote URL.
type urlCredential struct {
	raw, bare      string // the URL as configured, and without its userinfo
	origin         string // scheme://host[:port], the helper's scope
	user, password string // percent-decoded, as git decodes them
}

// splitURLCredential finds the userinfo of an http(s) remote URL. ok is
// false when the URL carries none (an ssh user name is not a secret: ssh
// authenticates by key). A userinfo that cannot be decoded is an error that
// does not quote it.
func splitURLCredential(raw string) (c urlCredential, ok bool, err error) {
	scheme, rest, found := strings.Cut(raw, "://")
	if !found {
		return c, false, nil
	}
	switch strings.ToLower(scheme) {
	case "http", "https":
	default:
		return c, false, nil
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return c, false, nil
	}
	userinfo, host := authority[:at], authority[at+1:]
	rawUser, rawPass, _ := strings.Cut(userinfo, ":")
	user, uerr := url.PathUnescape(rawUser)
	pass, perr := url.PathUnescape(rawPass)
	if uerr != nil || perr != nil || strings.ContainsAny(user+pass, "\x00\r\n") {
		return c, false, errors.New("the origin URL's credentials are not valid percent-encoding (not shown)")
	}
	return urlCredential{
		raw:      raw,
		bare:     scheme + "://" + host + rest[len(authority):],
		origin:   scheme + "://" + host,
		user:     user,
		password: pass,
	}, true, nil
}

// remoteEnv is the environment git needs to fetch from the origin
// remote.origin.url names (urls, as `git config --get-all` lists them)
// without any credential on an argv: base plus the rewrite and the helper.
// With no credential in any URL it is base unchanged.
func remoteEnv(base []string, urls []string) ([]string, error) {
	var creds []urlCredential
	for _, u := range urls {
		c, ok, err := splitURLCredential(strings.TrimSpace(u))
		if err != nil {
			return nil, err
		}
		if ok {
			creds = append(creds, c)
		}
	}
	if len(creds) == 0 {
		return base, nil
	}
	// Entries the caller's environment already holds keep their place.
	n := 0
	var env []string
	for _, kv := range base {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "GIT_CONFIG_COUNT":
			n, _ = strconv.Atoi(v)
			continue
		case envGitUsername, envGitPassword:
			continue
		}
		env = append(env, kv)
	}
	set := func(key, value string) {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", n, key), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", n, value))
		n++
	}
	for _, c := range creds {
		set("url."+c.bare+".insteadOf", c.raw)
	}
	// No helper the user configured sees (or stores) the token, and ours
	// answers only for the origin's host, not for a redirect elsewhere.
	set("credential.helper", "")
	set("credential."+creds[0].origin+".helper", credentialHelper)
	env = append(env, "GIT_CONFIG_COUNT="+strconv.Itoa(n),
		envGitUsername+"="+creds[0].user, envGitPassword+"="+creds[0].password)
	return env, nil
}

// originURLs lists remote.origin.url as configured in the repository at
// root (a local read: it never contacts the remote).
func originURLs(root string) []string {
	cmd := exec.Command("git", "-C", root, "config", "--get-all", "remote.origin.url")
	cmd.Env = scrubbedEnv()
	out, err := cmd.Output()
	if err != nil || len(out) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// GitEnv is the environment for any git command Slipway runs in the
// repository at dir: base, plus, when origin's URL carries a credential,
// the rewrite and credential helper that keep it off every argv. A command
// that reads objects can fetch on its own (a partial clone's lazy fetch of
// a missing blob or tree, through git-remote-http with origin's URL), so
// every git command gets it, not only `git fetch`. An origin URL whose
// credential cannot be decoded leaves base as it is (the explicit fetch
// reports it).
//
// Every one also speaks git protocol v2 (protocolV2), whatever the user's
// configuration says.
func GitEnv(dir string, base []string) []string {
	env, err := remoteEnv(base, originURLs(dir))
	if err != nil {
		env = base
	}
	return protocolV2(env)
}

// fetchEnv is the environment of a fetch from origin in root: the
// process's own, never prompting, with origin's credential moved off argv,
// in protocol v2.
func fetchEnv(root string) ([]string, error) {
	base := append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	env, err := remoteEnv(base, originURLs(root))
	if err != nil {
		return nil, err
	}
	return protocolV2(env), nil
}

// protocolV2 is env with protocol.version=2 added to the configuration
// git reads from the environment (after the entries env already holds).
// Slipway fetches commits and objects by id (Relate's fetch of a commit no
// branch holds, a partial clone's lazy fetch of a blob): protocol v2 serves
// any of them, protocol v0 and v1 only those a ref advertises unless the
// server sets uploadpack.allowAnySHA1InWant. v2 is git's default since
// 2.26, but a user's global protocol.version=0 (set once for an old proxy)
// would otherwise make Relate answer "unknown". A server that does not
// speak v2 still gets v0: git falls back.
func protocolV2(env []string) []string {
	n := 0
	out := make([]string, 0, len(env)+3)
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GIT_CONFIG_COUNT="); ok {
			n, _ = strconv.Atoi(v)
			continue
		}
		out = append(out, kv)
	}
	return append(out, fmt.Sprintf("GIT_CONFIG_KEY_%d=protocol.version", n), fmt.Sprintf("GIT_CONFIG_VALUE_%d=2", n),
		"GIT_CONFIG_COUNT="+strconv.Itoa(n+1))
}
