package provenance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/slipway-ci/slipway/internal/imagelock"
)

// The plain-struct statements must be the protobuf ones: for generated
// inputs of every shape, Statement+Marshal succeed or fail together with
// the protobuf code (protobuf_ref_test.go), and write the same JSON.
func TestStatementMatchesProtobuf(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 8))
	built := 0
	for i := range 1000 {
		in := genInput(r)
		oldSt, oldErr := oldStatement(in)
		var oldJSON []byte
		if oldErr == nil {
			oldJSON, oldErr = oldMarshal(oldSt)
		}
		newSt, newErr := Statement(in)
		var newJSON []byte
		if newErr == nil {
			newJSON, newErr = Marshal(newSt)
		}
		if (oldErr == nil) != (newErr == nil) {
			t.Fatalf("case %d: protobuf: %v; plain: %v\ninput: %#v", i, oldErr, newErr, in)
		}
		if oldErr != nil {
			continue
		}
		built++
		if !reflect.DeepEqual(decode(t, oldJSON), decode(t, newJSON)) {
			t.Fatalf("case %d: different statements\nprotobuf:\n%s\nplain:\n%s", i, oldJSON, newJSON)
		}
		// Both end in json.MarshalIndent of the same values: the bytes
		// are the same too, so a pushed provenance.json does not change.
		if !bytes.Equal(oldJSON, newJSON) {
			t.Fatalf("case %d: same values, different bytes\nprotobuf:\n%s\nplain:\n%s", i, oldJSON, newJSON)
		}
		agree(t, fmt.Sprintf("case %d", i), newJSON)
	}
	if built < 300 {
		t.Errorf("only %d of 1000 generated inputs built a statement: the generator makes too many bad ones", built)
	}
}

// Real statements (an npm provenance from sigstore-go's test data) and
// statements in the shapes slsa-github-generator, GitHub's
// attest-build-provenance, cosign and BuildKit write, and malformed ones:
// the two parsers accept and refuse the same, and read the same values.
func TestParseMatchesProtobuf(t *testing.T) {
	files, err := filepath.Glob("testdata/statements/*.json")
	if err != nil || len(files) < 30 {
		t.Fatalf("corpus: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		ok := agree(t, name, data)
		if want := strings.HasPrefix(name, "ok-"); ok != want {
			_, _, err := Parse(data)
			t.Errorf("%s: accepted = %v, want %v (%v)", name, ok, want, err)
		}
	}
}

// FuzzParse: whatever the bytes, the plain parser accepts exactly what the
// protobuf one accepts and reads the same statement from it. Seeds are in
// testdata/fuzz/FuzzParse (run by every go test).
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if agree(t, "fuzz input", data) {
			// What it accepts, it writes back in a form it reads the same.
			st, p, _ := Parse(data)
			out, err := Marshal(st)
			if err != nil {
				t.Fatalf("Marshal of a parsed statement: %v", err)
			}
			st2, p2, err := Parse(out)
			if err != nil || !reflect.DeepEqual(st, st2) || !reflect.DeepEqual(p, p2) {
				t.Fatalf("round trip: %v\n%s", err, out)
			}
		}
	})
}

// agree parses data with both parsers and fails t unless they agree: both
// refuse, or both accept and read the same statement and predicate. It
// reports whether they accepted.
func agree(t *testing.T, name string, data []byte) bool {
	t.Helper()
	oSt, oP, oErr := oldParse(data)
	nSt, nP, nErr := Parse(data)
	if (oErr == nil) != (nErr == nil) {
		t.Fatalf("%s: protobuf parser: %v; plain parser: %v\n%q", name, oErr, nErr, data)
	}
	if oErr != nil {
		return false
	}
	if o, n := protoValues(t, oSt), jsonValues(t, nSt); !reflect.DeepEqual(o, n) {
		t.Fatalf("%s: statements differ\nprotobuf: %v\nplain:    %v", name, o, n)
	}
	if o, n := protoValues(t, oP), jsonValues(t, nP); !reflect.DeepEqual(o, n) {
		t.Fatalf("%s: predicates differ\nprotobuf: %v\nplain:    %v", name, o, n)
	}
	if oldSourceCommit(oP) != SourceCommit(nP) || (oP.GetBuildDefinition().GetBuildType() == PushedType) != Pushed(nP) ||
		oP.GetRunDetails().GetBuilder().GetId() != nP.GetRunDetails().GetBuilder().GetId() {
		t.Fatalf("%s: accessors differ", name)
	}
	if !reflect.DeepEqual(oP.GetBuildDefinition().GetExternalParameters().AsMap(), nP.GetBuildDefinition().GetExternalParameters().AsMap()) {
		t.Fatalf("%s: external parameters differ", name)
	}
	ob, oErr := oldMarshal(oSt)
	nb, nErr := Marshal(nSt)
	if oErr != nil || nErr != nil || !bytes.Equal(ob, nb) {
		t.Fatalf("%s: parsed statement written differently (%v, %v)\nprotobuf:\n%s\nplain:\n%s", name, oErr, nErr, ob, nb)
	}
	return true
}

func protoValues(t *testing.T, m proto.Message) any {
	t.Helper()
	raw, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, raw)
}

func jsonValues(t *testing.T, v any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, raw)
}

func decode(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	return v
}

// genInput makes an Input of any shape: optional fields empty or set,
// unicode, several dependencies, app values of every type structpb takes
// (and, rarely, what it refuses), times at every precision, and now and
// then a bad digest, commit or string.
func genInput(r *rand.Rand) Input {
	in := Input{
		Repository:    pick(r, "ghcr.io/acme/payments", "", "registry.例え.jp/ñandú/app", `q"<&>\`),
		Digest:        genDigest(r),
		SourceRepo:    pick(r, "", "https://github.com/acme/payments", "ssh://git@例え.jp/x.git"),
		SourceRef:     pick(r, "", "main", "feature/ü"),
		SourceCommit:  pick(r, "", hexs(r, 20), hexs(r, 20), strings.ToUpper(hexs(r, 20))),
		SourceDirty:   r.IntN(2) == 0,
		Pushed:        r.IntN(3) == 0,
		RevisionLabel: pick(r, "", hexs(r, 20), "v1.2.3 ✓"),
		InputsCommit:  pick(r, "", hexs(r, 20)),
		BuilderID:     pick(r, "", "local", "https://github.com/acme/x/.github/workflows/ci.yml@refs/heads/main", "jenkins ☃"),
		InvocationID:  pick(r, "", "https://github.com/acme/payments/actions/runs/7", "run\n7"),
		Started:       genTime(r),
		Finished:      genTime(r),
	}
	if r.IntN(4) > 0 {
		in.App = genMap(r, 0)
	} else if r.IntN(2) == 0 {
		in.App = map[string]any{}
	}
	if r.IntN(4) > 0 {
		in.Lock = genLock(r)
	}
	if r.IntN(40) == 0 { // rare: what structpb or protojson refuses
		switch r.IntN(4) {
		case 0:
			in.BuilderID = "bad \xff utf-8"
		case 1:
			in.Repository = "bad \xfe"
		case 2:
			in.SourceCommit = "not-hex-" + strings.Repeat("g", 32)
		default:
			in.SourceRef = "\xc3"
		}
	}
	return in
}

func pick(r *rand.Rand, s ...string) string { return s[r.IntN(len(s))] }

func hexs(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return fmt.Sprintf("%x", b)
}

func genDigest(r *rand.Rand) string {
	switch r.IntN(30) {
	case 0:
		return "sha256:short"
	case 1:
		return hexs(r, 32)
	case 2:
		return "sha256:" + strings.Repeat("z", 64)
	case 3:
		return "sha256:" + strings.ToUpper(hexs(r, 32))
	}
	return "sha256:" + hexs(r, 32)
}

func genTime(r *rand.Rand) time.Time {
	switch r.IntN(8) {
	case 0:
		return time.Time{}
	case 1:
		if r.IntN(10) == 0 { // out of google.protobuf.Timestamp's range
			return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		}
	}
	nanos := []int{0, 120_000_000, 123_000_000, 123_456_000, 123_456_789, 1, 999_999_999}[r.IntN(7)]
	zone := []*time.Location{time.UTC, time.FixedZone("CET", 3600), time.FixedZone("x", -5*3600-30*60)}[r.IntN(3)]
	return time.Date(1969+r.IntN(80), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), nanos, zone)
}

func genMap(r *rand.Rand, depth int) map[string]any {
	m := map[string]any{}
	for range r.IntN(5) {
		m[pick(r, "name", "main", "binary", "port", "base", "ключ", "", "a.b", "emoji😀")] = genValue(r, depth+1)
	}
	return m
}

func genValue(r *rand.Rand, depth int) any {
	n := 16
	if depth > 3 {
		n = 12 // scalars only
	}
	switch r.IntN(n) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return r.IntN(100000) - 50000
	case 3:
		return int64(1)<<62 + r.Int64N(1000)
	case 4:
		return uint8(r.IntN(256))
	case 5:
		return float32(r.Float64())
	case 6:
		return []float64{0.1, 1e21, 1e-7, math.Copysign(0, -1), 123456789.125, math.MaxFloat64, 5e-324}[r.IntN(7)]
	case 7:
		return json.Number(pick(r, "12", "1.5e3", "-0"))
	case 8:
		return []byte(pick(r, "", "hi", "\x00\xff"))
	case 9, 10:
		return pick(r, "payments", "./cmd/ñ", "日本語", "<tag>&amp;", "line\nbreak\u2028", "")
	case 11:
		switch r.IntN(30) { // rare: refused by structpb or protojson
		case 0:
			return math.NaN()
		case 1:
			return []string{"not", "[]any"}
		case 2:
			return json.Number("1e400")
		case 3:
			return "bad\xff"
		}
		return int32(r.IntN(10))
	case 12, 13:
		return genMap(r, depth)
	case 14:
		if r.IntN(2) == 0 {
			return map[string]any(nil)
		}
		return []any(nil)
	default:
		a := make([]any, r.IntN(4))
		for i := range a {
			a[i] = genValue(r, depth+1)
		}
		return a
	}
}

func genLock(r *rand.Rand) *imagelock.Lock {
	var b strings.Builder
	b.WriteString(lockText)
	for i := range r.IntN(4) {
		fmt.Fprintf(&b, "extra%d: example.com/free/img%d:v%d@sha256:%s\n", i, i, i, hexs(r, 32))
	}
	lock, err := imagelock.Parse("gen", []byte(b.String()))
	if err != nil {
		panic(err)
	}
	return lock
}

// The point of the plain structs (issue 19 item 8): a program that writes
// or reads provenance does not compile the protobuf runtime for it.
func TestNoProtobufDependency(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "google.golang.org/protobuf") || strings.HasPrefix(p, "github.com/in-toto/") {
			t.Errorf("internal/provenance depends on %s", p)
		}
	}
}
