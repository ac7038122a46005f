// Package scan is Slipway's vulnerability gate: it reads Trivy's JSON report
// (schema v2), applies severity, fixability and ignore rules, and renders what
// it counted as a table, JSON and SARIF. It runs without Trivy or an engine, so
// `ci scan --report` gates a report produced anywhere.
package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Report is the subset of Trivy's JSON report (SchemaVersion 2) the gate reads.
type Report struct {
	SchemaVersion int      `json:"SchemaVersion"`
	CreatedAt     string   `json:"CreatedAt,omitempty"`
	ArtifactName  string   `json:"ArtifactName"`
	ArtifactType  string   `json:"ArtifactType"`
	Results       []Result `json:"Results"`
}

// Result is one scan target (a package list, a binary, a file).
type Result struct {
	Target            string          `json:"Target"`
	Class             string          `json:"Class"`
	Type              string          `json:"Type,omitempty"`
	Vulnerabilities   []Vulnerability `json:"Vulnerabilities,omitempty"`
	Secrets           []Secret        `json:"Secrets,omitempty"`
	Misconfigurations []Misconf       `json:"Misconfigurations,omitempty"`
	// Packages are every package found (trivy --list-all-pkgs): the SBOM's
	// components come from them.
	Packages []Package `json:"Packages,omitempty"`
}

// Package is a package Trivy found in the target.
type Package struct {
	Name       string `json:"Name"`
	Version    string `json:"Version,omitempty"`
	Identifier struct {
		PURL string `json:"PURL,omitempty"`
	} `json:"Identifier"`
}

// Vulnerability is a detected vulnerability.
type Vulnerability struct {
	VulnerabilityID string `json:"VulnerabilityID"`
	PkgName         string `json:"PkgName"`
	PkgPath         string `json:"PkgPath,omitempty"`
	PkgIdentifier   struct {
		PURL string `json:"PURL,omitempty"`
	} `json:"PkgIdentifier"`
	InstalledVersion string `json:"InstalledVersion"`
	FixedVersion     string `json:"FixedVersion,omitempty"`
	Status           string `json:"Status,omitempty"`
	Severity         string `json:"Severity"`
	Title            string `json:"Title,omitempty"`
	Description      string `json:"Description,omitempty"`
	PrimaryURL       string `json:"PrimaryURL,omitempty"`
}

// Secret is a detected secret. Trivy masks the value in Match; Slipway never
// prints Match or Code anyway.
type Secret struct {
	RuleID    string `json:"RuleID"`
	Category  string `json:"Category"`
	Severity  string `json:"Severity"`
	Title     string `json:"Title"`
	StartLine int    `json:"StartLine"`
	EndLine   int    `json:"EndLine"`
}

// Misconf is a misconfiguration check result.
type Misconf struct {
	Type          string `json:"Type"`
	ID            string `json:"ID"`
	AVDID         string `json:"AVDID"`
	Title         string `json:"Title"`
	Description   string `json:"Description"`
	Message       string `json:"Message"`
	Resolution    string `json:"Resolution"`
	Severity      string `json:"Severity"`
	PrimaryURL    string `json:"PrimaryURL"`
	Status        string `json:"Status"`
	CauseMetadata struct {
		StartLine int `json:"StartLine,omitempty"`
		EndLine   int `json:"EndLine,omitempty"`
	} `json:"CauseMetadata"`
}

// ErrBadReport marks a report that is missing or not Trivy's JSON (exit 2).
var ErrBadReport = errors.New("bad report")

// Load reads and checks a Trivy JSON report.
func Load(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist (run the scan stage, or pass a Trivy JSON report made with --format json)", ErrBadReport, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadReport, path, err)
	}
	return Parse(path, data)
}

// Parse decodes a report; name identifies it in errors.
func Parse(name string, data []byte) (*Report, error) {
	var r Report
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: %s is not a Trivy JSON report: the file is empty (did the scan fail before writing it?)", ErrBadReport, name)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: %s is not a Trivy JSON report: %w (make one with trivy --format json)", ErrBadReport, name, err)
	}
	if r.SchemaVersion != 2 {
		return nil, fmt.Errorf("%w: %s has SchemaVersion %d, want 2 (Trivy's `--format json`)", ErrBadReport, name, r.SchemaVersion)
	}
	return &r, nil
}

// Merge joins reports (the image scan and the manifest scan) into one.
func Merge(name string, reports ...*Report) *Report {
	out := &Report{SchemaVersion: 2, ArtifactName: name, ArtifactType: "slipway"}
	for _, r := range reports {
		if r == nil {
			continue
		}
		if out.CreatedAt == "" {
			out.CreatedAt = r.CreatedAt
		}
		out.Results = append(out.Results, r.Results...)
	}
	return out
}
