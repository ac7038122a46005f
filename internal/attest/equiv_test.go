package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"golang.org/x/crypto/ssh"
	"google.golang.org/protobuf/encoding/protojson"
)

// This file holds the reference: sigstore-go's signing and key verification
// as Slipway used them before they became plain Go (test-only imports: they
// do not count against what `go run ./ci` compiles). The plain-Go bundle
// must be what sigstore-go writes, and the plain-Go verifier must accept
// nothing sigstore-go's refuses.

// sigstoreKeypair is a Key as sigstore-go's sign.Keypair (as internal/keyless adapts it).
type sigstoreKeypair struct{ *Key }

func (k sigstoreKeypair) GetHashAlgorithm() protocommon.HashAlgorithm {
	if k.Hash() == crypto.SHA384 {
		return protocommon.HashAlgorithm_SHA2_384
	}
	return protocommon.HashAlgorithm_SHA2_256
}

func (k sigstoreKeypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	if k.Hash() == crypto.SHA384 {
		return protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384
	}
	return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
}

// sigstoreBundle is the bundle sigstore-go's sign.Bundle writes.
func sigstoreBundle(t testing.TB, k *Key, statement []byte) []byte {
	t.Helper()
	b, err := sign.Bundle(&sign.DSSEData{Data: statement, PayloadType: InTotoPayloadType}, sigstoreKeypair{k}, sign.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := protojson.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sigstoreVerify is the key verification Slipway did with sigstore-go:
// WithKey, WithArtifactDigest(sha256), WithNoObserverTimestamps, and a DSSE
// in-toto statement. It returns the statement.
func sigstoreVerify(pub crypto.PublicKey, data, digest []byte) ([]byte, error) {
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	h := crypto.SHA256
	if ek, ok := pub.(*ecdsa.PublicKey); ok {
		switch ek.Curve {
		case elliptic.P384():
			h = crypto.SHA384
		case elliptic.P521():
			h = crypto.SHA512
		}
	}
	sv, err := signature.LoadVerifier(pub, h)
	if err != nil {
		return nil, err
	}
	tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(sv, time.Time{}, time.Time{}), nil
	})
	v, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
	if err != nil {
		return nil, err
	}
	res, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), verify.WithKey()))
	if err != nil {
		return nil, err
	}
	if res.Statement == nil {
		return nil, errors.New("no in-toto statement")
	}
	return b.GetDsseEnvelope().GetPayload(), nil
}

func withoutSignatures(t testing.TB, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, s := range m["dsseEnvelope"].(map[string]any)["signatures"].([]any) {
		s.(map[string]any)["sig"] = "…"
	}
	return m
}

var testDigest = bytes.Repeat([]byte{0xab}, 32)

func testStatement(t testing.TB, predicateType string, predicate string) []byte {
	t.Helper()
	var pred json.RawMessage
	if predicate != "" {
		pred = json.RawMessage(predicate)
	}
	st, err := Statement("registry.example/acme/payments", "sha256:"+strings.Repeat("ab", 32), predicateType, pred)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestKeyBundleIsSigstoreGos: for P-256 and P-384 keys and each kind of
// statement, the plain-Go bundle is sigstore-go's (but for the ECDSA
// signature, which is randomized), and each verifier accepts the other's.
func TestKeyBundleIsSigstoreGos(t *testing.T) {
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		priv, err := ecdsa.GenerateKey(curve, randReader{})
		if err != nil {
			t.Fatal(err)
		}
		k, err := NewKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range [][]byte{
			testStatement(t, SignaturePredicate, ""),
			testStatement(t, SBOMPredicate, string(sbomPredicate())),
			testStatement(t, ProvenancePredicate, `{"buildDefinition":{"buildType":"x","externalParameters":{"a":"\u00e9\u2028<>&"}},"runDetails":{"builder":{"id":"b"}}}`),
		} {
			ours, err := KeySigner{k}.Sign(t.Context(), st)
			if err != nil {
				t.Fatal(err)
			}
			theirs := sigstoreBundle(t, k, st)
			if a, b := withoutSignatures(t, ours), withoutSignatures(t, theirs); !reflect.DeepEqual(a, b) {
				t.Fatalf("%s: plain Go\n%v\nsigstore-go\n%v", curve.Params().Name, a, b)
			}
			for name, data := range map[string][]byte{"ours": ours, "sigstore-go's": theirs} {
				payload, err := sigstoreVerify(k.GetPublicKey(), data, testDigest)
				if err != nil || !bytes.Equal(payload, st) {
					t.Fatalf("%s: sigstore-go does not verify %s bundle: %v", curve.Params().Name, name, err)
				}
				_, payload, err = verifyKeyBundle(k.GetPublicKey(), data, testDigest)
				if err != nil || !bytes.Equal(payload, st) {
					t.Fatalf("%s: plain Go does not verify %s bundle: %v", curve.Params().Name, name, err)
				}
			}
		}
	}
}

type randReader struct{}

func (randReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(rand.Uint32())
	}
	return len(p), nil
}

// fixedKey is the key of the fuzz seeds (testdata/fuzz/FuzzVerifyKeyBundle).
const fixedKeyPEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg45vVjFYeHYzYUdth
TN4UUM5pojcaN/mE24UYlMu9XGWhRANCAARRGXwCJYwddJ5gr1Z4m7pl+JE9v2we
87twwzJHsl0h4FOTslC9+vM+CsCJclkx9dxKlLKZAvWb00lV1xrEd5q1
-----END PRIVATE KEY-----
`

func fixedKey(t testing.TB) *Key {
	t.Helper()
	k, err := ParsePrivateKey([]byte(fixedKeyPEM), nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// mutation rewrites a bundle (its JSON as a map) into one a verifier must
// think about.
type mutation struct {
	name string
	f    func(t testing.TB, k *Key, m map[string]any)
}

func env(m map[string]any) map[string]any {
	e, _ := m["dsseEnvelope"].(map[string]any)
	if e == nil {
		e = map[string]any{}
	}
	return e
}

func material(m map[string]any) map[string]any {
	vm, _ := m["verificationMaterial"].(map[string]any)
	if vm == nil {
		vm = map[string]any{}
		m["verificationMaterial"] = vm
	}
	return vm
}

func payloadOf(m map[string]any) []byte {
	s, _ := env(m)["payload"].(string)
	p, _ := base64.StdEncoding.DecodeString(s)
	return p
}

func sigs(m map[string]any) []any {
	s, _ := env(m)["signatures"].([]any)
	return s
}

// resign signs a new payload with the key and puts it in the envelope, so
// that what follows the signature check is what is tested.
func resign(t testing.TB, k *Key, m map[string]any, payload []byte) {
	sig, _, err := k.sign(pae(InTotoPayloadType, payload))
	if err != nil {
		t.Fatal(err)
	}
	e := env(m)
	e["payload"] = base64.StdEncoding.EncodeToString(payload)
	e["signatures"] = []any{map[string]any{"sig": base64.StdEncoding.EncodeToString(sig)}}
	m["dsseEnvelope"] = e
}

func certPEMFor(t testing.TB, k *Key) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: bigOne(), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(randReader{}, tmpl, tmpl, k.GetPublicKey(), k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

var mutations = []mutation{
	{"media type v0.1", func(_ testing.TB, _ *Key, m map[string]any) {
		m["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1"
	}},
	{"media type v0.2", func(_ testing.TB, _ *Key, m map[string]any) {
		m["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.2+json"
	}},
	{"media type 0.3 old spelling", func(_ testing.TB, _ *Key, m map[string]any) {
		m["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.3"
	}},
	{"media type v0.4", func(_ testing.TB, _ *Key, m map[string]any) {
		m["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.4+json"
	}},
	{"media type v0.3.1", func(_ testing.TB, _ *Key, m map[string]any) {
		m["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.3.1+json"
	}},
	{"media type unknown", func(_ testing.TB, _ *Key, m map[string]any) { m["mediaType"] = "application/json" }},
	{"media type missing", func(_ testing.TB, _ *Key, m map[string]any) { delete(m, "mediaType") }},
	{"no verification material", func(_ testing.TB, _ *Key, m map[string]any) { delete(m, "verificationMaterial") }},
	{"empty verification material", func(_ testing.TB, _ *Key, m map[string]any) { m["verificationMaterial"] = map[string]any{} }},
	{"empty hint", func(_ testing.TB, _ *Key, m map[string]any) {
		m["verificationMaterial"] = map[string]any{"publicKey": map[string]any{}}
	}},
	{"another hint", func(_ testing.TB, _ *Key, m map[string]any) {
		m["verificationMaterial"] = map[string]any{"publicKey": map[string]any{"hint": "c29tZW9uZSBlbHNl"}}
	}},
	{"certificate instead of key", func(t testing.TB, k *Key, m map[string]any) {
		m["verificationMaterial"] = map[string]any{"certificate": map[string]any{"rawBytes": certPEMFor(t, k)}}
	}},
	{"certificate beside key", func(t testing.TB, k *Key, m map[string]any) {
		vm := material(m)
		vm["certificate"] = map[string]any{"rawBytes": certPEMFor(t, k)}
	}},
	{"certificate chain", func(t testing.TB, k *Key, m map[string]any) {
		m["verificationMaterial"] = map[string]any{"x509CertificateChain": map[string]any{"certificates": []any{map[string]any{"rawBytes": certPEMFor(t, k)}}}}
	}},
	{"log entry without proof", func(_ testing.TB, _ *Key, m map[string]any) {
		vm := material(m)
		vm["tlogEntries"] = []any{map[string]any{"logIndex": "1", "kindVersion": map[string]any{"kind": "dsse", "version": "0.0.1"}}}
	}},
	{"unknown top-level field", func(_ testing.TB, _ *Key, m map[string]any) { m["extra"] = true }},
	{"unknown envelope field", func(_ testing.TB, _ *Key, m map[string]any) { env(m)["extra"] = "x" }},
	{"unknown signature field", func(_ testing.TB, _ *Key, m map[string]any) {
		if s := sigs(m); len(s) > 0 {
			s[0].(map[string]any)["extra"] = "x"
		}
	}},
	{"unknown material field", func(_ testing.TB, _ *Key, m map[string]any) {
		if vm, ok := m["verificationMaterial"].(map[string]any); ok {
			vm["extra"] = 1
		}
	}},
	{"no envelope", func(_ testing.TB, _ *Key, m map[string]any) { delete(m, "dsseEnvelope") }},
	{"message signature", func(_ testing.TB, _ *Key, m map[string]any) {
		delete(m, "dsseEnvelope")
		m["messageSignature"] = map[string]any{"messageDigest": map[string]any{"algorithm": "SHA2_256", "digest": base64.StdEncoding.EncodeToString(testDigest)}, "signature": "MEUCIQ=="}
	}},
	{"message signature beside envelope", func(_ testing.TB, _ *Key, m map[string]any) {
		m["messageSignature"] = map[string]any{"signature": "MEUCIQ=="}
	}},
	{"no signatures", func(_ testing.TB, _ *Key, m map[string]any) { env(m)["signatures"] = []any{} }},
	{"two signatures", func(_ testing.TB, _ *Key, m map[string]any) {
		if s := sigs(m); len(s) > 0 {
			env(m)["signatures"] = []any{s[0], s[0]}
		}
	}},
	{"another key's signature too", func(t testing.TB, _ *Key, m map[string]any) {
		other, err := GenerateEphemeral()
		if err != nil {
			t.Fatal(err)
		}
		payload := payloadOf(m)
		sig, _, _ := other.sign(pae(InTotoPayloadType, payload))
		env(m)["signatures"] = append(sigs(m), map[string]any{"sig": base64.StdEncoding.EncodeToString(sig)})
	}},
	{"signature by another key", func(t testing.TB, _ *Key, m map[string]any) {
		other, err := GenerateEphemeral()
		if err != nil {
			t.Fatal(err)
		}
		payload := payloadOf(m)
		resign(t, other, m, payload)
	}},
	{"key ID of the key", func(_ testing.TB, k *Key, m map[string]any) {
		sp, _ := ssh.NewPublicKey(k.GetPublicKey())
		if s := sigs(m); len(s) > 0 {
			s[0].(map[string]any)["keyid"] = ssh.FingerprintSHA256(sp)
		}
	}},
	{"key ID of another", func(_ testing.TB, _ *Key, m map[string]any) {
		if s := sigs(m); len(s) > 0 {
			s[0].(map[string]any)["keyid"] = "SHA256:someone-else"
		}
	}},
	{"payload type", func(_ testing.TB, _ *Key, m map[string]any) { env(m)["payloadType"] = "application/json" }},
	{"payload altered", func(_ testing.TB, _ *Key, m map[string]any) {
		payload := payloadOf(m)
		env(m)["payload"] = base64.StdEncoding.EncodeToString(bytes.Replace(payload, []byte("sha256"), []byte("sha512"), 1))
	}},
	{"payload URL base64", func(_ testing.TB, _ *Key, m map[string]any) {
		payload := payloadOf(m)
		env(m)["payload"] = base64.RawURLEncoding.EncodeToString(payload)
	}},
	{"signature altered", func(_ testing.TB, _ *Key, m map[string]any) {
		if s := sigs(m); len(s) > 0 {
			sig, _ := s[0].(map[string]any)["sig"].(string)
			raw, _ := base64.StdEncoding.DecodeString(sig)
			if len(raw) > 10 {
				raw[10] ^= 1
			}
			s[0].(map[string]any)["sig"] = base64.StdEncoding.EncodeToString(raw)
		}
	}},
	{"statement about another digest", func(t testing.TB, k *Key, m map[string]any) {
		resign(t, k, m, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"`+strings.Repeat("cd", 32)+`"}}],"predicateType":"`+SignaturePredicate+`","predicate":{}}`))
	}},
	{"statement about it under sha512", func(t testing.TB, k *Key, m map[string]any) {
		resign(t, k, m, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha512":"`+strings.Repeat("ab", 32)+`"}}],"predicateType":"`+SignaturePredicate+`","predicate":{}}`))
	}},
	{"statement with a second subject", func(t testing.TB, k *Key, m map[string]any) {
		resign(t, k, m, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"y","digest":{"sha256":"`+strings.Repeat("cd", 32)+`"}},{"name":"x","digest":{"sha256":"`+strings.Repeat("AB", 32)+`"}}],"predicateType":"`+SignaturePredicate+`","predicate":{}}`))
	}},
	{"statement with a non-hex digest", func(t testing.TB, k *Key, m map[string]any) {
		resign(t, k, m, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"`+strings.Repeat("ab", 32)+`","gitCommit":"zz"}}],"predicateType":"`+SignaturePredicate+`","predicate":{}}`))
	}},
	{"statement with an unknown field", func(t testing.TB, k *Key, m map[string]any) {
		resign(t, k, m, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"`+strings.Repeat("ab", 32)+`"}}],"predicateType":"`+SignaturePredicate+`","predicate":{},"extra":1}`))
	}},
	{"statement v0.1", func(t testing.TB, k *Key, m map[string]any) {
		resign(t, k, m, []byte(`{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":"x","digest":{"sha256":"`+strings.Repeat("ab", 32)+`"}}],"predicateType":"`+SignaturePredicate+`","predicate":{}}`))
	}},
	{"statement of another type", func(t testing.TB, k *Key, m map[string]any) {
		resign(t, k, m, []byte(`{"_type":"https://example.com/Statement","subject":[{"name":"x","digest":{"sha256":"`+strings.Repeat("ab", 32)+`"}}],"predicateType":"`+SignaturePredicate+`","predicate":{}}`))
	}},
	{"statement with an array predicate", func(t testing.TB, k *Key, m map[string]any) {
		resign(t, k, m, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"`+strings.Repeat("ab", 32)+`"}}],"predicateType":"`+SignaturePredicate+`","predicate":[]}`))
	}},
	{"statement with no predicate", func(t testing.TB, k *Key, m map[string]any) {
		resign(t, k, m, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"`+strings.Repeat("ab", 32)+`"}}],"predicateType":"`+SignaturePredicate+`"}`))
	}},
	{"statement not JSON", func(t testing.TB, k *Key, m map[string]any) { resign(t, k, m, []byte(`not json`)) }},
	{"statement repeats a key", func(t testing.TB, k *Key, m map[string]any) {
		resign(t, k, m, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"`+strings.Repeat("cd", 32)+`"}}],"subject":[{"name":"x","digest":{"sha256":"`+strings.Repeat("ab", 32)+`"}}],"predicateType":"`+SignaturePredicate+`","predicate":{}}`))
	}},
	{"statement with resource descriptor fields", func(t testing.TB, k *Key, m map[string]any) {
		resign(t, k, m, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","uri":"oci://x","mediaType":"m","annotations":{"a":1},"digest":{"sha256":"`+strings.Repeat("ab", 32)+`"}}],"predicateType":"`+SignaturePredicate+`","predicate":{}}`))
	}},
}

// TestKeyVerifyIsAtLeastAsStrict: over generated bundles (each mutation
// alone, and random combinations of them, applied to valid bundles of
// random statements), whatever the plain-Go verifier accepts, sigstore-go's
// accepted (and they read the same statement); the valid bundles and the
// harmless mutations are accepted by both.
func TestKeyVerifyIsAtLeastAsStrict(t *testing.T) {
	k := fixedKey(t)
	pub := k.GetPublicKey()
	base := func() map[string]any {
		st := testStatement(t, []string{SignaturePredicate, SBOMPredicate, ProvenancePredicate}[rand.IntN(3)], "")
		data, err := KeySigner{k}.Sign(t.Context(), st)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		return m
	}
	bothAccept := map[string]bool{
		"": true, "media type v0.2": true, "media type 0.3 old spelling": true, "empty hint": true, "another hint": true,
		"key ID of the key": true, "statement with a second subject": true, "statement v0.1": true,
		"statement with resource descriptor fields": true, "media type v0.1": true,
	}
	check := func(name string, m map[string]any) {
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		_, ours, errOurs := verifyKeyBundle(pub, data, testDigest)
		theirs, errTheirs := sigstoreVerify(pub, data, testDigest)
		if errOurs == nil && errTheirs != nil {
			t.Fatalf("%s: plain Go accepts what sigstore-go refuses (%v):\n%s", name, errTheirs, data)
		}
		if errOurs == nil && !bytes.Equal(ours, theirs) {
			t.Fatalf("%s: the verifiers read different statements", name)
		}
		if bothAccept[name] && (errOurs != nil || errTheirs != nil) {
			t.Fatalf("%s: want both to accept: plain Go %v, sigstore-go %v", name, errOurs, errTheirs)
		}
	}
	check("", base())
	for _, mu := range mutations {
		m := base()
		mu.f(t, k, m)
		check(mu.name, m)
	}
	for i := 0; i < 300; i++ {
		m := base()
		var names []string
		for n := 1 + rand.IntN(3); n > 0; n-- {
			mu := mutations[rand.IntN(len(mutations))]
			mu.f(t, k, m)
			names = append(names, mu.name)
		}
		check(strings.Join(names, " + "), m)
	}
}

// TestKeyVerifyRefusesRepeatedFields: JSON that names a field twice is
// refused (two JSON readers could read two different bundles from it).
func TestKeyVerifyRefusesRepeatedFields(t *testing.T) {
	k := fixedKey(t)
	data, err := KeySigner{k}.Sign(t.Context(), testStatement(t, SignaturePredicate, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := verifyKeyBundle(k.GetPublicKey(), data, testDigest); err != nil {
		t.Fatal(err)
	}
	twice := bytes.Replace(data, []byte(`{"mediaType"`), []byte(`{"mediaType":"application/json","mediaType"`), 1)
	if _, _, err := verifyKeyBundle(k.GetPublicKey(), twice, testDigest); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("a repeated field: %v", err)
	}
}

// FuzzVerifyKeyBundle: whatever bytes the plain-Go verifier accepts with
// the fixed key, sigstore-go's accepts too, reading the same statement.
// Seeds: testdata/fuzz/FuzzVerifyKeyBundle (valid bundles of the fixed key,
// and mutations of them).
func FuzzVerifyKeyBundle(f *testing.F) {
	k := fixedKey(f)
	pub := k.GetPublicKey()
	f.Fuzz(func(t *testing.T, data []byte) {
		_, ours, errOurs := verifyKeyBundle(pub, data, testDigest)
		if errOurs != nil {
			return
		}
		theirs, err := sigstoreVerify(pub, data, testDigest)
		if err != nil {
			t.Fatalf("plain Go accepts what sigstore-go refuses (%v)", err)
		}
		if !bytes.Equal(ours, theirs) {
			t.Fatal("the verifiers read different statements")
		}
	})
}

// TestWriteFuzzSeeds regenerates the fuzz seeds (ATTEST_WRITE_FUZZ_SEEDS=1).
func TestWriteFuzzSeeds(t *testing.T) {
	if !writeSeeds() {
		t.Skip("set ATTEST_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz/FuzzVerifyKeyBundle")
	}
	k := fixedKey(t)
	for i, mu := range append([]mutation{{"valid", func(testing.TB, *Key, map[string]any) {}}}, mutations...) {
		data, _ := KeySigner{k}.Sign(t.Context(), testStatement(t, SignaturePredicate, ""))
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		mu.f(t, k, m)
		out, _ := json.Marshal(m)
		writeSeed(t, fmt.Sprintf("seed-%02d", i), out)
	}
	i := 0
	for _, st := range cornerStatements() {
		data, _ := KeySigner{k}.Sign(t.Context(), []byte(st))
		writeSeed(t, fmt.Sprintf("corner-statement-%02d", i), data)
		i++
	}
	good, _ := KeySigner{k}.Sign(t.Context(), testStatement(t, SignaturePredicate, ""))
	i = 0
	for _, f := range cornerBundles {
		writeSeed(t, fmt.Sprintf("corner-bundle-%02d", i), []byte(f(string(good))))
		i++
	}
}

func bigOne() *big.Int { return big.NewInt(1) }

func writeSeeds() bool { return os.Getenv("ATTEST_WRITE_FUZZ_SEEDS") == "1" }

func writeSeed(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzVerifyKeyBundle")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// corner statements: what encoding/json reads and protobuf's JSON reader
// (sigstore-go's) does not, or reads otherwise.
func cornerStatements() map[string]string {
	d := strings.Repeat("ab", 32)
	st := func(subject, predicate string) string {
		return `{"_type":"https://in-toto.io/Statement/v1","subject":[` + subject + `],"predicateType":"p","predicate":` + predicate + `}`
	}
	good := `{"name":"x","digest":{"sha256":"` + d + `"}}`
	return map[string]string{
		"invalid UTF-8 in a name":        st(`{"name":"x`+"\xff"+`","digest":{"sha256":"`+d+`"}}`, `{}`),
		"invalid UTF-8 in the predicate": st(good, `{"a":"`+"\xff"+`"}`),
		"a number out of range":          st(good, `{"a":1e400}`),
		"a big integer":                  st(good, `{"a":123456789012345678901234567890}`),
		"Subject":                        strings.Replace(st(good, `{}`), `"subject"`, `"Subject"`, 1),
		"Name":                           st(`{"Name":"x","digest":{"sha256":"`+d+`"}}`, `{}`),
		"predicate_type":                 strings.Replace(st(good, `{}`), `"predicateType"`, `"predicate_type"`, 1),
		"a null subject":                 strings.Replace(st(good, `{}`), `[`+good+`]`, `null`, 1),
		"a null subject element":         st(`null,`+good, `{}`),
		"a null digest":                  st(`{"name":"x","digest":null},`+good, `{}`),
		"a null digest value":            st(`{"name":"x","digest":{"sha256":"`+d+`","x":null}}`, `{}`),
		"a null _type":                   strings.Replace(st(good, `{}`), `"https://in-toto.io/Statement/v1"`, `null`, 1),
		"a null name":                    st(`{"name":null,"digest":{"sha256":"`+d+`"}}`, `{}`),
		"a repeated predicate key":       st(good, `{"a":1,"a":2}`),
		"an escaped key":                 strings.Replace(st(good, `{}`), `"_type"`, `"\u005ftype"`, 1),
		"content not base64":             st(`{"name":"x","content":"!!","digest":{"sha256":"`+d+`"}}`, `{}`),
		"annotations an array":           st(`{"name":"x","annotations":[1],"digest":{"sha256":"`+d+`"}}`, `{}`),
		"annotations out of range":       st(`{"name":"x","annotations":{"a":1e400},"digest":{"sha256":"`+d+`"}}`, `{}`),
		"an empty subject list":          strings.Replace(st(good, `{}`), `[`+good+`]`, `[]`, 1),
		"a number for a name":            st(`{"name":1,"digest":{"sha256":"`+d+`"}}`, `{}`),
		"an unpaired surrogate":          st(`{"name":"x\ud800","digest":{"sha256":"`+d+`"}}`, `{}`),
		"a low surrogate alone":          st(good, `{"a":"\udc00"}`),
		"a surrogate pair":               st(good, `{"a":"\ud83d\ude00"}`),
		"an escaped backslash then u":    st(good, `{"a":"\\ud800"}`),
		"trailing space":                 st(good, `{}`) + "  ",
	}
}

// cornerBundles rewrite a bundle's JSON text.
var cornerBundles = map[string]func(string) string{
	"MediaType":          func(s string) string { return strings.Replace(s, `"mediaType"`, `"MediaType"`, 1) },
	"media_type":         func(s string) string { return strings.Replace(s, `"mediaType"`, `"media_type"`, 1) },
	"PAYLOAD":            func(s string) string { return strings.Replace(s, `"payload"`, `"PAYLOAD"`, 1) },
	"Sig":                func(s string) string { return strings.Replace(s, `{"sig"`, `{"Sig"`, 1) },
	"Hint":               func(s string) string { return strings.Replace(s, `{"hint"`, `{"Hint"`, 1) },
	"invalid UTF-8":      func(s string) string { return strings.Replace(s, `"hint":"`, `"hint":"`+"\xff", 1) },
	"unpaired surrogate": func(s string) string { return strings.Replace(s, `"hint":"`, `"hint":"\ud800`, 1) },
	"a null certificate": func(s string) string {
		return strings.Replace(s, `"publicKey":{`, `"certificate":null,"publicKey":{`, 1)
	},
	"a null keyid":     func(s string) string { return strings.Replace(s, `{"sig"`, `{"keyid":null,"sig"`, 1) },
	"a null signature": func(s string) string { return strings.Replace(s, `"signatures":[`, `"signatures":[null,`, 1) },
	"a null payload type": func(s string) string {
		return strings.Replace(s, `"payloadType":"`+InTotoPayloadType+`"`, `"payloadType":null`, 1)
	},
	"a null log entry": func(s string) string {
		return strings.Replace(s, `"publicKey":{`, `"tlogEntries":[null],"publicKey":{`, 1)
	},
	"a repeated media type": func(s string) string {
		return strings.Replace(s, `{"mediaType"`, `{"mediaType":"application/json","mediaType"`, 1)
	},
	"data after it": func(s string) string { return s + " {}" },
}

// TestKeyVerifyCorners: statements and bundles where encoding/json and
// protobuf's JSON reader part ways; the plain-Go verifier accepts none that
// sigstore-go refuses, and reads the same statement from the others.
func TestKeyVerifyCorners(t *testing.T) {
	k := fixedKey(t)
	check := func(name string, data []byte) {
		_, ours, errOurs := verifyKeyBundle(k.GetPublicKey(), data, testDigest)
		theirs, errTheirs := sigstoreVerify(k.GetPublicKey(), data, testDigest)
		if errOurs == nil && errTheirs != nil {
			t.Errorf("%s: plain Go accepts what sigstore-go refuses (%v)", name, errTheirs)
		}
		if errOurs == nil && !bytes.Equal(ours, theirs) {
			t.Errorf("%s: the verifiers read different statements", name)
		}
	}
	for name, st := range cornerStatements() {
		data, err := KeySigner{k}.Sign(t.Context(), []byte(st))
		if err != nil {
			t.Fatal(err)
		}
		check(name, data)
	}
	good, err := KeySigner{k}.Sign(t.Context(), testStatement(t, SignaturePredicate, ""))
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range cornerBundles {
		check(name, []byte(f(string(good))))
	}
}
