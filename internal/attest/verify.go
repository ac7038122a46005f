package attest

import (
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/provenance"
	"github.com/slipway-ci/slipway/internal/scan"
)

// Policy is what a digest must prove before it is deployed.
type Policy struct {
	// Key verifies key-signed bundles (cosign.pub, slipway keygen's .pub).
	Key crypto.PublicKey
	// Identity/IdentityRegexp and Issuer/IssuerRegexp are what a keyless
	// signature's certificate must name (SAN and OIDC issuer), checked
	// against TrustedRoot (Sigstore's trusted root JSON: Fulcio CAs, Rekor
	// logs, CT logs, timestamp authorities; TrustedRoot(ctx, nil) fetches it).
	Identity, IdentityRegexp string
	Issuer, IssuerRegexp     string
	TrustedRoot              []byte
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
	if err := p.CheckGiven(p.Key != nil); err != nil {
		return err
	}
	if p.Key == nil && len(p.TrustedRoot) == 0 {
		return errors.New("verification policy: a keyless policy needs a trusted root (--trusted-root FILE)")
	}
	return nil
}

// CheckGiven is Check before the key and the trusted root are loaded: what
// a command line or a configuration can get wrong (a key and an identity,
// an identity without an issuer, an unknown --verify-require), checked
// before any file is read or anything is fetched. hasKey says a key is
// given (p.Key may not be loaded yet).
func (p Policy) CheckGiven(hasKey bool) error {
	keyless := p.Identity != "" || p.IdentityRegexp != "" || p.Issuer != "" || p.IssuerRegexp != ""
	switch {
	case hasKey && keyless:
		return errors.New("verification policy: give a key or a certificate identity, not both")
	case !hasKey && !keyless:
		return errors.New("verification policy: no key and no certificate identity")
	case keyless && (p.Identity == "" && p.IdentityRegexp == "" || p.Issuer == "" && p.IssuerRegexp == ""):
		return errors.New("verification policy: a keyless policy needs both --certificate-identity and --certificate-oidc-issuer")
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
	hexDigest, ok := strings.CutPrefix(image.DigestStr(), "sha256:")
	digestBytes, err := hex.DecodeString(hexDigest)
	if !ok || err != nil || len(digestBytes) != 32 {
		return nil, fmt.Errorf("%s: not a sha256 digest", image)
	}
	verdicts, err := p.verifyAll(ctx, image.DigestStr(), digestBytes, want)
	if err != nil {
		return nil, err
	}
	// Count what is attached, by kind: what a bundle that verifies signed,
	// else what its manifest says, else what the referrers index says
	// (neither annotation is signed).
	rep.Attached = map[string]int{}
	for _, a := range as {
		pt := a.PredicateType
		if f, ok := fetched[a.Manifest]; ok && f.PredicateType != "" {
			pt = f.PredicateType
		}
		if v, ok := verdicts[a.Manifest]; ok && v.err == nil && v.st != nil {
			pt = v.st.PredicateType
		}
		k := Kind(pt)
		if k == "" {
			k = "unknown"
		}
		rep.Attached[k]++
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
		var provs []*Found
		for _, c := range cands {
			a := fetched[c.Manifest]
			f, err := p.check(verdicts[a.Manifest], a, pt)
			if err != nil {
				if byKind[k] != nil || !errors.Is(err, errOtherPredicate) {
					why = append(why, fmt.Sprintf("%s %s: %v", k, ShortDigest(a.Manifest), err))
				}
				continue
			}
			if k != "provenance" {
				found = f
				break
			}
			// Every provenance that verifies is read: which one comes
			// first is up to whoever writes the referrers (their created
			// annotation is not signed).
			provs = append(provs, f)
		}
		if len(provs) > 0 {
			if err := disagree(provs); err != nil {
				rep.Problems = append(rep.Problems, err.Error())
				continue
			}
			found = provs[0]
			if err := p.sourceCommit(found); err != nil {
				why = append(why, fmt.Sprintf("%s %s: %v", k, ShortDigest(found.Manifest), err))
				found = nil
			}
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

// verdict is what one attachment's bundle proved, or why it proves nothing.
type verdict struct {
	st       *inTotoStatement
	payload  []byte
	signer   string
	signedAt *time.Time
	err      error
}

// verifyAll verifies every fetched bundle against the policy and the
// digest: with a key in plain Go (verifyKeyBundle), keyless in one call to
// the Keyless implementation.
func (p Policy) verifyAll(ctx context.Context, digest string, digestBytes []byte, as []Attachment) (map[string]verdict, error) {
	out := map[string]verdict{}
	var pending []Attachment
	for _, a := range as {
		if _, ok := out[a.Manifest]; ok {
			continue
		}
		switch {
		case a.Err != nil:
			out[a.Manifest] = verdict{err: a.Err}
		case p.Key != nil:
			st, payload, err := verifyKeyBundle(p.Key, a.Data, digestBytes)
			if errors.Is(err, errSignature) {
				err = fmt.Errorf("signed by another key, or altered after signing (want %s)", p.Describe())
			}
			out[a.Manifest] = verdict{st: st, payload: payload, signer: p.Describe(), err: err}
		default:
			out[a.Manifest] = verdict{}
			pending = append(pending, a)
		}
	}
	if len(pending) == 0 {
		return out, nil
	}
	bundles := make([][]byte, len(pending))
	for i, a := range pending {
		bundles[i] = a.Data
	}
	vs, err := keylessImpl().Verify(ctx, KeylessPolicy{
		Identity: p.Identity, IdentityRegexp: p.IdentityRegexp, Issuer: p.Issuer, IssuerRegexp: p.IssuerRegexp, TrustedRoot: p.TrustedRoot,
	}, digest, bundles)
	if err != nil {
		return nil, err
	}
	if len(vs) != len(pending) {
		return nil, fmt.Errorf("keyless verification: %d verdicts for %d bundles", len(vs), len(pending))
	}
	for i, a := range pending {
		v := vs[i]
		if v.Err != "" {
			out[a.Manifest] = verdict{err: errors.New(v.Err)}
			continue
		}
		// sigstore-go verified the signature and the subject; the statement
		// is read here by the same strict reader as a key-signed one's.
		st, err := parseStatement(v.Statement)
		if err == nil {
			err = st.about(digestBytes)
		}
		out[a.Manifest] = verdict{st: st, payload: v.Statement, signer: v.Signer, signedAt: v.SignedAt, err: err}
	}
	return out, nil
}

// check reads one verified attachment as kind pt.
func (p Policy) check(v verdict, a Attachment, pt string) (*Found, error) {
	if v.err != nil {
		return nil, v.err
	}
	st := v.st
	if st.PredicateType != pt {
		if a.PredicateType == "" {
			return nil, errOtherPredicate
		}
		return nil, fmt.Errorf("its statement is a %s, its annotation says %s", st.PredicateType, a.PredicateType)
	}
	f := &Found{Attachment: a, Signer: v.signer, SignedAt: v.signedAt}
	f.Data = nil
	predicate := []byte(st.Predicate)
	switch pt {
	case SBOMPredicate:
		// The same reader as the scan stage's agreement check.
		sb, _, err := scan.ParseSBOM(predicate)
		if err != nil {
			return nil, fmt.Errorf("SBOM: %w", err)
		}
		f.Components = sb.Components
	case ProvenancePredicate:
		_, prov, err := provenance.Parse(v.payload)
		if err != nil {
			return nil, err
		}
		f.Builder = prov.GetRunDetails().GetBuilder().GetId()
		f.BuildType = prov.GetBuildDefinition().GetBuildType()
		f.SourceCommit = provenance.SourceCommit(prov)
		if src, ok := prov.GetBuildDefinition().GetExternalParameters().AsMap()["source"].(map[string]any); ok {
			f.SourceRepo, _ = src["repository"].(string)
		}
	}
	return f, nil
}

// sourceCommit checks a provenance against the commit the policy names.
func (p Policy) sourceCommit(f *Found) error {
	if p.SourceCommit != "" && f.SourceCommit == "" {
		return fmt.Errorf("its provenance names no source commit (an image Slipway pushed but did not build, with no --source-commit), not %s", p.SourceCommit)
	}
	if p.SourceCommit != "" && f.SourceCommit != p.SourceCommit {
		return fmt.Errorf("built from commit %s, not %s", f.SourceCommit, p.SourceCommit)
	}
	return nil
}

// disagree refuses verified provenances of one digest that state
// different facts a record depends on (source commit, source repository,
// builder, build type): one line naming the first two values that differ
// and the bundles stating them.
func disagree(provs []*Found) error {
	facts := []struct {
		what string
		of   func(*Found) string
	}{
		{"source commit", func(f *Found) string { return f.SourceCommit }},
		{"source repository", func(f *Found) string { return f.SourceRepo }},
		{"builder", func(f *Found) string { return f.Builder }},
		{"build type", func(f *Found) string { return f.BuildType }},
	}
	for _, fact := range facts {
		first := provs[0]
		for _, f := range provs[1:] {
			a, b := fact.of(first), fact.of(f)
			if a == b {
				continue
			}
			x, y := first, f
			// The same line whatever the referrers' order.
			if a > b {
				a, b, x, y = b, a, f, first
			}
			return fmt.Errorf("provenance: %d verified provenances disagree on the %s: %s (bundle %s) and %s (bundle %s); refusing to pick one (whoever can write the referrers decides their order)",
				len(provs), fact.what, orUnknown(a), ShortDigest(x.Bundle), orUnknown(b), ShortDigest(y.Bundle))
		}
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
