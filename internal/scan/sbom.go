package scan

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// SBOM is what Slipway checks of a CycloneDX document.
type SBOM struct {
	SpecVersion string
	// Components counts every component (libraries, applications, the OS).
	Components int
	// Libraries counts the package components (what the scan lists as packages).
	Libraries int
}

// ParseSBOM reads a CycloneDX JSON SBOM and checks it is one Slipway
// attaches: bomFormat CycloneDX, spec 1.5 or newer.
func ParseSBOM(data []byte) (*SBOM, []sbomComponent, error) {
	var doc struct {
		BOMFormat   string          `json:"bomFormat"`
		SpecVersion string          `json:"specVersion"`
		Components  []sbomComponent `json:"components"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("not a CycloneDX JSON SBOM: %w", err)
	}
	if doc.BOMFormat != "CycloneDX" {
		return nil, nil, fmt.Errorf("bomFormat %q: not a CycloneDX SBOM", doc.BOMFormat)
	}
	if !specAtLeast(doc.SpecVersion, 1, 5) {
		return nil, nil, fmt.Errorf("CycloneDX spec %q: want 1.5 or newer", doc.SpecVersion)
	}
	s := &SBOM{SpecVersion: doc.SpecVersion, Components: len(doc.Components)}
	var libs []sbomComponent
	for _, c := range doc.Components {
		if c.Type == "library" {
			libs = append(libs, c)
		}
	}
	s.Libraries = len(libs)
	return s, libs, nil
}

type sbomComponent struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	Version string `json:"version"`
	PURL    string `json:"purl"`
}

func specAtLeast(v string, major, minor int) bool {
	a, b, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	ma, err1 := strconv.Atoi(a)
	mi, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// AgreeSBOM checks that the SBOM lists exactly the packages the scan found
// (by package URL, else name@version, counting duplicates): the SBOM and
// the verdict describe one image. The error names what differs.
func AgreeSBOM(r *Report, sbom []byte) (*SBOM, error) {
	s, libs, err := ParseSBOM(sbom)
	if err != nil {
		return nil, err
	}
	count := map[string]int{}
	for _, res := range r.Results {
		for _, p := range res.Packages {
			count[pkgKey(p.Identifier.PURL, p.Name, p.Version)]++
		}
	}
	if len(count) == 0 && len(libs) > 0 {
		return nil, errors.New("the scan report lists no packages (was it made with --list-all-pkgs?)")
	}
	for _, c := range libs {
		count[pkgKey(c.PURL, c.Name, c.Version)]--
	}
	var onlyScan, onlySBOM []string
	for k, n := range count {
		for ; n > 0; n-- {
			onlyScan = append(onlyScan, k)
		}
		for ; n < 0; n++ {
			onlySBOM = append(onlySBOM, k)
		}
	}
	if len(onlyScan)+len(onlySBOM) == 0 {
		return s, nil
	}
	sort.Strings(onlyScan)
	sort.Strings(onlySBOM)
	var parts []string
	if len(onlyScan) > 0 {
		parts = append(parts, fmt.Sprintf("%d package(s) of the scan missing from the SBOM: %s", len(onlyScan), firstFew(onlyScan)))
	}
	if len(onlySBOM) > 0 {
		parts = append(parts, fmt.Sprintf("%d SBOM component(s) the scan did not find: %s", len(onlySBOM), firstFew(onlySBOM)))
	}
	return s, fmt.Errorf("the SBOM and the scan disagree: %s", strings.Join(parts, "; "))
}

func pkgKey(purl, name, version string) string {
	if purl != "" {
		return purl
	}
	return name + "@" + version
}

func firstFew(s []string) string {
	if len(s) > 5 {
		return strings.Join(s[:5], ", ") + fmt.Sprintf(" and %d more", len(s)-5)
	}
	return strings.Join(s, ", ")
}
