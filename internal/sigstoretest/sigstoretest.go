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
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-openapi/runtime"
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
	uuid, entry, err := c.s.logEntry(ctx, params.ProposedEntry)
	if err != nil {
		return nil, err
	}
	return &entries.CreateLogEntryCreated{ETag: uuid, Payload: entry}, nil
}

// logEntry canonicalizes a proposed entry as Rekor v1 does, signs it with the
// virtual log (signed entry timestamp) and gives it an inclusion proof and
// checkpoint.
func (s *Sigstore) logEntry(ctx context.Context, proposed models.ProposedEntry) (string, models.LogEntry, error) {
	entry, err := types.CreateVersionedEntry(proposed)
	if err != nil {
		return "", nil, err
	}
	canon, err := types.CanonicalizeEntry(ctx, entry)
	if err != nil {
		return "", nil, err
	}
	body := base64.StdEncoding.EncodeToString(canon)
	logID, err := s.vs.RekorLogID()
	if err != nil {
		return "", nil, err
	}
	integrated, index := time.Now().Unix(), int64(0)
	set, err := s.vs.RekorSignPayload(tlog.RekorPayload{Body: body, IntegratedTime: integrated, LogIndex: index, LogID: logID})
	if err != nil {
		return "", nil, err
	}
	proof, err := s.vs.GetInclusionProof(canon)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(canon)
	uuid := hex.EncodeToString(sum[:])
	s.mu.Lock()
	s.logged++
	s.mu.Unlock()
	return uuid, models.LogEntry{uuid: models.LogEntryAnon{
		Body: body, IntegratedTime: &integrated, LogID: &logID, LogIndex: &index,
		Verification: &models.LogEntryAnonVerification{SignedEntryTimestamp: set, InclusionProof: proof},
	}}, nil
}

// Serve puts this Sigstore on HTTP for a Sigstore client in another process
// (the keyless helper): Fulcio's POST /api/v2/signingCert and Rekor v1's
// POST /api/v1/log/entries, on 127.0.0.1; it stops when the test ends. The
// URL is both the Fulcio and the Rekor base URL.
func (s *Sigstore) Serve(t testing.TB) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v2/signingCert", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			PublicKeyRequest struct {
				PublicKey struct {
					Content string `json:"content"`
				} `json:"publicKey"`
			} `json:"publicKeyRequest"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		block, _ := pem.Decode([]byte(req.PublicKeyRequest.PublicKey.Content))
		if block == nil {
			http.Error(w, "no PEM public key", http.StatusBadRequest)
			return
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.tokens = append(s.tokens, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		s.mu.Unlock()
		c, err := ca.GenerateLeafCert(s.identity, s.issuer, time.Now().Add(-time.Minute), publicOnly{pub}, s.inter, s.interKey)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		leaf := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		inter := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.inter.Raw})
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"signedCertificateEmbeddedSct": map[string]any{"chain": map[string]any{"certificates": []string{string(leaf), string(inter)}}}})
	})
	mux.HandleFunc("POST /api/v1/log/entries", func(w http.ResponseWriter, r *http.Request) {
		proposed, err := models.UnmarshalProposedEntry(r.Body, runtime.JSONConsumer())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		uuid, entry, err := s.logEntry(r.Context(), proposed)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", uuid)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(entry)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
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
