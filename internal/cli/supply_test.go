package cli

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"sigs.k8s.io/yaml"

	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/keyless"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/provenance"
	"github.com/slipway-ci/slipway/internal/regtest"
	"github.com/slipway-ci/slipway/internal/release"
	"github.com/slipway-ci/slipway/internal/sigstoretest"
)

const keyPassword = "Signing-Pa55-DO-NOT-LOG"

// keyPair writes an encrypted key pair (keygen's format) and returns the
// paths and the private key PEM.
func keyPair(t *testing.T, dir, name string) (keyPath, pubPath string, priv []byte) {
	t.Helper()
	priv, pub, err := attest.GenerateKeyPair([]byte(keyPassword))
	if err != nil {
		t.Fatal(err)
	}
	keyPath, pubPath = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	if err := os.WriteFile(keyPath, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return keyPath, pubPath, priv
}

// useSigningKey makes this test's signing key (SLIPWAY_SIGNING_KEY and its
// password) and another key pair; it returns both public key files.
func useSigningKey(t *testing.T, dir string) (pubPath, otherPub string) {
	t.Helper()
	keyPath, pubPath, _ := keyPair(t, dir, "ci")
	_, otherPub, _ = keyPair(t, dir, "other")
	t.Setenv("SLIPWAY_SIGNING_KEY", keyPath)
	t.Setenv("SLIPWAY_SIGNING_KEY_PASSWORD", keyPassword)
	return pubPath, otherPub
}

func ggcrRegistry(t *testing.T, referrers bool) string {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.WithReferrersSupport(referrers), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// TestSupplyChainWithoutEngine is the whole chain on three registries
// (referrers API, referrers tag fallback, Debian's distribution): push signs
// and attaches, verify reports, deploy verifies and records the bundle,
// and every refusal leaves the GitOps repository untouched.
func TestSupplyChainWithoutEngine(t *testing.T) {
	noEngineEnv(t)
	regs := map[string]func(*testing.T) string{
		"referrers-api":   func(t *testing.T) string { return ggcrRegistry(t, true) },
		"referrers-tag":   func(t *testing.T) string { return ggcrRegistry(t, false) },
		"docker-registry": func(t *testing.T) string { return regtest.Distribution(t) },
	}
	for name, start := range regs {
		t.Run(name, func(t *testing.T) {
			host := start(t)
			dir, out := t.TempDir(), t.TempDir()
			pubPath, otherPub := useSigningKey(t, dir)
			src, shas := gitRepo(t, 2)
			sbom := filepath.Join(dir, "sbom.cdx.json")
			os.WriteFile(sbom, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"golang.org/x/text","version":"v0.3.7"}]}`), 0o644)

			stdout, stderr, code := run(t, "push", "--tarball", imageTar(t, dir), "--image", host+"/acme/sample-app", "--sbom", sbom,
				"--source-commit", shas[1], "--out", out)
			if code != 0 {
				t.Fatalf("push: exit %d\n%s", code, stderr)
			}
			ref := lastLine(stdout)
			if !strings.Contains(stderr, "attached and verified: signature sha256:") || !strings.Contains(stderr, "SBOM (1 components)") ||
				!strings.Contains(stderr, "provenance (commit "+shas[1][:12]) {
				t.Fatalf("push did not say what it attached:\n%s", stderr)
			}

			// verify: the report an auditor reads.
			stdout, stderr, code = run(t, "verify", ref, "--verify-key", pubPath, "--source-commit", shas[1], "--json")
			if code != 0 {
				t.Fatalf("verify: exit %d\n%s\n%s", code, stdout, stderr)
			}
			var rep attest.Report
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatal(err)
			}
			if !rep.Verified || rep.SBOM.Components != 1 || rep.Provenance.SourceCommit != shas[1] || rep.Provenance.Builder != "local" {
				t.Fatalf("report: %s", stdout)
			}
			stdout, _, code = run(t, "verify", ref, "--verify-key", otherPub)
			if code != 1 || !strings.Contains(stdout, "REFUSED") || !strings.Contains(stdout, "signed by another key") {
				t.Fatalf("verify with another key: exit %d\n%s", code, stdout)
			}

			// deploy with a policy: verified, trailers name the bundle.
			common := []string{"--out", out, "--source", "../../sample-app", "--source-repo", src}
			gitopsRepo := filepath.Join(out, "gitops.git")
			_, stderr, code = run(t, append([]string{"deploy", "--app", "sample-app", "--env", "development", "--image", ref, "--verify-key", pubPath}, common...)...)
			if code != 0 {
				t.Fatalf("deploy: exit %d\n%s", code, stderr)
			}
			msg := gitOut(t, gitopsRepo, "log", "-1", "--format=%B")
			if !strings.Contains(msg, "Signature-Bundle: "+rep.Signature.Bundle) || !strings.Contains(msg, "Signed-By: key sha256:") {
				t.Fatalf("deploy commit lacks the verification trailers:\n%s", msg)
			}
			head := gitOut(t, gitopsRepo, "rev-parse", "main")

			// Refusals: another key; a provenance for another commit; promote
			// re-verifies. Nothing is committed.
			for _, c := range []struct {
				args []string
				want string
			}{
				{[]string{"deploy", "--app", "sample-app", "--env", "staging", "--image", ref, "--verify-key", otherPub}, "signed by another key"},
				{[]string{"deploy", "--app", "sample-app", "--env", "staging", "--image", ref, "--verify-key", pubPath, "--source-commit", shas[0], "--allow-rollback"}, "built from commit " + shas[1]},
				{[]string{"promote", "--app", "sample-app", "--from", "development", "--to", "staging", "--verify-key", otherPub}, "signed by another key"},
			} {
				_, stderr, code := run(t, append(c.args, common...)...)
				if code != 1 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, ref[strings.Index(ref, "@")+1:]) {
					t.Errorf("%v: exit %d, want 1 naming the digest and %q:\n%s", c.args, code, c.want, stderr)
				}
				if got := gitOut(t, gitopsRepo, "rev-parse", "main"); got != head {
					t.Errorf("%v: the GitOps repository moved", c.args)
				}
			}
			_, stderr, code = run(t, append([]string{"promote", "--app", "sample-app", "--from", "development", "--to", "staging", "--verify-key", pubPath}, common...)...)
			if code != 0 || !strings.Contains(stderr, "verified") {
				t.Fatalf("promote: exit %d\n%s", code, stderr)
			}
		})
	}
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestSigningSecretsNeverLeak: the private key (as a file or as the secret's
// content) and its password reach no output, no file under out/, and no
// error, on success and on every failure.
func TestSigningSecretsNeverLeak(t *testing.T) {
	noEngineEnv(t)
	host := ggcrRegistry(t, false)
	dir, out := t.TempDir(), t.TempDir()
	keyPath, pubPath, priv := keyPair(t, dir, "ci")
	body := strings.Join(strings.Split(string(priv), "\n")[1:3], "")
	var all strings.Builder
	check := func(args []string, env map[string]string, wantCode int, want string) {
		t.Helper()
		for k, v := range env {
			t.Setenv(k, v)
		}
		stdout, stderr, code := run(t, args...)
		all.WriteString(stdout + stderr)
		if code != wantCode || !strings.Contains(stdout+stderr, want) {
			t.Errorf("%v: exit %d, want %d and %q:\n%s%s", args, code, wantCode, want, stdout, stderr)
		}
	}
	push := []string{"push", "--tarball", imageTar(t, dir), "--image", host + "/acme/app", "--out", out}
	check(push, map[string]string{"SLIPWAY_SIGNING_KEY": keyPath, "SLIPWAY_SIGNING_KEY_PASSWORD": "wrong-" + keyPassword}, 2, "does not open the key")
	check(push, map[string]string{"SLIPWAY_SIGNING_KEY": string(priv), "SLIPWAY_SIGNING_KEY_PASSWORD": ""}, 2, "SLIPWAY_SIGNING_KEY_PASSWORD")
	check(push, map[string]string{"SLIPWAY_SIGNING_KEY": filepath.Join(dir, "missing.key")}, 2, "keygen")
	check(push, map[string]string{"SLIPWAY_SIGNING_KEY": string(priv), "SLIPWAY_SIGNING_KEY_PASSWORD": keyPassword}, 0, "attached and verified")
	check(push, map[string]string{"SLIPWAY_SIGNING_KEY": keyPath}, 0, "attached and verified")
	check([]string{"verify", "--verify-key", pubPath, host + "/acme/app@sha256:" + strings.Repeat("0", 64)}, nil, 1, "no signature attached")
	filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			data, _ := os.ReadFile(p)
			all.Write(data)
		}
		return nil
	})
	if s := all.String(); strings.Contains(s, keyPassword) || strings.Contains(s, body) {
		t.Error("the signing key or its password reached output or out/")
	}
}

func TestKeygen(t *testing.T) {
	noEngineEnv(t)
	dir := t.TempDir()
	prefix := filepath.Join(dir, "ci", "slipway")
	t.Setenv("SLIPWAY_SIGNING_KEY_PASSWORD", "")
	if _, stderr, code := run(t, "keygen", "--output-key-prefix", prefix); code != 2 || !strings.Contains(stderr, "SLIPWAY_SIGNING_KEY_PASSWORD is empty") {
		t.Fatalf("keygen without a password: exit %d %s", code, stderr)
	}
	t.Setenv("SLIPWAY_SIGNING_KEY_PASSWORD", keyPassword)
	stdout, stderr, code := run(t, "keygen", "--output-key-prefix", prefix)
	if code != 0 || !strings.HasPrefix(lastLine(stdout), "sha256:") || strings.Contains(stdout+stderr, keyPassword) {
		t.Fatalf("keygen: exit %d\n%s%s", code, stdout, stderr)
	}
	st, err := os.Stat(prefix + ".key")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", err, st)
	}
	data, _ := os.ReadFile(prefix + ".key")
	k, err := attest.ParsePrivateKey(data, []byte(keyPassword))
	if err != nil || k.Fingerprint() != lastLine(stdout) {
		t.Fatalf("the key does not open or does not match: %v", err)
	}
	if _, stderr, code := run(t, "keygen", "--output-key-prefix", prefix); code != 2 || !strings.Contains(stderr, "--force") {
		t.Fatalf("keygen over an existing key: exit %d %s", code, stderr)
	}
}

// TestKeygenNoPassword: --no-password writes cosign's passwordless key (an
// ENCRYPTED SIGSTORE PRIVATE KEY with an empty password), which Slipway
// opens with no password and the real cosign reads (public-key gives the
// same .pub); it used to be a plain PKCS#8 key cosign refuses.
func TestKeygenNoPassword(t *testing.T) {
	noEngineEnv(t)
	t.Setenv("SLIPWAY_SIGNING_KEY_PASSWORD", "")
	prefix := filepath.Join(t.TempDir(), "kg2")
	stdout, stderr, code := run(t, "keygen", "--no-password", "--output-key-prefix", prefix)
	if code != 0 {
		t.Fatalf("keygen --no-password: exit %d\n%s%s", code, stdout, stderr)
	}
	data, _ := os.ReadFile(prefix + ".key")
	if b, _ := pem.Decode(data); b == nil || b.Type != "ENCRYPTED SIGSTORE PRIVATE KEY" {
		t.Fatalf("keygen --no-password wrote %.40q, not cosign's passwordless key", data)
	}
	k, err := attest.ParsePrivateKey(data, nil)
	if err != nil || k.Fingerprint() != lastLine(stdout) {
		t.Fatalf("the key does not open with no password or does not match: %v", err)
	}
	bin, err := exec.LookPath("cosign")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("cosign is not installed: .ci/run installs github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3")
		}
		t.Skip("cosign is not on PATH: the interop half needs the real peer")
	}
	cmd := exec.Command(bin, "public-key", "--key", prefix+".key")
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	pub, _ := os.ReadFile(prefix + ".pub")
	if err != nil || strings.TrimSpace(string(out)) != strings.TrimSpace(string(pub)) {
		t.Fatalf("cosign public-key --key %s: %v\n%s\nwant\n%s", prefix+".key", err, out, pub)
	}
}

func TestPolicyKyverno(t *testing.T) {
	noEngineEnv(t)
	dir := t.TempDir()
	_, pubPath, _ := keyPair(t, dir, "ci")
	pub, _ := os.ReadFile(pubPath)
	stdout, stderr, code := run(t, "policy", "kyverno", "--verify-key", pubPath, "--image", "ghcr.io/acme/payments", "--image", "ghcr.io/acme/ledger")
	if code != 0 {
		t.Fatalf("exit %d %s", code, stderr)
	}
	var doc struct {
		Kind string
		Spec struct {
			ValidationFailureAction string `json:"validationFailureAction"`
			Rules                   []struct {
				VerifyImages []struct {
					ImageReferences []string `json:"imageReferences"`
					Type            string
					MutateDigest    bool `json:"mutateDigest"`
					VerifyDigest    bool `json:"verifyDigest"`
					Attestors       []struct {
						Entries []struct {
							Keys struct {
								PublicKeys string `json:"publicKeys"`
							}
						}
					}
					Attestations []struct{ Type string }
				} `json:"verifyImages"`
			}
		}
	}
	if err := yaml.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, stdout)
	}
	vi := doc.Spec.Rules[0].VerifyImages[0]
	if doc.Kind != "ClusterPolicy" || doc.Spec.ValidationFailureAction != "Enforce" || vi.Type != "SigstoreBundle" || !vi.MutateDigest || !vi.VerifyDigest ||
		strings.Join(vi.ImageReferences, ",") != "ghcr.io/acme/payments*,ghcr.io/acme/ledger*" ||
		vi.Attestors[0].Entries[0].Keys.PublicKeys != strings.TrimSpace(string(pub)) || vi.Attestations[0].Type != attest.ProvenancePredicate {
		t.Fatalf("policy:\n%s", stdout)
	}
	const id = "https://github.com/acme/payments/.github/workflows/ci.yml@refs/heads/main"
	stdout, _, code = run(t, "policy", "kyverno", "--certificate-identity", id, "--certificate-oidc-issuer", githubIssuer, "--image", "ghcr.io/acme/payments")
	if code != 0 || !strings.Contains(stdout, "subject: "+id) || !strings.Contains(stdout, "value: "+id) || !strings.Contains(stdout, "{{ runDetails.builder.id }}") {
		t.Fatalf("keyless policy: exit %d\n%s", code, stdout)
	}
	if _, stderr, code := run(t, "policy", "kyverno", "--image", "x"); code != 2 || !strings.Contains(stderr, "--verify-key") {
		t.Fatalf("no policy: exit %d %s", code, stderr)
	}
}

// TestGitHubOIDCToken: the token request carries the runner's bearer token
// and audience sigstore; a refusal names the missing permission and never
// the request token.
func TestGitHubOIDCToken(t *testing.T) {
	const reqToken = "runner-request-token-DO-NOT-LOG"
	var allow bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer "+reqToken || r.URL.Query().Get("audience") != "sigstore" || !allow {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(`{"value":"eyJ.oidc.token"}`))
	}))
	defer srv.Close()
	env := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": srv.URL + "/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": reqToken}
	get := githubToken(func(k string) string { return env[k] })
	if _, err := get(t.Context()); err == nil || !strings.Contains(err.Error(), "id-token: write") || strings.Contains(err.Error(), reqToken) {
		t.Fatalf("refused token: %v", err)
	}
	allow = true
	tok, err := get(t.Context())
	if err != nil || tok != "eyJ.oidc.token" {
		t.Fatalf("token %q, %v", tok, err)
	}
}

// TestPublishSignsAndVerifiesBeforeDeploy: `run push deploy` with nothing
// configured (a developer's machine) signs with the development key,
// attaches, verifies, and only then commits, with the trailers.
func TestPublishSignsAndVerifiesBeforeDeploy(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	scannedImageTar(t, out, pipeline.GatePassed)
	stdout, stderr, code := run(t, "run", "push", "deploy", "--out", out, "--source", "../../sample-app")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "created a development signing key") || !strings.Contains(stderr, "verified ") {
		t.Fatalf("no signing or verification said:\n%s", stderr)
	}
	res := readResult(t, out)
	var rep attest.Report
	data, _ := os.ReadFile(filepath.Join(out, "attestations.json"))
	if err := json.Unmarshal(data, &rep); err != nil || !rep.Verified || rep.Signature.Bundle != res.Image.Signature || rep.Provenance == nil {
		t.Fatalf("attestations.json: %v\n%s", err, data)
	}
	msg := gitOut(t, filepath.Join(out, "gitops.git"), "log", "-1", "--format=%B")
	if !strings.Contains(msg, "Signature-Bundle: "+res.Image.Signature) {
		t.Fatalf("deploy commit:\n%s", msg)
	}
}

// TestKeylessPolicyFlags: a digest signed keyless (an in-process virtual
// Sigstore: a test CA for Fulcio, a virtual Rekor for the time) verifies with
// --certificate-identity, --certificate-oidc-issuer and --trusted-root;
// another workflow's identity is refused, and so is a deploy under it.
func TestKeylessPolicyFlags(t *testing.T) {
	noEngineEnv(t)
	host := ggcrRegistry(t, true)
	dir, out := t.TempDir(), t.TempDir()
	const identity = "https://github.com/acme/payments/.github/workflows/ci.yml@refs/heads/main"
	virtual := sigstoretest.New(t, identity, githubIssuer)
	trPath := filepath.Join(dir, "trusted_root.json")
	os.WriteFile(trPath, virtual.TrustedRoot, 0o644)

	// Push with the development key off (CI), then attach keyless.
	t.Setenv("CI", "true")
	stdout, stderr, code := run(t, "push", "--tarball", imageTar(t, dir), "--image", host+"/acme/payments", "--out", out, "--local")
	if code != 0 || !strings.Contains(stderr, "is not signed") {
		t.Fatalf("unsigned push in CI: exit %d\n%s", code, stderr)
	}
	ref := lastLine(stdout)
	img, _ := name.NewDigest(ref, name.Insecure)
	src, shas := gitRepo(t, 1)
	signer := &keyless.Signer{
		// As in GitHub Actions: a Fulcio certificate and a Rekor entry.
		Certificates: virtual, Logs: []sign.Transparency{virtual.Rekor()},
		Token: func(context.Context) (string, error) { return "token", nil }, Expected: identity,
	}
	provPath := filepath.Join(dir, "provenance.json")
	if err := release.WriteProvenance(filepath.Dir(provPath), provPath, provenance.Input{Repository: img.Context().String(), Digest: img.DigestStr(), SourceCommit: shas[0], BuilderID: identity}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(provPath)
	atts, err := release.Statements(img.Context().String(), img.DigestStr(), nil, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := release.SignAndAttach(t.Context(), signer, img, atts, nil); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CI", "")

	keyless := []string{"--certificate-identity", identity, "--certificate-oidc-issuer", githubIssuer, "--trusted-root", trPath, "--verify-require", "signature,provenance"}
	stdout, stderr, code = run(t, append([]string{"verify", ref}, keyless...)...)
	if code != 0 || !strings.Contains(stdout, "signed by "+identity+" (issuer "+githubIssuer+")") || !strings.Contains(stdout, "builder "+identity) {
		t.Fatalf("keyless verify: exit %d\n%s%s", code, stdout, stderr)
	}
	evil := []string{"--certificate-identity", strings.Replace(identity, "main", "evil", 1), "--certificate-oidc-issuer", githubIssuer, "--trusted-root", trPath}
	if stdout, _, code := run(t, append([]string{"verify", ref}, evil...)...); code != 1 || !strings.Contains(stdout, "REFUSED") {
		t.Fatalf("another identity: exit %d\n%s", code, stdout)
	}
	common := []string{"--out", out, "--source", "../../sample-app", "--source-repo", src, "--app", "sample-app", "--env", "development", "--image", ref}
	if _, stderr, code := run(t, append(append([]string{"deploy"}, common...), evil...)...); code != 1 || !strings.Contains(stderr, img.DigestStr()) {
		t.Fatalf("deploy under another identity: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "gitops.git")); err == nil {
		if log := gitOut(t, filepath.Join(out, "gitops.git"), "log", "--format=%s"); strings.Contains(log, "deploy(") {
			t.Fatalf("a refused deploy committed:\n%s", log)
		}
	}
	if _, stderr, code := run(t, append(append([]string{"deploy"}, common...), keyless...)...); code != 0 || !strings.Contains(stderr, "verified") {
		t.Fatalf("keyless deploy: exit %d\n%s", code, stderr)
	}
	msg := gitOut(t, filepath.Join(out, "gitops.git"), "log", "-1", "--format=%B")
	if !strings.Contains(msg, "Signed-By: "+identity) {
		t.Fatalf("deploy commit:\n%s", msg)
	}
}

// TestReferrerUploadRejected: a registry that refuses the referrer manifests
// (a policy, a quota) fails the push with one line naming the attachment and
// the registry's words, and no tag is applied: a tag only ever names a
// signed digest.
func TestReferrerUploadRejected(t *testing.T) {
	noEngineEnv(t)
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256:") && strings.Contains(r.Header.Get("Content-Type"), "oci.image.manifest") {
			body, _ := io.ReadAll(r.Body)
			if strings.Contains(string(body), `"subject"`) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"artifacts are not allowed in this repository"}]}`))
				return
			}
			r.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	dir, out := t.TempDir(), t.TempDir()
	useSigningKey(t, dir)
	_, stderr, code := run(t, "push", "--tarball", imageTar(t, dir), "--image", host+"/acme/app", "--tag", "v1", "--out", out)
	if code != 1 || !strings.Contains(stderr, "attach signature") || !strings.Contains(stderr, "artifacts are not allowed") || !strings.Contains(stderr, "nothing was tagged") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if n := strings.Count(strings.TrimSpace(stderr), "error:"); n != 1 {
		t.Errorf("%d error lines", n)
	}
	resp, err := http.Head(srv.URL + "/v2/acme/app/manifests/v1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("tag v1 exists (HTTP %d) after a failed attach", resp.StatusCode)
	}
}

// TestPublishTwoAppsSignsBoth: this repository's shape (sample-app and
// ledger): both pushes sign with one key (created once), and the one atomic
// GitOps push carries a verified bundle for each app.
func TestPublishTwoAppsSignsBoth(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	p := testProject()
	p.Apps = append(p.Apps, App{Name: "ledger", Source: "../../ledger", Main: ".", Deploy: "deploy", Port: 8080, Base: "distroless"})
	for _, a := range p.Apps {
		if err := os.MkdirAll(filepath.Join(out, a.Name), 0o755); err != nil {
			t.Fatal(err)
		}
		scannedImageTar(t, filepath.Join(out, a.Name), pipeline.GatePassed)
	}
	var stdout, stderr strings.Builder
	code := Execute(t.Context(), p, []string{"run", "push", "deploy", "--out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if n := strings.Count(stderr.String(), "created a development signing key"); n != 1 {
		t.Errorf("the development key was created %d times:\n%s", n, stderr.String())
	}
	log := gitOut(t, filepath.Join(out, "gitops.git"), "log", "-2", "--format=%B")
	for _, a := range p.Apps {
		res := readResult(t, filepath.Join(out, a.Name))
		if res.Image.Signature == "" || !strings.Contains(log, "App: "+a.Name) || !strings.Contains(log, "Signature-Bundle: "+res.Image.Signature) {
			t.Errorf("%s: signature %q not in the deploy commits:\n%s", a.Name, res.Image.Signature, log)
		}
	}
}

// TestConfigVerifyPolicyApplies: the Go configuration's policy guards
// deploy with no flag given; SLIPWAY_VERIFY_KEY or a flag may restate it,
// and one that contradicts it exits 2 naming both (issue 17, trust item 3).
func TestConfigVerifyPolicyApplies(t *testing.T) {
	noEngineEnv(t)
	host := ggcrRegistry(t, true)
	dir, out := t.TempDir(), t.TempDir()
	pubPath, otherPub := useSigningKey(t, dir)
	src, shas := gitRepo(t, 1)
	stdout, stderr, code := run(t, "push", "--tarball", imageTar(t, dir), "--image", host+"/acme/sample-app", "--source-commit", shas[0], "--out", out)
	if code != 0 {
		t.Fatalf("push: %s", stderr)
	}
	ref := lastLine(stdout)
	p := testProject()
	p.Verify = VerifyConfig{Key: otherPub}
	deploy := func(extra ...string) (string, int) {
		var o, e strings.Builder
		args := append([]string{"deploy", "--app", "sample-app", "--env", "development", "--image", ref, "--out", out, "--source-repo", src, "--verify-require", "signature,provenance"}, extra...)
		code := Execute(t.Context(), p, args, &o, &e)
		return e.String(), code
	}
	if stderr, code := deploy(); code != 1 || !strings.Contains(stderr, "signed by another key") {
		t.Fatalf("Config.Verify with another key: exit %d\n%s", code, stderr)
	}
	t.Setenv("SLIPWAY_VERIFY_KEY", pubPath)
	if stderr, code := deploy(); code != 2 || !strings.Contains(stderr, "SLIPWAY_VERIFY_KEY=") || !strings.Contains(stderr, "Config.Verify.Key") {
		t.Fatalf("SLIPWAY_VERIFY_KEY contradicting Config.Verify.Key: exit %d\n%s", code, stderr)
	}
	t.Setenv("SLIPWAY_VERIFY_KEY", "")
	if stderr, code := deploy("--verify-key", pubPath); code != 2 || !strings.Contains(stderr, "--verify-key") || !strings.Contains(stderr, "Config.Verify.Key") {
		t.Fatalf("--verify-key contradicting Config.Verify.Key: exit %d\n%s", code, stderr)
	}
	p.Verify = VerifyConfig{Key: pubPath}
	t.Setenv("SLIPWAY_VERIFY_KEY", pubPath)
	if stderr, code := deploy("--verify-key", pubPath); code != 0 {
		t.Fatalf("SLIPWAY_VERIFY_KEY and --verify-key restating Config.Verify.Key: exit %d\n%s", code, stderr)
	}
	t.Setenv("SLIPWAY_VERIFY_KEY", "")
	p.Verify = VerifyConfig{Key: filepath.Join(dir, "missing.pub")}
	var o, e strings.Builder
	if code := Execute(t.Context(), p, []string{"plan"}, &o, &e); code != 2 || !strings.Contains(e.String(), "Config.Verify.Key") {
		t.Fatalf("a missing Config.Verify.Key: exit %d %s", code, e.String())
	}
}

// TestSplitRunPushThenDeploy: push and deploy as separate jobs (the
// Jenkinsfile's stages): the deploy job reads result.json, reads the
// attestations back from the registry and verifies them with the signing
// key it is given, before committing.
func TestSplitRunPushThenDeploy(t *testing.T) {
	noEngineEnv(t)
	host := ggcrRegistry(t, false)
	dir, out := t.TempDir(), t.TempDir()
	useSigningKey(t, dir)
	t.Setenv("CI_IMAGE", host+"/acme/sample-app")
	scannedImageTar(t, out, pipeline.GatePassed)
	common := []string{"--out", out, "--source", "../../sample-app"}
	if _, stderr, code := run(t, append([]string{"run", "push"}, common...)...); code != 0 {
		t.Fatalf("push job: exit %d\n%s", code, stderr)
	}
	signature := readResult(t, out).Image.Signature
	_, stderr, code := run(t, append([]string{"run", "deploy"}, common...)...)
	if code != 0 || !strings.Contains(stderr, "verified ") {
		t.Fatalf("deploy job: exit %d\n%s", code, stderr)
	}
	msg := gitOut(t, filepath.Join(out, "gitops.git"), "log", "-1", "--format=%B")
	if signature == "" || !strings.Contains(msg, "Signature-Bundle: "+signature) {
		t.Fatalf("signature %q, deploy commit:\n%s", signature, msg)
	}
	// A deploy job given another key refuses, and commits nothing more.
	head := gitOut(t, filepath.Join(out, "gitops.git"), "rev-parse", "main")
	useSigningKey(t, t.TempDir())
	if _, stderr, code := run(t, append([]string{"run", "deploy"}, common...)...); code != 1 || !strings.Contains(stderr, "signed by another key") {
		t.Fatalf("deploy job with another key: exit %d\n%s", code, stderr)
	}
	if got := gitOut(t, filepath.Join(out, "gitops.git"), "rev-parse", "main"); got != head {
		t.Fatal("a refused deploy moved the GitOps branch")
	}
}
