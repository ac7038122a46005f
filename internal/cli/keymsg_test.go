package cli

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func pkcs8PEM(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TestSigningKeyMessages: one rule for what a signing key error shows. A
// path is not a secret and is named in the clear whatever it points at (a
// key file, a directory, /dev/null); a key given inline is never echoed; a
// PEM block's type is a public word and is never masked; a key type is named
// in words with what Slipway accepts. Before: "*** is a directory", "file
// ***: not a PEM private key", `a "***" PEM block`, "a ed25519.PrivateKey key".
func TestSigningKeyMessages(t *testing.T) {
	noEngineEnv(t)
	host := ggcrRegistry(t, false)
	dir, out := t.TempDir(), t.TempDir()
	tar := imageTar(t, dir)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rsaPriv, _ := rsa.GenerateKey(rand.Reader, 2048)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	encBody := strings.Repeat("MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQIk3yCzb2sUq8CAggA", 3)
	encPKCS8 := []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + encBody + "\n-----END ENCRYPTED PRIVATE KEY-----\n")
	keyDir := filepath.Join(dir, "keys.d")
	_ = os.Mkdir(keyDir, 0o755)
	edPath := write("ed.key", pkcs8PEM(t, edPriv))
	encPath := write("enc.key", encPKCS8)
	for _, c := range []struct {
		name, value string
		want        []string
		never       []string
	}{
		{"directory", keyDir, []string{"SLIPWAY_SIGNING_KEY: " + keyDir + " is a directory"}, nil},
		{"dev-null", "/dev/null", []string{"file /dev/null: not a PEM private key"}, nil},
		{"ed25519 file", edPath, []string{"file " + edPath + ": an Ed25519 key: Slipway signs with ECDSA P-256 or P-384 keys"}, []string{"ed25519.PrivateKey"}},
		{"ed25519 inline", string(pkcs8PEM(t, edPriv)), []string{"the PEM in SLIPWAY_SIGNING_KEY: an Ed25519 key"}, nil},
		{"rsa", write("rsa.key", pkcs8PEM(t, rsaPriv)), []string{"an RSA 2048 key: Slipway signs with ECDSA P-256 or P-384"}, []string{"rsa.PrivateKey"}},
		{"p521", write("p521.key", pkcs8PEM(t, p521)), []string{"an ECDSA P-521 key: Slipway signs with ECDSA P-256 or P-384"}, nil},
		{"encrypted pkcs8 file", encPath, []string{"file " + encPath + `: a "ENCRYPTED PRIVATE KEY" PEM block (PKCS #8 encrypted`, "cosign import-key-pair"}, []string{encBody[:16]}},
		{"encrypted pkcs8 inline", string(encPKCS8), []string{`the PEM in SLIPWAY_SIGNING_KEY: a "ENCRYPTED PRIVATE KEY" PEM block`}, []string{encBody[:16]}},
		{"inline garbage", "not-a-key-but-a-secret-value", []string{"the value is not shown"}, []string{"not-a-key-but-a-secret-value"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("SLIPWAY_SIGNING_KEY", c.value)
			t.Setenv("SLIPWAY_SIGNING_KEY_PASSWORD", "")
			_, stderr, code := run(t, "push", "--tarball", tar, "--image", host+"/acme/app", "--out", out)
			if code != 2 {
				t.Fatalf("exit %d, want 2:\n%s", code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			for _, n := range append(c.never, "***") {
				if strings.Contains(stderr, n) {
					t.Errorf("stderr holds %q:\n%s", n, stderr)
				}
			}
		})
	}
}

// TestPolicyInputMessages: an Ed25519 --verify-key is refused when the
// policy is read (exit 2, one line), not accepted and then met with "signed
// by another key"; a binary --trusted-root is described, not echoed.
func TestPolicyInputMessages(t *testing.T) {
	noEngineEnv(t)
	dir := t.TempDir()
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(edPub)
	edFile := filepath.Join(dir, "ed.pub")
	_ = os.WriteFile(edFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	binFile := filepath.Join(dir, "tr.bin")
	_ = os.WriteFile(binFile, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x1b[31m"), 0o644)
	img := "127.0.0.1:1/acme/app@sha256:" + strings.Repeat("0", 64)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "--verify-key", edFile, img}, "--verify-key " + edFile + ": an Ed25519 public key: Slipway verifies signatures by ECDSA"},
		{[]string{"verify", "--certificate-identity", "a", "--certificate-oidc-issuer", "b", "--trusted-root", binFile, img}, "--trusted-root " + binFile + ": 23 bytes of binary data, not JSON"},
	} {
		_, stderr, code := run(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.ContainsAny(stderr, "\x00\x1a\x1b") || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, want 2 and one line saying %q:\n%q", c.args, code, c.want, stderr)
		}
	}
}

// TestP384KeyNote: a push signed with a P-384 key says, in one line, that
// cosign 3.1.3 verifies it only with --signature-digest-algorithm sha384
// (TestCosignP384 pins that against the real cosign); a P-256 key's push
// says nothing of the kind.
func TestP384KeyNote(t *testing.T) {
	noEngineEnv(t)
	host := ggcrRegistry(t, false)
	dir := t.TempDir()
	tar := imageTar(t, dir)
	for _, curve := range []elliptic.Curve{elliptic.P384(), elliptic.P256()} {
		priv, _ := ecdsa.GenerateKey(curve, rand.Reader)
		t.Setenv("SLIPWAY_SIGNING_KEY", string(pkcs8PEM(t, priv)))
		t.Setenv("SLIPWAY_SIGNING_KEY_PASSWORD", "")
		_, stderr, code := run(t, "push", "--tarball", tar, "--image", host+"/acme/app", "--out", t.TempDir())
		note := strings.Contains(stderr, "is an ECDSA P-384 key") && strings.Contains(stderr, "--signature-digest-algorithm sha384")
		if code != 0 || note != (curve == elliptic.P384()) {
			t.Errorf("%s: exit %d, note %v:\n%s", curve.Params().Name, code, note, stderr)
		}
	}
}

// TestKyvernoP384KeyNote: Kyverno's keys attestor verifies with sha256 or
// sha512 only (signatureAlgorithm; anything else is refused), so a policy
// for a P-384 key, which Slipway signs with SHA-384, says in one line that
// it will refuse those signatures; a P-256 key's policy says nothing of
// the kind and neither writes a signatureAlgorithm Kyverno would refuse.
func TestKyvernoP384KeyNote(t *testing.T) {
	noEngineEnv(t)
	for _, curve := range []elliptic.Curve{elliptic.P384(), elliptic.P256()} {
		priv, _ := ecdsa.GenerateKey(curve, rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		pubPath := filepath.Join(t.TempDir(), "ci.pub")
		os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
		stdout, stderr, code := run(t, "policy", "kyverno", "--verify-key", pubPath, "--image", "ghcr.io/acme/payments")
		var lines []string
		for _, l := range strings.Split(stderr, "\n") {
			if strings.Contains(l, "is an ECDSA P-384 key") && strings.Contains(l, "signatureAlgorithm sha256") && strings.Contains(l, "P-256") {
				lines = append(lines, l)
			}
		}
		if code != 0 || (len(lines) == 1) != (curve == elliptic.P384()) || strings.Contains(stdout, "sha384") {
			t.Errorf("%s: exit %d, note %q:\n%s", curve.Params().Name, code, lines, stderr)
		}
	}
}
