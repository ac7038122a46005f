package scan

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Kind of finding.
type Kind string

// Finding kinds, named as in Trivy's ignore file sections.
const (
	Vuln       Kind = "vulnerability"
	SecretKind Kind = "secret"
	Misconfig  Kind = "misconfiguration"
)

// Severities in Trivy's order, most severe first.
var Severities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}

// Finding is one vulnerability, secret or failed misconfiguration, flattened.
type Finding struct {
	Kind      Kind   `json:"kind"`
	ID        string `json:"id"`
	AltID     string `json:"-"` // a misconfiguration's AVD ID, also matched by ignore rules
	Target    string `json:"target"`
	Package   string `json:"package,omitempty"`
	PkgPath   string `json:"-"`
	PURL      string `json:"purl,omitempty"`
	Installed string `json:"installed,omitempty"`
	Fixed     string `json:"fixed,omitempty"`
	Severity  string `json:"severity"`
	// RawSeverity is set when the report's severity is not one of Trivy's
	// five (a newer scanner, a hand-made report): the finding is then counted
	// as UNKNOWN whatever --severity says (fail closed) and listed.
	RawSeverity string `json:"raw_severity,omitempty"`
	Title       string `json:"title"`
	URL         string `json:"url,omitempty"`
	StartLine   int    `json:"start_line,omitempty"`
	EndLine     int    `json:"end_line,omitempty"`
	// For SARIF rule metadata.
	Description string `json:"-"`
	Resolution  string `json:"-"`
}

// Ignored is a finding an ignore rule dropped, with the rule.
type Ignored struct {
	Finding
	Rule IgnoreRule `json:"rule"`
}

// Options configure the gate.
type Options struct {
	Severities    []string // counted severities; default HIGH, CRITICAL
	IgnoreUnfixed bool     // drop vulnerabilities with no fixed version
	Ignores       *Ignores
	Now           time.Time
}

// Outcome is the gate's verdict.
type Outcome struct {
	Severities []string       `json:"severities"`
	Counted    []Finding      `json:"counted"`
	Ignored    []Ignored      `json:"ignored"`
	Expired    []IgnoreRule   `json:"expired_ignores"` // rules past their date that matched a finding
	Unfixed    int            `json:"unfixed_dropped"`
	Totals     map[string]int `json:"totals"` // counted, by severity
	ByKind     map[Kind]int   `json:"by_kind"`
	Pass       bool           `json:"pass"`
}

// ParseSeverities reads a comma-separated severity list.
func ParseSeverities(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.ToUpper(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		ok := false
		for _, known := range Severities {
			ok = ok || p == known
		}
		if !ok {
			return nil, fmt.Errorf("unknown severity %q (use %s)", p, strings.Join(Severities, ","))
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no severity given (use %s)", strings.Join(Severities, ","))
	}
	return out, nil
}

// Flatten lists a report's findings: every vulnerability and secret, and the
// misconfigurations whose Status is FAIL.
func Flatten(r *Report) []Finding {
	n := 0
	for _, res := range r.Results {
		n += len(res.Vulnerabilities) + len(res.Secrets) + len(res.Misconfigurations)
	}
	out := make([]Finding, 0, n)
	for _, res := range r.Results {
		for _, v := range res.Vulnerabilities {
			out = append(out, Finding{
				Kind: Vuln, ID: v.VulnerabilityID, Target: res.Target, Package: v.PkgName, PkgPath: v.PkgPath,
				PURL: v.PkgIdentifier.PURL, Installed: v.InstalledVersion, Fixed: v.FixedVersion,
				Severity: normSeverity(v.Severity), RawSeverity: rawSeverity(v.Severity), Title: firstNonEmpty(v.Title, v.VulnerabilityID), URL: v.PrimaryURL,
				Description: v.Description,
			})
		}
		for _, s := range res.Secrets {
			out = append(out, Finding{
				Kind: SecretKind, ID: s.RuleID, Target: res.Target, Severity: normSeverity(s.Severity), RawSeverity: rawSeverity(s.Severity),
				Title: firstNonEmpty(s.Title, s.RuleID), StartLine: s.StartLine, EndLine: s.EndLine,
				Description: "Secret of category " + s.Category + " found (value not shown).",
				Resolution:  "Remove the secret from the image and rotate it.",
			})
		}
		for _, m := range res.Misconfigurations {
			if m.Status != "FAIL" {
				continue
			}
			out = append(out, Finding{
				Kind: Misconfig, ID: firstNonEmpty(m.AVDID, m.ID), AltID: m.ID, Target: res.Target,
				Severity: normSeverity(m.Severity), RawSeverity: rawSeverity(m.Severity), Title: firstNonEmpty(m.Title, m.ID), URL: m.PrimaryURL,
				StartLine: m.CauseMetadata.StartLine, EndLine: m.CauseMetadata.EndLine,
				Description: firstNonEmpty(m.Message, m.Description), Resolution: m.Resolution,
			})
		}
	}
	return out
}

// Evaluate applies the gate to a report.
func Evaluate(r *Report, opts Options) *Outcome {
	sev := opts.Severities
	if len(sev) == 0 {
		sev = []string{"HIGH", "CRITICAL"}
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	want := map[string]bool{}
	for _, s := range sev {
		want[s] = true
	}
	out := &Outcome{Severities: sortSeverities(sev), Totals: map[string]int{}, ByKind: map[Kind]int{}}
	expired := map[string]bool{}
	for _, f := range Flatten(r) {
		if !want[f.Severity] && f.RawSeverity == "" {
			continue // an unrecognised severity is counted whatever the list: fail closed
		}
		if opts.IgnoreUnfixed && f.Kind == Vuln && f.Fixed == "" {
			out.Unfixed++
			continue
		}
		live, exp := opts.Ignores.match(f, now)
		if exp != nil && !expired[exp.Source] {
			expired[exp.Source] = true
			out.Expired = append(out.Expired, *exp)
		}
		if live != nil {
			out.Ignored = append(out.Ignored, Ignored{Finding: f, Rule: *live})
			continue
		}
		out.Counted = append(out.Counted, f)
		out.Totals[f.Severity]++
		out.ByKind[f.Kind]++
	}
	sort.SliceStable(out.Counted, func(i, j int) bool {
		a, b := out.Counted[i], out.Counted[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		if ra, rb := sevRank(a.Severity), sevRank(b.Severity); ra != rb {
			return ra < rb
		}
		return a.ID < b.ID
	})
	out.Pass = len(out.Counted) == 0
	return out
}

func sortSeverities(s []string) []string {
	out := append([]string(nil), s...)
	sort.Slice(out, func(i, j int) bool { return sevRank(out[i]) < sevRank(out[j]) })
	return out
}

func sevRank(s string) int {
	for i, k := range Severities {
		if k == s {
			return i
		}
	}
	return len(Severities)
}

// rawSeverity returns s when it is not one of Trivy's five severities.
func rawSeverity(s string) string {
	if sevRank(strings.ToUpper(strings.TrimSpace(s))) == len(Severities) {
		if s == "" {
			return "(none)"
		}
		return s
	}
	return ""
}

func normSeverity(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if sevRank(s) == len(Severities) {
		return "UNKNOWN"
	}
	return s
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}
