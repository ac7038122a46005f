// Package sigstoretest is an in-process Sigstore for keyless tests, on
// sigstore-go's pkg/testing/ca: a Fulcio that issues code-signing
// certificates for an identity and issuer, a timestamp authority, and the
// trusted root (JSON, as --trusted-root reads it) that verifies both.
// Nothing reaches the network.
package sigstoretest

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
)

// Sigstore is one virtual Sigstore.
type Sigstore struct {
	vs       *ca.VirtualSigstore
	inter    *x509.Certificate
	interKey crypto.Signer
	identity string
	issuer   string
	// TrustedRoot is the trusted root JSON: the Fulcio CA and the TSA.
	TrustedRoot []byte

	mu     sync.Mutex
	tokens []string
}

// New starts a virtual Sigstore whose Fulcio names identity and issuer.
func New(t testing.TB, identity, issuer string) *Sigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	rootCert, rootKey, err := ca.GenerateRootCa()
	if err != nil {
		t.Fatal(err)
	}
	inter, interKey, err := ca.GenerateFulcioIntermediate(rootCert, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, []root.CertificateAuthority{&root.FulcioCertificateAuthority{
		Root: rootCert, Intermediates: []*x509.Certificate{inter}, URI: "https://fulcio.test",
		ValidityPeriodStart: time.Now().Add(-time.Hour), ValidityPeriodEnd: time.Now().Add(time.Hour),
	}}, nil, vs.TimestampingAuthorities(), nil)
	if err != nil {
		t.Fatal(err)
	}
	trJSON, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return &Sigstore{vs: vs, inter: inter, interKey: interKey, identity: identity, issuer: issuer, TrustedRoot: trJSON}
}

// GetCertificate is Fulcio (a sign.CertificateProvider): a certificate for
// the keypair's public key naming the identity and issuer.
func (s *Sigstore) GetCertificate(_ context.Context, kp sign.Keypair, o *sign.CertificateProviderOptions) ([]byte, error) {
	s.mu.Lock()
	s.tokens = append(s.tokens, o.IDToken)
	s.mu.Unlock()
	c, err := ca.GenerateLeafCert(s.identity, s.issuer, time.Now().Add(-time.Minute), publicOnly{kp.GetPublicKey()}, s.inter, s.interKey)
	if err != nil {
		return nil, err
	}
	return c.Raw, nil
}

// Tokens are the OIDC tokens Fulcio was given, one per certificate.
func (s *Sigstore) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokens...)
}

// GetTimestamp is the timestamp authority: an RFC 3161 timestamp over sig.
func (s *Sigstore) GetTimestamp(_ context.Context, sig []byte) ([]byte, error) {
	return s.vs.TimestampResponse(sig)
}

// publicOnly lets ca.GenerateLeafCert read the public key it certifies.
type publicOnly struct{ pub crypto.PublicKey }

func (p publicOnly) Public() crypto.PublicKey { return p.pub }
func (publicOnly) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("public key only")
}
