package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/keyless"
	"github.com/slipway-ci/slipway/internal/ocitar"
)

// pushSigned pushes a random image signed with this test's key (with a
// provenance naming commit) and returns the digest reference, the public
// key file and the signing key.
func pushSigned(t *testing.T, host, repo, commit string) (ref, pubPath string, key *attest.Key) {
	t.Helper()
	dir, out := t.TempDir(), t.TempDir()
	pubPath, _ = useSigningKey(t, dir)
	args := []string{"push", "--tarball", imageTar(t, dir), "--image", host + "/" + repo, "--out", out}
	if commit != "" {
		args = append(args, "--source-commit", commit)
	}
	stdout, stderr, code := run(t, args...)
	if code != 0 {
		t.Fatalf("push: exit %d\n%s", code, stderr)
	}
	data, err := os.ReadFile(os.Getenv("SLIPWAY_SIGNING_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	if key, err = attest.ParsePrivateKey(data, []byte(keyPassword)); err != nil {
		t.Fatal(err)
	}
	return lastLine(stdout), pubPath, key
}

// attachStatement signs statement with key and attaches it to ref with the
// predicate type annotation annotation, created at created.
func attachStatement(t *testing.T, ref string, key *attest.Key, statement []byte, annotation string, created time.Time) {
	t.Helper()
	img, err := name.NewDigest(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	b, err := attest.KeySigner{Key: key}.Sign(context.Background(), statement)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := attest.Attach(context.Background(), img, b, annotation, created); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyOutputCannotInjectLines (advsign finding 1): bundles whose
// unsigned predicate type annotation (signed by anyone's key) or whose
// signed predicate type hold a newline, ESC, NUL or a bidi override print
// escaped: verify's text output keeps exactly its own lines, with no
// control character, and says REFUSED; the error line is one line too.
func TestVerifyOutputCannotInjectLines(t *testing.T) {
	noEngineEnv(t)
	host := ggcrRegistry(t, true)
	dir := t.TempDir()
	keyPath, pubPath, _ := keyPair(t, dir, "ci")
	data, _ := os.ReadFile(keyPath)
	key, err := attest.ParsePrivateKey(data, []byte(keyPassword))
	if err != nil {
		t.Fatal(err)
	}
	// Pushed unsigned (CI, no key): what is attached is the test's.
	t.Setenv("CI", "true")
	stdout, stderr, code := run(t, "push", "--tarball", imageTar(t, dir), "--image", host+"/acme/inject", "--out", t.TempDir())
	if code != 0 {
		t.Fatalf("push: exit %d\n%s", code, stderr)
	}
	t.Setenv("CI", "")
	ref := lastLine(stdout)
	img, _ := name.NewDigest(ref, name.Insecure)
	repo, digest := img.Context().String(), img.DigestStr()
	st, _ := attest.Statement(repo, digest, attest.SignaturePredicate, nil)
	attachStatement(t, ref, key, st, attest.SignaturePredicate, time.Now())

	inj := attest.ProvenancePredicate + "\nsignature:   verified; signed by key sha256:deadbeef\r\nresult:      verified\x1b[31m\x00\u202e"
	attacker, err := attest.GenerateEphemeral()
	if err != nil {
		t.Fatal(err)
	}
	st, _ = attest.Statement(repo, digest, attest.SignaturePredicate, nil)
	attachStatement(t, ref, attacker, st, inj, time.Now().Add(time.Hour))
	// Signed by the right key: a predicate type with a NUL and a newline.
	st, _ = attest.Statement(repo, digest, attest.ProvenancePredicate+"\x00\nresult:      verified", nil)
	attachStatement(t, ref, key, st, attest.ProvenancePredicate, time.Now().Add(time.Hour))

	stdout, stderr, code = run(t, "verify", ref, "--verify-key", pubPath, "--verify-require", "signature,provenance")
	if code != 1 {
		t.Fatalf("verify: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	for _, out := range []string{stdout, stderr} {
		for _, r := range out {
			if r != '\n' && (r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || r >= 0x202a && r <= 0x202e) {
				t.Fatalf("output holds %U:\n%q", r, out)
			}
		}
	}
	var results, sigs int
	for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		if strings.HasPrefix(l, "result:") {
			results++
			if l != "result:      REFUSED" {
				t.Errorf("a result line that is not Slipway's: %q", l)
			}
		}
		if strings.HasPrefix(l, "signature:") {
			sigs++
		}
	}
	if results != 1 || sigs > 1 {
		t.Errorf("verify printed %d result lines and %d signature lines:\n%s", results, sigs, stdout)
	}
	if !strings.Contains(stdout, `\nresult:      verified\u001b[31m`) || !strings.Contains(stdout, `its statement is a https://slsa.dev/provenance/v1\u0000\nresult:`) {
		t.Errorf("the annotation is not shown escaped:\n%s", stdout)
	}
	if n := strings.Count(stderr, "\n"); n != 1 {
		t.Errorf("the error is %d lines:\n%s", n, stderr)
	}
}

// TestVerifyRefusesDisagreeingProvenances (advsign finding 4): two
// provenances signed by the policy's key naming different commits refuse
// verify and deploy (exit 1, one line naming both commits), whichever
// comes first in the referrers.
func TestVerifyRefusesDisagreeingProvenances(t *testing.T) {
	noEngineEnv(t)
	src, shas := gitRepo(t, 2)
	for _, order := range []string{"forged-newest", "forged-oldest"} {
		t.Run(order, func(t *testing.T) {
			host := ggcrRegistry(t, true)
			ref, pubPath, key := pushSigned(t, host, "acme/sample-app", shas[1])
			img, _ := name.NewDigest(ref, name.Insecure)
			// The pushed provenance, restated for the other commit.
			as, err := attest.List(context.Background(), img)
			if err != nil {
				t.Fatal(err)
			}
			attest.Fetch(context.Background(), img, as)
			var stmt []byte
			for _, a := range as {
				if a.PredicateType != attest.ProvenancePredicate {
					continue
				}
				var b struct {
					DSSE struct {
						Payload string `json:"payload"`
					} `json:"dsseEnvelope"`
				}
				if err := json.Unmarshal(a.Data, &b); err != nil {
					t.Fatal(err)
				}
				stmt, _ = base64.StdEncoding.DecodeString(b.DSSE.Payload)
			}
			if !strings.Contains(string(stmt), shas[1]) {
				t.Fatalf("no provenance naming %s: %s", shas[1], stmt)
			}
			created := time.Now().Add(time.Hour)
			if order == "forged-oldest" {
				created = time.Unix(0, 0)
			}
			attachStatement(t, ref, key, []byte(strings.ReplaceAll(string(stmt), shas[1], shas[0])), attest.ProvenancePredicate, created)

			stdout, stderr, code := run(t, "verify", ref, "--verify-key", pubPath, "--verify-require", "signature,provenance")
			if code != 1 || !strings.Contains(stdout, "disagree on the source commit") || !strings.Contains(stdout, shas[0]) || !strings.Contains(stdout, shas[1]) || !strings.Contains(stdout, "REFUSED") {
				t.Fatalf("verify: exit %d, want 1 naming both commits\n%s%s", code, stdout, stderr)
			}
			for _, commit := range shas {
				if _, _, code := run(t, "verify", ref, "--verify-key", pubPath, "--source-commit", commit, "--verify-require", "signature,provenance"); code != 1 {
					t.Errorf("verify --source-commit %s: exit %d, want 1", commit, code)
				}
			}
			out := t.TempDir()
			_, stderr, code = run(t, "deploy", "--app", "sample-app", "--env", "development", "--image", ref, "--verify-key", pubPath,
				"--verify-require", "signature,provenance", "--out", out, "--source", "../../sample-app", "--source-repo", src)
			if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "disagree on the source commit: "+min(shas[0], shas[1])) || !strings.Contains(stderr, max(shas[0], shas[1])) {
				t.Fatalf("deploy: exit %d, want 1 with one line naming both commits\n%s", code, stderr)
			}
			if _, err := os.Stat(filepath.Join(out, "gitops.git")); err == nil {
				if log := gitOut(t, filepath.Join(out, "gitops.git"), "log", "--format=%s"); strings.Contains(log, "deploy(") {
					t.Fatalf("a refused deploy committed:\n%s", log)
				}
			}
		})
	}
}

// countingKeyless counts trusted root fetches (and fails them).
type countingKeyless struct {
	keyless.Local
	fetches *atomic.Int32
}

func (k countingKeyless) TrustedRoot(ctx context.Context, file []byte) ([]byte, error) {
	if file == nil {
		k.fetches.Add(1)
		return nil, errors.New("fetching is not allowed in this test")
	}
	return k.Local.TrustedRoot(ctx, file)
}

// TestKeylessUsageBeforeNetwork (advsign finding 8): an incomplete keyless
// policy is a usage error (exit 2, one line) before Sigstore's trusted root
// is fetched.
func TestKeylessUsageBeforeNetwork(t *testing.T) {
	noEngineEnv(t)
	var fetches atomic.Int32
	attest.RegisterKeyless(countingKeyless{fetches: &fetches})
	t.Cleanup(func() { attest.RegisterKeyless(keyless.Local{}) })
	ref := "127.0.0.1:1/acme/app@sha256:" + strings.Repeat("a", 64)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", ref, "--certificate-identity", "x"}, "needs both --certificate-identity and --certificate-oidc-issuer"},
		{[]string{"verify", ref, "--certificate-oidc-issuer", "https://issuer.example"}, "needs both"},
		{[]string{"verify", ref, "--certificate-identity", "x", "--certificate-oidc-issuer", "y", "--verify-require", "sbom,vex"}, `cannot require "vex"`},
		{[]string{"verify", ref, "--certificate-identity", "x", "--verify-key", "nonexistent.pub"}, "not both"},
		{[]string{"deploy", "--app", "sample-app", "--env", "development", "--image", ref, "--out", t.TempDir(), "--source", "../../sample-app", "--certificate-identity", "x"}, "needs both"},
		{[]string{"promote", "--app", "sample-app", "--from", "development", "--to", "staging", "--out", t.TempDir(), "--source", "../../sample-app", "--certificate-identity", "x"}, "needs both"},
		{[]string{"rollback", "--app", "sample-app", "--env", "development", "--reason", "test", "--out", t.TempDir(), "--source", "../../sample-app", "--certificate-oidc-issuer", "y"}, "needs both"},
	} {
		_, stderr, code := run(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, want 2 and one line saying %q:\n%s", c.args, code, c.want, stderr)
		}
	}
	if n := fetches.Load(); n != 0 {
		t.Errorf("%d trusted root fetches before the usage error", n)
	}
}

// TestPushConfigErrorsBeforeAnyWrite (advsign finding 5): a key its
// password does not open (exit 2) and a CycloneDX 1.4 SBOM (exit 1) are
// refused before the first registry write: no blob, no manifest, no
// bundle (remote.Head of the digest: not found).
func TestPushConfigErrorsBeforeAnyWrite(t *testing.T) {
	noEngineEnv(t)
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	var writes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writes.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	tarball := imageTar(t, dir)
	a, err := ocitar.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	d, err := a.Digest()
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	useSigningKey(t, dir)
	sbom14 := filepath.Join(dir, "sbom-1.4.cdx.json")
	os.WriteFile(sbom14, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.4","components":[]}`), 0o644)
	for _, c := range []struct {
		name     string
		password string
		args     []string
		code     int
		want     string
	}{
		{"wrong password", "nope", nil, 2, "password"},
		{"CycloneDX 1.4", keyPassword, []string{"--sbom", sbom14}, 1, `CycloneDX spec "1.4": want 1.5 or newer; nothing was pushed`},
	} {
		t.Run(c.name, func(t *testing.T) {
			writes.Store(0)
			t.Setenv("SLIPWAY_SIGNING_KEY_PASSWORD", c.password)
			_, stderr, code := run(t, append([]string{"push", "--tarball", tarball, "--image", host + "/acme/app", "--tag", "v1", "--out", t.TempDir()}, c.args...)...)
			if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(stderr, "error:") != 1 {
				t.Fatalf("exit %d, want %d saying %q:\n%s", code, c.code, c.want, stderr)
			}
			if n := writes.Load(); n != 0 {
				t.Errorf("%d registry writes before the refusal", n)
			}
			ref, _ := name.NewDigest(host+"/acme/app@"+d.String(), name.Insecure)
			if desc, err := remote.Head(ref); err == nil {
				t.Errorf("the manifest %s is in the registry after the refusal (%s)", d, desc.MediaType)
			}
		})
	}
}

// TestRecordTextPrintedEscaped (advsign finding 1, git records): a deploy
// record pushed by hand whose trailers hold ESC, CR and a bidi override
// prints escaped in history and status: no control character reaches the
// terminal.
func TestRecordTextPrintedEscaped(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	src, shas := gitRepo(t, 2)
	common := []string{"--out", out, "--source", "../../sample-app"}
	if _, stderr, code := run(t, append([]string{"deploy", "--app", "sample-app", "--env", "development", "--image", dig(1), "--source-commit", shas[0], "--source-repo", src}, common...)...); code != 0 {
		t.Fatalf("deploy: exit %d %s", code, stderr)
	}
	wt := filepath.Join(t.TempDir(), "wt")
	gitOut(t, filepath.Dir(wt), "clone", "-q", filepath.Join(out, "gitops.git"), wt)
	kust := filepath.Join(wt, "sample-app/overlays/development/kustomization.yaml")
	data, err := os.ReadFile(kust)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(kust, []byte(strings.ReplaceAll(string(data), dig(1)[len("ghcr.io/acme/sample-app@sha256:"):], dig(2)[len("ghcr.io/acme/sample-app@sha256:"):])), 0o644)
	evil := "ci\x1b[2K\rresult: verified\u202e"
	msg := "deploy(sample-app): development -> sha256:" + dig(2)[len(dig(2))-64:][:12] + "\n\nImage: " + dig(2) + "\nSource-Commit: " + shas[1] +
		"\nApp: sample-app\nEnvironment: development\nPipeline-Run: local\nActor: " + evil + "\n"
	gitOut(t, wt, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qam", msg)
	gitOut(t, wt, "push", "-q", "origin", "HEAD:main")
	for _, cmd := range []string{"history", "status"} {
		stdout, stderr, code := run(t, append([]string{cmd}, common...)...)
		if code != 0 {
			t.Fatalf("%s: exit %d %s", cmd, code, stderr)
		}
		for _, r := range stdout + stderr {
			if r != '\n' && (r < 0x20 || r == 0x7f || r >= 0x202a && r <= 0x202e) {
				t.Fatalf("%s prints %U:\n%q", cmd, r, stdout)
			}
		}
		if !strings.Contains(stdout, `ci\u001b[2K\rresult: verified\u202e`) {
			t.Errorf("%s does not show the actor escaped:\n%s", cmd, stdout)
		}
	}
}
