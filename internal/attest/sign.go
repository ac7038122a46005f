package attest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
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

// BatchSigner is a Signer that signs several statements in one go (keyless
// signing through the helper process: one process, one certificate).
type BatchSigner interface {
	Signer
	SignAll(ctx context.Context, statements [][]byte) ([][]byte, error)
}

// SignAll signs each statement with s, in one go when s is a BatchSigner.
func SignAll(ctx context.Context, s Signer, statements [][]byte) ([][]byte, error) {
	if b, ok := s.(BatchSigner); ok {
		out, err := b.SignAll(ctx, statements)
		if err == nil && len(out) != len(statements) {
			err = fmt.Errorf("signed %d of %d statements", len(out), len(statements))
		}
		return out, err
	}
	out := make([][]byte, 0, len(statements))
	for _, st := range statements {
		b, err := s.Sign(ctx, st)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// KeySigner signs with a key: the bundle carries the key's hint, no
// certificate; nothing goes to a transparency log (air-gapped, like cosign
// --tlog-upload=false). It is plain Go: the bundle is what sigstore-go's
// sign.Bundle writes for the same key and statement.
type KeySigner struct{ Key *Key }

// Sign implements Signer.
func (s KeySigner) Sign(_ context.Context, statement []byte) ([]byte, error) {
	return keyBundle(s.Key, statement)
}

// Identity implements Signer.
func (s KeySigner) Identity() string { return "key " + s.Key.Fingerprint() }

// KeylessSigner signs with a one-use key whose certificate a Fulcio issues
// for an OIDC identity (GitHub Actions: the job's token), and records each
// signature in transparency logs and/or with timestamp authorities. The
// Sigstore clients are the Keyless implementation's (see RegisterKeyless):
// in this process when the program links internal/keyless, else the
// helper process.
type KeylessSigner struct {
	// FulcioURL is the certificate authority.
	FulcioURL string
	// RekorURLs are transparency logs; TimestampURLs are RFC 3161
	// authorities. At least one of the two: a short-lived certificate
	// verifies only with a time it was valid at.
	RekorURLs, TimestampURLs []string
	// Token returns the OIDC ID token (audience "sigstore"); it is a secret.
	Token func(ctx context.Context) (string, error)
	// Expected is the identity the certificate should name (for Identity
	// before the first signature).
	Expected string

	once   sync.Once
	signer Signer
	err    error
}

// Identity implements Signer.
func (s *KeylessSigner) Identity() string { return s.Expected }

func (s *KeylessSigner) impl() (Signer, error) {
	s.once.Do(func() {
		if len(s.RekorURLs) == 0 && len(s.TimestampURLs) == 0 {
			s.err = errors.New("keyless signing needs a transparency log or a timestamp authority")
			return
		}
		s.signer, s.err = keylessImpl().Signer(KeylessConfig{
			FulcioURL: s.FulcioURL, RekorURLs: s.RekorURLs, TimestampURLs: s.TimestampURLs, Token: s.Token, Expected: s.Expected,
		})
	})
	return s.signer, s.err
}

// Sign implements Signer.
func (s *KeylessSigner) Sign(ctx context.Context, statement []byte) ([]byte, error) {
	impl, err := s.impl()
	if err != nil {
		return nil, err
	}
	return impl.Sign(ctx, statement)
}

// SignAll implements BatchSigner.
func (s *KeylessSigner) SignAll(ctx context.Context, statements [][]byte) ([][]byte, error) {
	impl, err := s.impl()
	if err != nil {
		return nil, err
	}
	return SignAll(ctx, impl, statements)
}
