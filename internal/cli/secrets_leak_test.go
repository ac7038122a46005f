package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"golang.org/x/crypto/ssh"

	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/dag"
)

var secretsSeed = flag.Int64("secrets.seed", 17, "seed of TestNoSecretEchoed's generated secrets")

// secretForms are the ways a user hands Slipway a secret.
var secretForms = []string{"path", "pem", "base64-pem", "one-line", "garbage", "empty", "huge"}

// secretInputs are every secret input of the contract, and the GitHub OIDC
// token Slipway fetches itself.
var secretInputs = []string{
	"REGISTRY_PASSWORD", "GITOPS_TOKEN", "GITOPS_SSH_KEY_FILE", "GITOPS_GPG_KEY_FILE",
	"SLIPWAY_SIGNING_KEY", "SLIPWAY_SIGNING_KEY_PASSWORD", "DB_PASSWORD (a custom stage's Secrets)", "OIDC token",
}

// keyPEM makes key material of the kind the input takes (so the path, PEM
// and base64 forms are real keys that get used, not only rejected).
func keyPEM(r *rand.Rand, input string) string {
	switch input {
	case "GITOPS_SSH_KEY_FILE":
		_, priv, _ := ed25519.GenerateKey(r)
		b, _ := ssh.MarshalPrivateKey(priv, "")
		return string(pem.EncodeToMemory(b))
	case "GITOPS_GPG_KEY_FILE":
		e, _ := openpgp.NewEntity("ci", "", "ci@example.org", &packet.Config{Rand: r, Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return time.Unix(1.7e9, 0) }})
		var b bytes.Buffer
		w, _ := armor.Encode(&b, openpgp.PrivateKeyType, nil)
		e.SerializePrivate(w, nil)
		w.Close()
		return b.String()
	default:
		k, _ := ecdsa.GenerateKey(elliptic.P256(), r)
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
}

// secretValue is one generated input: the value to put in the variable,
// and the secret material it stands for (the file's content for a path).
func secretValue(t *testing.T, r *rand.Rand, input, form string) (value, material string) {
	printable := func(n int, alphabet string) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.Intn(len(alphabet))]
		}
		return string(b)
	}
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	switch form {
	case "path":
		m := keyPEM(r, input)
		p := filepath.Join(t.TempDir(), "secret.key")
		if err := os.WriteFile(p, []byte(m), 0o600); err != nil {
			t.Fatal(err)
		}
		return p, m
	case "pem":
		m := keyPEM(r, input)
		return m, m
	case "base64-pem":
		m := keyPEM(r, input)
		return base64.StdEncoding.EncodeToString([]byte(m)), m
	case "one-line":
		v := "ghp_" + printable(36, alnum)
		if strings.HasSuffix(input, "_FILE") || input == "SLIPWAY_SIGNING_KEY" {
			v = strings.ReplaceAll(strings.TrimSpace(keyPEM(r, input)), "\n", `\n`)
		}
		return v, v
	case "garbage":
		v := printable(24+r.Intn(60), alnum+" !#$%&()*+,-./:;<=>?@[]^_{|}~\t\"'\\é€")
		return v, v
	case "empty":
		return "", ""
	case "huge":
		b := make([]byte, 90<<10) // base64: 120 KiB, under Linux's 128 KiB for one variable
		r.Read(b)
		v := base64.StdEncoding.EncodeToString(b)
		return v, v
	}
	panic(form)
}

// secretPieces are what must never be seen: the value and its material,
// whole when shorter than 16 bytes, else every 16-byte window of each line.
// Pieces in public are left out: a PEM's armor lines (-----BEGIN/END …
// KEY-----) and the format's constant bytes (the ASN.1 header every P-256
// PKCS#8 key starts with, "openssh-key-v1"), which are in every key of the
// kind, Slipway's own development key too.
func secretPieces(value, material string, public map[string]bool) (windows map[string]bool, whole []string) {
	windows = map[string]bool{}
	for _, s := range []string{value, material} {
		for _, line := range strings.Split(strings.ReplaceAll(s, `\n`, "\n"), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "-----BEGIN ") || strings.HasPrefix(line, "-----END ") {
				continue
			}
			if len(line) < 16 {
				if len(line) >= 12 {
					whole = append(whole, line)
				}
				continue
			}
			for i := 0; i+16 <= len(line); i++ {
				if !public[line[i:i+16]] {
					windows[line[i:i+16]] = true
				}
			}
		}
	}
	return windows, whole
}

// publicWindows are the 16-byte windows two independent keys of the
// input's kind share: the format, not the secret.
func publicWindows(r *rand.Rand, input string) map[string]bool {
	a, _ := secretPieces("", keyPEM(r, input), nil)
	b, _ := secretPieces("", keyPEM(r, input), nil)
	c, _ := secretPieces("", keyPEM(r, "SLIPWAY_SIGNING_KEY"), nil) // Slipway's development key's kind
	common := map[string]bool{}
	for w := range a {
		if b[w] || c[w] {
			common[w] = true
		}
	}
	return common
}

// leakIn reports where a piece of the secret appears among what was seen.
func leakIn(seen map[string]string, windows map[string]bool, whole []string) string {
	for where, text := range seen {
		for _, w := range whole {
			if strings.Contains(text, w) {
				return fmt.Sprintf("%s holds %q", where, w)
			}
		}
		for i := 0; i+16 <= len(text); i++ {
			if windows[text[i:i+16]] {
				return fmt.Sprintf("%s holds %q", where, text[i:i+16])
			}
		}
	}
	return ""
}

// gitShim puts a `git` first on PATH that records every argument of every
// call, then runs the real git: what `ps` would show of Slipway's children.
func gitShim(t *testing.T) string {
	t.Helper()
	real, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "argv.log")
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '" + log + "'; done\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return log
}

// tokenGitServer serves an empty bare repository over smart HTTP that
// wants another token than any the test generates.
func tokenGitServer(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", "--bare", filepath.Join(root, "gitops.git")).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	execPath, _ := exec.Command("git", "--exec-path").Output()
	backend := &cgi.Handler{Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"), Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, p, ok := r.BasicAuth(); !ok || p != "the-one-right-token" {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/gitops.git"
}

// echoServer answers every request with 400 and whatever credentials and
// body it was sent: a hostile or broken Fulcio, Rekor or registry whose
// error text quotes the secret back.
func echoServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		http.Error(w, "rejected "+r.Header.Get("Authorization")+" "+string(body), http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// leakyProject is sample-app with a careless custom stage that quotes its
// secret in its error, its log and a recorded detail.
func leakyProject() Project {
	p := testProject()
	p.Stages = append(DefaultStages(), StageSpec{Name: "leaky", Host: true, Secrets: []string{"DB_PASSWORD"},
		Run: func(_ context.Context, env dag.StageEnv) error {
			pw := os.Getenv("DB_PASSWORD")
			fmt.Fprintf(env.Log, "connecting with %s\n", pw)
			env.Set("dsn", "postgres://app:"+pw+"@db:5432/app")
			return fmt.Errorf("db refused password %s (base64 %s)", pw, base64.StdEncoding.EncodeToString([]byte(pw)))
		}})
	return p
}

// TestNoSecretEchoed is issue 17 item 1 as a property: every secret input
// × every form a user may give it (a path, PEM, base64 PEM, one line,
// garbage, empty, huge; generated from a seed), through the real commands
// (push to an in-process registry, deploy to a git server over HTTP, SSH
// and a local repository, a custom stage, keyless signing with a Fulcio
// that echoes what it gets): no piece of 16 bytes of the secret reaches
// stdout, stderr, a file under out/, a commit message of the GitOps
// repository, or the argv of a git child. Before the fix,
// SLIPWAY_SIGNING_KEY as base64 PEM was printed whole.
func TestNoSecretEchoed(t *testing.T) {
	noEngineEnv(t)
	argv := gitShim(t)
	seed := *secretsSeed
	t.Logf("seed %d (go test -run TestNoSecretEchoed -secrets.seed N tries another)", seed)
	r := rand.New(rand.NewSource(seed))

	host := basicAuthRegistry(t)
	tar := imageTar(t, t.TempDir())
	src, shas := gitRepo(t, 1)
	httpRepo := tokenGitServer(t)
	echo := echoServer(t)
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(knownHosts, nil, 0o600)
	encrypted, _, err := attest.GenerateKeyPair([]byte("the-right-password"))
	if err != nil {
		t.Fatal(err)
	}
	encKey := filepath.Join(t.TempDir(), "team.key")
	os.WriteFile(encKey, encrypted, 0o600)
	oidc := ""
	oidcSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"value": oidc})
	}))
	t.Cleanup(oidcSrv.Close)

	for _, input := range secretInputs {
		public := publicWindows(r, strings.Fields(input)[0])
		for _, form := range secretForms {
			value, material := secretValue(t, r, input, form)
			name := strings.Fields(input)[0]
			out := t.TempDir()
			// Every case starts from a clean environment with working
			// credentials for what it does not test.
			for _, k := range []string{"REGISTRY_PASSWORD", "GITOPS_TOKEN", "GITOPS_SSH_KEY_FILE", "GITOPS_GPG_KEY_FILE", "SLIPWAY_SIGNING_KEY", "SLIPWAY_SIGNING_KEY_PASSWORD", "DB_PASSWORD", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "GITHUB_WORKFLOW_REF", "SLIPWAY_FULCIO_URL", "SLIPWAY_REKOR_URL"} {
				t.Setenv(k, "")
			}
			t.Setenv("REGISTRY_USERNAME", "bot")
			t.Setenv("REGISTRY_PASSWORD", regPass)
			t.Setenv("REGISTRY_HOST", host)
			push := []string{"push", "--tarball", tar, "--image", host + "/acme/app", "--out", out}
			deploy := []string{"deploy", "--app", "sample-app", "--env", "development", "--image", dig(1), "--source-commit", shas[0], "--source-repo", src, "--source", "../../sample-app", "--out", out}
			proj := testProject()
			var runs [][]string
			switch name {
			case "REGISTRY_PASSWORD":
				t.Setenv(name, value)
				runs = [][]string{push}
			case "GITOPS_TOKEN":
				t.Setenv(name, value)
				runs = [][]string{append(deploy, "--gitops-repo", httpRepo)}
			case "GITOPS_SSH_KEY_FILE":
				t.Setenv(name, value)
				t.Setenv("GITOPS_SSH_KNOWN_HOSTS", knownHosts)
				runs = [][]string{append(deploy, "--gitops-repo", "ssh://git@127.0.0.1:1/gitops.git")}
			case "GITOPS_GPG_KEY_FILE":
				t.Setenv(name, value)
				runs = [][]string{deploy}
			case "SLIPWAY_SIGNING_KEY":
				t.Setenv(name, value)
				runs = [][]string{push}
			case "SLIPWAY_SIGNING_KEY_PASSWORD":
				t.Setenv("SLIPWAY_SIGNING_KEY", encKey)
				t.Setenv(name, value)
				runs = [][]string{push}
			case "DB_PASSWORD":
				t.Setenv(name, value)
				proj = leakyProject()
				runs = [][]string{{"run", "leaky", "--source", "../../sample-app", "--out", out}}
			case "OIDC":
				oidc = value
				t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", oidcSrv.URL)
				t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token-0123456789abcdef")
				t.Setenv("GITHUB_WORKFLOW_REF", "acme/app/.github/workflows/ci.yml@refs/heads/main")
				t.Setenv("SLIPWAY_FULCIO_URL", echo)
				t.Setenv("SLIPWAY_REKOR_URL", echo)
				runs = [][]string{push}
			}
			os.Remove(argv)
			seen := map[string]string{}
			for i, args := range runs {
				var stdout, stderr bytes.Buffer
				code := Execute(context.Background(), proj, args, &stdout, &stderr)
				seen[fmt.Sprintf("stdout of %s", args[0])] = stdout.String()
				seen[fmt.Sprintf("stderr of %s (exit %d)", args[0], code)] = stderr.String()
				_ = i
			}
			filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
				if err == nil && !info.IsDir() && info.Size() < 4<<20 {
					data, _ := os.ReadFile(p)
					seen[p] = string(data)
				}
				return nil
			})
			if _, err := os.Stat(filepath.Join(out, "gitops.git")); err == nil {
				msgs, _ := exec.Command("git", "--git-dir", filepath.Join(out, "gitops.git"), "log", "--all", "--format=%B%n%N").Output()
				seen["commit messages"] = string(msgs)
			}
			data, _ := os.ReadFile(argv)
			seen["git argv"] = string(data)
			shown := value
			if form == "path" {
				shown = "" // a path is not secret; the file's content is
			}
			windows, whole := secretPieces(shown, material, public)
			if where := leakIn(seen, windows, whole); where != "" {
				t.Errorf("seed %d, %s as %s: %s", seed, input, form, where)
			}
		}
	}
}

// FuzzSecretKeyError: whatever a key variable holds, what Slipway prints
// about it (`verify --own` reads SLIPWAY_SIGNING_KEY first) holds no
// 16-byte piece of the value. Seeds in testdata/fuzz/FuzzSecretKeyError.
func FuzzSecretKeyError(f *testing.F) {
	f.Add("LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5QWdFR0NDcUdTTTQ5QXdFSEJHMHdhd0lCQVFRZz09Ci0tLS0tRU5EIFBSSVZBVEUgS0VZLS0tLS0K")
	f.Fuzz(func(t *testing.T, value string) {
		if strings.ContainsRune(value, 0) {
			return // not an environment value
		}
		noEngineEnv(t)
		t.Setenv("SLIPWAY_SIGNING_KEY", value)
		t.Setenv("SLIPWAY_SIGNING_KEY_PASSWORD", "")
		var stdout, stderr bytes.Buffer
		Execute(context.Background(), testProject(), []string{"verify", "--own", "127.0.0.1:1/acme/app@sha256:" + strings.Repeat("a", 64), "--out", t.TempDir()}, &stdout, &stderr)
		windows, whole := secretPieces(value, value, nil)
		if where := leakIn(map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}, windows, whole); where != "" {
			t.Fatalf("%s", where)
		}
	})
}

// TestSecretSetLearnsEveryInput: what a run learns at start: each secret
// variable, the content (not the path) of a key file, a custom stage's
// Secrets and a password inside a URL.
func TestSecretSetLearnsEveryInput(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "team.key")
	os.WriteFile(keyFile, []byte("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgKEYKEYKEYKEY\n-----END PRIVATE KEY-----\n"), 0o600)
	env := map[string]string{
		"GITOPS_TOKEN":        "ghp_gitopsTokenValue0123",
		"SLIPWAY_SIGNING_KEY": keyFile,
		"DB_PASSWORD":         "db-password-value-42",
		"GITOPS_REPO":         "https://ci:url-password-value@git.acme.io/gitops.git",
	}
	set := newSecretSet(leakyProject(), func(k string) string { return env[k] })
	got := set.String("a ghp_gitopsTokenValue0123 b db-password-value-42 c url-password-value d BAQQgKEYKEYKEYKEY e " + keyFile)
	for _, v := range []string{"gitopsTokenValue", "db-password-value", "url-password-value", "KEYKEYKEY"} {
		if strings.Contains(got, v) {
			t.Errorf("%s survives: %q", v, got)
		}
	}
	if !strings.HasPrefix(got, "a *** b *** c *** d ***") || !strings.HasSuffix(got, "e "+keyFile) {
		t.Errorf("got %q (the path of a key file is not secret)", got)
	}
}
