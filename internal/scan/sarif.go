package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// SARIF 2.1.0, only the parts GitHub code scanning reads.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	HelpURI              string         `json:"helpUri,omitempty"`
	Help                 sarifHelp      `json:"help"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifHelp struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI       string `json:"uri"`
			URIBaseID string `json:"uriBaseId,omitempty"`
		} `json:"artifactLocation"`
		Region struct {
			StartLine int `json:"startLine"`
			EndLine   int `json:"endLine"`
		} `json:"region"`
	} `json:"physicalLocation"`
}

// SARIF schema location, as GitHub's upload-sarif expects.
const sarifSchema = "https://json.schemastore.org/sarif-2.1.0.json"

// securitySeverity feeds GitHub's severity column (same scale as Trivy's SARIF).
var securitySeverity = map[string]string{"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "2.0", "UNKNOWN": "0.0"}

func sarifLevel(sev string) string {
	switch sev {
	case "CRITICAL", "HIGH":
		return "error"
	case "MEDIUM":
		return "warning"
	}
	return "note"
}

// WriteSARIF writes SARIF 2.1.0 holding exactly the findings the gate counted,
// so code scanning shows what failed the build and nothing it filtered out.
func WriteSARIF(w io.Writer, o *Outcome, toolVersion string) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{
		Name: "Slipway gate (Trivy)", InformationURI: "https://trivy.dev", Version: toolVersion,
	}}, Results: []sarifResult{}}
	ruleIdx := map[string]int{}
	ids := make([]string, 0)
	first := map[string]Finding{}
	for _, f := range o.Counted {
		if _, ok := first[f.ID]; !ok {
			first[f.ID] = f
			ids = append(ids, f.ID)
		}
	}
	sort.Strings(ids)
	for i, id := range ids {
		f := first[id]
		ruleIdx[id] = i
		help := fmt.Sprintf("%s\nSeverity: %s\n%s", f.Title, f.Severity, f.Description)
		md := fmt.Sprintf("**%s** %s\n\n| Severity | Kind |\n|---|---|\n| %s | %s |\n\n%s", f.ID, f.Title, f.Severity, f.Kind, f.Description)
		if f.Resolution != "" {
			help += "\nResolution: " + f.Resolution
			md += "\n\nResolution: " + f.Resolution
		}
		if f.URL != "" {
			md += fmt.Sprintf("\n\n[%s](%s)", f.URL, f.URL)
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID: id, Name: ruleName(f), HelpURI: f.URL,
			ShortDescription:     sarifText{Text: f.Title},
			FullDescription:      sarifText{Text: firstNonEmpty(f.Description, f.Title)},
			Help:                 sarifHelp{Text: help, Markdown: md},
			DefaultConfiguration: sarifConfig{Level: sarifLevel(f.Severity)},
			Properties: map[string]any{
				"tags":              []string{string(f.Kind), "security", f.Severity},
				"precision":         "very-high",
				"security-severity": securitySeverity[f.Severity],
			},
		})
	}
	if run.Tool.Driver.Rules == nil {
		run.Tool.Driver.Rules = []sarifRule{}
	}
	for _, f := range o.Counted {
		r := sarifResult{RuleID: f.ID, RuleIndex: ruleIdx[f.ID], Level: sarifLevel(f.Severity), Message: sarifText{Text: message(f)}}
		var loc sarifLocation
		loc.PhysicalLocation.ArtifactLocation.URI = strings.TrimPrefix(f.Target, "/")
		loc.PhysicalLocation.ArtifactLocation.URIBaseID = "ROOTPATH"
		loc.PhysicalLocation.Region.StartLine = max(f.StartLine, 1)
		loc.PhysicalLocation.Region.EndLine = max(f.EndLine, loc.PhysicalLocation.Region.StartLine)
		r.Locations = []sarifLocation{loc}
		run.Results = append(run.Results, r)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: sarifSchema, Version: "2.1.0", Runs: []sarifRun{run}})
}

func ruleName(f Finding) string {
	switch f.Kind {
	case Vuln:
		return "OsPackageVulnerability"
	case SecretKind:
		return "Secret"
	}
	return "Misconfiguration"
}

func message(f Finding) string {
	switch f.Kind {
	case Vuln:
		return fmt.Sprintf("Package: %s\nInstalled Version: %s\nVulnerability %s\nSeverity: %s\nFixed Version: %s\nLink: [%s](%s)",
			f.Package, f.Installed, f.ID, f.Severity, firstNonEmpty(f.Fixed, "none"), f.ID, f.URL)
	case SecretKind:
		return fmt.Sprintf("Secret %s (%s) in %s at line %d; the value is not shown", f.ID, f.Severity, f.Target, f.StartLine)
	}
	return fmt.Sprintf("Misconfiguration %s (%s): %s", f.ID, f.Severity, firstNonEmpty(f.Description, f.Title))
}
