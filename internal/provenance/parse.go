package provenance

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slipway-ci/slipway/internal/strictjson"
)

// Reading a statement as strictly as protojson read the in-toto protos:
// the document is first read into a tree that keeps every member (so a key
// given twice is seen), then walked field by field against the schema.

// recursionLimit is protojson's default limit on nested messages (every
// message, Struct and Value counts one).
const recursionLimit = 10000

// object is a JSON object with its members in order.
type object []member

type member struct {
	key string
	val any
}

// readJSON reads one JSON value into object, []any, string, json.Number,
// bool and nil. It refuses what protojson's reader refuses and
// encoding/json lets through: a key given twice in an object, bytes that
// are not UTF-8, an escaped surrogate that is not half of a pair.
func readJSON(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("invalid UTF-8")
	}
	if err := strictjson.Surrogates(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if tok, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			return nil, fmt.Errorf("%v after the end of the document", tok)
		}
		return nil, err
	}
	return v, nil
}

// maxNesting bounds the tree: protojson spends at least one level of its
// recursion limit on every second level of JSON nesting, so anything deeper
// is refused anyway, and refused here before it costs a deep recursion.
const maxNesting = 2*recursionLimit + 2

func readValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if depth >= maxNesting {
		return nil, errors.New("nested too deeply")
	}
	switch d {
	case '{':
		o := object{}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, ok := kt.(string)
			if !ok {
				return nil, fmt.Errorf("object key %v is not a string", kt)
			}
			if seen[key] {
				return nil, fmt.Errorf("key %q given twice", key)
			}
			seen[key] = true
			v, err := readValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			o = append(o, member{key, v})
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return o, nil
	case '[':
		a := []any{}
		for dec.More() {
			v, err := readValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return a, nil
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

// pathError names where in the document a value is wrong.
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

// at prefixes err's path with name ("subject", "[0]").
func at(name string, err error) error {
	var pe *pathError
	if errors.As(err, &pe) {
		sep := "."
		if strings.HasPrefix(pe.path, "[") {
			sep = ""
		}
		return &pathError{name + sep + pe.path, pe.err}
	}
	return &pathError{name, err}
}

// enter spends one level of the recursion limit, as protojson does for every
// message it reads.
func enter(budget int) (int, error) {
	budget--
	if budget < 0 {
		return 0, errors.New("nested too deeply")
	}
	return budget, nil
}

func kind(v any) string {
	switch v.(type) {
	case object:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

// fields reads an object's members as protojson reads a message's: each
// name known (its JSON name or its proto name, mapped to one field by
// names), each field once, null the same as absent.
func fields(v any, names map[string]string, set func(field string, v any) error) error {
	o, ok := v.(object)
	if !ok {
		return fmt.Errorf("want an object, got %s", kind(v))
	}
	seen := map[string]bool{}
	for _, m := range o {
		f, ok := names[m.key]
		if !ok {
			return fmt.Errorf("unknown field %q", m.key)
		}
		if seen[f] {
			return fmt.Errorf("field %q given twice", m.key)
		}
		seen[f] = true
		if m.val == nil {
			continue
		}
		if err := set(f, m.val); err != nil {
			return at(m.key, err)
		}
	}
	return nil
}

func str(v any, dst *string) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("want a string, got %s", kind(v))
	}
	*dst = s
	return nil
}

func strMap(v any, dst *map[string]string) error {
	o, ok := v.(object)
	if !ok {
		return fmt.Errorf("want an object of strings, got %s", kind(v))
	}
	m := make(map[string]string, len(o))
	for _, e := range o {
		s, ok := e.val.(string)
		if !ok {
			return at(e.key, fmt.Errorf("want a string, got %s", kind(e.val)))
		}
		m[e.key] = s
	}
	*dst = m
	return nil
}

// base64Bytes decodes a bytes field as protojson does: standard or URL
// alphabet, padded or not.
func base64Bytes(v any, dst *[]byte) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("want a base64 string, got %s", kind(v))
	}
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return fmt.Errorf("not base64: %w", err)
	}
	*dst = b
	return nil
}

// timestamp reads a google.protobuf.Timestamp as protojson does: RFC 3339,
// years 1 to 9999, at most nine fractional digits.
func timestamp(v any, budget int, dst **Timestamp) error {
	if _, err := enter(budget); err != nil {
		return err
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("want an RFC 3339 string, got %s", kind(v))
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	secs := t.Unix()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds {
		return fmt.Errorf("%q is outside years 1 to 9999", s)
	}
	i := strings.LastIndexByte(s, '.')
	j := strings.LastIndexAny(s, "Z-+")
	if i >= 0 && j >= i && j-i > len(".999999999") {
		return fmt.Errorf("%q has more than nine fractional digits", s)
	}
	*dst = &Timestamp{t: time.Unix(secs, int64(t.Nanosecond())).UTC()}
	return nil
}

// structFrom reads a google.protobuf.Struct: any object.
func structFrom(v any, budget int) (Struct, error) {
	budget, err := enter(budget)
	if err != nil {
		return nil, err
	}
	o, ok := v.(object)
	if !ok {
		return nil, fmt.Errorf("want an object, got %s", kind(v))
	}
	s := make(Struct, len(o))
	for _, m := range o {
		val, err := valueFrom(m.val, budget)
		if err != nil {
			return nil, at(m.key, err)
		}
		s[m.key] = val
	}
	return s, nil
}

// valueFrom reads a google.protobuf.Value: numbers become float64 (one out
// of float64's range is refused).
func valueFrom(v any, budget int) (any, error) {
	budget, err := enter(budget)
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return nil, fmt.Errorf("number %s is out of range", v)
		}
		return f, nil
	case object:
		m := make(map[string]any, len(v))
		for _, e := range v {
			val, err := valueFrom(e.val, budget)
			if err != nil {
				return nil, at(e.key, err)
			}
			m[e.key] = val
		}
		return m, nil
	case []any:
		a := make([]any, len(v))
		for i, x := range v {
			val, err := valueFrom(x, budget)
			if err != nil {
				return nil, at("["+strconv.Itoa(i)+"]", err)
			}
			a[i] = val
		}
		return a, nil
	}
	return v, nil
}

// descriptors reads a list of resource descriptors.
func descriptors(v any, budget int, dst *[]*ResourceDescriptor) error {
	a, ok := v.([]any)
	if !ok {
		return fmt.Errorf("want an array, got %s", kind(v))
	}
	out := make([]*ResourceDescriptor, 0, len(a))
	for i, x := range a {
		d, err := descriptorFrom(x, budget)
		if err != nil {
			return at("["+strconv.Itoa(i)+"]", err)
		}
		out = append(out, d)
	}
	*dst = out
	return nil
}

var descriptorNames = map[string]string{
	"name": "name", "uri": "uri", "digest": "digest", "content": "content",
	"downloadLocation": "downloadLocation", "download_location": "downloadLocation",
	"mediaType": "mediaType", "media_type": "mediaType", "annotations": "annotations",
}

func descriptorFrom(v any, budget int) (*ResourceDescriptor, error) {
	budget, err := enter(budget)
	if err != nil {
		return nil, err
	}
	d := &ResourceDescriptor{}
	err = fields(v, descriptorNames, func(f string, v any) error {
		switch f {
		case "name":
			return str(v, &d.Name)
		case "uri":
			return str(v, &d.URI)
		case "digest":
			return strMap(v, &d.Digest)
		case "content":
			return base64Bytes(v, &d.Content)
		case "downloadLocation":
			return str(v, &d.DownloadLocation)
		case "mediaType":
			return str(v, &d.MediaType)
		default: // annotations
			s, err := structFrom(v, budget)
			d.Annotations = s
			return err
		}
	})
	return d, err
}

var statementNames = map[string]string{
	"_type": "type", "type": "type", "subject": "subject",
	"predicateType": "predicateType", "predicate_type": "predicateType", "predicate": "predicate",
}

// statementFrom reads an in-toto statement, and returns its predicate's
// tree for provenanceFrom.
func statementFrom(doc any) (*InTotoStatement, any, error) {
	budget, err := enter(recursionLimit)
	if err != nil {
		return nil, nil, err
	}
	st := &InTotoStatement{}
	var pred any
	err = fields(doc, statementNames, func(f string, v any) error {
		switch f {
		case "type":
			return str(v, &st.Type)
		case "subject":
			return descriptors(v, budget, &st.Subject)
		case "predicateType":
			return str(v, &st.PredicateType)
		default: // predicate
			s, err := structFrom(v, budget)
			st.Predicate, pred = s, v
			return err
		}
	})
	if err != nil {
		return nil, nil, err
	}
	return st, pred, nil
}

var (
	provenanceNames = map[string]string{
		"buildDefinition": "buildDefinition", "build_definition": "buildDefinition",
		"runDetails": "runDetails", "run_details": "runDetails",
	}
	buildDefinitionNames = map[string]string{
		"buildType": "buildType", "build_type": "buildType",
		"externalParameters": "externalParameters", "external_parameters": "externalParameters",
		"internalParameters": "internalParameters", "internal_parameters": "internalParameters",
		"resolvedDependencies": "resolvedDependencies", "resolved_dependencies": "resolvedDependencies",
	}
	runDetailsNames = map[string]string{"builder": "builder", "metadata": "metadata", "byproducts": "byproducts"}
	builderNames    = map[string]string{
		"id": "id", "version": "version",
		"builderDependencies": "builderDependencies", "builder_dependencies": "builderDependencies",
	}
	metadataNames = map[string]string{
		"invocationId": "invocationId", "invocation_id": "invocationId",
		"startedOn": "startedOn", "started_on": "startedOn",
		"finishedOn": "finishedOn", "finished_on": "finishedOn",
	}
)

// provenanceFrom reads a SLSA Provenance v1 predicate (protojson read it
// afresh, with a recursion limit of its own).
func provenanceFrom(v any) (*Provenance, error) {
	budget, err := enter(recursionLimit)
	if err != nil {
		return nil, err
	}
	p := &Provenance{}
	err = fields(v, provenanceNames, func(f string, v any) error {
		b, err := enter(budget)
		if err != nil {
			return err
		}
		if f == "buildDefinition" {
			p.BuildDefinition, err = buildDefinitionFrom(v, b)
		} else {
			p.RunDetails, err = runDetailsFrom(v, b)
		}
		return err
	})
	return p, err
}

func buildDefinitionFrom(v any, budget int) (*BuildDefinition, error) {
	b := &BuildDefinition{}
	err := fields(v, buildDefinitionNames, func(f string, v any) error {
		var err error
		switch f {
		case "buildType":
			return str(v, &b.BuildType)
		case "externalParameters":
			b.ExternalParameters, err = structFrom(v, budget)
		case "internalParameters":
			b.InternalParameters, err = structFrom(v, budget)
		default: // resolvedDependencies
			err = descriptors(v, budget, &b.ResolvedDependencies)
		}
		return err
	})
	return b, err
}

func runDetailsFrom(v any, budget int) (*RunDetails, error) {
	r := &RunDetails{}
	err := fields(v, runDetailsNames, func(f string, v any) error {
		if f == "byproducts" {
			return descriptors(v, budget, &r.Byproducts)
		}
		b, err := enter(budget)
		if err != nil {
			return err
		}
		if f == "builder" {
			r.Builder, err = builderFrom(v, b)
		} else {
			r.Metadata, err = metadataFrom(v, b)
		}
		return err
	})
	return r, err
}

func builderFrom(v any, budget int) (*Builder, error) {
	b := &Builder{}
	err := fields(v, builderNames, func(f string, v any) error {
		switch f {
		case "id":
			return str(v, &b.ID)
		case "version":
			return strMap(v, &b.Version)
		default: // builderDependencies
			return descriptors(v, budget, &b.BuilderDependencies)
		}
	})
	return b, err
}

func metadataFrom(v any, budget int) (*BuildMetadata, error) {
	m := &BuildMetadata{}
	err := fields(v, metadataNames, func(f string, v any) error {
		switch f {
		case "invocationId":
			return str(v, &m.InvocationID)
		case "startedOn":
			return timestamp(v, budget, &m.StartedOn)
		default: // finishedOn
			return timestamp(v, budget, &m.FinishedOn)
		}
	})
	return m, err
}
