package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func load(t testing.TB, name string) *Report {
	t.Helper()
	r, err := Load(filepath.Join("testdata/reports", name))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	sort.Strings(out)
	return out
}

func ignores(t *testing.T, name, content string) *Ignores {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	os.WriteFile(p, []byte(content), 0o644)
	ig, err := LoadIgnores(p)
	if err != nil {
		t.Fatal(err)
	}
	return ig
}

func TestGateOnRealReport(t *testing.T) {
	r := load(t, "image.json")
	cases := []struct {
		name    string
		opts    Options
		counted []string
		unfixed int
	}{
		{"default HIGH,CRITICAL", Options{}, []string{"CVE-2022-32149", "CVE-2023-44487", "CVE-2024-45337", "CVE-2099-0001", "KSV-0014", "KSV-0017", "KSV-0118", "github-pat"}, 0},
		{"ignore-unfixed", Options{IgnoreUnfixed: true}, []string{"CVE-2022-32149", "CVE-2023-44487", "CVE-2024-45337", "KSV-0014", "KSV-0017", "KSV-0118", "github-pat"}, 1},
		{"CRITICAL only", Options{Severities: []string{"CRITICAL"}}, []string{"CVE-2024-45337", "github-pat"}, 0},
		{"MEDIUM only", Options{Severities: []string{"MEDIUM"}}, []string{"CVE-2099-0002", "KSV-0001", "KSV-0012", "KSV-0013", "KSV-0104"}, 0},
	}
	for _, c := range cases {
		c.opts.Now = now
		o := Evaluate(r, c.opts)
		if got := ids(o.Counted); strings.Join(got, " ") != strings.Join(c.counted, " ") {
			t.Errorf("%s: counted %v, want %v", c.name, got, c.counted)
		}
		if o.Unfixed != c.unfixed || o.Pass != (len(c.counted) == 0) {
			t.Errorf("%s: unfixed %d pass %v", c.name, o.Unfixed, o.Pass)
		}
	}
	o := Evaluate(r, Options{Now: now})
	if o.Totals["CRITICAL"] != 2 || o.Totals["HIGH"] != 6 || o.ByKind[SecretKind] != 1 || o.ByKind[Misconfig] != 3 || o.ByKind[Vuln] != 4 {
		t.Errorf("totals %v by kind %v", o.Totals, o.ByKind)
	}
}

func TestManifestsOfSampleAppPassTheGate(t *testing.T) {
	o := Evaluate(load(t, "deploy-config.json"), Options{Now: now})
	if !o.Pass {
		t.Errorf("sample-app/deploy fails the default gate: %v", ids(o.Counted))
	}
	if low := Evaluate(load(t, "deploy-config.json"), Options{Now: now, Severities: []string{"LOW", "MEDIUM"}}); low.Pass {
		t.Error("the LOW/MEDIUM findings in the real config report were not read")
	}
}

func TestTrivyignoreText(t *testing.T) {
	ig := ignores(t, ".trivyignore", `# accepted until the x/text bump lands
CVE-2022-32149
KSV-0017 exp:2020-01-01
github-pat   # rotated, file removed in next build
CVE-2023-44487 exp:2026-11-22
`)
	o := Evaluate(load(t, "image.json"), Options{Ignores: ig, Now: now})
	if got := ids(o.Counted); strings.Join(got, " ") != "CVE-2024-45337 CVE-2099-0001 KSV-0014 KSV-0017 KSV-0118" {
		t.Errorf("counted %v", got)
	}
	if len(o.Ignored) != 3 || len(o.Expired) != 1 || o.Expired[0].ID != "KSV-0017" {
		t.Errorf("ignored %d expired %+v", len(o.Ignored), o.Expired)
	}
	// The day an entry is dated, it no longer applies.
	o = Evaluate(load(t, "image.json"), Options{Ignores: ig, Now: time.Date(2026, 11, 22, 0, 0, 1, 0, time.UTC)})
	if len(o.Expired) != 2 {
		t.Errorf("on its date an entry must expire: %+v", o.Expired)
	}
}

func TestTrivyignoreYAML(t *testing.T) {
	ig := ignores(t, ".trivyignore.yaml", `vulnerabilities:
  - id: CVE-2023-44487
    purls:
      - pkg:golang/golang.org/x/net
    statement: HTTP/2 server is not exposed
  - id: CVE-2024-45337
    paths:
      - "other/binary"
    statement: wrong path, must not apply
  - id: CVE-2022-32149
    purls:
      - pkg:golang/golang.org/x/text@v0.3.6
    statement: wrong version, must not apply
secrets:
  - id: github-pat
    paths:
      - "/app/.env"
    statement: fixture token
misconfigurations:
  - id: KSV-0014
    expired_at: 2020-01-01
  - id: KSV-0017
    paths:
      - "app/deploy/*"
    expired_at: 2027-01-01
    statement: debug pod, removed before release
`)
	o := Evaluate(load(t, "image.json"), Options{Ignores: ig, Now: now})
	if got := ids(o.Counted); strings.Join(got, " ") != "CVE-2022-32149 CVE-2024-45337 CVE-2099-0001 KSV-0014 KSV-0118" {
		t.Errorf("counted %v", got)
	}
	var why []string
	for _, i := range o.Ignored {
		why = append(why, i.ID+"="+i.Rule.Statement)
	}
	sort.Strings(why)
	if strings.Join(why, ";") != "CVE-2023-44487=HTTP/2 server is not exposed;KSV-0017=debug pod, removed before release;github-pat=fixture token" {
		t.Errorf("ignored %v", why)
	}
	if len(o.Expired) != 1 || o.Expired[0].ID != "KSV-0014" {
		t.Errorf("expired %+v", o.Expired)
	}
	// A vulnerability rule does not ignore a secret or misconfiguration of the same ID.
	ig2 := ignores(t, "x.yaml", "vulnerabilities:\n  - id: github-pat\n")
	if o := Evaluate(load(t, "image.json"), Options{Ignores: ig2, Now: now}); len(o.Ignored) != 0 {
		t.Errorf("kind ignored: %+v", o.Ignored)
	}
}

func TestIgnoreFileErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		".trivyignore":        "CVE-1 exp:tomorrow\n",
		"bad.yaml":            "vulnerabilities: [\n",
		"unknown-key.yaml":    "vulns:\n  - id: X\n",
		"noid.yaml":           "secrets:\n  - statement: x\n",
		"baddate.trivyignore": "CVE-1 until:2026-01-01\n",
	}
	for name, content := range cases {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := LoadIgnores(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := LoadIgnores(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing ignore file accepted")
	}
	os.WriteFile(filepath.Join(dir, ".trivyignore"), nil, 0o644)
	if DefaultIgnoreFile(dir) != filepath.Join(dir, ".trivyignore") {
		t.Error("default ignore file")
	}
	os.WriteFile(filepath.Join(dir, ".trivyignore.yaml"), nil, 0o644)
	if DefaultIgnoreFile(dir) != filepath.Join(dir, ".trivyignore.yaml") {
		t.Error("yaml must win")
	}
}

func TestBadReports(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{"notjson.json": "{", "v1.json": `{"SchemaVersion":1}`, "array.json": "[]"}
	for name, content := range cases {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		_, err := Load(p)
		if !errors.Is(err, ErrBadReport) || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "none.json")); !errors.Is(err, ErrBadReport) {
		t.Errorf("missing: %v", err)
	}
}

func TestSARIFHoldsExactlyTheGatedFindings(t *testing.T) {
	r := load(t, "image.json")
	for _, opts := range []Options{{}, {Severities: []string{"CRITICAL"}}, {IgnoreUnfixed: true}, {Severities: []string{"LOW"}}} {
		opts.Now = now
		o := Evaluate(r, opts)
		var b bytes.Buffer
		if err := WriteSARIF(&b, o, "0.74.0"); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Schema  string `json:"$schema"`
			Version string `json:"version"`
			Runs    []struct {
				Tool struct {
					Driver struct {
						Name  string `json:"name"`
						Rules []struct {
							ID         string `json:"id"`
							HelpURI    string `json:"helpUri"`
							Help       struct{ Text, Markdown string }
							Properties map[string]any `json:"properties"`
						} `json:"rules"`
					} `json:"driver"`
				} `json:"tool"`
				Results []struct {
					RuleID    string `json:"ruleId"`
					RuleIndex int    `json:"ruleIndex"`
					Level     string `json:"level"`
					Message   struct{ Text string }
					Locations []struct {
						PhysicalLocation struct {
							ArtifactLocation struct{ URI string } `json:"artifactLocation"`
							Region           struct {
								StartLine int `json:"startLine"`
							} `json:"region"`
						} `json:"physicalLocation"`
					} `json:"locations"`
				} `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Version != "2.1.0" || !strings.Contains(doc.Schema, "sarif-2.1.0") || len(doc.Runs) != 1 {
			t.Fatalf("not SARIF 2.1.0: %s %s", doc.Version, doc.Schema)
		}
		run := doc.Runs[0]
		if len(run.Results) != len(o.Counted) {
			t.Errorf("%v: %d SARIF results, gate counted %d", opts.Severities, len(run.Results), len(o.Counted))
		}
		for _, res := range run.Results {
			rule := run.Tool.Driver.Rules[res.RuleIndex]
			if rule.ID != res.RuleID || len(res.Locations) != 1 || res.Locations[0].PhysicalLocation.Region.StartLine < 1 || res.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" {
				t.Errorf("result %+v does not point at its rule and a location", res)
			}
			if rule.Properties["security-severity"] == "" || rule.Help.Text == "" {
				t.Errorf("rule %s lacks metadata", rule.ID)
			}
			if strings.Contains(res.Message.Text, "ghp_") || strings.Contains(res.Message.Text, "****") {
				t.Error("secret value in SARIF")
			}
		}
	}
	// Trivy's own SARIF of the same scan reports every severity; ours must not.
	own, _ := os.ReadFile("testdata/reports/image.trivy.sarif")
	if n := strings.Count(string(own), `"ruleId"`); n <= 8 {
		t.Errorf("fixture: Trivy's SARIF has %d results, expected more than the 8 gated", n)
	}
}

func TestWriteTableAndJSON(t *testing.T) {
	ig := ignores(t, ".trivyignore", "CVE-2022-32149\nKSV-0017 exp:2020-01-01\n")
	o := Evaluate(load(t, "image.json"), Options{Ignores: ig, Now: now, IgnoreUnfixed: true})
	var b bytes.Buffer
	WriteTable(&b, o)
	out := b.String()
	for _, want := range []string{
		"app/fixtureapp", "CVE-2024-45337", "golang.org/x/crypto", "→ 0.31.0", "CRITICAL",
		"/app/.env", "github-pat", "(secret)", "Total: 6 (2 CRITICAL, 4 HIGH)", "1 without a fix dropped",
		"Ignored: 1", "CVE-2022-32149 HIGH in app/fixtureapp: no statement", "Expired ignore: KSV-0017", "Gate: FAIL",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "****") {
		t.Error("table shows the secret match")
	}
	b.Reset()
	WriteJSON(&b, o)
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil || doc["pass"] != false || len(doc["counted"].([]any)) != 6 {
		t.Errorf("json: %v %v", err, doc["pass"])
	}
}

func TestParseSeverities(t *testing.T) {
	got, err := ParseSeverities(" high,critical ")
	if err != nil || strings.Join(got, ",") != "HIGH,CRITICAL" {
		t.Errorf("%v %v", got, err)
	}
	for _, bad := range []string{"", "SEVERE", "HIGH,,nope"} {
		if _, err := ParseSeverities(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCacheState(t *testing.T) {
	db := `{"Version":2,"NextUpdate":"2026-11-21T18:00:00Z","UpdatedAt":"2026-11-21T06:00:00Z","DownloadedAt":"2026-11-21T08:00:00Z"}`
	checks := `{"Digest":"sha256:aaa","DownloadedAt":"2026-11-21T09:00:00Z"}`
	st := ParseCacheState(`{"db":` + db + `,"checks":` + checks + `}`)
	if fresh, age := st.DBFresh(now, 12*time.Hour); !fresh || age != 4*time.Hour {
		t.Errorf("4h old, max 12h: %v %v", fresh, age)
	}
	if fresh, _ := st.DBFresh(now, 3*time.Hour); fresh {
		t.Error("4h old, max 3h: fresh")
	}
	if !st.ChecksFresh(now, 12*time.Hour) || st.ChecksFresh(now, 2*time.Hour) {
		t.Error("checks freshness")
	}
	for _, m := range []string{"", "not json", `{"db":{"Version":2},"checks":null}`, `{"db":null,"checks":null}`} {
		st := ParseCacheState(m)
		if fresh, _ := st.DBFresh(now, time.Hour); fresh || st.ChecksFresh(now, time.Hour) {
			t.Errorf("%q: fresh", m)
		}
		if st.ScanKey() != "db=none" {
			t.Errorf("%q: key %q", m, st.ScanKey())
		}
	}
	// Issue 12.19: the scan is keyed on what the DB holds (UpdatedAt) and the
	// checks' digest, not on when they were downloaded.
	redownloaded := ParseCacheState(`{"db":` + strings.Replace(db, "08:00", "10:00", 1) + `,"checks":` + checks + `}`)
	if redownloaded.ScanKey() != st.ScanKey() {
		t.Errorf("same DB content, new download: key %q vs %q", redownloaded.ScanKey(), st.ScanKey())
	}
	newDB := ParseCacheState(`{"db":` + strings.Replace(db, "06:00", "07:00", 1) + `,"checks":` + checks + `}`)
	newChecks := ParseCacheState(`{"db":` + db + `,"checks":` + strings.Replace(checks, "aaa", "bbb", 1) + `}`)
	if newDB.ScanKey() == st.ScanKey() || newChecks.ScanKey() == st.ScanKey() {
		t.Errorf("a new DB or checks bundle must change the scan key: %q %q %q", st.ScanKey(), newDB.ScanKey(), newChecks.ScanKey())
	}
}

// Issue 19.4: what a scan needs downloaded first. A cold cache downloads
// both, a warm one nothing; --skip-check-update never downloads checks.
func TestRefresh(t *testing.T) {
	db := `{"Version":2,"UpdatedAt":"2026-11-21T06:00:00Z","DownloadedAt":"2026-11-21T08:00:00Z"}`
	checks := `{"Digest":"sha256:aaa","DownloadedAt":"2026-11-21T09:00:00Z"}`
	for _, c := range []struct {
		meta       string
		maxAge     time.Duration
		skipChecks bool
		db, checks bool
	}{
		{"", 12 * time.Hour, false, true, true},
		{"", 12 * time.Hour, true, true, false},
		{`{"db":` + db + `,"checks":` + checks + `}`, 12 * time.Hour, false, false, false},
		{`{"db":` + db + `,"checks":` + checks + `}`, 210 * time.Minute, false, true, false},
		{`{"db":` + db + `,"checks":` + checks + `}`, 2 * time.Hour, false, true, true},
		{`{"db":` + db + `,"checks":null}`, 12 * time.Hour, false, false, true},
		{`{"db":` + db + `,"checks":null}`, 12 * time.Hour, true, false, false},
	} {
		gotDB, gotChecks := ParseCacheState(c.meta).Refresh(now, c.maxAge, c.skipChecks)
		if gotDB != c.db || gotChecks != c.checks {
			t.Errorf("%s max %v skip %v: refresh db %v checks %v, want %v %v", c.meta, c.maxAge, c.skipChecks, gotDB, gotChecks, c.db, c.checks)
		}
	}
}

func TestMerge(t *testing.T) {
	m := Merge("app", load(t, "image.json"), load(t, "deploy-config.json"), nil)
	if len(m.Results) != len(load(t, "image.json").Results)+len(load(t, "deploy-config.json").Results) || m.SchemaVersion != 2 {
		t.Errorf("merged %d results", len(m.Results))
	}
}

// Issue 12.12: an unrecognised severity fails closed; bad reports say what they are not.
func TestGateHardening(t *testing.T) {
	rep, err := Parse("r.json", []byte(`{"SchemaVersion":2,"Results":[{"Target":"app","Vulnerabilities":[
		{"VulnerabilityID":"CVE-1","PkgName":"p","InstalledVersion":"1","Severity":"IMPORTANT"},
		{"VulnerabilityID":"CVE-2","PkgName":"p","InstalledVersion":"1","Severity":""},
		{"VulnerabilityID":"CVE-3","PkgName":"p","InstalledVersion":"1","Severity":"LOW"},
		{"VulnerabilityID":"CVE-4","PkgName":"p","InstalledVersion":"1","Severity":"UNKNOWN"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	out := Evaluate(rep, Options{Severities: []string{"HIGH", "CRITICAL"}})
	if out.Pass || len(out.Counted) != 2 || out.Totals["UNKNOWN"] != 2 || out.Counted[0].RawSeverity == "" {
		t.Fatalf("unrecognised severities: %+v", out.Counted)
	}
	var table strings.Builder
	WriteTable(&table, out)
	if !strings.Contains(table.String(), "report says IMPORTANT") {
		t.Errorf("table does not list the raw severity:\n%s", table.String())
	}
	for name, data := range map[string]string{"empty.json": "", "html.json": "<html>", "blank.json": "  \n"} {
		_, err := Parse(name, []byte(data))
		if !errors.Is(err, ErrBadReport) || !strings.Contains(err.Error(), name+" is not a Trivy JSON report") {
			t.Errorf("%s: %v", name, err)
		}
	}
	dir := t.TempDir()
	p := filepath.Join(dir, ".trivyignore.yaml")
	os.WriteFile(p, []byte("vulnerabilities:\n  - id: CVE-9\n  - statement: no id\n"), 0o644)
	if _, err := LoadIgnores(p); err == nil || !strings.Contains(err.Error(), "vulnerabilities[1] has no id") {
		t.Errorf("label: %v", err)
	}
	os.WriteFile(p, []byte("vulnerabilities:\n  - id: CVE-3\n"), 0o644)
	ig, err := LoadIgnores(p)
	if err != nil {
		t.Fatal(err)
	}
	var js strings.Builder
	if err := WriteJSON(&js, Evaluate(rep, Options{Severities: []string{"LOW"}, Ignores: ig})); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(js.String(), "0001-01-01") || strings.Contains(js.String(), "expires_at") || !strings.Contains(js.String(), "vulnerabilities[0]") {
		t.Errorf("JSON of a never-expiring rule:\n%s", js.String())
	}
}
