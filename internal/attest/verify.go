package attest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/slipway-ci/slipway/internal/provenance"
	"github.com/slipway-ci/slipway/internal/scan"
)

// Policy is what a digest must prove before it is deployed.
type Policy struct {
	// Key verifies key-signed bundles (cosign.pub, slipway keygen's .pub).
	Key crypto.PublicKey
	// Identity/IdentityRegexp and Issuer/IssuerRegexp are what a keyless
	// signature's certificate must name (SAN and OIDC issuer), checked
	// against TrustedRoot (Fulcio CAs, Rekor logs, timestamp authorities).
	Identity, IdentityRegexp string
	Issuer, IssuerRegexp     string
	TrustedRoot              root.TrustedMaterial
	// Require lists the kinds that must verify ("signature", "sbom",
	// "provenance"); empty means all three.
	Require []string
	// SourceCommit, when set, is the commit the provenance must name.
	SourceCommit string
}

// Describe names the policy for messages.
func (p Policy) Describe() string {
	if p.Key != nil {
		return "key " + Fingerprint(p.Key)
	}
	id := firstNonEmpty(p.Identity, "~"+p.IdentityRegexp)
	iss := firstNonEmpty(p.Issuer, "~"+p.IssuerRegexp)
	return fmt.Sprintf("identity %s (issuer %s)", id, iss)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Check reports a policy that cannot verify anything.
func (p Policy) Check() error {
	keyless := p.Identity != "" || p.IdentityRegexp != "" || p.Issuer != "" || p.IssuerRegexp != ""
	switch {
	case p.Key != nil && keyless:
		return errors.New("verification policy: give a key or a certificate identity, not both")
	case p.Key == nil && !keyless:
		return errors.New("verification policy: no key and no certificate identity")
	case keyless && (p.Identity == "" && p.IdentityRegexp == "" || p.Issuer == "" && p.IssuerRegexp == ""):
		return errors.New("verification policy: a keyless policy needs both --certificate-identity and --certificate-oidc-issuer")
	case keyless && p.TrustedRoot == nil:
		return errors.New("verification policy: a keyless policy needs a trusted root (--trusted-root FILE)")
	}
	for _, k := range p.Require {
		if _, ok := PredicateOf(k); !ok {
			return fmt.Errorf("verification policy: cannot require %q (want signature, sbom, provenance)", k)
		}
	}
	return nil
}

func (p Policy) required() []string {
	if len(p.Require) == 0 {
		return []string{"signature", "sbom", "provenance"}
	}
	return p.Require
}

// Report is what verify found attached to a digest.
type Report struct {
	Image    string `json:"image"`
	Policy   string `json:"policy"`
	Verified bool   `json:"verified"`
	// Signature, SBOM and Provenance are the newest attachment of each kind
	// that verified (nil when none did).
	Signature  *Found `json:"signature,omitempty"`
	SBOM       *Found `json:"sbom,omitempty"`
	Provenance *Found `json:"provenance,omitempty"`
	// Attached counts what is attached, by kind.
	Attached map[string]int `json:"attached"`
	// Problems says, for each required kind that did not verify, why.
	Problems []string `json:"problems,omitempty"`
}

// Found is one verified attachment.
type Found struct {
	Attachment
	// Signer is the certificate identity (and issuer), or "key sha256:…".
	Signer string `json:"signer"`
	// Components is the SBOM's component count.
	Components int `json:"components,omitempty"`
	// Builder, BuildType, SourceCommit and SourceRepo come from the
	// provenance; BuildType is provenance.PushedType for an image Slipway
	// pushed but did not build, and SourceCommit is then "" unless one was
	// given to the push.
	Builder      string `json:"builder,omitempty"`
	BuildType    string `json:"build_type,omitempty"`
	SourceCommit string `json:"source_commit,omitempty"`
	SourceRepo   string `json:"source_repo,omitempty"`
	// SignedAt is a verified time (transparency log or timestamp), when any.
	SignedAt *time.Time `json:"signed_at,omitempty"`
}

// Err is the refusal: the digest and what failed, or nil.
func (r *Report) Err() error {
	if r.Verified {
		return nil
	}
	return fmt.Errorf("%s does not verify against %s: %s", r.Image, r.Policy, strings.Join(r.Problems, "; "))
}

// Verify reads what is attached to image and checks it against the policy:
// each required kind needs one bundle that verifies (signature by the key or
// identity, DSSE statement about this very digest); the SBOM must be
// CycloneDX; the provenance must be SLSA v1 and name SourceCommit. The
// report says what was found; Report.Err is the refusal.
func Verify(ctx context.Context, image name.Digest, p Policy, opts ...remote.Option) (*Report, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	v, err := p.verifier()
	if err != nil {
		return nil, err
	}
	rep := &Report{Image: image.String(), Policy: p.Describe(), Attached: map[string]int{}}
	as, err := List(ctx, image, opts...)
	if err != nil {
		return nil, err
	}
	byKind := map[string][]Attachment{}
	for _, a := range as {
		k := Kind(a.PredicateType)
		byKind[k] = append(byKind[k], a)
	}
	// Attachments listed with no predicate annotation could be anything:
	// they are candidates for every kind.
	unknown := byKind[""]
	var want []Attachment
	for _, k := range p.required() {
		want = append(want, byKind[k]...)
	}
	want = append(want, unknown...)
	Fetch(ctx, image, want, opts...)
	fetched := map[string]Attachment{}
	for _, a := range want {
		fetched[a.Manifest] = a
	}
	// Count what is attached, by what each manifest says it is when the
	// referrers index did not say.
	rep.Attached = map[string]int{}
	for _, a := range as {
		pt := a.PredicateType
		if f, ok := fetched[a.Manifest]; ok && f.PredicateType != "" {
			pt = f.PredicateType
		}
		k := Kind(pt)
		if k == "" {
			k = "unknown"
		}
		rep.Attached[k]++
	}
	hexDigest := strings.TrimPrefix(image.DigestStr(), "sha256:")
	digestBytes, err := hex.DecodeString(hexDigest)
	if err != nil {
		return nil, fmt.Errorf("%s: not a sha256 digest", image)
	}
	for _, k := range p.required() {
		pt, _ := PredicateOf(k)
		cands := append(append([]Attachment(nil), byKind[k]...), unknown...)
		if len(cands) == 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("no %s attached", k))
			continue
		}
		var why []string
		var found *Found
		for _, c := range cands {
			a := fetched[c.Manifest]
			f, err := p.check(v, a, pt, image, digestBytes)
			if err != nil {
				if byKind[k] != nil || !errors.Is(err, errOtherPredicate) {
					why = append(why, fmt.Sprintf("%s %s: %v", k, ShortDigest(a.Manifest), err))
				}
				continue
			}
			found = f
			break
		}
		if found == nil {
			if len(why) == 0 {
				why = []string{"no " + k + " attached"}
			}
			rep.Problems = append(rep.Problems, strings.Join(dedupe(why), "; "))
			continue
		}
		switch k {
		case "signature":
			rep.Signature = found
		case "sbom":
			rep.SBOM = found
		case "provenance":
			rep.Provenance = found
		}
	}
	rep.Verified = len(rep.Problems) == 0
	return rep, nil
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

var errOtherPredicate = errors.New("another predicate type")

func (p Policy) verifier() (*verify.Verifier, error) {
	if p.Key != nil {
		sv, err := keyVerifier(p.Key)
		if err != nil {
			return nil, err
		}
		tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
			return root.NewExpiringKey(sv, time.Time{}, time.Time{}), nil
		})
		return verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
	}
	opts := []verify.VerifierOption{verify.WithObserverTimestamps(1)}
	if len(p.TrustedRoot.RekorLogs()) > 0 {
		opts = append(opts, verify.WithTransparencyLog(1))
	}
	if len(p.TrustedRoot.CTLogs()) > 0 {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	return verify.NewVerifier(p.TrustedRoot, opts...)
}

func keyVerifier(pub crypto.PublicKey) (signature.Verifier, error) {
	h := crypto.SHA256
	if ek, ok := pub.(*ecdsa.PublicKey); ok {
		switch ek.Curve {
		case elliptic.P384():
			h = crypto.SHA384
		case elliptic.P521():
			h = crypto.SHA512
		}
	}
	return signature.LoadVerifier(pub, h)
}

// check verifies one attachment as kind pt.
func (p Policy) check(v *verify.Verifier, a Attachment, pt string, image name.Digest, digest []byte) (*Found, error) {
	if a.Err != nil {
		return nil, a.Err
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(a.Data); err != nil {
		return nil, fmt.Errorf("not a Sigstore bundle: %w", err)
	}
	var id verify.PolicyOption
	if p.Key != nil {
		id = verify.WithKey()
	} else {
		ci, err := verify.NewShortCertificateIdentity(p.Issuer, p.IssuerRegexp, p.Identity, p.IdentityRegexp)
		if err != nil {
			return nil, fmt.Errorf("verification policy: %w", err)
		}
		id = verify.WithCertificateIdentity(ci)
	}
	res, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), id))
	if err != nil {
		return nil, explain(err, p)
	}
	st := res.Statement
	if st == nil {
		return nil, errors.New("the bundle holds no in-toto statement")
	}
	if st.GetPredicateType() != pt {
		if a.PredicateType == "" {
			return nil, errOtherPredicate
		}
		return nil, fmt.Errorf("its statement is a %s, its annotation says %s", st.GetPredicateType(), a.PredicateType)
	}
	f := &Found{Attachment: a, Signer: p.Describe()}
	f.Data = nil
	if c := res.Signature.Certificate; c != nil {
		f.Signer = c.SubjectAlternativeName + " (issuer " + c.Issuer + ")"
	}
	for _, ts := range res.VerifiedTimestamps {
		t := ts.Timestamp.UTC()
		f.SignedAt = &t
		break
	}
	predicate, err := st.GetPredicate().MarshalJSON()
	if err != nil {
		return nil, err
	}
	switch pt {
	case SBOMPredicate:
		// The same reader as the scan stage's agreement check.
		sb, _, err := scan.ParseSBOM(predicate)
		if err != nil {
			return nil, fmt.Errorf("SBOM: %w", err)
		}
		f.Components = sb.Components
	case ProvenancePredicate:
		_, prov, err := provenance.Parse(mustStatementJSON(&b))
		if err != nil {
			return nil, err
		}
		f.Builder = prov.GetRunDetails().GetBuilder().GetId()
		f.BuildType = prov.GetBuildDefinition().GetBuildType()
		f.SourceCommit = provenance.SourceCommit(prov)
		if src, ok := prov.GetBuildDefinition().GetExternalParameters().AsMap()["source"].(map[string]any); ok {
			f.SourceRepo, _ = src["repository"].(string)
		}
		if p.SourceCommit != "" && f.SourceCommit == "" {
			return nil, fmt.Errorf("its provenance names no source commit (an image Slipway pushed but did not build, with no --source-commit), not %s", p.SourceCommit)
		}
		if p.SourceCommit != "" && f.SourceCommit != p.SourceCommit {
			return nil, fmt.Errorf("built from commit %s, not %s", f.SourceCommit, p.SourceCommit)
		}
	}
	return f, nil
}

// mustStatementJSON is the DSSE payload (the statement as signed).
func mustStatementJSON(b *bundle.Bundle) []byte {
	if env := b.GetDsseEnvelope(); env != nil {
		return env.GetPayload()
	}
	return nil
}

// explain turns sigstore-go's errors into the words an operator needs.
func explain(err error, p Policy) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "does not match any digest in statement"), strings.Contains(msg, "does not match digests in statement"):
		return errors.New("its statement is about another digest")
	case p.Key != nil && (strings.Contains(msg, "failed to verify signature") || strings.Contains(msg, "invalid signature")):
		return fmt.Errorf("signed by another key, or altered after signing (want %s)", p.Describe())
	case p.Key != nil && strings.Contains(msg, "verification content"):
		return errors.New("signed with a certificate, not a key")
	}
	return err
}
