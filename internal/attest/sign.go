package attest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/slipway-ci/slipway/internal/redact"
)

// Media and predicate types Slipway writes, as cosign v3 writes them.
const (
	// BundleMediaType is a Sigstore bundle v0.3: the artifactType of every
	// referrer Slipway attaches, and its one layer's media type.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// InTotoPayloadType is the DSSE payload type of an in-toto statement.
	InTotoPayloadType = "application/vnd.in-toto+json"
	// SignaturePredicate is cosign v3's image signature: an in-toto statement
	// about the image digest with an empty predicate (`cosign verify`).
	SignaturePredicate = "https://sigstore.dev/cosign/sign/v1"
	// SBOMPredicate is a CycloneDX SBOM attestation (cosign --type cyclonedx).
	SBOMPredicate = "https://cyclonedx.org/bom"
	// ProvenancePredicate is SLSA Provenance v1 (cosign --type slsaprovenance1).
	ProvenancePredicate = "https://slsa.dev/provenance/v1"
)

// Kind names an attestation by what it proves.
func Kind(predicateType string) string {
	switch predicateType {
	case SignaturePredicate:
		return "signature"
	case SBOMPredicate:
		return "sbom"
	case ProvenancePredicate:
		return "provenance"
	}
	return predicateType
}

// PredicateOf is the predicate type of a kind ("signature", "sbom", "provenance").
func PredicateOf(kind string) (string, bool) {
	switch kind {
	case "signature":
		return SignaturePredicate, true
	case "sbom":
		return SBOMPredicate, true
	case "provenance":
		return ProvenancePredicate, true
	}
	return "", false
}

// Statement is an in-toto Statement v1 about one image digest.
func Statement(repo, digest, predicateType string, predicate json.RawMessage) ([]byte, error) {
	hexDigest, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(hexDigest) != 64 {
		return nil, fmt.Errorf("digest %q: want sha256:<64 hex>", digest)
	}
	if len(predicate) == 0 {
		predicate = json.RawMessage(`{}`)
	}
	if !json.Valid(predicate) {
		return nil, fmt.Errorf("%s predicate is not JSON", Kind(predicateType))
	}
	return json.Marshal(struct {
		Type          string          `json:"_type"`
		Subject       []subject       `json:"subject"`
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}{"https://in-toto.io/Statement/v1", []subject{{repo, map[string]string{"sha256": hexDigest}}}, predicateType, predicate})
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Signer turns an in-toto statement into a Sigstore bundle (JSON).
type Signer interface {
	// Sign wraps the statement in a DSSE envelope, signs it and returns the
	// bundle as protobuf JSON.
	Sign(ctx context.Context, statement []byte) ([]byte, error)
	// Identity names the signer: "key sha256:…" or the certificate identity.
	Identity() string
}

// KeySigner signs with a key: the bundle carries the key's hint, no
// certificate; nothing goes to a transparency log (air-gapped, like cosign
// --tlog-upload=false).
type KeySigner struct{ Key *Key }

// Sign implements Signer.
func (s KeySigner) Sign(ctx context.Context, statement []byte) ([]byte, error) {
	return bundleJSON(ctx, statement, s.Key, sign.BundleOptions{Context: ctx})
}

// Identity implements Signer.
func (s KeySigner) Identity() string { return "key " + s.Key.Fingerprint() }

// Timestamper returns an RFC 3161 timestamp over a signature
// (*sign.TimestampAuthority is one).
type Timestamper interface {
	GetTimestamp(ctx context.Context, signature []byte) ([]byte, error)
}

// KeylessSigner signs with a one-use key whose certificate a Fulcio issues
// for an OIDC identity (GitHub Actions: the job's token), and records each
// signature in a transparency log and/or with timestamp authorities.
type KeylessSigner struct {
	// Certificates issues the code-signing certificate (sign.NewFulcio).
	Certificates sign.CertificateProvider
	// Token returns the OIDC ID token (audience "sigstore"); it is a secret.
	Token func(ctx context.Context) (string, error)
	// Logs are transparency logs (sign.NewRekor); Timestamps are RFC 3161
	// authorities. At least one of the two: a short-lived certificate
	// verifies only with a time it was valid at.
	Logs       []sign.Transparency
	Timestamps []Timestamper
	// Expected is the identity the certificate should name (for Identity
	// before the first signature).
	Expected string

	once sync.Once
	key  *Key
	cert []byte
	err  error
}

// Identity implements Signer.
func (s *KeylessSigner) Identity() string { return s.Expected }

// Sign implements Signer. One key and certificate serve every statement of a
// run (one Fulcio round trip), as cosign does for one invocation.
func (s *KeylessSigner) Sign(ctx context.Context, statement []byte) ([]byte, error) {
	if len(s.Logs) == 0 && len(s.Timestamps) == 0 {
		return nil, errors.New("keyless signing needs a transparency log or a timestamp authority")
	}
	s.once.Do(func() {
		s.key, s.err = GenerateEphemeral()
		if s.err != nil {
			return
		}
		var token string
		token, s.err = s.Token(ctx)
		if s.err != nil {
			s.err = fmt.Errorf("OIDC token: %w", s.err)
			return
		}
		s.cert, s.err = s.Certificates.GetCertificate(ctx, s.key, &sign.CertificateProviderOptions{IDToken: token})
		if s.err != nil {
			// The token is a secret: whatever the CA answered, it is not repeated.
			s.err = fmt.Errorf("signing certificate: %w", redact.Error(s.err, token))
		}
	})
	if s.err != nil {
		return nil, s.err
	}
	b, err := sign.Bundle(dsse(statement), s.key, sign.BundleOptions{
		Context: ctx, CertificateProvider: fixedCert(s.cert), TransparencyLogs: s.Logs,
	})
	if err != nil {
		return nil, err
	}
	if err := addTimestamps(ctx, b, s.Timestamps); err != nil {
		return nil, err
	}
	return marshalBundle(b)
}

type fixedCert []byte

func (c fixedCert) GetCertificate(context.Context, sign.Keypair, *sign.CertificateProviderOptions) ([]byte, error) {
	return c, nil
}

func addTimestamps(ctx context.Context, b *protobundle.Bundle, tss []Timestamper) error {
	if len(tss) == 0 {
		return nil
	}
	sig := b.GetDsseEnvelope().GetSignatures()[0].GetSig()
	vm := b.GetVerificationMaterial()
	if vm.TimestampVerificationData == nil {
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{}
	}
	for _, ts := range tss {
		raw, err := ts.GetTimestamp(ctx, sig)
		if err != nil {
			return fmt.Errorf("timestamp: %w", err)
		}
		vm.TimestampVerificationData.Rfc3161Timestamps = append(vm.TimestampVerificationData.Rfc3161Timestamps,
			&protocommon.RFC3161SignedTimestamp{SignedTimestamp: raw})
	}
	return nil
}

func dsse(statement []byte) *sign.DSSEData {
	return &sign.DSSEData{Data: statement, PayloadType: InTotoPayloadType}
}

func bundleJSON(ctx context.Context, statement []byte, kp sign.Keypair, opts sign.BundleOptions) ([]byte, error) {
	b, err := sign.Bundle(dsse(statement), kp, opts)
	if err != nil {
		return nil, err
	}
	return marshalBundle(b)
}

func marshalBundle(b *protobundle.Bundle) ([]byte, error) {
	return protojson.Marshal(b)
}
