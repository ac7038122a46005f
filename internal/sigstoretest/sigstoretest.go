// Package sigstoretest is an in-process Sigstore for keyless tests, on
// sigstore-go's pkg/testing/ca: a Fulcio that issues code-signing
// certificates for an identity and issuer, a Rekor transparency log, a
// timestamp authority, and the trusted root (JSON, as --trusted-root reads
// it) that verifies them.
// Nothing reaches the network.
package sigstoretest

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/sigstore/rekor/pkg/generated/client/entries"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1" // Rekor v1 "dsse" entries
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
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
	logged int
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
	}}, nil, vs.TimestampingAuthorities(), rekorLogs(vs))
	if err != nil {
		t.Fatal(err)
	}
	trJSON, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return &Sigstore{vs: vs, inter: inter, interKey: interKey, identity: identity, issuer: issuer, TrustedRoot: trJSON}
}

// rekorLogs is the virtual log as a trusted root names it: its key ID as raw
// bytes (pkg/testing/ca keeps the hex string, which a trusted root's JSON
// would encode again).
func rekorLogs(vs *ca.VirtualSigstore) map[string]*root.TransparencyLog {
	out := map[string]*root.TransparencyLog{}
	for id, tl := range vs.RekorLogs() {
		raw, err := hex.DecodeString(id)
		if err != nil {
			continue
		}
		l := *tl
		l.ID = raw
		out[id] = &l
	}
	return out
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

// Rekor is the transparency log (sign.NewRekor with an in-process client):
// each entry is canonicalized as Rekor v1 does, signed by the virtual log
// (signed entry timestamp) and given an inclusion proof and checkpoint.
func (s *Sigstore) Rekor() sign.Transparency {
	return sign.NewRekor(&sign.RekorOptions{Client: rekorClient{s}})
}

type rekorClient struct{ s *Sigstore }

func (c rekorClient) CreateLogEntry(params *entries.CreateLogEntryParams, _ ...entries.ClientOption) (*entries.CreateLogEntryCreated, error) {
	ctx := params.Context
	if ctx == nil {
		ctx = context.Background()
	}
	entry, err := types.CreateVersionedEntry(params.ProposedEntry)
	if err != nil {
		return nil, err
	}
	canon, err := types.CanonicalizeEntry(ctx, entry)
	if err != nil {
		return nil, err
	}
	body := base64.StdEncoding.EncodeToString(canon)
	logID, err := c.s.vs.RekorLogID()
	if err != nil {
		return nil, err
	}
	integrated, index := time.Now().Unix(), int64(0)
	set, err := c.s.vs.RekorSignPayload(tlog.RekorPayload{Body: body, IntegratedTime: integrated, LogIndex: index, LogID: logID})
	if err != nil {
		return nil, err
	}
	proof, err := c.s.vs.GetInclusionProof(canon)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canon)
	uuid := hex.EncodeToString(sum[:])
	c.s.mu.Lock()
	c.s.logged++
	c.s.mu.Unlock()
	return &entries.CreateLogEntryCreated{ETag: uuid, Payload: models.LogEntry{uuid: models.LogEntryAnon{
		Body: body, IntegratedTime: &integrated, LogID: &logID, LogIndex: &index,
		Verification: &models.LogEntryAnonVerification{SignedEntryTimestamp: set, InclusionProof: proof},
	}}}, nil
}

func (rekorClient) GetLogEntryByUUID(*entries.GetLogEntryByUUIDParams, ...entries.ClientOption) (*entries.GetLogEntryByUUIDOK, error) {
	return nil, errors.New("the virtual Rekor keeps no entries to look up")
}

// Logged counts the entries the virtual Rekor signed.
func (s *Sigstore) Logged() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logged
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
