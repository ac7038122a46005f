// Package keyless is Slipway's Sigstore keyless signing and verification,
// on sigstore-go: a Fulcio certificate for an OIDC identity, Rekor
// transparency log entries and RFC 3161 timestamps when signing; the
// certificate identity policy, the trusted root, the log entries, the SCTs
// and the timestamps when verifying; and the trusted root's TUF fetch.
//
// It is the attest.Keyless implementation. It is heavy to compile (the
// Sigstore clients pull gRPC, go-openapi, certificate-transparency-go and
// go-tuf), so internal/attest does not import it: the slipway binary links
// it and registers it (attest.RegisterKeyless(keyless.Local{})), and a Go
// pipeline runs it as a helper process (cmd/slipway-sigstore, Serve) on
// first keyless use. Key-signed bundles need none of this (internal/attest
// signs and verifies them in plain Go).
package keyless

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/redact"
)

// Timestamper returns an RFC 3161 timestamp over a signature
// (*sign.TimestampAuthority is one).
type Timestamper interface {
	GetTimestamp(ctx context.Context, signature []byte) ([]byte, error)
}

// Signer signs with a one-use key whose certificate a Fulcio issues for an
// OIDC identity (GitHub Actions: the job's token), and records each
// signature in a transparency log and/or with timestamp authorities.
type Signer struct {
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
	key  *attest.Key
	cert []byte
	err  error
}

// Identity implements attest.Signer.
func (s *Signer) Identity() string { return s.Expected }

// Sign implements attest.Signer. One key and certificate serve every
// statement of a run (one Fulcio round trip), as cosign does for one
// invocation.
func (s *Signer) Sign(ctx context.Context, statement []byte) ([]byte, error) {
	if len(s.Logs) == 0 && len(s.Timestamps) == 0 {
		return nil, errors.New("keyless signing needs a transparency log or a timestamp authority")
	}
	s.once.Do(func() {
		s.key, s.err = attest.GenerateEphemeral()
		if s.err != nil {
			return
		}
		var token string
		token, s.err = s.Token(ctx)
		if s.err != nil {
			s.err = fmt.Errorf("OIDC token: %w", s.err)
			return
		}
		s.cert, s.err = s.Certificates.GetCertificate(ctx, keypair{s.key}, &sign.CertificateProviderOptions{IDToken: token})
		if s.err != nil {
			// The token is a secret: whatever the CA answered, it is not repeated.
			s.err = fmt.Errorf("signing certificate: %w", redact.Error(s.err, token))
		}
	})
	if s.err != nil {
		return nil, s.err
	}
	b, err := sign.Bundle(&sign.DSSEData{Data: statement, PayloadType: attest.InTotoPayloadType}, keypair{s.key}, sign.BundleOptions{
		Context: ctx, CertificateProvider: fixedCert(s.cert), TransparencyLogs: s.Logs,
	})
	if err != nil {
		return nil, err
	}
	if err := addTimestamps(ctx, b, s.Timestamps); err != nil {
		return nil, err
	}
	return protojson.Marshal(b)
}

// keypair is an attest.Key as sigstore-go's sign.Keypair.
type keypair struct{ *attest.Key }

func (k keypair) GetHashAlgorithm() protocommon.HashAlgorithm {
	if k.Hash().Size() == 48 {
		return protocommon.HashAlgorithm_SHA2_384
	}
	return protocommon.HashAlgorithm_SHA2_256
}

func (k keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	if k.Hash().Size() == 48 {
		return protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384
	}
	return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
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

// Local is attest.Keyless in this process, on sigstore-go.
type Local struct{}

// Signer implements attest.Keyless: Fulcio, Rekor and timestamp
// authorities at cfg's URLs (two retries each).
func (Local) Signer(cfg attest.KeylessConfig) (attest.Signer, error) {
	s := &Signer{
		Certificates: sign.NewFulcio(&sign.FulcioOptions{BaseURL: cfg.FulcioURL, Retries: 2, Transport: keepErrorBody{}}),
		Token:        cfg.Token, Expected: cfg.Expected,
	}
	for _, u := range cfg.RekorURLs {
		s.Logs = append(s.Logs, sign.NewRekor(&sign.RekorOptions{BaseURL: u, Retries: 2}))
	}
	for _, u := range cfg.TimestampURLs {
		s.Timestamps = append(s.Timestamps, sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: u, Retries: 2, Transport: keepErrorBody{}}))
	}
	return s, nil
}

// keepErrorBody reads an error answer's body (up to 1 MiB) before handing
// the response on. sigstore-go's Fulcio and timestamp clients close the body
// of a 5xx they retried and, after the last retry, read it again: without
// this the server's status and message became "http: read on closed
// response body".
type keepErrorBody struct{}

func (keepErrorBody) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp, nil
}

// Verify implements attest.Keyless: each bundle must carry a certificate
// that chains to the trusted root's Fulcio at a verified time (a Rekor
// entry or an RFC 3161 timestamp), with the log's entry and the CT log's
// SCT when the trusted root has those logs, and name the policy's identity
// and issuer; its DSSE statement must name the digest.
func (Local) Verify(_ context.Context, p attest.KeylessPolicy, digest string, bundles [][]byte) ([]attest.Verdict, error) {
	tr, err := root.NewTrustedRootFromJSON(p.TrustedRoot)
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	opts := []verify.VerifierOption{verify.WithObserverTimestamps(1)}
	if len(tr.RekorLogs()) > 0 {
		opts = append(opts, verify.WithTransparencyLog(1))
	}
	if len(tr.CTLogs()) > 0 {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	v, err := verify.NewVerifier(tr, opts...)
	if err != nil {
		return nil, err
	}
	hexDigest, ok := strings.CutPrefix(digest, "sha256:")
	raw, err := hex.DecodeString(hexDigest)
	if !ok || err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("%s: not a sha256 digest", digest)
	}
	out := make([]attest.Verdict, len(bundles))
	for i, data := range bundles {
		out[i] = verifyOne(v, p, raw, data)
	}
	return out, nil
}

func verifyOne(v *verify.Verifier, p attest.KeylessPolicy, digest, data []byte) attest.Verdict {
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return attest.Verdict{Err: "not a Sigstore bundle: " + err.Error()}
	}
	ci, err := verify.NewShortCertificateIdentity(p.Issuer, p.IssuerRegexp, p.Identity, p.IdentityRegexp)
	if err != nil {
		return attest.Verdict{Err: "verification policy: " + err.Error()}
	}
	res, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), verify.WithCertificateIdentity(ci)))
	if err != nil {
		return attest.Verdict{Err: explain(err).Error()}
	}
	env := b.GetDsseEnvelope()
	if res.Statement == nil || env == nil {
		return attest.Verdict{Err: "the bundle holds no in-toto statement"}
	}
	out := attest.Verdict{Statement: env.GetPayload()}
	if c := res.Signature.Certificate; c != nil {
		out.Signer = c.SubjectAlternativeName + " (issuer " + c.Issuer + ")"
	}
	for _, ts := range res.VerifiedTimestamps {
		t := ts.Timestamp.UTC()
		out.SignedAt = &t
		break
	}
	return out
}

// explain turns sigstore-go's errors into the words an operator needs.
func explain(err error) error {
	msg := err.Error()
	// sigstore-go wraps an empty error list ("…: 0 < 1; error: %!w(<nil>)"):
	// a fmt artefact, not a reason.
	msg = strings.ReplaceAll(msg, "; error: %!w(<nil>)", "")
	msg = strings.ReplaceAll(msg, "%!w(<nil>)", "")
	if strings.Contains(msg, "threshold not met for verified") && strings.Contains(msg, " 0 < ") {
		msg += " (the bundle holds no timestamp or log entry that the trusted root verifies)"
	}
	switch {
	case strings.Contains(msg, "does not match any digest in statement"), strings.Contains(msg, "does not match digests in statement"):
		return errors.New("its statement is about another digest")
	}
	if msg != err.Error() {
		return errors.New(msg)
	}
	return err
}

// TrustedRoot implements attest.Keyless: file's content when it is a
// trusted root sigstore-go reads, else Sigstore's, fetched from its TUF
// repository.
func (Local) TrustedRoot(_ context.Context, file []byte) ([]byte, error) {
	if file != nil {
		if _, err := root.NewTrustedRootFromJSON(file); err != nil {
			return nil, err
		}
		return file, nil
	}
	tr, err := root.FetchTrustedRoot()
	if err != nil {
		return nil, err
	}
	return tr.MarshalJSON()
}
