package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const realReport = "../scan/testdata/reports/image.json"

func TestScanReportCommand(t *testing.T) {
	noEngineEnv(t)
	dir := t.TempDir()
	sarif := filepath.Join(dir, "gate.sarif")
	stdout, stderr, code := run(t, "scan", "--report", realReport, "--sarif", sarif, "--source", dir)
	if code != 1 || !strings.Contains(stdout, "Total: 8 (2 CRITICAL, 6 HIGH)") || !strings.Contains(stderr, "scan gate") {
		t.Errorf("default gate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	data, err := os.ReadFile(sarif)
	if err != nil || strings.Count(string(data), `"ruleId"`) != 8 {
		t.Errorf("SARIF: %v, %d results", err, strings.Count(string(data), `"ruleId"`))
	}
	ignore := filepath.Join(dir, ".trivyignore.yaml")
	os.WriteFile(ignore, []byte(`vulnerabilities:
  - {id: CVE-2024-45337, statement: "not reachable: no ssh server"}
  - {id: CVE-2022-32149}
  - {id: CVE-2023-44487}
secrets:
  - {id: github-pat}
misconfigurations:
  - {id: KSV-0014}
  - {id: KSV-0017}
  - {id: KSV-0118}
`), 0o644)
	// The source directory's .trivyignore.yaml is the default ignore file.
	stdout, _, code = run(t, "scan", "--report", realReport, "--source", dir, "--ignore-unfixed", "--json")
	var out struct {
		Pass    bool
		Counted []any
		Ignored []any
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &out) != nil || !out.Pass || len(out.Ignored) != 7 {
		t.Errorf("with ignores: exit %d %s", code, stdout)
	}
	_, _, code = run(t, "scan", "--report", realReport, "--severity", "CRITICAL", "--ignorefile", ignore)
	if code != 0 {
		t.Errorf("CRITICAL with ignores: exit %d", code)
	}
}

func TestScanReportErrors(t *testing.T) {
	noEngineEnv(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"scan", "--report", filepath.Join(dir, "missing.json")}, "missing.json does not exist"},
		{[]string{"scan", "--report", bad}, "bad.json is not a Trivy JSON report"},
		{[]string{"scan", "--report", realReport, "--severity", "SEVERE"}, "unknown severity"},
		{[]string{"scan", "--report", realReport, "--ignorefile", filepath.Join(dir, "none")}, "does not exist"},
	}
	for _, c := range cases {
		_, stderr, code := run(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d stderr %q, want 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
}
