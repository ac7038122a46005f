package keyless

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/sign"

	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/sigstoretest"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// TestMain runs this package's tests without the shell's SLIPWAY_*, GITOPS_*,
// CI*, … variables, with keyless verification in this process (as the
// slipway binary does).
func TestMain(m *testing.M) {
	attest.RegisterKeyless(Local{})
	testenv.Main(m)
}

const (
	commit   = "0123456789abcdef0123456789abcdef01234567"
	identity = "https://github.com/acme/payments/.github/workflows/ci.yml@refs/heads/main"
	issuer   = "https://token.actions.githubusercontent.com"
)

// newImage starts go-containerregistry's registry and pushes a random image.
func newImage(t testing.TB) name.Digest {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(strings.TrimPrefix(s.URL, "http://")+"/acme/payments:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return ref.Context().Digest(d.String())
}

// statements are the signature and a SLSA provenance naming sourceCommit.
func statements(t testing.TB, img name.Digest, sourceCommit string) [][]byte {
	t.Helper()
	sig, err := attest.Statement(img.Context().String(), img.DigestStr(), attest.SignaturePredicate, nil)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := attest.Statement(img.Context().String(), img.DigestStr(), attest.ProvenancePredicate, json.RawMessage(`{
		"buildDefinition":{"buildType":"https://slipway.dev/build/v1","externalParameters":{"source":{"repository":"https://github.com/acme/payments","ref":"main","commit":"`+sourceCommit+`"}},
		"resolvedDependencies":[{"uri":"git+https://github.com/acme/payments@main","digest":{"gitCommit":"`+sourceCommit+`"}}]},
		"runDetails":{"builder":{"id":"`+identity+`"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{sig, prov}
}

func signAndAttach(t testing.TB, s attest.Signer, img name.Digest, sts [][]byte) {
	t.Helper()
	ctx := context.Background()
	bundles, err := attest.SignAll(ctx, s, sts)
	if err != nil {
		t.Fatal(err)
	}
	var bs []attest.Bundle
	for i, b := range bundles {
		pt := attest.SignaturePredicate
		if i > 0 {
			pt = attest.ProvenancePredicate
		}
		bs = append(bs, attest.Bundle{PredicateType: pt, Data: b})
	}
	if _, err := attest.AttachAll(ctx, img, bs, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func refusal(t *testing.T, img name.Digest, p attest.Policy) string {
	t.Helper()
	rep, err := attest.Verify(context.Background(), img, p)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Err() == nil {
		t.Fatalf("verified, want a refusal: %+v", rep)
	}
	msg := rep.Err().Error()
	if !strings.Contains(msg, img.DigestStr()) {
		t.Fatalf("the refusal does not name the digest: %s", msg)
	}
	return msg
}

func testKey(t testing.TB) (*attest.Key, crypto.PublicKey) {
	t.Helper()
	k, err := attest.GenerateEphemeral()
	if err != nil {
		t.Fatal(err)
	}
	return k, k.GetPublicKey()
}

func TestKeyless(t *testing.T) {
	ctx := context.Background()
	fulcio := sigstoretest.New(t, identity, issuer)
	// The trusted root goes through JSON, as --trusted-root FILE does.
	trusted, err := Local{}.TrustedRoot(ctx, fulcio.TrustedRoot)
	if err != nil {
		t.Fatal(err)
	}

	img := newImage(t)
	// As in GitHub Actions: Fulcio certificate, Rekor entry (and here a
	// timestamp too).
	s := &Signer{
		Certificates: fulcio, Logs: []sign.Transparency{fulcio.Rekor()}, Timestamps: []Timestamper{fulcio}, Expected: identity,
		Token: func(context.Context) (string, error) { return "oidc-token", nil },
	}
	signAndAttach(t, s, img, statements(t, img, commit))
	if tokens := fulcio.Tokens(); len(tokens) != 1 || tokens[0] != "oidc-token" {
		t.Fatalf("one certificate per run, with the token: %v", tokens)
	}
	if n := fulcio.Logged(); n != 2 {
		t.Fatalf("%d Rekor entries, want one per statement", n)
	}
	good := attest.Policy{Identity: identity, Issuer: issuer, TrustedRoot: trusted, SourceCommit: commit, Require: []string{"signature", "provenance"}}
	rep, err := attest.Verify(ctx, img, good)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rep.Signature.Signer, identity) || rep.Signature.SignedAt == nil || rep.Provenance.SourceCommit != commit {
		t.Fatalf("signer %q at %v, provenance %+v", rep.Signature.Signer, rep.Signature.SignedAt, rep.Provenance)
	}
	// Another workflow (a fork's, a branch's) is someone else.
	bad := good
	bad.Identity = "https://github.com/acme/payments/.github/workflows/ci.yml@refs/heads/evil"
	if msg := refusal(t, img, bad); !strings.Contains(msg, "evil") && !strings.Contains(msg, "identity") {
		t.Fatal(msg)
	}
	// Another trusted root (another Fulcio) does not verify it.
	other := sigstoretest.New(t, identity, issuer)
	stranger := good
	stranger.TrustedRoot = other.TrustedRoot
	refusal(t, img, stranger)
	// A key policy does not accept a certificate-signed bundle.
	_, pub := testKey(t)
	if msg := refusal(t, img, attest.Policy{Key: pub, Require: []string{"signature"}}); !strings.Contains(msg, "signed with a certificate, not a key") {
		t.Fatal(msg)
	}
	// A statement about another digest is refused, however well signed.
	other2 := newImage(t)
	st := statements(t, other2, commit)
	b, err := s.Sign(ctx, st[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := attest.Attach(ctx, img, b, attest.SignaturePredicate, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rep, err = attest.Verify(ctx, img, attest.Policy{Identity: identity, Issuer: issuer, TrustedRoot: trusted, Require: []string{"signature"}})
	if err != nil || rep.Err() != nil || rep.Attached["signature"] != 2 {
		t.Fatalf("the good signature beside one about another digest: %v %v %v", err, rep.Err(), rep.Attached)
	}
	vs, err := Local{}.Verify(ctx, attest.KeylessPolicy{Identity: identity, Issuer: issuer, TrustedRoot: trusted}, img.DigestStr(), [][]byte{b})
	if err != nil || len(vs) != 1 || vs[0].Err != "its statement is about another digest" {
		t.Fatalf("%v %+v", err, vs)
	}
	// Without a time source a keyless signature cannot verify.
	if _, err := (&Signer{Certificates: fulcio, Token: s.Token}).Sign(ctx, []byte(`{}`)); err == nil {
		t.Fatal("keyless signing with no log and no timestamp authority")
	}
	if _, err := (Local{}).TrustedRoot(ctx, []byte(`{"mediaType":"nonsense"}`)); err == nil {
		t.Fatal("a nonsense trusted root was read")
	}
}

type echoingCA struct{}

func (echoingCA) GetCertificate(_ context.Context, _ sign.Keypair, o *sign.CertificateProviderOptions) ([]byte, error) {
	return nil, errors.New("401: invalid token " + o.IDToken)
}

// TestKeylessNeverRepeatsTheToken: a CA that echoes the OIDC token in its
// error does not get it into Slipway's.
func TestKeylessNeverRepeatsTheToken(t *testing.T) {
	const token = "eyJhbGciOi.SECRET-OIDC.TOKEN"
	s := &Signer{Certificates: echoingCA{}, Timestamps: []Timestamper{nil}, Token: func(context.Context) (string, error) { return token, nil }}
	_, err := s.Sign(context.Background(), []byte(`{}`))
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "invalid token") {
		t.Fatalf("%v", err)
	}
}
