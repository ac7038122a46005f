package attest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// cosignBinary finds the real cosign CLI (.ci/run installs the pinned v3.1.3
// from the module proxy). In CI its absence fails the test; elsewhere it
// says why it skips.
func cosignBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("cosign")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("cosign is not installed: .ci/run installs github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3")
		}
		t.Skip("cosign is not on PATH (go install github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3): the interop test needs the real peer")
	}
	return p
}

// predicateIn reads cosign verify-attestation's output: DSSE envelopes, one
// JSON per line, one of whose payloads must be our statement of that
// predicate type about digest.
func predicateIn(out, digest, predicateType string) bool {
	for _, line := range strings.Split(out, "\n") {
		var env struct {
			Payload []byte `json:"payload"`
		}
		if json.Unmarshal([]byte(line), &env) != nil {
			continue
		}
		var st struct {
			PredicateType string `json:"predicateType"`
			Subject       []struct {
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
		}
		if json.Unmarshal(env.Payload, &st) == nil && st.PredicateType == predicateType &&
			len(st.Subject) == 1 && "sha256:"+st.Subject[0].Digest["sha256"] == digest {
			return true
		}
	}
	return false
}

func runCosign(t *testing.T, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "TUF_ROOT="+filepath.Join(home, "tuf"), "SIGSTORE_NO_CACHE=1")
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestCosignVerifiesWhatSlipwayAttaches: the real cosign v3 CLI verifies the
// signature and the provenance Slipway attached with a key, through the
// referrers API and through the referrers tag fallback; and refuses them
// with another key.
func TestCosignVerifiesWhatSlipwayAttaches(t *testing.T) {
	bin := cosignBinary(t)
	for _, referrers := range []bool{false, true} {
		img := newRegistry(t, referrers)
		key, pub := testKey(t)
		attachAll(t, KeySigner{key}, img, commit)
		dir := t.TempDir()
		pubPEM, _ := MarshalPublicKey(pub)
		pubFile := filepath.Join(dir, "slipway.pub")
		if err := os.WriteFile(pubFile, pubPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		_, otherPub := testKey(t)
		otherPEM, _ := MarshalPublicKey(otherPub)
		otherFile := filepath.Join(dir, "other.pub")
		_ = os.WriteFile(otherFile, otherPEM, 0o644)

		ref := img.String()
		common := []string{"--insecure-ignore-tlog", "--allow-insecure-registry", "--allow-http-registry"}
		out, err := runCosign(t, bin, nil, append([]string{"verify", "--key", pubFile}, append(common, ref)...)...)
		if err != nil {
			t.Fatalf("referrers API %v: cosign verify: %v\n%s", referrers, err, out)
		}
		if !strings.Contains(out, img.DigestStr()) {
			t.Fatalf("cosign verify output names no digest:\n%s", out)
		}
		out, err = runCosign(t, bin, nil, append([]string{"verify-attestation", "--type", "slsaprovenance1", "--key", pubFile}, append(common, ref)...)...)
		if err != nil {
			t.Fatalf("referrers API %v: cosign verify-attestation: %v\n%s", referrers, err, out)
		}
		if !predicateIn(out, img.DigestStr(), ProvenancePredicate) {
			t.Fatalf("verify-attestation printed no provenance about %s:\n%s", img.DigestStr(), out)
		}
		out, err = runCosign(t, bin, nil, append([]string{"verify-attestation", "--type", "cyclonedx", "--key", pubFile}, append(common, ref)...)...)
		if err != nil || !predicateIn(out, img.DigestStr(), SBOMPredicate) {
			t.Fatalf("referrers API %v: cosign verify-attestation --type cyclonedx: %v\n%s", referrers, err, out)
		}
		if out, err := runCosign(t, bin, nil, append([]string{"verify", "--key", otherFile}, append(common, ref)...)...); err == nil {
			t.Fatalf("cosign verified with another key:\n%s", out)
		}
	}
}

// TestSlipwayVerifiesWhatCosignSigns: the other way round. cosign v3 signs
// with a key in Slipway's keygen format (cosign reads it), with no
// transparency log; Slipway's Verify accepts cosign's signature bundle, and
// refuses it with another key.
func TestSlipwayVerifiesWhatCosignSigns(t *testing.T) {
	bin := cosignBinary(t)
	img := newRegistry(t, false)
	dir := t.TempDir()
	priv, pubPEM, err := GenerateKeyPair([]byte("cosign-pw"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "slipway.key")
	_ = os.WriteFile(keyFile, priv, 0o600)
	sc := filepath.Join(dir, "signing-config.json")
	if out, err := runCosign(t, bin, nil, "signing-config", "create", "--out", sc); err != nil {
		t.Fatalf("cosign signing-config create: %v\n%s", err, out)
	}
	out, err := runCosign(t, bin, []string{"COSIGN_PASSWORD=cosign-pw"}, "sign", "--key", keyFile, "--signing-config", sc,
		"--allow-insecure-registry", "--allow-http-registry", "-y", img.String())
	if err != nil {
		t.Fatalf("cosign sign: %v\n%s", err, out)
	}
	pub, _ := ParsePublicKey(pubPEM)
	rep, err := Verify(context.Background(), img, Policy{Key: pub, Require: []string{"signature"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil || rep.Attached["signature"] != 1 {
		t.Fatalf("%v %+v", err, rep)
	}
	_, other := testKey(t)
	if rep, _ := Verify(context.Background(), img, Policy{Key: other, Require: []string{"signature"}}); rep == nil || rep.Err() == nil {
		t.Fatal("cosign's signature verified with another key")
	}
}

// TestCosignPasswordlessKey: a key encrypted with an empty password (what
// cosign writes for a passwordless key, and `slipway keygen --no-password`)
// works both ways with the real cosign: cosign derives the same public key,
// signs and attests a provenance with it and Slipway verifies both; Slipway
// signs with it and cosign verifies.
func TestCosignPasswordlessKey(t *testing.T) {
	bin := cosignBinary(t)
	dir := t.TempDir()
	priv, pubPEM, err := GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(priv); b == nil || b.Type != encryptedKeyType {
		t.Fatalf("passwordless key is not cosign's format: %.40q", priv)
	}
	keyFile, pubFile := filepath.Join(dir, "k.key"), filepath.Join(dir, "k.pub")
	_ = os.WriteFile(keyFile, priv, 0o600)
	_ = os.WriteFile(pubFile, pubPEM, 0o644)
	env := []string{"COSIGN_PASSWORD="}
	out, err := runCosign(t, bin, env, "public-key", "--key", keyFile)
	if err != nil || strings.TrimSpace(out) != strings.TrimSpace(string(pubPEM)) {
		t.Fatalf("cosign public-key: %v\n%s\nwant\n%s", err, out, pubPEM)
	}
	sc := filepath.Join(dir, "signing-config.json")
	if out, err := runCosign(t, bin, nil, "signing-config", "create", "--out", sc); err != nil {
		t.Fatalf("cosign signing-config create: %v\n%s", err, out)
	}
	img := newRegistry(t, false)
	if out, err := runCosign(t, bin, env, "sign", "--key", keyFile, "--signing-config", sc,
		"--allow-insecure-registry", "--allow-http-registry", "-y", img.String()); err != nil {
		t.Fatalf("cosign sign: %v\n%s", err, out)
	}
	pred := filepath.Join(dir, "provenance.json")
	_ = os.WriteFile(pred, provenancePredicate(t, img, commit), 0o644)
	if out, err := runCosign(t, bin, env, "attest", "--key", keyFile, "--signing-config", sc, "--type", "slsaprovenance1", "--predicate", pred,
		"--allow-insecure-registry", "--allow-http-registry", "-y", img.String()); err != nil {
		t.Fatalf("cosign attest: %v\n%s", err, out)
	}
	pub, _ := ParsePublicKey(pubPEM)
	if rep, err := Verify(context.Background(), img, Policy{Key: pub, SourceCommit: commit, Require: []string{"signature", "provenance"}}); err != nil || rep.Err() != nil {
		t.Fatalf("Slipway does not verify cosign's signature and attestation: %v %+v", err, rep)
	}
	key, err := ParsePrivateKey(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	img2 := newRegistry(t, false)
	attachAll(t, KeySigner{key}, img2, commit)
	if out, err := runCosign(t, bin, nil, "verify", "--key", pubFile, "--insecure-ignore-tlog",
		"--allow-insecure-registry", "--allow-http-registry", img2.String()); err != nil {
		t.Fatalf("cosign does not verify Slipway's signature: %v\n%s", err, out)
	}
}

// TestCosignP384 pins what the README says of P-384 keys, against the real
// cosign 3.1.3: Slipway signs P-384 with SHA-384 (the Sigstore algorithm
// registry's PKIX_ECDSA_P384_SHA_384, what cosign sign and sigstore-go do);
// cosign verify --key hashes with SHA-256 whatever the curve, so it refuses
// that signature (and cosign's own P-384 signatures) unless given
// --signature-digest-algorithm sha384, with which it verifies Slipway's. And
// Slipway verifies cosign's P-384 signature. If cosign changes, this test
// says the README must too.
func TestCosignP384(t *testing.T) {
	bin := cosignBinary(t)
	dir := t.TempDir()
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	enc, _ := encrypted.Encrypt(der, nil)
	keyFile, pubFile := filepath.Join(dir, "p384.key"), filepath.Join(dir, "p384.pub")
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: encryptedKeyType, Bytes: enc}), 0o600)
	pubPEM, _ := MarshalPublicKey(priv.Public())
	_ = os.WriteFile(pubFile, pubPEM, 0o644)
	common := []string{"--insecure-ignore-tlog", "--allow-insecure-registry", "--allow-http-registry"}
	verify := func(img string, extra ...string) error {
		_, err := runCosign(t, bin, nil, append(append([]string{"verify", "--key", pubFile}, extra...), append(common, img)...)...)
		return err
	}

	key, err := NewKey(priv)
	if err != nil || key.Hash() != crypto.SHA384 {
		t.Fatalf("a P-384 key signs with %v: %v", key.Hash(), err)
	}
	img := newRegistry(t, false)
	attachAll(t, KeySigner{key}, img, commit)
	if verify(img.String()) == nil {
		t.Error("cosign verify --key now accepts a P-384/SHA-384 signature without a flag: the README's P-384 note and push's note are stale")
	}
	if err := verify(img.String(), "--signature-digest-algorithm", "sha384"); err != nil {
		t.Errorf("cosign verify --signature-digest-algorithm sha384 refuses Slipway's P-384 signature: %v", err)
	}

	sc := filepath.Join(dir, "signing-config.json")
	if out, err := runCosign(t, bin, nil, "signing-config", "create", "--out", sc); err != nil {
		t.Fatalf("cosign signing-config create: %v\n%s", err, out)
	}
	img2 := newRegistry(t, false)
	if out, err := runCosign(t, bin, []string{"COSIGN_PASSWORD="}, "sign", "--key", keyFile, "--signing-config", sc,
		"--allow-insecure-registry", "--allow-http-registry", "-y", img2.String()); err != nil {
		t.Fatalf("cosign sign: %v\n%s", err, out)
	}
	if verify(img2.String()) == nil {
		t.Error("cosign verify --key now accepts cosign's own P-384 signature without a flag: the README's P-384 note is stale")
	}
	if rep, err := Verify(context.Background(), img2, Policy{Key: priv.Public(), Require: []string{"signature"}}); err != nil || rep.Err() != nil {
		t.Fatalf("Slipway refuses cosign's P-384 signature: %v %+v", err, rep)
	}
}
