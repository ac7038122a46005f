// Package release is the release flow: push an image by digest, sign it,
// attach its SBOM and SLSA provenance as OCI referrers, read them back and
// verify them, and only then tag. The pipeline's push stage and the `push`
// command both call Publish, each with what it knows (Facts): the
// provenance states those facts and nothing else.
package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/imagelock"
	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/outdir"
	"github.com/slipway-ci/slipway/internal/provenance"
	"github.com/slipway-ci/slipway/internal/registry"
	"github.com/slipway-ci/slipway/internal/scan"
)

// RevisionLabel is the OCI label naming the commit an image was built from.
const RevisionLabel = "org.opencontainers.image.revision"

// ErrContradicts is a given source commit the image's revision label
// contradicts.
var ErrContradicts = errors.New("source commit contradicts the image's revision label")

// Source is what is known of the commit an image was built from.
type Source struct {
	Commit string // 40 hex; "" when unknown
	Repo   string // the repository's URL; "" when unknown
	Ref    string // branch; "" when unknown
	Dirty  bool   // built from a modified working tree
}

// Build is what Slipway knows of a build it ran itself (the pipeline's
// build stage). An image Slipway did not build has none: its provenance
// names no app and no lock images.
type Build struct {
	App  map[string]any  // the app's configuration that matters
	Lock *imagelock.Lock // the pinned images the build and scan ran on
	// InputsCommit is the newest commit that changed the app's inputs: the
	// commit its revision label, created time and version name.
	InputsCommit string
}

// Facts are what is known of the image being released.
type Facts struct {
	Source Source
	// Build is nil when Slipway did not build the image.
	Build *Build
	// Label is the image's org.opencontainers.image.revision label ("": none).
	Label string
}

// Signing is how a release is signed.
type Signing struct {
	Signer attest.Signer
	// Name names the signer in logs ("key sha256:… from SLIPWAY_SIGNING_KEY").
	Name string
	// Own is the policy the signer's own bundles verify against (its key,
	// or its keyless identity with a trusted root), used when no policy is
	// configured.
	Own func() (*attest.Policy, error)
}

// Request is one release.
type Request struct {
	Archive *ocitar.Archive
	Repo    name.Repository
	Tags    []string
	Facts   Facts
	// Signing resolves the signer before anything is written to the
	// registry (a key its password does not open is a configuration error
	// that leaves the registry untouched); nil, or a nil answer: the digest
	// is pushed and tagged unsigned (a warning).
	Signing func() (*Signing, error)
	// Policy is the configured verification policy; nil: Signing.Own.
	Policy *attest.Policy
	// SBOM is the CycloneDX SBOM file to attach ("" or missing: none).
	SBOM string
	// Provenance is where the provenance statement is written ("": not
	// written, not attached); Report where the verification report goes.
	Provenance, Report string
	// Out is the output directory Provenance and Report are in: created
	// through outdir, with its .gitignore, when they are written.
	Out string
	// Registry options for the push and the attachments.
	Registry []registry.Option
	// Getenv reads the CI environment (builder and run); default os.Getenv.
	Getenv func(string) string
	// Log prints a warning or a note (one line each).
	Log func(format string, args ...any)
	// Started is when the run began (the provenance's startedOn).
	Started time.Time
	// PipelineRun is the run URL recorded as the provenance's invocation.
	PipelineRun string
}

// Result is what a release did.
type Result struct {
	*registry.Result
	// Report is the verification of what was attached (nil: unsigned).
	Report *attest.Report
	// SignedBy names the signer (Signing.Name), "" when unsigned.
	SignedBy string
	// Provenance is the statement file written, "" when none.
	Provenance string
}

// Publish checks the configuration first (the signer opens, the SBOM is
// one Slipway can attach, the policy is complete): an error there leaves
// the registry untouched. Then it pushes req.Archive to req.Repo by
// digest; once the digest is there and read back, it writes the provenance
// from req.Facts, signs the signature statement, the SBOM and the
// provenance, attaches them as referrers, reads them back and verifies
// them; only then are the tags applied (and read back, see registry.Push).
// An error at any step leaves no tag written.
func Publish(ctx context.Context, req Request) (*Result, error) {
	if req.Getenv == nil {
		req.Getenv = os.Getenv
	}
	if req.Log == nil {
		req.Log = func(string, ...any) {}
	}
	out := &Result{}
	s, sbom, pol, err := preflight(req)
	if err != nil {
		return out, err
	}
	attach := registry.WithBeforeTag(func(ctx context.Context, digest string) error {
		if req.Provenance != "" {
			_ = os.Remove(req.Provenance)
			if err := WriteProvenance(req.Out, req.Provenance, Provenance(req.Repo.String(), digest, req.Facts, req.Getenv, req.PipelineRun, req.Started, time.Now())); err != nil {
				return err
			}
			out.Provenance = req.Provenance
		}
		rep, who, err := attestDigest(ctx, req, s, sbom, pol, digest)
		out.Report, out.SignedBy = rep, who
		return err
	})
	res, err := registry.Push(ctx, req.Archive, req.Repo, req.Tags, append(append([]registry.Option(nil), req.Registry...), attach)...)
	if err != nil {
		return out, err
	}
	out.Result = res
	return out, nil
}

// preflight is every check of the configuration a release makes, before
// the first registry write: the signer (a key that does not open with its
// password), the SBOM (not CycloneDX 1.5 or newer), the policy the
// attachments are verified with (the signer's own, when none is
// configured: a keyless one needs its trusted root).
func preflight(req Request) (*Signing, []byte, *attest.Policy, error) {
	if req.Signing == nil {
		return nil, nil, nil, nil
	}
	s, err := req.Signing()
	if err != nil || s == nil {
		return nil, nil, nil, err
	}
	var sbom []byte
	if req.SBOM != "" {
		// A missing file is no SBOM (the scan stage did not write one).
		if data, err := os.ReadFile(req.SBOM); err == nil {
			if _, _, err := scan.ParseSBOM(data); err != nil {
				return nil, nil, nil, fmt.Errorf("SBOM %s: %w; nothing was pushed", req.SBOM, err)
			}
			sbom = data
		}
	}
	pol := req.Policy
	if pol == nil {
		own, err := s.Own()
		if err != nil {
			return nil, nil, nil, err
		}
		pol = own
	}
	if err := pol.Check(); err != nil {
		return nil, nil, nil, err
	}
	return s, sbom, pol, nil
}

// Provenance is the statement input for digest from the facts: the
// pipeline's own build records its source and its real inputs (app, lock);
// an image Slipway did not build records its digest, its revision label and
// a source commit only when one was given.
func Provenance(repo, digest string, f Facts, getenv func(string) string, run string, started, finished time.Time) provenance.Input {
	in := provenance.Input{
		Repository: repo, Digest: digest,
		SourceRepo: f.Source.Repo, SourceRef: f.Source.Ref, SourceCommit: f.Source.Commit, SourceDirty: f.Source.Dirty,
		RevisionLabel: f.Label,
		BuilderID:     provenance.BuilderID(getenv), InvocationID: run,
		Started: started, Finished: finished,
	}
	if f.Build == nil {
		in.Pushed = true
		return in
	}
	in.App, in.Lock, in.InputsCommit = f.Build.App, f.Build.Lock, f.Build.InputsCommit
	return in
}

// WriteProvenance writes the in-toto/SLSA statement of in to path (in the
// output directory out, created with its .gitignore when path is in it).
func WriteProvenance(out, path string, in provenance.Input) error {
	st, err := provenance.Statement(in)
	if err != nil {
		return err
	}
	data, err := provenance.Marshal(st)
	if err != nil {
		return err
	}
	return outdir.WriteFile(out, path, append(data, '\n'), 0o644)
}

// Label reads an archive's revision label: "" when the image has none. For
// a multi-platform index the platforms must agree.
func Label(a *ocitar.Archive) (string, error) {
	return label(a.Image, a.Index)
}

// RegistryLabel reads the revision label of an image in its registry, by
// digest (an image or a multi-platform index).
func RegistryLabel(ctx context.Context, ref name.Digest, opts ...registry.Option) (string, error) {
	ropts, scrub := registry.Remote(ctx, opts...)
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return "", scrub(err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return "", scrub(err)
		}
		l, err := label(nil, idx)
		return l, scrub(err)
	}
	img, err := desc.Image()
	if err != nil {
		return "", scrub(err)
	}
	l, err := label(img, nil)
	return l, scrub(err)
}

func label(img v1.Image, idx v1.ImageIndex) (string, error) {
	if img != nil {
		cf, err := img.ConfigFile()
		if err != nil {
			return "", fmt.Errorf("read the image's config: %w", err)
		}
		return cf.Config.Labels[RevisionLabel], nil
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return "", err
	}
	label, first := "", true
	for _, d := range im.Manifests {
		if !d.MediaType.IsImage() {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return "", err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return "", fmt.Errorf("read the config of %s: %w", d.Digest, err)
		}
		l := cf.Config.Labels[RevisionLabel]
		if !first && l != label {
			return "", fmt.Errorf("the index's images disagree on %s (%q, %q)", RevisionLabel, label, l)
		}
		label, first = l, false
	}
	return label, nil
}

var labelCommitRE = regexp.MustCompile(`^([0-9a-f]{7,40})(-dirty)?$`)

// LabelCommit reads a revision label as Slipway writes it ("<commit>" or
// "<commit>-dirty"; a short SHA is accepted). ok is false for a label that
// names no commit (a tag, a version): such a label contradicts nothing.
func LabelCommit(label string) (commit string, dirty, ok bool) {
	m := labelCommitRE.FindStringSubmatch(strings.ToLower(strings.TrimSpace(label)))
	if m == nil {
		return "", false, false
	}
	return m[1], m[2] != "", true
}

// InputsAt answers, for a commit, the newest commit up to it (it, or one of
// its ancestors) that changed the image's inputs: the commit the pipeline
// labels an image built there with ("" when history cannot say). It is nil
// when the image's inputs are not known: a push or deploy with no configured
// app (the slipway binary, an image built elsewhere) cannot tell which files
// the image depends on.
type InputsAt func(commit string) string

// Contradicts reports whether a revision label names a commit other than
// commit (a full 40-hex SHA). It is the one rule push and deploy share:
//
//   - a label naming no commit (absent, a tag, a version) contradicts nothing;
//   - a label naming commit itself does not contradict it;
//   - a label naming an older commit does not contradict it only when
//     Slipway can prove that no input of the image changed between the two:
//     inputsAt(commit) (the newest commit up to commit that changed the
//     app's configured inputs) is the label's commit. That is what the
//     pipeline stamps on an image built at a commit that did not touch the
//     app. Being an ancestor is not enough: a commit that changed the
//     image's only file is an ancestor's descendant too. A commit the label's
//     is not an ancestor of (a diverged branch) is never accepted: the
//     newest input commit up to it is in its own history.
//
// With inputsAt nil the label must name commit.
func Contradicts(label, commit string, inputsAt InputsAt) bool {
	_, ok := labelAccepts(label, commit, inputsAt)
	return !ok
}

// labelAccepts: ok when label does not contradict commit; viaInputs when
// it names an older commit, accepted because no input changed since.
func labelAccepts(label, commit string, inputsAt InputsAt) (viaInputs, ok bool) {
	lc, _, named := LabelCommit(label)
	commit = strings.ToLower(commit)
	if !named || strings.HasPrefix(commit, lc) {
		return false, true
	}
	if inputsAt == nil {
		return false, false
	}
	in := strings.ToLower(inputsAt(commit))
	if len(in) != 40 || !strings.HasPrefix(in, lc) || in == commit {
		return false, false
	}
	return true, true
}

// CheckLabel is Contradicts as an answer for a command: nil when label is
// consistent with the given commit (viaInputs says it names an older commit
// that the app's inputs prove equivalent), else an ErrContradicts error of
// one line naming both and the fix.
func CheckLabel(label, given string, inputsAt InputsAt) (viaInputs bool, err error) {
	via, ok := labelAccepts(label, given, inputsAt)
	if ok {
		return via, nil
	}
	why := "and the image's inputs are not known here to show nothing it depends on changed between them (give --app with the Go configuration)"
	if inputsAt != nil {
		why = "and the app's inputs changed after it (or it is not in that commit's history)"
	}
	return false, fmt.Errorf("%w: the image's %s label says it was built from %s, not %s (--source-commit), %s; pass --source-commit %s", ErrContradicts, RevisionLabel, label, given, why, label)
}

// PushedSource is what is known of the source of an image Slipway did not
// build: the commit only when one is given, checked against the image's
// revision label by CheckLabel (ErrContradicts when the label names another
// commit); a label saying "-dirty" makes the source dirty. Nothing is
// inferred from where Slipway runs.
//
//	label      given commit   source
//	absent     absent         unknown
//	absent     C              C
//	C[-dirty]  absent         unknown (the label is recorded as a label)
//	C[-dirty]  C              C (dirty with -dirty)
//	C          D after C      D only when inputsAt(D) is C (no input of the
//	                          app changed since C), else refused
//	C          other D        refused (ErrContradicts)
//	not a SHA  any            the given commit, or unknown
func PushedSource(label, given string, inputsAt InputsAt) (Source, error) {
	if given == "" {
		return Source{}, nil
	}
	if _, err := CheckLabel(label, given, inputsAt); err != nil {
		return Source{}, err
	}
	_, dirty, _ := LabelCommit(label)
	return Source{Commit: given, Dirty: dirty}, nil
}

// attestDigest signs and attaches the signature, the SBOM (when the file
// exists) and the provenance (when one was written) to repo@digest, then
// reads them back and verifies them against the configured policy, else the
// signer's own. It writes the report to req.Report. With no signer: a
// warning, nothing attached.
func attestDigest(ctx context.Context, req Request, s *Signing, sbom []byte, pol *attest.Policy, digest string) (*attest.Report, string, error) {
	if s == nil {
		req.Log("warning: %s@%s is not signed: set SLIPWAY_SIGNING_KEY, or grant the GitHub workflow `id-token: write` for keyless signing", req.Repo, digest)
		return nil, "", nil
	}
	var prov []byte
	if req.Provenance != "" {
		prov, _ = os.ReadFile(req.Provenance)
	}
	atts, err := Statements(req.Repo.String(), digest, sbom, prov)
	if err != nil {
		return nil, "", err
	}
	ropts, scrub := registry.Remote(ctx, req.Registry...)
	img := req.Repo.Digest(digest)
	if _, err := SignAndAttach(ctx, s.Signer, img, atts, ropts); err != nil {
		return nil, "", scrub(fmt.Errorf("attach to %s: %w", img, err))
	}
	if req.Policy == nil {
		// The signer's own policy requires what was attached.
		p := *pol
		for _, a := range atts {
			p.Require = append(p.Require, attest.Kind(a.PredicateType))
		}
		pol = &p
	}
	p := *pol
	p.SourceCommit = req.Facts.Source.Commit
	rep, err := attest.Verify(ctx, img, p, ropts...)
	if err != nil {
		return nil, "", scrub(err)
	}
	if req.Report != "" {
		if data, err := json.MarshalIndent(rep, "", "  "); err == nil {
			_ = outdir.WriteFile(req.Out, req.Report, append(data, '\n'), 0o644)
		}
	}
	if err := rep.Err(); err != nil {
		return rep, s.Name, fmt.Errorf("attached, but %w", err)
	}
	return rep, s.Name, nil
}

// Attachment is one statement to sign and attach.
type Attachment struct {
	PredicateType string
	Statement     []byte
}

// Statements are what Slipway attaches to a pushed digest: the signature
// (cosign's sign/v1 statement), the SBOM when there is one, the provenance
// when there is one.
func Statements(repo, digest string, sbom, prov []byte) ([]Attachment, error) {
	sig, err := attest.Statement(repo, digest, attest.SignaturePredicate, nil)
	if err != nil {
		return nil, err
	}
	out := []Attachment{{attest.SignaturePredicate, sig}}
	if len(sbom) > 0 {
		st, err := attest.Statement(repo, digest, attest.SBOMPredicate, sbom)
		if err != nil {
			return nil, fmt.Errorf("SBOM: %w", err)
		}
		out = append(out, Attachment{attest.SBOMPredicate, st})
	}
	if len(prov) > 0 {
		out = append(out, Attachment{attest.ProvenancePredicate, compact(prov)})
	}
	return out, nil
}

func compact(data []byte) []byte {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return data
	}
	out, _ := json.Marshal(v)
	return out
}

// SignAndAttach signs each statement (all in one go with a batch signer: a
// keyless helper process signs them under one certificate), then attaches
// them all (attest.AttachAll).
func SignAndAttach(ctx context.Context, s attest.Signer, img name.Digest, atts []Attachment, opts []remote.Option) ([]attest.Attachment, error) {
	var bundles []attest.Bundle
	if bs, ok := s.(attest.BatchSigner); ok && len(atts) > 1 {
		sts := make([][]byte, len(atts))
		for i, a := range atts {
			sts[i] = a.Statement
		}
		signed, err := attest.SignAll(ctx, bs, sts)
		if err != nil {
			kinds := make([]string, len(atts))
			for i, a := range atts {
				kinds[i] = attest.Kind(a.PredicateType)
			}
			return nil, fmt.Errorf("sign the %s: %w", strings.Join(kinds, ", "), err)
		}
		for i, a := range atts {
			bundles = append(bundles, attest.Bundle{PredicateType: a.PredicateType, Data: signed[i]})
		}
		return attest.AttachAll(ctx, img, bundles, time.Now(), opts...)
	}
	for _, a := range atts {
		b, err := s.Sign(ctx, a.Statement)
		if err != nil {
			return nil, fmt.Errorf("sign the %s: %w", attest.Kind(a.PredicateType), err)
		}
		bundles = append(bundles, attest.Bundle{PredicateType: a.PredicateType, Data: b})
	}
	return attest.AttachAll(ctx, img, bundles, time.Now(), opts...)
}

// Summary is one line: what verified.
func Summary(rep *attest.Report) string {
	var parts []string
	if rep.Signature != nil {
		parts = append(parts, "signature "+attest.ShortDigest(rep.Signature.Bundle))
	}
	if rep.SBOM != nil {
		parts = append(parts, fmt.Sprintf("SBOM (%d components)", rep.SBOM.Components))
	}
	if p := rep.Provenance; p != nil {
		if p.SourceCommit == "" {
			parts = append(parts, "provenance (source commit unknown)")
		} else {
			parts = append(parts, "provenance (commit "+short(p.SourceCommit)+")")
		}
	}
	return strings.Join(parts, ", ")
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
