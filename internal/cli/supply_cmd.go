package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/outdir"
	"github.com/slipway-ci/slipway/internal/provenance"
	"github.com/slipway-ci/slipway/internal/safetext"
)

func newVerifyCmd(o *options) *cobra.Command {
	var (
		vf      verifyFlags
		commit  string
		asJSON  bool
		ownKeys bool
	)
	cmd := &cobra.Command{
		Use:   "verify IMAGE@sha256:… [--verify-key FILE | --certificate-identity ID --certificate-oidc-issuer URL]",
		Short: "Show what is attached to a digest (signature, SBOM, provenance) and check it against a policy; exit 1 when it fails",
		Long: `Read the Sigstore bundles attached to IMAGE@sha256:… as OCI referrers (or
the referrers tag where the registry has no referrers API) and verify them:
the signature against the key or the certificate identity and issuer, each
statement's subject against the digest, the SBOM as CycloneDX, the provenance
as SLSA v1 (and, with --source-commit, its commit). Prints the SBOM's
component count, the provenance's builder and source commit, and the signer.

The policy comes from the flags, else SLIPWAY_VERIFY_KEY, else the Go
configuration, else (--own) the key this machine signs with. Needs no engine.`,
		Example: `  go run ./ci verify ghcr.io/acme/payments@sha256:… --verify-key cosign.pub
  go run ./ci verify ghcr.io/acme/payments@sha256:… \
    --certificate-identity https://github.com/acme/payments/.github/workflows/ci.yml@refs/heads/main \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := o.policy(&vf)
			if err != nil {
				return err
			}
			if p == nil && ownKeys {
				s, err := o.signer()
				if err != nil {
					return err
				}
				if s != nil && s.own.Key != nil {
					own := *s.own
					own.Require = vf.require
					p = &own
				}
			}
			if p == nil {
				return usageErr("verify: no policy: pass --verify-key FILE, or --certificate-identity and --certificate-oidc-issuer (or set %s)", envVerifyKey)
			}
			rep, err := o.verifyImage(cmd.Context(), args[0], p, commit)
			if err != nil {
				return failErr(err)
			}
			if asJSON {
				data, _ := json.MarshalIndent(rep, "", "  ")
				fmt.Fprintln(o.stdout, string(data))
			} else {
				printReport(o, rep)
			}
			return failErr(rep.Err())
		},
	}
	f := cmd.Flags()
	bindVerifyFlags(f, &vf)
	f.StringVar(&commit, "source-commit", "", "the commit the provenance must name")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&ownKeys, "own", false, "with no policy given, verify against the key this machine signs with (SLIPWAY_SIGNING_KEY or the development key)")
	return cmd
}

func printReport(o *options, rep *attest.Report) {
	w := o.stdout
	// Every value here may come from the registry (an annotation, a
	// bundle's statement): printed escaped, none can pose as a line.
	printf := func(format string, a ...any) { fmt.Fprint(w, safetext.Sprintf(format, a...)) }
	printf("image:       %s\n", rep.Image)
	printf("policy:      %s\n", rep.Policy)
	var kinds []string
	for k, n := range rep.Attached {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(kinds)
	printf("attached:    %s\n", noneIfEmpty(strings.Join(kinds, ", ")))
	if s := rep.Signature; s != nil {
		printf("signature:   verified; signed by %s%s (bundle %s)\n", s.Signer, signedAt(s), s.Bundle)
	}
	if s := rep.SBOM; s != nil {
		printf("sbom:        verified; CycloneDX, %d components (bundle %s)\n", s.Components, s.Bundle)
	}
	if s := rep.Provenance; s != nil {
		commit, built := s.SourceCommit, ""
		if commit == "" {
			commit = "unknown"
		}
		if s.BuildType == provenance.PushedType {
			built = " (pushed by Slipway, not built by it)"
		}
		printf("provenance:  verified; source %s commit %s; builder %s%s (bundle %s)\n", noneIfEmpty(s.SourceRepo), commit, s.Builder, built, s.Bundle)
	}
	for _, p := range rep.Problems {
		printf("problem:     %s\n", p)
	}
	if rep.Verified {
		printf("result:      verified\n")
	} else {
		printf("result:      REFUSED\n")
	}
}

func signedAt(f *attest.Found) string {
	if f.SignedAt == nil {
		return ""
	}
	return " at " + f.SignedAt.Format("2006-01-02 15:04:05Z")
}

func noneIfEmpty(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func newKeygenCmd(o *options) *cobra.Command {
	var prefix string
	var force, noPassword bool
	cmd := &cobra.Command{
		Use:   "keygen [--output-key-prefix slipway]",
		Short: "Write a signing key pair: PREFIX.key (encrypted, cosign's format) and PREFIX.pub",
		Long: `Write an ECDSA P-256 key pair for signing what Slipway pushes: PREFIX.key,
encrypted with the password in ` + envSigningPassword + ` (cosign's "ENCRYPTED
SIGSTORE PRIVATE KEY" format, so cosign reads it too), and PREFIX.pub. Store
the .key file's content and its password as CI secrets (` + envSigningKey + `,
` + envSigningPassword + `); commit the .pub and verify with --verify-key PREFIX.pub.
With --no-password the key is encrypted with an empty password, as cosign
writes a passwordless key (COSIGN_PASSWORD= cosign reads it). Existing files
are never overwritten without --force.`,
		Example: `  SLIPWAY_SIGNING_KEY_PASSWORD=… go run ./ci keygen --output-key-prefix ci/slipway`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			password := os.Getenv(envSigningPassword)
			if password == "" && !noPassword {
				return usageErr("keygen: %s is empty: set it to the password that encrypts the key (or pass --no-password for a key with an empty password)", envSigningPassword)
			}
			keyPath, pubPath := prefix+".key", prefix+".pub"
			if !force {
				for _, p := range []string{keyPath, pubPath} {
					if _, err := os.Stat(p); err == nil {
						return usageErr("keygen: %s exists: pass --force to replace it, or another --output-key-prefix", p)
					}
				}
			}
			if noPassword {
				// cosign's passwordless key: the same encrypted format with
				// an empty password (cosign reads no unencrypted PKCS#8).
				password = ""
			}
			priv, pub, err := attest.GenerateKeyPair([]byte(password))
			if err != nil {
				return failErr(err)
			}
			if dir := filepath.Dir(keyPath); dir != "." {
				if err := outdir.MkdirAll(o.out, dir, 0o755); err != nil {
					return failErr(err)
				}
			}
			if err := os.WriteFile(keyPath, priv, 0o600); err != nil {
				return failErr(err)
			}
			if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
				return failErr(err)
			}
			p, _ := attest.ParsePublicKey(pub)
			o.logf("wrote %s (private: store its content as the %s secret, its password as %s) and %s (public: commit it; --verify-key %s)", keyPath, envSigningKey, envSigningPassword, pubPath, pubPath)
			fmt.Fprintln(o.stdout, attest.Fingerprint(p))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&prefix, "output-key-prefix", "slipway", "write PREFIX.key and PREFIX.pub")
	f.BoolVar(&force, "force", false, "replace existing files")
	f.BoolVar(&noPassword, "no-password", false, "encrypt the private key with an empty password, as cosign does (keep it in a secret store)")
	return cmd
}

func newPolicyCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy kyverno",
		Short: "Print an admission policy that refuses images CI did not sign",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newKyvernoCmd(o))
	return cmd
}

func newKyvernoCmd(o *options) *cobra.Command {
	var (
		vf      verifyFlags
		images  []string
		builder string
		name    string
		audit   bool
	)
	cmd := &cobra.Command{
		Use:   "kyverno [--verify-key FILE | --certificate-identity ID --certificate-oidc-issuer URL] [--image REPO...]",
		Short: "Print a Kyverno ClusterPolicy: verifyImages for this pipeline's images, with the key or keyless identity and the provenance's builder",
		Long: `Print a Kyverno ClusterPolicy whose verifyImages rule admits a Pod only when
each of this pipeline's images (--image, else the apps' images, else CI_IMAGE)
is pinned by digest (mutateDigest, verifyDigest), signed by the key or the
keyless identity, and carries a SLSA provenance attestation whose builder is
--builder (default: this repository's workflow in GitHub Actions).

The rule uses type: SigstoreBundle, the verifier that reads signatures stored
as OCI referrers (what Slipway and cosign v3 attach); see the README for the
Kyverno releases that mishandle referrer-only signatures.`,
		Example: `  go run ./ci policy kyverno --verify-key slipway.pub --image ghcr.io/acme/payments > policy.yaml
  go run ./ci policy kyverno --certificate-identity https://github.com/acme/payments/.github/workflows/ci.yml@refs/heads/main \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			kp, err := o.kyvernoInputs(&vf, images)
			if err != nil {
				return err
			}
			kp.builder, kp.name, kp.audit = builder, name, audit
			if kp.builder == "" && kp.identity != "" {
				kp.builder = kp.identity
			}
			doc, err := kyvernoPolicy(kp)
			if err != nil {
				return failErr(err)
			}
			fmt.Fprint(o.stdout, doc)
			if kp.keyPEM != "" {
				o.logf("note: Kyverno's SigstoreBundle verifier ignores static keys in some releases (kyverno#16267, #14233): check yours admits a signed image before enforcing; keyless signing in GitHub Actions avoids it")
			}
			return nil
		},
	}
	f := cmd.Flags()
	bindVerifyFlags(f, &vf)
	f.StringSliceVar(&images, "image", nil, "image repository the policy covers (repeatable; default: the apps' images or CI_IMAGE)")
	f.StringVar(&builder, "builder", "", "the builder id the provenance must name (default: the keyless identity; none with a key)")
	f.StringVar(&name, "name", "slipway-verify-images", "the ClusterPolicy's name")
	f.BoolVar(&audit, "audit", false, "Audit instead of Enforce (report, do not refuse)")
	return cmd
}

type kyvernoParams struct {
	name, keyPEM, identity, identityRE, issuer, issuerRE, builder string
	images                                                        []string
	audit                                                         bool
}

func (o *options) kyvernoInputs(vf *verifyFlags, images []string) (kyvernoParams, error) {
	eff := o.effectiveVerify(vf)
	kp := kyvernoParams{identity: eff.identity, identityRE: eff.identityRE, issuer: eff.issuer, issuerRE: eff.issuerRE}
	switch {
	case eff.key != "":
		data, err := os.ReadFile(eff.key)
		if err != nil {
			return kp, usageErr("policy kyverno: --verify-key %s: %v", eff.key, errors.Unwrap(err))
		}
		pub, err := attest.ParsePublicKey(data)
		if err != nil {
			return kp, usageErr("policy kyverno: --verify-key %s: %v", eff.key, err)
		}
		kp.keyPEM = strings.TrimSpace(string(data))
		if ec, ok := pub.(*ecdsa.PublicKey); ok && ec.Curve == elliptic.P384() {
			// Kyverno's keys attestor takes signatureAlgorithm sha256 (its
			// default) or sha512 only (StaticKeyAttestor.Validate refuses
			// anything else): no policy field can say SHA-384.
			o.logf("note: %s is an ECDSA P-384 key: Slipway signs with SHA-384, and Kyverno's keys attestor verifies only with signatureAlgorithm sha256 (its default) or sha512, so this policy will refuse those signatures; sign with a P-256 key (`%s keygen`) or keyless", eff.key, o.proj.Name)
		}
	case (eff.identity != "" || eff.identityRE != "") && (eff.issuer != "" || eff.issuerRE != ""):
	default:
		return kp, usageErr("policy kyverno: give --verify-key FILE, or --certificate-identity and --certificate-oidc-issuer")
	}
	kp.images = images
	if len(kp.images) == 0 {
		apps, _ := o.apps()
		ci := os.Getenv("CI_IMAGE")
		for _, a := range apps {
			switch {
			case a.Image != "":
				kp.images = append(kp.images, a.Image)
			case ci != "" && len(apps) > 1:
				kp.images = append(kp.images, strings.TrimSuffix(ci, "/")+"/"+a.Name)
			case ci != "":
				kp.images = append(kp.images, ci)
			}
		}
	}
	if len(kp.images) == 0 {
		return kp, usageErr("policy kyverno: no image repository: pass --image REPO (or set CI_IMAGE, or App.Image)")
	}
	return kp, nil
}

// kyvernoPolicy renders the ClusterPolicy.
func kyvernoPolicy(kp kyvernoParams) (string, error) {
	var entry map[string]any
	if kp.keyPEM != "" {
		entry = map[string]any{"keys": map[string]any{
			"publicKeys": kp.keyPEM,
			// Slipway signs air-gapped with a key: no transparency log entry.
			"rekor": map[string]any{"ignoreTlog": true},
			"ctlog": map[string]any{"ignoreSCT": true},
		}}
	} else {
		kl := map[string]any{"rekor": map[string]any{"url": defaultRekor}}
		if kp.identity != "" {
			kl["subject"] = kp.identity
		} else {
			kl["subjectRegExp"] = kp.identityRE
		}
		if kp.issuer != "" {
			kl["issuer"] = kp.issuer
		} else {
			kl["issuerRegExp"] = kp.issuerRE
		}
		entry = map[string]any{"keyless": kl}
	}
	attestors := []any{map[string]any{"count": 1, "entries": []any{entry}}}
	var refs []string
	for _, img := range kp.images {
		refs = append(refs, strings.TrimSuffix(img, "/")+"*")
	}
	provenance := map[string]any{
		"type":      attest.ProvenancePredicate,
		"attestors": attestors,
	}
	if kp.builder != "" {
		provenance["conditions"] = []any{map[string]any{"all": []any{map[string]any{
			"key": "{{ runDetails.builder.id }}", "operator": "Equals", "value": kp.builder,
		}}}}
	}
	action := "Enforce"
	if kp.audit {
		action = "Audit"
	}
	doc := map[string]any{
		"apiVersion": "kyverno.io/v1",
		"kind":       "ClusterPolicy",
		"metadata": map[string]any{
			"name": kp.name,
			"annotations": map[string]any{
				"policies.kyverno.io/title":       "Images CI signed, by digest, with SLSA provenance",
				"policies.kyverno.io/description": "Generated by slipway policy kyverno: admits this pipeline's images only by digest, signed, with a SLSA provenance attestation.",
			},
		},
		"spec": map[string]any{
			"validationFailureAction": action,
			"background":              false,
			"webhookTimeoutSeconds":   30,
			"failurePolicy":           "Fail",
			"rules": []any{map[string]any{
				"name":  "slipway-signed-images",
				"match": map[string]any{"any": []any{map[string]any{"resources": map[string]any{"kinds": []any{"Pod"}}}}},
				"verifyImages": []any{map[string]any{
					"imageReferences": refs,
					"type":            "SigstoreBundle",
					"mutateDigest":    true,
					"verifyDigest":    true,
					"required":        true,
					"attestors":       attestors,
					"attestations":    []any{provenance},
				}},
			}},
		},
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", err
	}
	header := "# Generated by `slipway policy kyverno`. Kyverno releases known to miss\n" +
		"# referrer-only signatures: 1.18.x with type: Cosign (kyverno#16854); SigstoreBundle on\n" +
		"# registries without the referrers API when the fallback index types entries\n" +
		"# oci.empty (kyverno#16664; Slipway's entries carry the bundle artifactType);\n" +
		"# static keys under SigstoreBundle (kyverno#16267, #14233). See the README.\n"
	return header + string(out), nil
}
