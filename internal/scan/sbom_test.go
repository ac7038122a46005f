package scan

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestSBOMAgreesWithScan uses real Trivy 0.74.0 output: the JSON report of
// an image (--list-all-pkgs) and `trivy convert --format cyclonedx` of it
// (testdata/README.md says how they were made).
func TestSBOMAgreesWithScan(t *testing.T) {
	r, err := Load("testdata/reports/sbom-image.json")
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := os.ReadFile("testdata/reports/sbom.cdx.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := AgreeSBOM(r, sbom)
	if err != nil {
		t.Fatal(err)
	}
	// 2 Debian packages, 13 modules of crane, 2 of ledger; plus the OS and
	// the two binaries as non-library components.
	if s.SpecVersion != "1.7" || s.Libraries != 17 || s.Components != 20 {
		t.Fatalf("%+v", s)
	}

	// A tampered SBOM: one component dropped, one version changed.
	var doc map[string]any
	_ = json.Unmarshal(sbom, &doc)
	comps := doc["components"].([]any)
	var kept []any
	dropped, changed := false, false
	for _, c := range comps {
		m := c.(map[string]any)
		switch {
		case !dropped && m["name"] == "tzdata":
			dropped = true
			continue
		case !changed && m["name"] == "base-files":
			m["purl"] = strings.Replace(m["purl"].(string), "12.4", "99.9", 1)
			changed = true
		}
		kept = append(kept, m)
	}
	doc["components"] = kept
	bad, _ := json.Marshal(doc)
	_, err = AgreeSBOM(r, bad)
	if err == nil || !strings.Contains(err.Error(), "2 package(s) of the scan missing from the SBOM") ||
		!strings.Contains(err.Error(), "pkg:deb/debian/tzdata") || !strings.Contains(err.Error(), "1 SBOM component(s) the scan did not find: pkg:deb/debian/base-files@99.9") {
		t.Fatalf("tampered: %v", err)
	}

	// Not CycloneDX, or too old a spec.
	for in, want := range map[string]string{
		`{"spdxVersion":"SPDX-2.3"}`:                    "not a CycloneDX SBOM",
		`{"bomFormat":"CycloneDX","specVersion":"1.4"}`: "want 1.5 or newer",
		`not json`: "not a CycloneDX JSON SBOM",
	} {
		if _, err := AgreeSBOM(r, []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
	// Another image's report disagrees.
	other, _ := Load("testdata/reports/image.json")
	if _, err := AgreeSBOM(other, sbom); err == nil || !strings.Contains(err.Error(), "pkg:golang/golang.org/x/text@v0.3.7") {
		t.Errorf("another image's report: %v", err)
	}
	// A report made without --list-all-pkgs cannot vouch for an SBOM.
	if _, err := AgreeSBOM(&Report{Results: []Result{{Target: "x"}}}, sbom); err == nil || !strings.Contains(err.Error(), "--list-all-pkgs") {
		t.Errorf("report without packages: %v", err)
	}
}
