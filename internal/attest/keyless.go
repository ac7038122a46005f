package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"
)

// Keyless is Sigstore's keyless signing and verification: Fulcio
// certificates, Rekor entries, RFC 3161 timestamps, certificate identity
// policies, trusted roots and their TUF fetch. Its implementation is
// internal/keyless, on sigstore-go. It is heavy to compile (the Sigstore
// clients, gRPC, go-openapi, TUF), so this package does not link it: the
// slipway binary registers it (RegisterKeyless), and a Go pipeline reaches
// it through the helper process (Helper), compiled on first keyless use.
type Keyless interface {
	// Signer is a keyless signer for cfg. One certificate may serve every
	// statement it signs.
	Signer(cfg KeylessConfig) (Signer, error)
	// Verify checks each bundle against the policy and the image digest
	// ("sha256:<hex>"): one verdict per bundle, in order. The error is a
	// failure to verify at all (the helper could not run), not a refusal.
	Verify(ctx context.Context, p KeylessPolicy, digest string, bundles [][]byte) ([]Verdict, error)
	// TrustedRoot checks a trusted root JSON file's content and returns it;
	// with none (nil), it fetches Sigstore's from its TUF repository.
	TrustedRoot(ctx context.Context, file []byte) ([]byte, error)
}

// KeylessConfig is where a keyless signer gets its certificate, its
// transparency log entries and timestamps, and its OIDC token.
type KeylessConfig struct {
	FulcioURL                string
	RekorURLs, TimestampURLs []string
	// Token returns the OIDC ID token; it is a secret.
	Token func(ctx context.Context) (string, error)
	// Expected is the identity the certificate should name.
	Expected string
}

// KeylessPolicy is what a keyless signature's certificate must name, and
// the trusted root (JSON) that verifies the certificate, log entries,
// timestamps and SCTs.
type KeylessPolicy struct {
	Identity       string `json:"identity,omitempty"`
	IdentityRegexp string `json:"identity_regexp,omitempty"`
	Issuer         string `json:"issuer,omitempty"`
	IssuerRegexp   string `json:"issuer_regexp,omitempty"`
	TrustedRoot    []byte `json:"trusted_root"`
}

// Verdict is one bundle's verification: the signed in-toto statement (the
// DSSE payload), who signed it and a verified time, or why it does not
// verify.
type Verdict struct {
	Statement []byte     `json:"statement,omitempty"`
	Signer    string     `json:"signer,omitempty"`
	SignedAt  *time.Time `json:"signed_at,omitempty"`
	Err       string     `json:"error,omitempty"`
}

var registered struct {
	sync.Mutex
	k Keyless
}

// RegisterKeyless makes k this process's keyless implementation (the
// slipway binary registers internal/keyless's; tests do too). Without one,
// keyless signing and verification run the helper process (Helper).
func RegisterKeyless(k Keyless) {
	registered.Lock()
	defer registered.Unlock()
	registered.k = k
}

func keylessImpl() Keyless {
	registered.Lock()
	defer registered.Unlock()
	if registered.k == nil {
		registered.k = &Helper{}
	}
	return registered.k
}

// TrustedRoot checks a trusted root JSON file's content (nil: fetches
// Sigstore's from its TUF repository) with this process's keyless
// implementation.
func TrustedRoot(ctx context.Context, file []byte) ([]byte, error) {
	if file != nil {
		// A reader's error quotes what it choked on: a binary or garbage
		// file is described here, never echoed.
		switch {
		case len(bytes.TrimSpace(file)) == 0:
			return nil, errors.New("empty; want a Sigstore trusted root (trusted_root.json)")
		case !utf8.Valid(file) || bytes.ContainsFunc(file, func(r rune) bool { return r < ' ' && r != '\n' && r != '\r' && r != '\t' }):
			return nil, fmt.Errorf("%d bytes of binary data, not JSON; want a Sigstore trusted root (trusted_root.json)", len(file))
		case !json.Valid(file):
			return nil, errors.New("not JSON; want a Sigstore trusted root (trusted_root.json)")
		}
	}
	return keylessImpl().TrustedRoot(ctx, file)
}
