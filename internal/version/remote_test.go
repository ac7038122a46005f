package version

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/gittest"
)

// argvRecorder puts shims for git and its remote helpers first: every git,
// git-remote-http and git-remote-https Slipway starts (directly, or as a
// child of git through GIT_EXEC_PATH) appends its argv to the returned log
// before running the real program.
func argvRecorder(t *testing.T) (logFile string) {
	t.Helper()
	realGit, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	out, err := exec.Command(realGit, "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	realExec := strings.TrimSpace(string(out))
	dir := t.TempDir()
	logFile = filepath.Join(dir, "argv.log")
	bin, execDir := filepath.Join(dir, "bin"), filepath.Join(dir, "exec")
	for _, d := range []string{bin, execDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(realExec)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Symlink(filepath.Join(realExec, e.Name()), filepath.Join(execDir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	shim := func(path, real string) {
		_ = os.Remove(path)
		script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$0 $*\" >> '%s'\nexec '%s' \"$@\"\n", logFile, real)
		if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	shim(filepath.Join(bin, "git"), realGit)
	shim(filepath.Join(execDir, "git"), realGit)
	for _, h := range []string{"git-remote-http", "git-remote-https"} {
		shim(filepath.Join(execDir, h), filepath.Join(realExec, h))
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("GIT_EXEC_PATH", execDir)
	return logFile
}

// basicAuthGit serves the bare repositories under root with `git
// http-backend`, answering 401 to any request without user:password.
func basicAuthGit(t *testing.T, root, user, password string) string {
	t.Helper()
	return gittest.BasicAuthServer(t, gittest.HTTPBackend(t, root), func(u, p string) bool { return u == user && p == password })
}

// tokenForm is one way a CI system writes a credential into a remote URL.
type tokenForm struct {
	name           string
	userinfo       string // as written in the URL
	user, password string // what the server must receive
	secret         string // what must never reach an argv
}

func tokenForms(rng *rand.Rand) []tokenForm {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	tok := func(prefix string, n int) string {
		b := []byte(prefix)
		for i := 0; i < n; i++ {
			b = append(b, alnum[rng.Intn(len(alnum))])
		}
		return string(b)
	}
	gh, gl, jt := tok("ghp_", 36), tok("glpat-", 20), tok("", 40)
	// A password with characters a URL must percent-encode.
	odd := tok("", 12) + "@:/?#%+ " + tok("", 12)
	oddUser := strings.ReplaceAll(odd, ":", "")
	return []tokenForm{
		{"user:token", "ci-bot:" + jt, "ci-bot", jt, jt},
		{"token as user", gh, gh, "", gh},
		{"x-access-token", "x-access-token:" + gh, "x-access-token", gh, gh},
		{"gitlab oauth2", "oauth2:" + gl, "oauth2", gl, gl},
		{"percent-encoded", "jenkins:" + escapeAll(odd), "jenkins", odd, odd},
		{"userinfo-escaped", url.UserPassword("jenkins", odd).String(), "jenkins", odd, odd},
		// (HTTP basic auth cannot carry a ':' in a user name.)
		{"percent-encoded user", escapeAll(oddUser) + ":" + jt, oddUser, jt, oddUser + jt},
	}
}

// escapeAll percent-encodes every byte but letters and digits.
func escapeAll(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// pieces are the secret and every 16-byte piece of it (the whole secret
// when shorter), in the forms a URL or a log may show it.
func pieces(secret string) []string {
	var out []string
	for _, s := range []string{secret, escapeAll(secret), url.QueryEscape(secret), url.PathEscape(secret)} {
		if len(s) <= 16 {
			out = append(out, s)
			continue
		}
		for i := 0; i+16 <= len(s); i++ {
			out = append(out, s[i:i+16])
		}
	}
	return out
}

// Issue 17 (trust, item 1): deepening a shallow source clone whose origin
// URL carries a token (every form CI systems write) works against a real
// smart-HTTP server behind basic auth, and neither the token nor any
// 16-byte piece of it is on the argv of any git process Slipway starts
// (git itself, git-remote-http, and what they start through the exec path).
func TestDeepenKeepsOriginTokenOffArgv(t *testing.T) {
	logFile := argvRecorder(t)
	src, shas := gittest.SourceRepo(t, 6, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	serveRoot := t.TempDir()
	gittest.Git(t, serveRoot, nil, "clone", "-q", "--bare", src, "app.git")
	rng := rand.New(rand.NewSource(17))
	ctx := context.Background()
	for _, f := range tokenForms(rng) {
		t.Run(f.name, func(t *testing.T) {
			base := basicAuthGit(t, serveRoot, f.user, f.password)
			shallow := filepath.Join(t.TempDir(), "checkout")
			gittest.Git(t, filepath.Dir(shallow), nil, "clone", "-q", "--no-local", "--depth", "1", "file://"+filepath.Join(serveRoot, "app.git"), shallow)
			u, _ := url.Parse(base)
			origin := u.Scheme + "://" + f.userinfo + "@" + u.Host + "/app.git"
			gittest.Git(t, shallow, nil, "config", "remote.origin.url", origin)
			if err := os.WriteFile(logFile, nil, 0o644); err != nil {
				t.Fatal(err)
			}

			rel, err := Relate(ctx, shallow, shas[5], shas[1])
			if err != nil {
				t.Fatalf("Relate: %v", err)
			}
			if rel.Ancestry != Newer {
				t.Fatalf("Relate(c5, c1) = %v, want newer (the clone was not deepened)", rel.Ancestry)
			}
			if shallowCLI(shallow) {
				t.Fatal("the clone is still shallow")
			}
			log, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(log, []byte(" fetch ")) || !bytes.Contains(log, []byte("git-remote-http")) {
				t.Fatalf("the recorder saw no fetch through git-remote-http:\n%s", log)
			}
			for _, p := range pieces(f.secret) {
				if bytes.Contains(log, []byte(p)) {
					t.Fatalf("%q (a piece of the token) is on an argv:\n%s", p, log)
				}
			}
			// The user's own configuration is as it was.
			if got := gittest.Git(t, shallow, nil, "config", "remote.origin.url"); got != origin {
				t.Errorf("remote.origin.url changed to %q", got)
			}
		})
	}
}

// A wrong token fails the deepen with git's message, the URL shown without
// its credential.
func TestDeepenWithWrongTokenSaysSoWithoutIt(t *testing.T) {
	logFile := argvRecorder(t)
	src, shas := gittest.SourceRepo(t, 3, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	serveRoot := t.TempDir()
	gittest.Git(t, serveRoot, nil, "clone", "-q", "--bare", src, "app.git")
	base := basicAuthGit(t, serveRoot, "ci", "right-token-0123456789abcdef")
	shallow := filepath.Join(t.TempDir(), "checkout")
	gittest.Git(t, filepath.Dir(shallow), nil, "clone", "-q", "--no-local", "--depth", "1", "file://"+filepath.Join(serveRoot, "app.git"), shallow)
	const wrong = "wrong-token-0123456789abcdef"
	u, _ := url.Parse(base)
	gittest.Git(t, shallow, nil, "config", "remote.origin.url", u.Scheme+"://ci:"+wrong+"@"+u.Host+"/app.git")
	if err := os.WriteFile(logFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Relate(context.Background(), shallow, shas[2], shas[0])
	if err == nil {
		t.Fatal("a wrong token deepened the clone")
	}
	log, _ := os.ReadFile(logFile)
	for _, p := range pieces(wrong) {
		if strings.Contains(err.Error(), p) || bytes.Contains(log, []byte(p)) {
			t.Fatalf("the token is in the error or on an argv: %v\n%s", err, log)
		}
	}
}

func TestSplitURLCredential(t *testing.T) {
	for _, tc := range []struct {
		raw, bare, origin, user, pass string
		ok                            bool
	}{
		{"https://u:p%40ss@git.example.com:8443/org/r.git", "https://git.example.com:8443/org/r.git", "https://git.example.com:8443", "u", "p@ss", true},
		{"https://tok@git.example.com/org/r.git", "https://git.example.com/org/r.git", "https://git.example.com", "tok", "", true},
		{"https://git.example.com/org/r.git", "", "", "", "", false},
		{"ssh://git@git.example.com/org/r.git", "", "", "", "", false},
		{"git@git.example.com:org/r.git", "", "", "", "", false},
		{"/srv/git/r.git", "", "", "", "", false},
		{"https://git.example.com/a@b", "", "", "", "", false},
	} {
		c, ok, err := splitURLCredential(tc.raw)
		if err != nil || ok != tc.ok || c.bare != tc.bare || c.origin != tc.origin || c.user != tc.user || c.password != tc.pass {
			t.Errorf("splitURLCredential(%q) = %+v, %v, %v", tc.raw, c, ok, err)
		}
	}
	if _, _, err := splitURLCredential("https://u:bad%zzsecret@h/r"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("undecodable userinfo: %v", err)
	}
}

// Not only `git fetch`: any git command Slipway runs can fetch on its own.
// In a partial clone (CI checkouts with a blob filter) reading a missing
// blob makes git fetch it from origin through git-remote-http; that fetch
// too keeps origin's token off every argv, and still authenticates.
func TestLazyFetchKeepsOriginTokenOffArgv(t *testing.T) { lazyFetchKeepsTokenOffArgv(t, "") }

// The lazy fetch of an object by id works whatever protocol the user's
// global configuration names: protocol v0 refuses an unadvertised object.
func TestLazyFetchUnderTheUsersProtocolV0(t *testing.T) {
	lazyFetchKeepsTokenOffArgv(t, "[protocol]\n\tversion = 0\n")
}

// lazyFetchKeepsTokenOffArgv makes a partial clone, gives the user's global
// git configuration userConfig, and reads a blob the clone lacks.
func lazyFetchKeepsTokenOffArgv(t *testing.T, userConfig string) {
	logFile := argvRecorder(t)
	src, _ := gittest.SourceRepo(t, 4, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	serveRoot := t.TempDir()
	gittest.Git(t, serveRoot, nil, "clone", "-q", "--bare", src, "app.git")
	gittest.Git(t, filepath.Join(serveRoot, "app.git"), nil, "config", "uploadpack.allowFilter", "true")
	const user, token = "jenkins", "glpat-LazyFetchToken0123456789"
	base := basicAuthGit(t, serveRoot, user, token)
	partial := filepath.Join(t.TempDir(), "checkout")
	gittest.Git(t, filepath.Dir(partial), nil, "clone", "-q", "--filter=blob:none", "--no-local", "file://"+filepath.Join(serveRoot, "app.git"), partial)
	u, _ := url.Parse(base)
	gittest.Git(t, partial, nil, "config", "remote.origin.url", u.Scheme+"://"+user+":"+token+"@"+u.Host+"/app.git")
	if err := os.WriteFile(logFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	userGitConfig(t, userConfig)
	got, err := gitCLI(partial, "cat-file", "-p", "HEAD~2:f")
	if err != nil || got != "1" {
		t.Fatalf("reading a blob the partial clone lacks: %q %v", got, err)
	}
	log, _ := os.ReadFile(logFile)
	if !bytes.Contains(log, []byte("git-remote-http")) {
		t.Fatalf("no lazy fetch happened:\n%s", log)
	}
	for _, p := range pieces(token) {
		if bytes.Contains(log, []byte(p)) {
			t.Fatalf("%q (a piece of the token) is on an argv:\n%s", p, log)
		}
	}
}

// The caller's own GIT_CONFIG_* entries keep their place; Slipway's follow.
func TestRemoteEnvKeepsCallersConfig(t *testing.T) {
	base := []string{"PATH=/bin", "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.sslVerify", "GIT_CONFIG_VALUE_0=true", envGitPassword + "=stale"}
	env, err := remoteEnv(base, []string{"https://ci:tok%2Fen@git.example.com/r.git"})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(env, "\n")
	for _, want := range []string{"GIT_CONFIG_KEY_0=http.sslVerify", "GIT_CONFIG_KEY_1=url.https://git.example.com/r.git.insteadOf",
		"GIT_CONFIG_VALUE_1=https://ci:tok%2Fen@git.example.com/r.git", "GIT_CONFIG_KEY_2=credential.helper", "GIT_CONFIG_VALUE_2=",
		"GIT_CONFIG_KEY_3=credential.https://git.example.com.helper", "GIT_CONFIG_COUNT=4", envGitUsername + "=ci", envGitPassword + "=tok/en"} {
		if !strings.Contains(got, want) {
			t.Errorf("env lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "stale") || strings.Contains(got, "GIT_CONFIG_COUNT=1") {
		t.Errorf("stale entries kept:\n%s", got)
	}
	if plain, _ := remoteEnv(base, []string{"https://git.example.com/r.git"}); len(plain) != len(base) {
		t.Errorf("a URL without credentials changed the environment: %v", plain)
	}
}
