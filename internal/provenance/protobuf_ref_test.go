// The protobuf implementation this package had until the in-toto types were
// replaced by plain structs (issue 19 item 8: google.golang.org/protobuf out
// of every program). It stays here, in a test file, as the reference the new
// code is checked against: same statements built, same documents accepted.

package provenance

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	ita "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// oldStatement builds the attestation and checks it against the SLSA rules.
func oldStatement(in Input) (*ita.Statement, error) {
	hexDigest, ok := strings.CutPrefix(in.Digest, "sha256:")
	if !ok || len(hexDigest) != 64 {
		return nil, fmt.Errorf("provenance: digest %q: want sha256:<64 hex>", in.Digest)
	}
	if in.Pushed {
		return oldStatementOf(in, hexDigest, PushedType, oldPushedParameters(in), oldPushedDependencies(in))
	}
	source := map[string]any{"repository": in.SourceRepo, "ref": in.SourceRef, "commit": in.SourceCommit, "dirty": in.SourceDirty}
	if in.InputsCommit != "" {
		source["inputsCommit"] = in.InputsCommit
	}
	ext := map[string]any{"source": source, "app": in.App}
	if in.RevisionLabel != "" {
		ext["image"] = map[string]any{"revisionLabel": in.RevisionLabel}
	}
	var deps []*ita.ResourceDescriptor
	if in.SourceCommit != "" {
		deps = append(deps, &ita.ResourceDescriptor{
			Uri:    oldGitURI(in.SourceRepo, in.SourceRef),
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
			deps = append(deps, &ita.ResourceDescriptor{
				Name:   img.Name,
				Uri:    "pkg:docker/" + img.Repo + "@" + img.Tag,
				Digest: map[string]string{"sha256": strings.TrimPrefix(img.Digest, "sha256:")},
			})
		}
	}
	return oldStatementOf(in, hexDigest, BuildType, ext, deps)
}

// oldPushedDependencies: the source commit when it was given, else nothing.
func oldPushedDependencies(in Input) []*ita.ResourceDescriptor {
	if in.SourceCommit == "" {
		return nil
	}
	return []*ita.ResourceDescriptor{{
		Uri:    oldGitURI(in.SourceRepo, ""),
		Digest: map[string]string{"gitCommit": in.SourceCommit},
		Name:   "source",
	}}
}

func oldStatementOf(in Input, hexDigest, buildType string, ext map[string]any, deps []*ita.ResourceDescriptor) (*ita.Statement, error) {
	extStruct, err := structpb.NewStruct(ext)
	if err != nil {
		return nil, fmt.Errorf("provenance: external parameters: %w", err)
	}
	pred := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{BuildType: buildType, ExternalParameters: extStruct, ResolvedDependencies: deps},
		RunDetails: &slsa.RunDetails{
			Builder:  &slsa.Builder{Id: oldOrLocal(in.BuilderID)},
			Metadata: &slsa.BuildMetadata{InvocationId: in.InvocationID, StartedOn: oldTS(in.Started), FinishedOn: oldTS(in.Finished)},
		},
	}
	if err := pred.Validate(); err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	predJSON, err := protojson.Marshal(pred)
	if err != nil {
		return nil, err
	}
	predStruct := &structpb.Struct{}
	if err := protojson.Unmarshal(predJSON, predStruct); err != nil {
		return nil, err
	}
	st := &ita.Statement{
		Type:          ita.StatementTypeUri,
		Subject:       []*ita.ResourceDescriptor{{Name: in.Repository, Digest: map[string]string{"sha256": hexDigest}}},
		PredicateType: PredicateType,
		Predicate:     predStruct,
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	return st, nil
}

// oldMarshal renders a statement as JSON (in-toto's camelCase field names),
// in a stable layout: protojson varies its whitespace on purpose, so the
// result is re-indented by encoding/json.
func oldMarshal(st *ita.Statement) ([]byte, error) {
	raw, err := protojson.Marshal(st)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return json.MarshalIndent(v, "", "  ")
}

// oldParse reads a statement back and its SLSA predicate, and checks both.
func oldParse(data []byte) (*ita.Statement, *slsa.Provenance, error) {
	st := &ita.Statement{}
	if err := protojson.Unmarshal(data, st); err != nil {
		return nil, nil, fmt.Errorf("provenance: not an in-toto statement: %w", err)
	}
	if err := st.Validate(); err != nil {
		return nil, nil, fmt.Errorf("provenance: %w", err)
	}
	if st.GetPredicateType() != PredicateType {
		return nil, nil, fmt.Errorf("provenance: predicate %q, want %s", st.GetPredicateType(), PredicateType)
	}
	raw, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, nil, err
	}
	p := &slsa.Provenance{}
	if err := protojson.Unmarshal(raw, p); err != nil {
		return nil, nil, fmt.Errorf("provenance: predicate: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, nil, fmt.Errorf("provenance: %w", err)
	}
	return st, p, nil
}

func oldTS(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t.UTC())
}

// oldSourceCommit is SourceCommit on the protobuf types.
func oldSourceCommit(p *slsa.Provenance) string {
	for _, d := range p.GetBuildDefinition().GetResolvedDependencies() {
		if c := d.GetDigest()["gitCommit"]; c != "" {
			return c
		}
	}
	return ""
}

// oldPushedParameters, oldGitURI and oldOrLocal are frozen copies, so that
// the reference does not follow a change to the code under test.
func oldPushedParameters(in Input) map[string]any {
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

func oldGitURI(repo, ref string) string {
	if repo == "" {
		return "git+unknown"
	}
	u := "git+" + repo
	if ref != "" {
		u += "@refs/heads/" + ref
	}
	return u
}

func oldOrLocal(s string) string {
	if s == "" {
		return "local"
	}
	return s
}
