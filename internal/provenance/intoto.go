package provenance

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// The in-toto Statement v1 and SLSA Provenance v1 documents, as the in-toto
// attestation protos define them (github.com/in-toto/attestation,
// spec/v1/statement.md, spec/predicates/provenance.md). JSON names and
// presence follow protojson: a string, list or map field is left out when
// empty; a message field (a pointer here) or a Struct field (a map here)
// is left out only when absent, so an empty one is written as {}. The
// getters are nil-safe and named as the generated Go types name them, so
// chains such as p.GetRunDetails().GetBuilder().GetId() read as before.

// StatementType is the in-toto Statement v1 type.
const StatementType = "https://in-toto.io/Statement/v1"

// statementTypeLegacy is in-toto Statement v0.1, which the in-toto library
// still accepts.
const statementTypeLegacy = "https://in-toto.io/Statement/v0.1"

// InTotoStatement is an in-toto Statement v1: subjects (the image digest)
// and a typed predicate, kept as JSON.
type InTotoStatement struct {
	Type          string                `json:"_type,omitempty"`
	Subject       []*ResourceDescriptor `json:"subject,omitempty"`
	PredicateType string                `json:"predicateType,omitempty"`
	Predicate     Struct                `json:"predicate,omitzero"`
}

// GetSubject returns the statement's subjects.
func (s *InTotoStatement) GetSubject() []*ResourceDescriptor {
	if s == nil {
		return nil
	}
	return s.Subject
}

// GetPredicateType returns the predicate's type URI.
func (s *InTotoStatement) GetPredicateType() string {
	if s == nil {
		return ""
	}
	return s.PredicateType
}

// GetPredicate returns the predicate as JSON values.
func (s *InTotoStatement) GetPredicate() Struct {
	if s == nil {
		return nil
	}
	return s.Predicate
}

// ResourceDescriptor is an in-toto resource descriptor: a subject, a
// dependency or a byproduct.
type ResourceDescriptor struct {
	Name             string            `json:"name,omitempty"`
	URI              string            `json:"uri,omitempty"`
	Digest           map[string]string `json:"digest,omitempty"`
	Content          []byte            `json:"content,omitempty"`
	DownloadLocation string            `json:"downloadLocation,omitempty"`
	MediaType        string            `json:"mediaType,omitempty"`
	Annotations      Struct            `json:"annotations,omitzero"`
}

// GetName returns the resource's name.
func (d *ResourceDescriptor) GetName() string {
	if d == nil {
		return ""
	}
	return d.Name
}

// GetUri returns the resource's URI.
func (d *ResourceDescriptor) GetUri() string { //nolint:revive // the in-toto Go API's name
	if d == nil {
		return ""
	}
	return d.URI
}

// GetDigest returns the resource's digests by algorithm ("sha256",
// "gitCommit", ...).
func (d *ResourceDescriptor) GetDigest() map[string]string {
	if d == nil {
		return nil
	}
	return d.Digest
}

// Provenance is a SLSA Provenance v1 predicate.
type Provenance struct {
	BuildDefinition *BuildDefinition `json:"buildDefinition,omitempty"`
	RunDetails      *RunDetails      `json:"runDetails,omitempty"`
}

// GetBuildDefinition returns what was built and from what.
func (p *Provenance) GetBuildDefinition() *BuildDefinition {
	if p == nil {
		return nil
	}
	return p.BuildDefinition
}

// GetRunDetails returns who built it and when.
func (p *Provenance) GetRunDetails() *RunDetails {
	if p == nil {
		return nil
	}
	return p.RunDetails
}

// BuildDefinition is a provenance's build type, parameters and resolved
// dependencies.
type BuildDefinition struct {
	BuildType            string                `json:"buildType,omitempty"`
	ExternalParameters   Struct                `json:"externalParameters,omitzero"`
	InternalParameters   Struct                `json:"internalParameters,omitzero"`
	ResolvedDependencies []*ResourceDescriptor `json:"resolvedDependencies,omitempty"`
}

// GetBuildType returns the build type URI.
func (b *BuildDefinition) GetBuildType() string {
	if b == nil {
		return ""
	}
	return b.BuildType
}

// GetExternalParameters returns the parameters the build was given.
func (b *BuildDefinition) GetExternalParameters() Struct {
	if b == nil {
		return nil
	}
	return b.ExternalParameters
}

// GetResolvedDependencies returns the build's inputs, by digest.
func (b *BuildDefinition) GetResolvedDependencies() []*ResourceDescriptor {
	if b == nil {
		return nil
	}
	return b.ResolvedDependencies
}

// RunDetails is a provenance's builder, run metadata and byproducts.
type RunDetails struct {
	Builder    *Builder              `json:"builder,omitempty"`
	Metadata   *BuildMetadata        `json:"metadata,omitempty"`
	Byproducts []*ResourceDescriptor `json:"byproducts,omitempty"`
}

// GetBuilder returns the builder.
func (r *RunDetails) GetBuilder() *Builder {
	if r == nil {
		return nil
	}
	return r.Builder
}

// GetMetadata returns the run's invocation id and times.
func (r *RunDetails) GetMetadata() *BuildMetadata {
	if r == nil {
		return nil
	}
	return r.Metadata
}

// Builder identifies what ran the build.
type Builder struct {
	ID                  string                `json:"id,omitempty"`
	Version             map[string]string     `json:"version,omitempty"`
	BuilderDependencies []*ResourceDescriptor `json:"builderDependencies,omitempty"`
}

// GetId returns the builder's id.
func (b *Builder) GetId() string { //nolint:revive // the in-toto Go API's name, which callers use
	if b == nil {
		return ""
	}
	return b.ID
}

// BuildMetadata is a run's invocation id and start and finish times.
type BuildMetadata struct {
	InvocationID string     `json:"invocationId,omitempty"`
	StartedOn    *Timestamp `json:"startedOn,omitempty"`
	FinishedOn   *Timestamp `json:"finishedOn,omitempty"`
}

// GetInvocationId returns the run's id.
func (m *BuildMetadata) GetInvocationId() string { //nolint:revive // the in-toto Go API's name
	if m == nil {
		return ""
	}
	return m.InvocationID
}

// Struct is a JSON object of any values (google.protobuf.Struct): nil,
// bool, float64, string, []any and map[string]any.
type Struct map[string]any

// AsMap returns the object as a Go map.
func (s Struct) AsMap() map[string]any { return s }

// Timestamp is a point in time, written as protojson writes
// google.protobuf.Timestamp: RFC 3339 in UTC with a Z, and 0, 3, 6 or 9
// fractional digits.
type Timestamp struct{ t time.Time }

// AsTime returns the time, in UTC.
func (t *Timestamp) AsTime() time.Time {
	if t == nil {
		return time.Unix(0, 0).UTC()
	}
	return t.t
}

// The range google.protobuf.Timestamp allows: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z.
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
)

func (t *Timestamp) check() error {
	if s := t.t.Unix(); s < minTimestampSeconds || s > maxTimestampSeconds {
		return fmt.Errorf("timestamp %s is outside years 1 to 9999", t.t.Format(time.RFC3339Nano))
	}
	return nil
}

func (t *Timestamp) checkIfSet() error {
	if t == nil {
		return nil
	}
	return t.check()
}

// MarshalJSON writes the timestamp as protojson does.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	x := t.t.UTC().Format("2006-01-02T15:04:05.000000000")
	x = strings.TrimSuffix(x, "000")
	x = strings.TrimSuffix(x, "000")
	x = strings.TrimSuffix(x, ".000")
	return json.Marshal(x + "Z")
}

// newStruct converts v as google.golang.org/protobuf's structpb.NewStruct
// does: the same Go types are accepted (integers and floats become float64,
// []byte a base64 string, nil maps and slices empty ones), the same are
// refused (any other type, a string or key that is not UTF-8), and a NaN or
// an infinity is refused as protojson refuses to write it.
func newStruct(v map[string]any) (Struct, error) {
	out := make(Struct, len(v))
	for k, x := range v {
		if !utf8.ValidString(k) {
			return nil, fmt.Errorf("invalid UTF-8 in string: %q", k)
		}
		val, err := newValue(x)
		if err != nil {
			return nil, err
		}
		out[k] = val
	}
	return out, nil
}

func newValue(v any) (any, error) {
	switch v := v.(type) {
	case nil, bool:
		return v, nil
	case int:
		return float64(v), nil
	case int8:
		return float64(v), nil
	case int16:
		return float64(v), nil
	case int32:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case uint:
		return float64(v), nil
	case uint8:
		return float64(v), nil
	case uint16:
		return float64(v), nil
	case uint32:
		return float64(v), nil
	case uint64:
		return float64(v), nil
	case float32:
		return number(float64(v))
	case float64:
		return number(v)
	case json.Number:
		n, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("invalid number format %q, expected a float64: %w", v, err)
		}
		return number(n)
	case string:
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("invalid UTF-8 in string: %q", v)
		}
		return v, nil
	case []byte:
		return base64Std(v), nil
	case map[string]any:
		s, err := newStruct(v)
		if err != nil {
			return nil, err
		}
		return map[string]any(s), nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			val, err := newValue(x)
			if err != nil {
				return nil, err
			}
			out[i] = val
		}
		return out, nil
	default:
		return nil, fmt.Errorf("invalid type: %T", v)
	}
}

func number(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("invalid number %v: JSON has no NaN or infinity", f)
	}
	return f, nil
}

func base64Std(b []byte) string {
	s, _ := json.Marshal(b) // encoding/json writes []byte as standard, padded base64
	return string(s[1 : len(s)-1])
}

// asStruct is the predicate as the statement holds it: JSON values.
func (p *Provenance) asStruct() (Struct, error) {
	if err := p.checkText(); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var s Struct
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return s, nil
}

// The checks of the in-toto attestation library (go/v1 and
// go/predicates/provenance/v1 Validate), with its error words.
var (
	errStatementType     = errors.New("wrong statement type")
	errSubjectRequired   = errors.New("at least one subject required")
	errDigestRequired    = errors.New("at least one digest required")
	errPredicateType     = errors.New("predicate type required")
	errPredicateRequired = errors.New("predicate object required")
	errRDRequiredField   = errors.New("at least one of name, URI, or digest are required")
	errBuildDefinition   = errors.New("buildDefinition required")
	errBuildType         = errors.New("buildDefinition.buildType required")
	errExternalParams    = errors.New("buildDefinition.externalParameters required")
	errRunDetails        = errors.New("runDetails required")
	errBuilderRequired   = errors.New("runDetails.builder required")
	errBuilderIDRequired = errors.New("runDetails.builder.id required")
	errDigestEncoding    = errors.New("digest is not valid hex-encoded string")
	errDigestLength      = errors.New("digest has incorrect length")
)

func (s *InTotoStatement) validate() error {
	if s.Type != StatementType && s.Type != statementTypeLegacy {
		return errStatementType
	}
	if len(s.Subject) == 0 {
		return errSubjectRequired
	}
	for _, d := range s.Subject {
		if err := d.validate(); err != nil {
			return err
		}
		if len(d.Digest) == 0 {
			return errDigestRequired
		}
	}
	if s.PredicateType == "" {
		return errPredicateType
	}
	if s.Predicate == nil {
		return errPredicateRequired
	}
	return nil
}

// digestBytes is the length in bytes of the digests the in-toto digest set
// spec fixes (gitCommit and dirHash as sha1 and sha256); others are free.
var digestBytes = map[string]int{
	"md5": 16, "sha1": 20, "gitBlob": 20, "gitCommit": 20, "gitTag": 20, "gitTree": 20,
	"sha224": 28, "sha512_224": 28, "sha3_224": 28,
	"sha256": 32, "sha512_256": 32, "sha3_256": 32, "dirHash": 32,
	"sha384": 48, "sha3_384": 48, "sha512": 64, "sha3_512": 64,
}

func (d *ResourceDescriptor) validate() error {
	if d == nil {
		return errRDRequiredField
	}
	if d.Name == "" && d.URI == "" && len(d.Digest) == 0 {
		return errRDRequiredField
	}
	for alg, digest := range d.Digest {
		size, fixed := digestBytes[alg]
		if !fixed {
			continue
		}
		b, err := hex.DecodeString(digest)
		if err != nil {
			return fmt.Errorf("%w (%s: %s)", errDigestEncoding, alg, digest)
		}
		if len(b) != size {
			return fmt.Errorf("%w: got %d bytes, want %d bytes (%s: %s)", errDigestLength, len(b), size, alg, digest)
		}
	}
	return nil
}

func (p *Provenance) validate() error {
	b := p.BuildDefinition
	if b == nil {
		return errBuildDefinition
	}
	if b.BuildType == "" {
		return fmt.Errorf("provenance.buildDefinition error: %w", errBuildType)
	}
	if len(b.ExternalParameters) == 0 {
		return fmt.Errorf("provenance.buildDefinition error: %w", errExternalParams)
	}
	for i, d := range b.ResolvedDependencies {
		if err := d.validate(); err != nil {
			return fmt.Errorf("provenance.buildDefinition error: resolvedDependencies[%d]: %w", i, err)
		}
	}
	r := p.RunDetails
	if r == nil {
		return errRunDetails
	}
	if r.Builder == nil {
		return fmt.Errorf("provenance.runDetails error: %w", errBuilderRequired)
	}
	if r.Builder.ID == "" {
		return fmt.Errorf("provenance.runDetails error: runDetails.builder error: %w", errBuilderIDRequired)
	}
	for i, d := range r.Builder.BuilderDependencies {
		if err := d.validate(); err != nil {
			return fmt.Errorf("provenance.runDetails error: builder.builderDependencies[%d]: %w", i, err)
		}
	}
	if m := r.Metadata; m != nil {
		if err := m.StartedOn.checkIfSet(); err != nil {
			return fmt.Errorf("provenance.runDetails error: metadata.startedOn: %w", err)
		}
		if err := m.FinishedOn.checkIfSet(); err != nil {
			return fmt.Errorf("provenance.runDetails error: metadata.finishedOn: %w", err)
		}
	}
	for i, d := range r.Byproducts {
		if err := d.validate(); err != nil {
			return fmt.Errorf("provenance.runDetails error: byproducts[%d]: %w", i, err)
		}
	}
	return nil
}

// checkText refuses what protojson refuses to write: a string that is not
// UTF-8 (encoding/json would write U+FFFD instead), a NaN or an infinity.
func (s *InTotoStatement) checkText() error {
	if s == nil {
		return errors.New("no statement")
	}
	for _, d := range s.Subject {
		if err := d.checkText(); err != nil {
			return fmt.Errorf("subject: %w", err)
		}
	}
	if err := checkText(s.Type, s.PredicateType); err != nil {
		return err
	}
	return checkValue(map[string]any(s.Predicate))
}

func (p *Provenance) checkText() error {
	if b := p.BuildDefinition; b != nil {
		if err := checkText(b.BuildType); err != nil {
			return err
		}
		if err := checkValue(map[string]any(b.ExternalParameters)); err != nil {
			return err
		}
		if err := checkValue(map[string]any(b.InternalParameters)); err != nil {
			return err
		}
		for _, d := range b.ResolvedDependencies {
			if err := d.checkText(); err != nil {
				return err
			}
		}
	}
	if r := p.RunDetails; r != nil {
		if b := r.Builder; b != nil {
			if err := checkText(b.ID); err != nil {
				return err
			}
			if err := checkMap(b.Version); err != nil {
				return err
			}
			for _, d := range b.BuilderDependencies {
				if err := d.checkText(); err != nil {
					return err
				}
			}
		}
		if m := r.Metadata; m != nil {
			if err := checkText(m.InvocationID); err != nil {
				return err
			}
		}
		for _, d := range r.Byproducts {
			if err := d.checkText(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *ResourceDescriptor) checkText() error {
	if d == nil {
		return errors.New("a null resource descriptor")
	}
	if err := checkText(d.Name, d.URI, d.DownloadLocation, d.MediaType); err != nil {
		return err
	}
	if err := checkMap(d.Digest); err != nil {
		return err
	}
	return checkValue(map[string]any(d.Annotations))
}

func checkText(ss ...string) error {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return fmt.Errorf("invalid UTF-8 in string: %q", s)
		}
	}
	return nil
}

func checkMap(m map[string]string) error {
	for k, v := range m {
		if err := checkText(k, v); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(v any) error {
	switch v := v.(type) {
	case string:
		return checkText(v)
	case float64:
		_, err := number(v)
		return err
	case map[string]any:
		for k, x := range v {
			if err := checkText(k); err != nil {
				return err
			}
			if err := checkValue(x); err != nil {
				return err
			}
		}
	case Struct:
		return checkValue(map[string]any(v))
	case []any:
		for _, x := range v {
			if err := checkValue(x); err != nil {
				return err
			}
		}
	}
	return nil
}
