package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints the outcome for people: findings grouped by target, totals
// per severity, what was ignored and why, and expired ignore entries.
func WriteTable(w io.Writer, o *Outcome) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	target := "\x00"
	for _, f := range o.Counted {
		if f.Target != target {
			target = f.Target
			fmt.Fprintf(tw, "\n%s\n", target)
			fmt.Fprintln(tw, "  ID\tPACKAGE\tINSTALLED → FIXED\tSEVERITY\tTITLE")
		}
		pkg, ver := f.Package, ""
		switch f.Kind {
		case Vuln:
			ver = f.Installed + " → " + firstNonEmpty(f.Fixed, "(no fix)")
		case SecretKind:
			pkg, ver = "(secret)", fmt.Sprintf("line %d", f.StartLine)
		case Misconfig:
			pkg, ver = "(config)", fmt.Sprintf("line %d", f.StartLine)
		}
		sev := f.Severity
		if f.RawSeverity != "" {
			sev += " (report says " + f.RawSeverity + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", f.ID, pkg, ver, sev, truncate(f.Title, 70))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nTotal: %d (%s) at %s", len(o.Counted), totals(o), strings.Join(o.Severities, ","))
	if o.Unfixed > 0 {
		fmt.Fprintf(w, "; %d without a fix dropped (--ignore-unfixed)", o.Unfixed)
	}
	fmt.Fprintln(w)
	if len(o.Ignored) > 0 {
		fmt.Fprintf(w, "\nIgnored: %d\n", len(o.Ignored))
		for _, ig := range o.Ignored {
			why := firstNonEmpty(ig.Rule.Statement, "no statement")
			until := ""
			if !ig.Rule.ExpiresAt.IsZero() {
				until = " until " + ig.Rule.ExpiresAt.Format("2006-01-02")
			}
			fmt.Fprintf(w, "  %s %s in %s: %s (%s%s)\n", ig.ID, ig.Severity, ig.Target, why, ig.Rule.Source, until)
		}
	}
	for _, r := range o.Expired {
		fmt.Fprintf(w, "Expired ignore: %s at %s expired %s and no longer applies\n", r.ID, r.Source, r.ExpiresAt.Format("2006-01-02"))
	}
	if o.Pass {
		fmt.Fprintln(w, "Gate: pass")
	} else {
		fmt.Fprintln(w, "Gate: FAIL")
	}
	return nil
}

// Totals renders "2 CRITICAL, 1 HIGH"; "none" for zero.
func totals(o *Outcome) string {
	var parts []string
	for _, s := range Severities {
		if n := o.Totals[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Summary is one line for the pipeline summary.
func (o *Outcome) Summary() string {
	s := fmt.Sprintf("%d counted (%s), %d ignored", len(o.Counted), totals(o), len(o.Ignored))
	if len(o.Expired) > 0 {
		s += fmt.Sprintf(", %d expired ignores", len(o.Expired))
	}
	return s
}

// WriteJSON writes the outcome for scripts.
func WriteJSON(w io.Writer, o *Outcome) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if o.Counted == nil {
		o.Counted = []Finding{}
	}
	if o.Ignored == nil {
		o.Ignored = []Ignored{}
	}
	if o.Expired == nil {
		o.Expired = []IgnoreRule{}
	}
	return enc.Encode(o)
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// DBMetadata is Trivy's db/metadata.json.
type DBMetadata struct {
	Version      int       `json:"Version"`
	NextUpdate   time.Time `json:"NextUpdate"`
	UpdatedAt    time.Time `json:"UpdatedAt"`
	DownloadedAt time.Time `json:"DownloadedAt"`
}

// ChecksMetadata is Trivy's policy/metadata.json: the misconfiguration
// checks bundle cached beside the DB.
type ChecksMetadata struct {
	Digest       string    `json:"Digest"`
	DownloadedAt time.Time `json:"DownloadedAt"`
}

// CacheState is what Trivy's cache volume holds: the DB's and the checks
// bundle's metadata (nil when absent), read fresh on every run.
type CacheState struct {
	DB     *DBMetadata     `json:"db"`
	Checks *ChecksMetadata `json:"checks"`
}

// ParseCacheState reads the {"db":…,"checks":…} document the scan stage's
// metadata read prints. Anything unreadable counts as absent: the scanner
// then downloads, which is always safe.
func ParseCacheState(s string) CacheState {
	var c CacheState
	if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &c); err != nil {
		return CacheState{}
	}
	if c.DB != nil && c.DB.DownloadedAt.IsZero() {
		c.DB = nil
	}
	if c.Checks != nil && c.Checks.DownloadedAt.IsZero() {
		c.Checks = nil
	}
	return c
}

// DBFresh reports whether the cached DB was downloaded less than maxAge ago, and its age.
func (c CacheState) DBFresh(now time.Time, maxAge time.Duration) (bool, time.Duration) {
	if c.DB == nil {
		return false, 0
	}
	age := now.Sub(c.DB.DownloadedAt)
	return age >= 0 && age < maxAge, age
}

// ChecksFresh reports whether the cached checks bundle was downloaded less than maxAge ago.
func (c CacheState) ChecksFresh(now time.Time, maxAge time.Duration) bool {
	if c.Checks == nil {
		return false
	}
	age := now.Sub(c.Checks.DownloadedAt)
	return age >= 0 && age < maxAge
}

// Refresh says what must be downloaded before a scan: the DB when it is
// missing or older than maxAge, the checks bundle likewise unless
// skipChecks (air-gapped runners: the cached bundle, else Trivy's embedded
// checks). The scan itself never downloads, so its cache key is ScanKey.
func (c CacheState) Refresh(now time.Time, maxAge time.Duration, skipChecks bool) (db, checks bool) {
	fresh, _ := c.DBFresh(now, maxAge)
	return !fresh, !skipChecks && !c.ChecksFresh(now, maxAge)
}

// ScanKey names the state a scan's answer depends on besides the image: the
// DB's UpdatedAt and the checks bundle's digest. The scan container carries
// it as an environment variable, so the engine reuses a scan exactly while
// the DB and checks are unchanged, and re-scans when they change.
func (c CacheState) ScanKey() string {
	key := "db=none"
	if c.DB != nil {
		key = "db=" + c.DB.UpdatedAt.UTC().Format(time.RFC3339Nano)
	}
	if c.Checks != nil {
		key += " checks=" + c.Checks.Digest
	}
	return key
}
