package provenance

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/imagelock"
)

const lockText = `go: golang:1.26-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d
golangci-lint: golangci/golangci-lint:v2.12.2@sha256:5cceeef04e53efe1470638d4b4b4f5ceefd574955ab3941b2d9a68a8c9ad5240
trivy: aquasec/trivy:0.69.3@sha256:bcc376de8d77cfe086a917230e818dc9f8528e3c852f7b1aff648949b6258d1c
distroless: gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
`

func input(t *testing.T) Input {
	lock, err := imagelock.Parse("test", []byte(lockText))
	if err != nil {
		t.Fatal(err)
	}
	return Input{
		Repository: "ghcr.io/acme/payments", Digest: "sha256:" + strings.Repeat("ab", 32),
		SourceRepo: "https://github.com/acme/payments", SourceRef: "main", SourceCommit: strings.Repeat("c", 40),
		App:  map[string]any{"name": "payments", "main": "./cmd/payments"},
		Lock: lock, BuilderID: "https://github.com/acme/payments/.github/workflows/ci.yml@refs/heads/main",
		InvocationID: "https://github.com/acme/payments/actions/runs/7",
		Started:      time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), Finished: time.Date(2026, 11, 25, 9, 4, 0, 0, time.UTC),
	}
}

func TestStatementRoundTrip(t *testing.T) {
	st, err := Statement(input(t))
	if err != nil {
		t.Fatal(err)
	}
	data, err := Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	// In-toto's JSON names, as cosign and slsa-verifier read them.
	var doc map[string]any
	json.Unmarshal(data, &doc)
	if doc["_type"] != "https://in-toto.io/Statement/v1" || doc["predicateType"] != PredicateType {
		t.Fatalf("statement JSON:\n%s", data)
	}
	if !strings.Contains(string(data), `"sha256": "`+strings.Repeat("ab", 32)+`"`) || !strings.Contains(string(data), `"buildType"`) || !strings.Contains(string(data), `"resolvedDependencies"`) {
		t.Errorf("statement JSON:\n%s", data)
	}
	back, p, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if SourceCommit(p) != strings.Repeat("c", 40) || back.GetSubject()[0].GetName() != "ghcr.io/acme/payments" {
		t.Errorf("parsed: %v %v", SourceCommit(p), back.GetSubject())
	}
	// Every image of the lock is a resolved dependency, by digest.
	deps := p.GetBuildDefinition().GetResolvedDependencies()
	byName := map[string]string{}
	for _, d := range deps {
		byName[d.GetName()] = d.GetDigest()["sha256"] + d.GetDigest()["gitCommit"]
	}
	if len(deps) != 5 || byName["distroless"] != "d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639" || byName["source"] != strings.Repeat("c", 40) {
		t.Errorf("dependencies: %v", deps)
	}
	if p.GetRunDetails().GetBuilder().GetId() != input(t).BuilderID || p.GetRunDetails().GetMetadata().GetInvocationId() != input(t).InvocationID {
		t.Errorf("run details: %v", p.GetRunDetails())
	}
}

func TestBadInput(t *testing.T) {
	in := input(t)
	in.Digest = "sha256:short"
	if _, err := Statement(in); err == nil {
		t.Error("bad digest accepted")
	}
	if _, _, err := Parse([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` + strings.Repeat("0", 64) + `"}}],"predicateType":"https://example.com/other","predicate":{}}`)); err == nil || !strings.Contains(err.Error(), "predicate") {
		t.Errorf("other predicate: %v", err)
	}
	if _, _, err := Parse([]byte(`not json`)); err == nil {
		t.Error("garbage accepted")
	}
}

func TestBuilderID(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for want, m := range map[string]map[string]string{
		"https://github.com/acme/x/.github/workflows/ci.yml@refs/heads/main": {"GITHUB_WORKFLOW_REF": "acme/x/.github/workflows/ci.yml@refs/heads/main"},
		"https://jenkins.example/job/x/":                                     {"JOB_URL": "https://jenkins.example/job/x/"},
		"local":                                                              {},
	} {
		if got := BuilderID(env(m)); got != want {
			t.Errorf("BuilderID(%v) = %q, want %q", m, got, want)
		}
	}
}
