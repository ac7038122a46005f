// Package provenance writes what an auditor asks of a pushed digest: who
// built it from which commit, with which pinned tools. It is an in-toto
// Statement v1 with a SLSA Provenance v1 predicate, subject = the image
// digest. The types are plain Go structs written and read with encoding/json,
// field for field the in-toto attestation protos' JSON (the protobuf runtime
// those protos need is a large compile for what is a small document).
package provenance

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/internal/imagelock"
)

// BuildType names how Slipway builds: a static Go binary on a pinned base
// image, reproducibly (created = commit time).
const BuildType = "https://github.com/slipway-ci/slipway/buildtypes/go-image/v1"

// PushedType names a statement about an image Slipway pushed but did not
// build (`push --tarball` of an image built elsewhere): it records the
// digest, the image's org.opencontainers.image.revision label when there is
// one, and a source commit only when the caller gave one. It names no
// build inputs (no lock images, no app): Slipway does not know them.
const PushedType = "https://github.com/slipway-ci/slipway/buildtypes/pushed/v1"

// PredicateType is SLSA Provenance v1.
const PredicateType = "https://slsa.dev/provenance/v1"

// Input is what is known when an image is pushed.
type Input struct {
	Repository   string // the image repository (subject name)
	Digest       string // sha256:<64 hex>
	SourceRepo   string // the source repository's URL ("" when unknown)
	SourceRef    string // branch or tag
	SourceCommit string // 40 hex; "" when unknown (the statement says "unknown")
	SourceDirty  bool
	// Pushed: Slipway did not build the image (PushedType). Only Digest,
	// RevisionLabel and a given SourceCommit are stated; App and Lock are
	// ignored, for they are not this image's inputs.
	Pushed bool
	// RevisionLabel is the image's org.opencontainers.image.revision label
	// ("" when it has none).
	RevisionLabel string
	// InputsCommit is the newest commit that changed the app's inputs, which
	// its image's revision label, created time and version name (a build
	// Slipway ran; "" when unknown).
	InputsCommit string
	App          map[string]any // the app's configuration that matters (name, main, binary, base, port)
	Lock         *imagelock.Lock
	BuilderID    string
	InvocationID string
	Started      time.Time
	Finished     time.Time
}

// Statement builds the attestation and checks it against the SLSA rules
// (the in-toto attestation library's: a subject digest, a build type,
// external parameters, a builder id, well-formed digests of every resource).
func Statement(in Input) (*InTotoStatement, error) {
	hexDigest, ok := strings.CutPrefix(in.Digest, "sha256:")
	if !ok || len(hexDigest) != 64 {
		return nil, fmt.Errorf("provenance: digest %q: want sha256:<64 hex>", in.Digest)
	}
	if in.Pushed {
		return statement(in, hexDigest, PushedType, pushedParameters(in), pushedDependencies(in))
	}
	source := map[string]any{"repository": in.SourceRepo, "ref": in.SourceRef, "commit": in.SourceCommit, "dirty": in.SourceDirty}
	if in.InputsCommit != "" {
		source["inputsCommit"] = in.InputsCommit
	}
	ext := map[string]any{"source": source, "app": in.App}
	if in.RevisionLabel != "" {
		ext["image"] = map[string]any{"revisionLabel": in.RevisionLabel}
	}
	var deps []*ResourceDescriptor
	if in.SourceCommit != "" {
		deps = append(deps, &ResourceDescriptor{
			URI:    gitURI(in.SourceRepo, in.SourceRef),
			Digest: map[string]string{"gitCommit": in.SourceCommit},
			Name:   "source",
		})
	} else {
		// Built outside a git checkout: the source commit is unknown, and
		// the statement says so rather than naming one.
		ext["source"] = map[string]any{"commit": "unknown"}
	}
	if in.Lock != nil {
		for _, img := range in.Lock.Images() {
			deps = append(deps, &ResourceDescriptor{
				Name:   img.Name,
				URI:    "pkg:docker/" + img.Repo + "@" + img.Tag,
				Digest: map[string]string{"sha256": strings.TrimPrefix(img.Digest, "sha256:")},
			})
		}
	}
	return statement(in, hexDigest, BuildType, ext, deps)
}

// pushedParameters are the facts of a pushed image: its digest, its revision
// label when it has one, and the source commit only when one was given
// (else "unknown", said rather than guessed).
func pushedParameters(in Input) map[string]any {
	img := map[string]any{"digest": in.Digest}
	if in.RevisionLabel != "" {
		img["revisionLabel"] = in.RevisionLabel
	}
	src := map[string]any{"commit": "unknown"}
	if in.SourceCommit != "" {
		src = map[string]any{"commit": in.SourceCommit, "given": true}
		if in.SourceRepo != "" {
			src["repository"] = in.SourceRepo
		}
	}
	return map[string]any{"image": img, "source": src}
}

// pushedDependencies: the source commit when it was given, else nothing.
func pushedDependencies(in Input) []*ResourceDescriptor {
	if in.SourceCommit == "" {
		return nil
	}
	return []*ResourceDescriptor{{
		URI:    gitURI(in.SourceRepo, ""),
		Digest: map[string]string{"gitCommit": in.SourceCommit},
		Name:   "source",
	}}
}

func statement(in Input, hexDigest, buildType string, ext map[string]any, deps []*ResourceDescriptor) (*InTotoStatement, error) {
	extStruct, err := newStruct(ext)
	if err != nil {
		return nil, fmt.Errorf("provenance: external parameters: %w", err)
	}
	pred := &Provenance{
		BuildDefinition: &BuildDefinition{BuildType: buildType, ExternalParameters: extStruct, ResolvedDependencies: deps},
		RunDetails: &RunDetails{
			Builder:  &Builder{ID: orLocal(in.BuilderID)},
			Metadata: &BuildMetadata{InvocationID: in.InvocationID, StartedOn: ts(in.Started), FinishedOn: ts(in.Finished)},
		},
	}
	if err := pred.validate(); err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	predStruct, err := pred.asStruct()
	if err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	st := &InTotoStatement{
		Type:          StatementType,
		Subject:       []*ResourceDescriptor{{Name: in.Repository, Digest: map[string]string{"sha256": hexDigest}}},
		PredicateType: PredicateType,
		Predicate:     predStruct,
	}
	if err := st.validate(); err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	if err := st.checkText(); err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	return st, nil
}

// Marshal renders a statement as JSON (in-toto's camelCase field names),
// in a stable layout: keys sorted, two-space indent.
func Marshal(st *InTotoStatement) ([]byte, error) {
	if err := st.checkText(); err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return json.MarshalIndent(v, "", "  ")
}

// Parse reads a statement back and its SLSA predicate, and checks both.
//
// It is as strict as the protobuf JSON reader it replaces (protojson, with
// the in-toto attestation library's checks): a field the in-toto and SLSA
// schemas do not define is refused, at every level of the statement and the
// predicate; so is a key given twice (including a field under both its JSON
// name and its proto name, such as "predicateType" and "predicate_type",
// which are both accepted), a string that is not UTF-8 (or an escaped lone
// surrogate), a value of the wrong JSON type, a timestamp that is not RFC
// 3339 within years 1 to 9999, and nesting deeper than protojson's limit. A
// null field is an absent one. Statement type v0.1 is accepted, as the
// in-toto library accepts it.
func Parse(data []byte) (*InTotoStatement, *Provenance, error) {
	doc, err := readJSON(data)
	if err != nil {
		return nil, nil, fmt.Errorf("provenance: not an in-toto statement: %w", err)
	}
	st, pred, err := statementFrom(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("provenance: not an in-toto statement: %w", err)
	}
	if err := st.validate(); err != nil {
		return nil, nil, fmt.Errorf("provenance: %w", err)
	}
	if st.GetPredicateType() != PredicateType {
		return nil, nil, fmt.Errorf("provenance: predicate %q, want %s", st.GetPredicateType(), PredicateType)
	}
	p, err := provenanceFrom(pred)
	if err != nil {
		return nil, nil, fmt.Errorf("provenance: predicate: %w", err)
	}
	if err := p.validate(); err != nil {
		return nil, nil, fmt.Errorf("provenance: %w", err)
	}
	return st, p, nil
}

// Pushed reports whether a provenance is about an image Slipway pushed and
// did not build (PushedType).
func Pushed(p *Provenance) bool {
	return p.GetBuildDefinition().GetBuildType() == PushedType
}

// SourceCommit is the commit a provenance says the subject was built from,
// "" when it says the commit is unknown.
func SourceCommit(p *Provenance) string {
	for _, d := range p.GetBuildDefinition().GetResolvedDependencies() {
		if c := d.GetDigest()["gitCommit"]; c != "" {
			return c
		}
	}
	return ""
}

// BuilderID is the builder: the GitHub workflow ref, the Jenkins job URL, the
// GitLab project URL, or "local".
func BuilderID(getenv func(string) string) string {
	if ref := getenv("GITHUB_WORKFLOW_REF"); ref != "" {
		server := getenv("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		return strings.TrimSuffix(server, "/") + "/" + ref
	}
	if u := getenv("JOB_URL"); u != "" {
		return u
	}
	if u := getenv("CI_PROJECT_URL"); u != "" {
		return u + "/-/pipelines"
	}
	return "local"
}

func gitURI(repo, ref string) string {
	if repo == "" {
		return "git+unknown"
	}
	u := "git+" + repo
	if ref != "" {
		u += "@refs/heads/" + ref
	}
	return u
}

func orLocal(s string) string {
	if s == "" {
		return "local"
	}
	return s
}

func ts(t time.Time) *Timestamp {
	if t.IsZero() {
		return nil
	}
	return &Timestamp{t: t.UTC()}
}
