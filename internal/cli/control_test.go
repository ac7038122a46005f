package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 11: rollback, pins, freezes, dora and the report through the CLI,
// with their exit codes.
func TestRollbackFreezeDoraReportCommands(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	src, shas := gitRepo(t, 4)
	common := []string{"--out", out, "--source", "../../sample-app"}
	deploy := func(n int, sha string, extra ...string) (string, string, int) {
		return run(t, append(append([]string{"deploy", "--app", "sample-app", "--env", "production", "--image", dig(n), "--source-commit", sha, "--source-repo", src}, extra...), common...)...)
	}
	for i := 1; i <= 3; i++ {
		if _, stderr, code := deploy(i, shas[i]); code != 0 {
			t.Fatalf("deploy %d: %s", i, stderr)
		}
	}
	// Bad input: right exit codes, nothing written.
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"rollback", "--app", "sample-app", "--env", "production"}, 2, "--reason is required"},
		{[]string{"rollback", "--app", "sample-app", "--env", "production", "--steps", "5", "--reason", "x"}, 1, "past the first deploy"},
		{[]string{"rollback", "--app", "sample-app", "--env", "production", "--steps", "0", "--reason", "x"}, 2, "--steps 0: want 1 or more"},
		{[]string{"rollback", "--app", "sample-app", "--env", "production", "--to", dig(99), "--reason", "x"}, 1, "never deployed there"},
		{[]string{"rollback", "--app", "sample-app", "--env", "production", "--to", "ghcr.io/acme/x:v1", "--reason", "x"}, 2, "digests only"},
		{[]string{"freeze", "--env", "production", "--until", "2020-01-01T00:00:00Z", "--reason", "x"}, 2, "in the past"},
		{[]string{"freeze", "--env", "production", "--until", "tomorrow", "--reason", "x"}, 2, "RFC 3339"},
		{[]string{"dora", "--app", "nope"}, 2, `app "nope" does not exist`},
		{[]string{"dora", "--since", "last week"}, 2, "--since"},
	} {
		_, stderr, code := run(t, append(c.args, common...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	stdout, stderr, code := run(t, append([]string{"rollback", "--app", "sample-app", "--env", "production", "--reason", "5xx after c3"}, common...)...)
	if code != 0 || !shaLine.MatchString(lastLine(stdout)) || !strings.Contains(stderr, "pinned") {
		t.Fatalf("rollback: exit %d %s", code, stderr)
	}
	if _, stderr, code := deploy(4, shas[3]); code != 1 || !strings.Contains(stderr, "pinned") || !strings.Contains(stderr, "5xx after c3") {
		t.Fatalf("deploy into a pinned env: exit %d %s", code, stderr)
	}
	if _, stderr, code := run(t, append([]string{"unpin", "--app", "sample-app", "--env", "production", "--reason", "c4 fixes it"}, common...)...); code != 0 {
		t.Fatalf("unpin: %s", stderr)
	}
	until := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
	if _, stderr, code := run(t, append([]string{"freeze", "--env", "production", "--until", until, "--reason", "year-end close"}, common...)...); code != 0 {
		t.Fatalf("freeze: %s", stderr)
	}
	if _, stderr, code := deploy(4, shas[3]); code != 1 || !strings.Contains(stderr, "frozen until "+until) {
		t.Fatalf("deploy into a frozen env: exit %d %s", code, stderr)
	}
	if _, stderr, code := deploy(4, shas[3], "--break-glass", "INC-9", "--fix"); code != 0 {
		t.Fatalf("--break-glass: %s", stderr)
	}
	if _, stderr, code := run(t, append([]string{"unfreeze", "--env", "production", "--reason", "done"}, common...)...); code != 0 {
		t.Fatalf("unfreeze: %s", stderr)
	}
	stdout, _, _ = run(t, append([]string{"history", "--env", "production"}, common...)...)
	for _, want := range []string{"pinned", "reason: 5xx after c3", "unpin", "break-glass: INC-9", "fix"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("history lacks %q:\n%s", want, stdout)
		}
	}
	// dora: a stable JSON schema.
	stdout, stderr, code = run(t, append([]string{"dora", "--json", "--source-repo", src}, common...)...)
	var ms []map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &ms) != nil || len(ms) != 1 {
		t.Fatalf("dora --json: exit %d %s %s", code, stdout, stderr)
	}
	for _, k := range []string{"app", "env", "deploys", "deploys_per_day", "deploys_per_week", "frequency_band", "lead_time", "change_failure", "recovery", "redeploys", "rollbacks", "break_glass"} {
		if _, ok := ms[0][k]; !ok {
			t.Errorf("dora --json lacks %q", k)
		}
	}
	if cf := ms[0]["change_failure"].(map[string]any); cf["failed"].(float64) != 2 {
		t.Errorf("change failure: %v (the c3 deploy rolled back, the c2-digest rollback followed by a --fix)", cf)
	}
	stdout, _, code = run(t, append([]string{"dora", "--format", "devlake", "--source-repo", src, "--repo-url", "https://github.com/acme/sample-app"}, common...)...)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var p map[string]any
	if code != 0 || len(lines) != 5 || json.Unmarshal([]byte(lines[0]), &p) != nil || p["environment"] != "PRODUCTION" {
		t.Errorf("devlake: exit %d\n%s", code, stdout)
	}
	// report: a self-contained page.
	page := filepath.Join(t.TempDir(), "r.html")
	if _, stderr, code := run(t, append([]string{"report", "--out-file", page, "--source-repo", src}, common...)...); code != 0 {
		t.Fatalf("report: %s", stderr)
	}
	html, _ := os.ReadFile(page)
	for _, bad := range []string{"<script", "<link", "src=\"http", "url(http", "@import"} {
		if strings.Contains(string(html), bad) {
			t.Errorf("the report loads something from outside: %s", bad)
		}
	}
	if !strings.Contains(string(html), "Change failure rate") || !strings.Contains(string(html), "<svg") {
		t.Error("report content")
	}
}
