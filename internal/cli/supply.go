package cli

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/outdir"
	"github.com/slipway-ci/slipway/internal/redact"
	"github.com/slipway-ci/slipway/internal/registry"
	"github.com/slipway-ci/slipway/internal/release"
	"github.com/slipway-ci/slipway/internal/secret"
)

// Signing configuration (environment only: these are secrets).
const (
	envSigningKey      = "SLIPWAY_SIGNING_KEY"
	envSigningPassword = "SLIPWAY_SIGNING_KEY_PASSWORD"
	envVerifyKey       = "SLIPWAY_VERIFY_KEY"
	// GitHub's OIDC issuer, the one keyless identities of GitHub Actions name.
	githubIssuer = "https://token.actions.githubusercontent.com"
	// Sigstore's public-good instances (keyless signing in GitHub Actions).
	defaultFulcio = "https://fulcio.sigstore.dev"
	defaultRekor  = "https://rekor.sigstore.dev"
)

// VerifyConfig is the verification policy a Go configuration sets (see
// slipway.Verify); flags and SLIPWAY_VERIFY_KEY override it.
type VerifyConfig struct {
	Key                  string
	Identity, IdentityRE string
	Issuer, IssuerRE     string
	TrustedRoot          string
	Require              []string
}

// validate checks the configured policy before anything runs (exit 2).
func (c VerifyConfig) validate() error {
	keyless := c.Identity != "" || c.IdentityRE != "" || c.Issuer != "" || c.IssuerRE != ""
	switch {
	case c.Key != "" && keyless:
		return errors.New("Config.Verify: set Key or a keyless Identity and Issuer, not both")
	case keyless && (c.Identity == "" && c.IdentityRE == "" || c.Issuer == "" && c.IssuerRE == ""):
		return errors.New("Config.Verify: a keyless policy needs Identity (or IdentityRegexp) and Issuer (or IssuerRegexp)")
	case c.Key != "":
		if _, err := os.Stat(c.Key); err != nil {
			return fmt.Errorf("Config.Verify.Key %q: %w; point it at a PEM public key (slipway keygen writes one)", c.Key, errors.Unwrap(err))
		}
	}
	for _, k := range c.Require {
		if _, ok := attest.PredicateOf(k); !ok {
			return fmt.Errorf("Config.Verify.Require: %q: want signature, sbom or provenance", k)
		}
	}
	return nil
}

// verifyFlags are the policy flags of deploy, promote, rollback, verify and
// the pipeline.
type verifyFlags struct {
	key, identity, identityRE, issuer, issuerRE, trustedRoot string
	require                                                  []string
}

func bindVerifyFlags(f *pflag.FlagSet, vf *verifyFlags) {
	f.StringVar(&vf.key, "verify-key", "", "verify the image's signature and attestations with this public key before deploying (env "+envVerifyKey+")")
	f.StringVar(&vf.identity, "certificate-identity", "", "verify keyless signatures: the identity the signing certificate must name (e.g. https://github.com/ORG/REPO/.github/workflows/ci.yml@refs/heads/main)")
	f.StringVar(&vf.identityRE, "certificate-identity-regexp", "", "like --certificate-identity, as a regular expression")
	f.StringVar(&vf.issuer, "certificate-oidc-issuer", "", "verify keyless signatures: the OIDC issuer the certificate must name (GitHub Actions: "+githubIssuer+")")
	f.StringVar(&vf.issuerRE, "certificate-oidc-issuer-regexp", "", "like --certificate-oidc-issuer, as a regular expression")
	f.StringVar(&vf.trustedRoot, "trusted-root", "", "Sigstore trusted root JSON for keyless verification (default: fetched from Sigstore's TUF repository)")
	f.StringSliceVar(&vf.require, "verify-require", nil, "attestations that must verify: signature, sbom, provenance (default all three)")
}

func (vf *verifyFlags) set() bool {
	return vf.key != "" || vf.identity != "" || vf.identityRE != "" || vf.issuer != "" || vf.issuerRE != ""
}

// effectiveVerify is the policy as given: flags, else SLIPWAY_VERIFY_KEY,
// else the Go configuration (whose Require and TrustedRoot also fill what the
// flags leave empty).
func (o *options) effectiveVerify(vf *verifyFlags) verifyFlags {
	eff := *vf
	if !eff.set() {
		if k := os.Getenv(envVerifyKey); k != "" {
			eff.key = k
		} else if c := o.proj.Verify; c.Key != "" || c.Identity != "" || c.IdentityRE != "" {
			eff = verifyFlags{key: c.Key, identity: c.Identity, identityRE: c.IdentityRE, issuer: c.Issuer, issuerRE: c.IssuerRE, trustedRoot: c.TrustedRoot}
		}
	}
	if len(eff.require) == 0 {
		eff.require = o.proj.Verify.Require
	}
	if eff.trustedRoot == "" {
		eff.trustedRoot = o.proj.Verify.TrustedRoot
	}
	return eff
}

// checkPolicy is what the command line or the configuration can get wrong
// in a verification policy (a key and an identity, an identity without an
// issuer, an unknown --verify-require): a usage error before any file is
// read, any registry asked or Sigstore's trusted root fetched. The policy
// it returns has neither its key nor its trusted root; nil: none is set.
func (o *options) checkPolicy(vf *verifyFlags) (*attest.Policy, error) {
	eff := o.effectiveVerify(vf)
	if !eff.set() {
		if vf.trustedRoot != "" || len(vf.require) > 0 {
			return nil, usageErr("--trusted-root and --verify-require need a policy: --verify-key FILE, or --certificate-identity and --certificate-oidc-issuer")
		}
		return nil, nil
	}
	p := &attest.Policy{Identity: eff.identity, IdentityRegexp: eff.identityRE, Issuer: eff.issuer, IssuerRegexp: eff.issuerRE, Require: eff.require}
	if err := p.CheckGiven(eff.key != ""); err != nil {
		return nil, usageErr("%v", err)
	}
	return p, nil
}

// policy resolves the verification policy (effectiveVerify) and loads its
// key or trusted root; nil when none is set.
func (o *options) policy(vf *verifyFlags) (*attest.Policy, error) {
	p, err := o.checkPolicy(vf)
	if err != nil || p == nil {
		return p, err
	}
	eff := o.effectiveVerify(vf)
	if eff.key != "" {
		data, err := os.ReadFile(eff.key)
		if err != nil {
			return nil, usageErr("--verify-key %s: %v", eff.key, errors.Unwrap(err))
		}
		pub, err := attest.ParsePublicKey(data)
		if err != nil {
			return nil, usageErr("--verify-key %s: %v", eff.key, err)
		}
		p.Key = pub
	} else {
		tr, err := trustedRoot(eff.trustedRoot)
		if err != nil {
			return nil, err
		}
		p.TrustedRoot = tr
	}
	if err := p.Check(); err != nil {
		return nil, usageErr("%v", err)
	}
	return p, nil
}

// trustedRoot is the trusted root JSON of a keyless policy: the file, once
// the keyless implementation read it, or Sigstore's, fetched from its TUF
// repository.
func trustedRoot(path string) ([]byte, error) {
	ctx := context.Background()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, usageErr("--trusted-root %s: %v", path, errors.Unwrap(err))
		}
		tr, err := attest.TrustedRoot(ctx, data)
		if errors.Is(err, attest.ErrHelper) {
			return nil, failErr(err)
		}
		if err != nil {
			return nil, usageErr("--trusted-root %s: %v", path, err)
		}
		return tr, nil
	}
	tr, err := attest.TrustedRoot(ctx, nil)
	if errors.Is(err, attest.ErrHelper) {
		return nil, failErr(err)
	}
	if err != nil {
		return nil, failErr(fmt.Errorf("keyless verification needs Sigstore's trusted root and fetching it failed (%w); offline, pass --trusted-root FILE", err))
	}
	return tr, nil
}

// signing is how this run signs what it pushes, and the policy it then
// verifies with when none is configured: its own key or identity.
type signing struct {
	signer attest.Signer
	own    *attest.Policy
	// what names the signer in logs ("key sha256:… from SLIPWAY_SIGNING_KEY").
	what string
}

// signer resolves the signing identity, in order: SLIPWAY_SIGNING_KEY (a
// file, or the PEM itself as a CI secret); in GitHub Actions with an OIDC
// token (id-token: write), keyless; outside CI, a development key created in
// out/signing/; in CI with none of these, nothing (nil): the push is
// unsigned, and a deploy with a policy refuses it.
func (o *options) signer() (*signing, error) {
	o.signOnce.Do(func() { o.signing, o.signErr = o.loadSigner() })
	return o.signing, o.signErr
}

func (o *options) loadSigner() (*signing, error) {
	if v := os.Getenv(envSigningKey); v != "" {
		data, src, err := secret.Key(envSigningKey, v)
		if err != nil {
			return nil, usageErr("%v (`%s keygen` writes a key pair)", err, o.proj.Name)
		}
		k, err := attest.ParsePrivateKey(data, []byte(os.Getenv(envSigningPassword)))
		if err != nil {
			if errors.Is(err, attest.ErrPassword) {
				return nil, usageErr("%s: %v: set %s to the key's password", src, err, envSigningPassword)
			}
			return nil, usageErr("%s: %v", src, err)
		}
		if k.Hash() == crypto.SHA384 {
			o.logf("note: %s is an ECDSA P-384 key: Slipway signs it with SHA-384 (the Sigstore spec; cosign sign does too), and cosign 3.1.3 verifies it only with --signature-digest-algorithm sha384 (a P-256 key, as keygen writes, needs no flag)", src)
		}
		return &signing{signer: attest.KeySigner{Key: k}, own: &attest.Policy{Key: k.GetPublicKey()}, what: "key " + k.Fingerprint() + " from " + src}, nil
	}
	if os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL") != "" && os.Getenv("GITHUB_WORKFLOW_REF") != "" {
		server := strings.TrimSuffix(envDefault("", "GITHUB_SERVER_URL", "https://github.com"), "/")
		identity := server + "/" + os.Getenv("GITHUB_WORKFLOW_REF")
		s := &attest.KeylessSigner{
			FulcioURL: envDefault("", "SLIPWAY_FULCIO_URL", defaultFulcio),
			RekorURLs: []string{envDefault("", "SLIPWAY_REKOR_URL", defaultRekor)},
			Token:     o.learnToken(githubToken(os.Getenv)),
			Expected:  identity,
		}
		return &signing{signer: s, own: &attest.Policy{Identity: identity, Issuer: githubIssuer}, what: "keyless as " + identity}, nil
	}
	if inCI() {
		return nil, nil
	}
	k, created, err := devKey(o.out, o.outPath("signing"))
	if err != nil {
		return nil, fmt.Errorf("development signing key: %w", err)
	}
	what := "development key " + k.Fingerprint() + " in " + o.outPath("signing")
	if created {
		o.logf("created a development signing key in %s (set %s for a real one; `%s keygen` writes a pair)", o.outPath("signing"), envSigningKey, o.proj.Name)
	}
	return &signing{signer: attest.KeySigner{Key: k}, own: &attest.Policy{Key: k.GetPublicKey()}, what: what}, nil
}

// devKey loads or creates out/signing/slipway.key (unencrypted, 0600) and
// slipway.pub: local runs sign and verify like CI ones, with a throwaway key.
func devKey(out, dir string) (*attest.Key, bool, error) {
	keyPath := filepath.Join(dir, "slipway.key")
	if data, err := os.ReadFile(keyPath); err == nil {
		k, err := attest.ParsePrivateKey(data, nil)
		return k, false, err
	}
	k, err := attest.GenerateEphemeral()
	if err != nil {
		return nil, false, err
	}
	priv, pub, err := k.MarshalUnencrypted()
	if err != nil {
		return nil, false, err
	}
	if err := outdir.MkdirAll(out, dir, 0o700); err != nil {
		return nil, false, err
	}
	if err := os.WriteFile(filepath.Join(dir, "slipway.pub"), pub, 0o644); err != nil {
		return nil, false, err
	}
	if err := os.WriteFile(keyPath, priv, 0o600); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// githubToken fetches the job's OIDC token for Sigstore (audience
// "sigstore"). Neither the request token nor the answer is ever printed.
func githubToken(getenv func(string) string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		u, err := url.Parse(getenv("ACTIONS_ID_TOKEN_REQUEST_URL"))
		if err != nil {
			return "", errors.New("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL")
		}
		q := u.Query()
		q.Set("audience", "sigstore")
		u.RawQuery = q.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", "bearer "+getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", fmt.Errorf("GitHub OIDC token: %w", redact.Error(err, getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")))
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("GitHub OIDC token: HTTP %d (does the workflow grant `permissions: id-token: write`?)", resp.StatusCode)
		}
		var body struct {
			Value string `json:"value"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil || body.Value == "" {
			return "", errors.New("GitHub OIDC token: the answer holds no token")
		}
		return body.Value, nil
	}
}

// verifyHook is the Deployer's Verify: each digest is read back from its
// registry and verified against the policy, the provenance against the
// commit being deployed.
func (o *options) verifyHook(p *attest.Policy, opts ...registry.Option) func(context.Context, gitops.Request) (*gitops.Verification, error) {
	return func(ctx context.Context, req gitops.Request) (*gitops.Verification, error) {
		rep, err := o.verifyImage(ctx, req.Image.String(), p, req.SourceCommit, opts...)
		if err != nil {
			return nil, err
		}
		if err := rep.Err(); err != nil {
			return nil, err
		}
		o.logf("verified %s: signed by %s; provenance: commit %s, builder %s", req.Image.Short(), rep.Signature.Signer, short(rep.Provenance.SourceCommit), rep.Provenance.Builder)
		return &gitops.Verification{Bundle: rep.Signature.Bundle, Signer: rep.Signature.Signer}, nil
	}
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// verifyImage verifies one REPO@sha256:… against a policy (a copy with the
// expected source commit).
func (o *options) verifyImage(ctx context.Context, ref string, p *attest.Policy, commit string, opts ...registry.Option) (*attest.Report, error) {
	r, err := registry.ParseReference(ref)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	d, ok := r.(name.Digest)
	if !ok {
		return nil, usageErr("%s: give the image by digest (REPO@sha256:…); a tag can move", ref)
	}
	pol := *p
	pol.SourceCommit = commit
	kc, err := o.registryOpts(d.Context())
	if err != nil {
		return nil, err
	}
	ropts, scrub := registry.Remote(ctx, append(kc, opts...)...)
	rep, err := attest.Verify(ctx, d, pol, ropts...)
	if err != nil {
		return nil, scrub(err)
	}
	return rep, nil
}

// registryOpts reads Slipway's own loopback registry without asking
// credential helpers; any other registry gets REGISTRY_USERNAME/PASSWORD
// only when it is the one registry they belong to (credentialHost). When
// they are set and that registry is unknown it is a usage error naming
// REGISTRY_HOST, never a silent anonymous request.
func (o *options) registryOpts(repo name.Repository) ([]registry.Option, error) {
	if registry.IsLoopback(repo.RegistryStr()) && os.Getenv("REGISTRY_USERNAME") == "" && os.Getenv("REGISTRY_PASSWORD") == "" {
		return []registry.Option{registry.WithKeychain(registry.Anonymous())}, nil
	}
	kc, err := o.keychain()
	if err != nil {
		return nil, err
	}
	return []registry.Option{registry.WithKeychain(kc)}, nil
}

// keychain is the credential resolution of every registry request: the
// static pair bound to credentialHost, GITHUB_TOKEN for ghcr.io, the Docker
// config.
func (o *options) keychain() (authn.Keychain, error) {
	host, err := o.credentialHost()
	if err != nil {
		return nil, err
	}
	var learn func(string)
	if o.secrets != nil {
		learn = o.secrets.Add // a credential helper's answer is a secret too
	}
	return registry.Learning(registry.KeychainFor(host, os.Getenv), learn), nil
}

// credentialHost is the one registry REGISTRY_USERNAME/REGISTRY_PASSWORD
// are given to: REGISTRY_HOST, else the registry of the configured
// App.Image when they are all on one host; otherwise a usage error (exit 2).
func (o *options) credentialHost() (string, error) {
	var images []string
	for _, a := range o.proj.Apps {
		if a.Image != "" {
			images = append(images, a.Image)
		}
	}
	host, err := registry.CredentialHost(os.Getenv, images)
	if err != nil {
		return "", usageErr("%v", err)
	}
	return host, nil
}

// signOnceState is embedded in options.
type signOnceState struct {
	signOnce sync.Once
	signing  *signing
	signErr  error
}

// releaseSigning is the release flow's view of this machine's signer: nil
// when nothing signs (CI with no key and no OIDC token).
func (o *options) releaseSigning(trustedRootFlag string) (*release.Signing, error) {
	s, err := o.signer()
	if err != nil || s == nil {
		return nil, err
	}
	return &release.Signing{Signer: s.signer, Name: s.what, Own: func() (*attest.Policy, error) {
		own := *s.own
		if own.Key == nil {
			var err error
			if own.TrustedRoot, err = trustedRoot(trustedRootFlag); err != nil {
				return nil, err
			}
		}
		return &own, nil
	}}, nil
}

// attachVerify sets the deployer's Verify hook from the policy flags, the
// environment or the Go configuration; with none set, deploys are not verified.
func (o *options) attachVerify(d *gitops.Deployer, vf *verifyFlags) error {
	p, err := o.policy(vf)
	if err != nil {
		return err
	}
	if p != nil {
		d.Verify = o.verifyHook(p)
	}
	return nil
}
