package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/gittest"
)

// pktLine is one git pkt-line.
func pktLine(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

// echoingGitServer serves root's repositories over smart HTTP and, once a
// client authenticates, answers in the error form mode with the credential
// it was sent, as a hostile or careless git server or proxy does:
// "err" an ERR pkt-line (git: "fatal: remote error: …"), "401"/"403" a text
// body, "remote" a `remote:` line on stderr (pack-objects fails saying it),
// "ok" serves normally.
func echoingGitServer(t *testing.T, root, mode string) string {
	t.Helper()
	hook := filepath.Join(t.TempDir(), "hook.sh")
	// The hook runs as pack-objects: upload-pack relays its stderr to the
	// client as `remote:` lines.
	os.WriteFile(hook, []byte("#!/bin/sh\ncred=$(printf '%s' \"${HTTP_AUTHORIZATION#Basic }\" | base64 -d)\necho \"forbidden: credentials $cred ($HTTP_AUTHORIZATION) lack read on this repo\" >&2\nexit 1\n"), 0o755)
	var env []string
	if mode == "remote" {
		env = append(env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=uploadpack.packObjectsHook", "GIT_CONFIG_VALUE_0="+hook)
	}
	backend := gittest.HTTPBackend(t, root, env...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		cred := user + ":" + pass
		echo := fmt.Sprintf("access denied for %s (%s; token %s; %s)", cred, r.Header.Get("Authorization"), url.QueryEscape(pass), pass)
		switch mode {
		case "err":
			w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
			fmt.Fprint(w, pktLine("# service=git-upload-pack\n")+"0000"+pktLine("ERR "+echo+"\n"))
		case "401":
			w.Header().Set("WWW-Authenticate", `Basic realm="`+cred+`"`)
			http.Error(w, echo, http.StatusUnauthorized)
		case "403":
			http.Error(w, echo, http.StatusForbidden)
		default:
			backend.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestOriginCredentialNeverEchoed is issue 17 (round 2) item 1 as a
// property: the source checkout's origin URL carries a credential (in each
// form a CI checkout writes it: user:token, a token with characters
// percent-encoded, a token as the user name), the git server echoes it
// back in each error form while the deploy guard deepens the shallow clone,
// and no 16-byte piece of the token (nor the whole of user:token) reaches
// stdout, stderr or out/. Before the fix the redactor never learned the
// origin's credential: `fatal: remote error: access denied for alice:TOKEN`
// was printed whole.
func TestOriginCredentialNeverEchoed(t *testing.T) {
	noEngineEnv(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	for _, k := range []string{"GITOPS_REPO", "GITOPS_TOKEN", "GIT_CONFIG_COUNT"} {
		t.Setenv(k, "")
	}
	src, shas := gitRepo(t, 3)
	root := t.TempDir()
	if out, err := exec.Command("git", "clone", "-q", "--bare", src, filepath.Join(root, "src.git")).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	tokens := []struct{ name, user, token string }{
		{"user:token", "alice", "S3cr3tT0k3n-ABCDEF0123456789xyzQ"},
		{"percent-encoded", "ci-bot", "p@ss:w/rd%with?odd#chars-0123456789"},
		{"token as user", "ghp_AbCdEf0123456789AbCdEf0123456789wxyz", "x-oauth-basic"},
	}
	// And tokens generated from a seed, over the characters a URL must
	// percent-encode.
	r := rand.New(rand.NewSource(*secretsSeed))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?#[]% "
	for i := 0; i < 2; i++ {
		b := make([]byte, 24+r.Intn(40))
		for j := range b {
			b[j] = alphabet[r.Intn(len(alphabet))]
		}
		tokens = append(tokens, struct{ name, user, token string }{fmt.Sprintf("generated %d", i), "ci", string(b)})
	}
	for _, mode := range []string{"err", "401", "403", "remote"} {
		base := echoingGitServer(t, root, mode)
		for _, tk := range tokens {
			t.Run(mode+"/"+tk.name, func(t *testing.T) {
				out := t.TempDir()
				common := []string{"--app", "sample-app", "--env", "development", "--source", "../../sample-app", "--out", out}
				var so, se bytes.Buffer
				if code := Execute(context.Background(), testProject(), append([]string{"deploy", "--image", dig(1), "--source-commit", shas[0], "--source-repo", src}, common...), &so, &se); code != 0 {
					t.Fatalf("first deploy: exit %d\n%s%s", code, so.String(), se.String())
				}
				shallow := filepath.Join(t.TempDir(), "work")
				if o, err := exec.Command("git", "clone", "-q", "--depth", "1", "file://"+filepath.Join(root, "src.git"), shallow).CombinedOutput(); err != nil {
					t.Fatalf("%v %s", err, o)
				}
				u, _ := url.Parse(base + "/src.git")
				u.User = url.UserPassword(tk.user, tk.token)
				if o, err := exec.Command("git", "-C", shallow, "remote", "set-url", "origin", u.String()).CombinedOutput(); err != nil {
					t.Fatalf("%v %s", err, o)
				}
				so.Reset()
				se.Reset()
				code := Execute(context.Background(), testProject(), append([]string{"deploy", "--image", dig(2), "--source-commit", shas[2], "--source-repo", shallow}, common...), &so, &se)
				seen := map[string]string{"stdout": so.String(), "stderr": se.String()}
				filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
					if err == nil && !info.IsDir() && info.Size() < 4<<20 && !strings.Contains(p, "gitops.git") {
						data, _ := os.ReadFile(p)
						seen[p] = string(data)
					}
					return nil
				})
				secret := tk.token
				if tk.name == "token as user" {
					secret = tk.user
				}
				windows, whole := secretPieces(secret, url.QueryEscape(secret)+"\n"+base64.StdEncoding.EncodeToString([]byte(tk.user+":"+tk.token)), nil)
				whole = append(whole, tk.user+":"+tk.token)
				if where := leakIn(seen, windows, whole); where != "" {
					t.Errorf("exit %d: %s\n%s", code, where, se.String())
				}
				if mode != "ok" && code == 0 {
					t.Errorf("deploy through a refusing origin exit 0:\n%s", se.String())
				}
				t.Logf("exit %d: %s", code, strings.TrimSpace(se.String()))
			})
		}
	}
}

// Issue 17 (round 2) item 1, a credential Slipway relays: a Docker
// credential helper's answer is learned before it is sent, so a registry
// that quotes it back (decoded, or as the Basic header) prints ***.
func TestCredentialHelperAnswerNeverEchoed(t *testing.T) {
	noEngineEnv(t)
	const secret = "helper-Secret-0123456789-abcdefXYZ"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="r"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodHead || r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusNotFound) // no such blob: go on to upload
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":"denied for %s:%s (%s)"}]}`, user, pass, r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	bin, cfg := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(bin, "docker-credential-slipwaytest"), []byte("#!/bin/sh\ncat >/dev/null\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"robot\",\"Secret\":\""+secret+"\"}' \""+host+"\"\n"), 0o755)
	os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"credHelpers":{"`+host+`":"slipwaytest"}}`), 0o600)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("DOCKER_CONFIG", cfg)
	for _, k := range []string{"SLIPWAY_SIGNING_KEY", "GITHUB_TOKEN"} {
		t.Setenv(k, "")
	}
	// A static pair bound to another registry: this loopback one is then
	// not read anonymously, and its credentials come from the helper.
	t.Setenv("REGISTRY_USERNAME", "other")
	t.Setenv("REGISTRY_PASSWORD", "other-registry-password")
	t.Setenv("REGISTRY_HOST", "registry.invalid")
	out := t.TempDir()
	var so, se bytes.Buffer
	code := Execute(context.Background(), testProject(), []string{"push", "--tarball", imageTar(t, t.TempDir()), "--image", host + "/acme/app", "--out", out}, &so, &se)
	seen := map[string]string{"stdout": so.String(), "stderr": se.String()}
	windows, whole := secretPieces(secret, base64.StdEncoding.EncodeToString([]byte("robot:"+secret)), nil)
	if where := leakIn(seen, windows, whole); where != "" || code == 0 || !strings.Contains(se.String(), "DENIED") {
		t.Errorf("exit %d: %s\n%s", code, where, se.String())
	}
}

// learnDiscovered finds a URL's credential wherever the run meets it: an
// environment value, an argument, a string of the Go configuration, and
// the git configuration (any remote, an insteadOf) of the checkouts the
// run reads, given as --source-repo.
func TestLearnDiscoveredEverywhere(t *testing.T) {
	src, _ := gitRepo(t, 1)
	for _, kv := range [][2]string{
		{"remote.mirror.url", "https://ci:from-git-config-remote-0123@git.example.org/a.git"},
		{"url.https://bot:from-git-config-insteadof-0123@git.example.org/.insteadOf", "https://git.example.org/"},
	} {
		if out, err := exec.Command("git", "-C", src, "config", kv[0], kv[1]).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	p := testProject()
	p.GitOpsRepo = "https://ci:from-go-configuration-0123@git.example.org/gitops.git"
	set := newSecretSet(p, func(string) string { return "" })
	learnDiscovered(set, p,
		[]string{"HTTPS_PROXY=http://proxy:from-environment-0123@proxy.example.org:3128"},
		[]string{"deploy", "--gitops-repo=https://from-argument-token-0123456789@git.example.org/g.git", "--source-repo", src})
	for _, v := range []string{"from-git-config-remote-0123", "from-git-config-insteadof-0123", "from-go-configuration-0123", "from-environment-0123", "from-argument-token-0123456789"} {
		if got := set.String("server said: " + v + " is wrong"); strings.Contains(got, v) {
			t.Errorf("%s is not learned: %q", v, got)
		}
	}
}
