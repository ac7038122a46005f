package scan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// IgnoreRule is one entry of a .trivyignore or .trivyignore.yaml file.
type IgnoreRule struct {
	Kind      Kind      `json:"kind,omitempty"` // "" in .trivyignore: any kind
	ID        string    `json:"id"`
	Paths     []string  `json:"paths,omitempty"`
	PURLs     []string  `json:"purls,omitempty"`
	Statement string    `json:"statement,omitempty"`
	ExpiresAt time.Time `json:"-"`      // zero: never; see MarshalJSON
	Source    string    `json:"source"` // file:line
}

// sectionOf names the .trivyignore.yaml section of each kind.
var sectionOf = map[Kind]string{Vuln: "vulnerabilities", SecretKind: "secrets", Misconfig: "misconfigurations", "license": "licenses"}

// MarshalJSON leaves out expires_at for a rule that never expires (instead
// of "0001-01-01T00:00:00Z").
func (r IgnoreRule) MarshalJSON() ([]byte, error) {
	type plain IgnoreRule
	out := struct {
		plain
		ExpiresAt *time.Time `json:"expires_at,omitempty"`
	}{plain: plain(r)}
	if !r.ExpiresAt.IsZero() {
		out.ExpiresAt = &r.ExpiresAt
	}
	return json.Marshal(out)
}

// Expired reports whether the rule has stopped applying at now. Like Trivy,
// an entry dated D applies through the end of the day before D (UTC).
func (r IgnoreRule) Expired(now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}

// Ignores is a parsed ignore file.
type Ignores struct {
	Path  string
	Rules []IgnoreRule
}

// DefaultIgnoreFile returns the source directory's .trivyignore.yaml, else
// .trivyignore, else "".
func DefaultIgnoreFile(dir string) string {
	for _, name := range []string{".trivyignore.yaml", ".trivyignore.yml", ".trivyignore"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// LoadIgnores reads either Trivy ignore format, chosen by the file's extension.
func LoadIgnores(p string) (*Ignores, error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ignore file %s does not exist", p)
	}
	if err != nil {
		return nil, fmt.Errorf("ignore file %s: %w", p, err)
	}
	if ext := filepath.Ext(p); ext == ".yaml" || ext == ".yml" {
		return parseIgnoreYAML(p, data)
	}
	return parseIgnoreText(p, data)
}

const dateLayout = "2006-01-02"

func parseIgnoreText(p string, data []byte) (*Ignores, error) {
	ig := &Ignores{Path: p}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		rule := IgnoreRule{ID: fields[0], Source: fmt.Sprintf("%s:%d", p, n)}
		for _, f := range fields[1:] {
			v, ok := strings.CutPrefix(f, "exp:")
			if !ok {
				return nil, fmt.Errorf("ignore file %s line %d: unexpected %q (want ID [exp:YYYY-MM-DD])", p, n, f)
			}
			t, err := time.Parse(dateLayout, v)
			if err != nil {
				return nil, fmt.Errorf("ignore file %s line %d: exp:%s is not a YYYY-MM-DD date", p, n, v)
			}
			rule.ExpiresAt = t
		}
		ig.Rules = append(ig.Rules, rule)
	}
	return ig, sc.Err()
}

type yamlEntry struct {
	ID        string   `json:"id"`
	Paths     []string `json:"paths"`
	PURLs     []string `json:"purls"`
	Statement string   `json:"statement"`
	ExpiredAt string   `json:"expired_at"`
}

type yamlFile struct {
	Vulnerabilities   []yamlEntry `json:"vulnerabilities"`
	Secrets           []yamlEntry `json:"secrets"`
	Misconfigurations []yamlEntry `json:"misconfigurations"`
	Licenses          []yamlEntry `json:"licenses"`
}

func parseIgnoreYAML(p string, data []byte) (*Ignores, error) {
	var f yamlFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("ignore file %s: %w (keys: vulnerabilities, secrets, misconfigurations with id, paths, purls, statement, expired_at)", p, err)
	}
	ig := &Ignores{Path: p}
	add := func(kind Kind, entries []yamlEntry) error {
		for i, e := range entries {
			section := sectionOf[kind] // the file's own key: vulnerabilities, not "vulnerabilitys"
			if e.ID == "" {
				return fmt.Errorf("ignore file %s: %s[%d] has no id", p, section, i)
			}
			r := IgnoreRule{Kind: kind, ID: e.ID, Paths: e.Paths, PURLs: e.PURLs, Statement: e.Statement,
				Source: fmt.Sprintf("%s (%s[%d])", p, section, i)}
			if e.ExpiredAt != "" {
				t, err := parseDate(e.ExpiredAt)
				if err != nil {
					return fmt.Errorf("ignore file %s: %s expired_at %q is not a YYYY-MM-DD date", p, e.ID, e.ExpiredAt)
				}
				r.ExpiresAt = t
			}
			ig.Rules = append(ig.Rules, r)
		}
		return nil
	}
	for _, k := range []struct {
		kind    Kind
		entries []yamlEntry
	}{{Vuln, f.Vulnerabilities}, {SecretKind, f.Secrets}, {Misconfig, f.Misconfigurations}} {
		if err := add(k.kind, k.entries); err != nil {
			return nil, err
		}
	}
	return ig, nil
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(dateLayout, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

// match finds the first live rule that ignores f; expired rules that would
// have matched are returned separately so they can be reported.
func (ig *Ignores) match(f Finding, now time.Time) (live *IgnoreRule, expired *IgnoreRule) {
	if ig == nil {
		return nil, nil
	}
	for i := range ig.Rules {
		r := &ig.Rules[i]
		if !r.matches(f) {
			continue
		}
		if r.Expired(now) {
			if expired == nil {
				expired = r
			}
			continue
		}
		return r, expired
	}
	return nil, expired
}

func (r *IgnoreRule) matches(f Finding) bool {
	if r.Kind != "" && r.Kind != f.Kind {
		return false
	}
	if r.ID != f.ID && (f.AltID == "" || r.ID != f.AltID) {
		return false
	}
	if len(r.Paths) > 0 && !anyPathMatch(r.Paths, f.Target, f.PkgPath) {
		return false
	}
	if len(r.PURLs) > 0 && !anyPURLMatch(r.PURLs, f.PURL) {
		return false
	}
	return true
}

func anyPathMatch(patterns []string, targets ...string) bool {
	for _, p := range patterns {
		for _, t := range targets {
			if t == "" {
				continue
			}
			if ok, _ := path.Match(p, t); ok || p == t || strings.HasPrefix(t, strings.TrimSuffix(p, "/")+"/") {
				return true
			}
		}
	}
	return false
}

// anyPURLMatch compares package URLs; an ignore purl without a version matches
// every version of that package, as in Trivy.
func anyPURLMatch(patterns []string, purl string) bool {
	if purl == "" {
		return false
	}
	base, ver := splitPURL(purl)
	for _, p := range patterns {
		pb, pv := splitPURL(p)
		if pb == base && (pv == "" || pv == ver) {
			return true
		}
	}
	return false
}

func splitPURL(p string) (base, version string) {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if i := strings.LastIndex(p, "@"); i > strings.LastIndex(p, "/") {
		return p[:i], p[i+1:]
	}
	return p, ""
}
