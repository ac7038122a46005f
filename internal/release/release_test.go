package release

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/slipway-ci/slipway/internal/imagelock"
	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/provenance"
)

const lockText = `go: golang:1.26-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d
golangci-lint: golangci/golangci-lint:v2.12.2@sha256:5cceeef04e53efe1470638d4b4b4f5ceefd574955ab3941b2d9a68a8c9ad5240
trivy: aquasec/trivy:0.69.3@sha256:bcc376de8d77cfe086a917230e818dc9f8528e3c852f7b1aff648949b6258d1c
distroless: gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
`

var (
	commitA = strings.Repeat("a", 40)
	commitB = strings.Repeat("b", 40)
	digest  = "sha256:" + strings.Repeat("ab", 32)
	noEnv   = func(string) string { return "" }
)

// TestProvenanceStatesOnlyWhatIsKnown is the provenance rule over every
// combination of (label absent / naming the commit / naming another / not a
// commit) × (commit given / absent) × (built by the pipeline / not): the
// statement never names a commit nobody gave, never names build inputs of
// an image Slipway did not build, and a contradicting commit is refused.
func TestProvenanceStatesOnlyWhatIsKnown(t *testing.T) {
	lock, err := imagelock.Parse("test", []byte(lockText))
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"absent": "", "same": commitA, "same-dirty": commitA + "-dirty", "short": commitA[:12], "other": commitB, "not-a-sha": "v1.2.3"}
	givens := map[string]string{"absent": "", "given": commitA}
	for ln, label := range labels {
		for gn, given := range givens {
			for _, built := range []bool{true, false} {
				t.Run(fmt.Sprintf("label=%s/commit=%s/built=%v", ln, gn, built), func(t *testing.T) {
					var f Facts
					if built {
						// The pipeline's build: its checkout's commit is a fact
						// (the build ran on it), and so are its inputs.
						f = Facts{Source: Source{Commit: given}, Build: &Build{App: map[string]any{"name": "x"}, Lock: lock}, Label: label}
					} else {
						src, err := PushedSource(label, given, nil)
						contradicts := ln == "other" && gn == "given"
						if contradicts != errors.Is(err, ErrContradicts) {
							t.Fatalf("PushedSource(%q, %q) = %v; want a refusal: %v", label, given, err, contradicts)
						}
						if err != nil {
							if !strings.Contains(err.Error(), label) || !strings.Contains(err.Error(), given) {
								t.Errorf("refusal does not name both commits: %v", err)
							}
							return
						}
						if src.Commit != given {
							t.Errorf("source commit %q, want only the given %q", src.Commit, given)
						}
						if src.Dirty != (ln == "same-dirty" && given != "") {
							t.Errorf("dirty = %v with label %q", src.Dirty, label)
						}
						f = Facts{Source: src, Label: label}
					}
					st, err := provenance.Statement(Provenance("ghcr.io/acme/x", digest, f, noEnv, "local", time.Time{}, time.Time{}))
					if err != nil {
						t.Fatal(err)
					}
					data, _ := provenance.Marshal(st)
					_, p, err := provenance.Parse(data)
					if err != nil {
						t.Fatal(err)
					}
					if got := provenance.SourceCommit(p); got != given {
						t.Errorf("provenance names commit %q, want %q (only a known one)", got, given)
					}
					if given == "" && !strings.Contains(string(data), `"commit": "unknown"`) {
						t.Errorf("an unknown commit is not said to be unknown:\n%s", data)
					}
					if provenance.Pushed(p) == built {
						t.Errorf("buildType %s for built=%v", p.GetBuildDefinition().GetBuildType(), built)
					}
					lockNamed := strings.Contains(string(data), "distroless") || strings.Contains(string(data), "golang:")
					if lockNamed != built {
						t.Errorf("lock images named = %v for built=%v:\n%s", lockNamed, built, data)
					}
					if (label != "") != strings.Contains(string(data), `"revisionLabel": "`+label+`"`) {
						t.Errorf("revision label %q not recorded as it is:\n%s", label, data)
					}
				})
			}
		}
	}
}

func TestLabelCommit(t *testing.T) {
	for label, want := range map[string]struct {
		commit      string
		dirty, isOK bool
	}{
		commitA:            {commitA, false, true},
		commitA + "-dirty": {commitA, true, true},
		"ABCDEF1":          {"abcdef1", false, true},
		"abc":              {"", false, false},
		"v1.2.3":           {"", false, false},
		"":                 {"", false, false},
		commitA + "0":      {"", false, false},
	} {
		c, d, ok := LabelCommit(label)
		if c != want.commit || d != want.dirty || ok != want.isOK {
			t.Errorf("LabelCommit(%q) = %q %v %v, want %+v", label, c, d, ok, want)
		}
	}
}

// TestLabelOfArchive reads the revision label from both tarball formats.
func TestLabelOfArchive(t *testing.T) {
	base, _ := random.Image(64, 1)
	cf, _ := base.ConfigFile()
	cf.Config.Labels = map[string]string{RevisionLabel: commitA}
	labelled, err := mutate.ConfigFile(base, cf)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, img := range map[string]struct {
		want string
	}{"labelled": {commitA}, "plain": {""}} {
		i := base
		if name == "labelled" {
			i = labelled
		}
		p := filepath.Join(dir, name+".tar")
		if err := ocitar.Write(p, i, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		a, err := ocitar.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Label(a)
		a.Close()
		if err != nil || got != img.want {
			t.Errorf("%s: Label = %q, %v; want %q", name, got, err, img.want)
		}
	}
}

// TestContradictsOnlyInputsProveAnOlderLabel: a label naming another commit
// than the given one is accepted only when the app's inputs prove nothing
// changed between them (inputsAt of the given commit is the label's);
// being an ancestor is not enough, and without known inputs the label must
// name the commit itself.
func TestContradictsOnlyInputsProveAnOlderLabel(t *testing.T) {
	inputsAtA := func(c string) string { return commitA } // nothing changed since A
	inputsAtB := func(c string) string { return c }       // every commit changed the inputs
	unknown := func(string) string { return "" }
	for _, c := range []struct {
		label, commit string
		inputsAt      InputsAt
		want          bool
	}{
		{commitA, commitA, nil, false},
		{commitA + "-dirty", commitA, nil, false},
		{commitA[:7], commitA, nil, false},
		{commitA, commitB, nil, true},
		{commitA, commitB, inputsAtA, false},
		{commitA[:12], commitB, inputsAtA, false},
		{commitA, commitB, inputsAtB, true},
		{commitA, commitB, unknown, true},
		{commitB, commitA, inputsAtA, true},
		{"v1.2.3", commitB, nil, false},
		{"", commitB, nil, false},
	} {
		if got := Contradicts(c.label, c.commit, c.inputsAt); got != c.want {
			t.Errorf("Contradicts(%q, %q) = %v, want %v", c.label, c.commit[:7], got, c.want)
		}
	}
}
