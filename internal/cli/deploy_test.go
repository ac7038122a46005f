package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/pipeline"
)

var shaLine = regexp.MustCompile(`^[0-9a-f]{40}$`)

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func dig(n int) string { return fmt.Sprintf("ghcr.io/acme/sample-app@sha256:%064x", n) }

// gitRepo makes a source repository with n commits and returns its SHAs.
func gitRepo(t *testing.T, n int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=d", "GIT_AUTHOR_EMAIL=d@x", "GIT_COMMITTER_NAME=d", "GIT_COMMITTER_EMAIL=d@x")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	var shas []string
	for i := 0; i < n; i++ {
		os.WriteFile(filepath.Join(dir, "f"), []byte(fmt.Sprint(i)), 0o644)
		git("add", "f")
		git("commit", "-qm", fmt.Sprint("c", i))
		shas = append(shas, git("rev-parse", "HEAD"))
	}
	return dir, shas
}

func TestDeployPromoteHistoryCommands(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	src, shas := gitRepo(t, 3)
	common := []string{"--out", out, "--source", "../../sample-app", "--source-repo", src}

	stdout, stderr, code := run(t, append([]string{"deploy", "--app", "sample-app", "--env", "development", "--image", dig(1), "--source-commit", shas[2]}, common...)...)
	if code != 0 || !shaLine.MatchString(lastLine(stdout)) || !strings.Contains(stderr, "created the local GitOps repository") {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, stdout, stderr)
	}
	stdout, _, code = run(t, append([]string{"deploy", "--app", "sample-app", "--env", "development", "--image", dig(1), "--source-commit", shas[2]}, common...)...)
	if code != 0 || lastLine(stdout) != "unchanged" {
		t.Errorf("redeploy: exit %d %q", code, stdout)
	}
	// Re-run of an old workflow: refused, exit 1, message names both commits.
	_, stderr, code = run(t, append([]string{"deploy", "--app", "sample-app", "--env", "development", "--image", dig(2), "--source-commit", shas[1]}, common...)...)
	if code != 1 || !strings.Contains(stderr, "rollback") || !strings.Contains(stderr, shas[1]) || !strings.Contains(stderr, shas[2]) {
		t.Errorf("rollback: exit %d %s", code, stderr)
	}
	stdout, stderr, code = run(t, append([]string{"promote", "--app", "sample-app", "--from", "development", "--to", "staging"}, common...)...)
	if code != 0 || !shaLine.MatchString(lastLine(stdout)) {
		t.Errorf("promote: exit %d %s %s", code, stdout, stderr)
	}
	stdout, _, code = run(t, append([]string{"promote", "--app", "sample-app", "--from", "staging", "--to", "production", "--via-branch"}, common...)...)
	if code != 0 || !strings.Contains(stdout, "branch: promote/sample-app/production/") {
		t.Errorf("promote --via-branch: exit %d %s", code, stdout)
	}
	hist := []string{"--out", out, "--source", "../../sample-app"}
	stdout, _, code = run(t, append([]string{"history", "--json"}, hist...)...)
	var recs []map[string]string
	if code != 0 || json.Unmarshal([]byte(stdout), &recs) != nil || len(recs) != 2 {
		t.Fatalf("history --json: exit %d %s", code, stdout)
	}
	if recs[0]["env"] != "staging" || recs[0]["source_commit"] != shas[2] || recs[1]["image"] != dig(1) {
		t.Errorf("history records %v", recs)
	}
	stdout, _, _ = run(t, append([]string{"history", "--env", "development"}, hist...)...)
	if !strings.Contains(stdout, "1 deployments") || !strings.Contains(stdout, "sample-app  development  1") {
		t.Errorf("history table:\n%s", stdout)
	}
}

func TestDeployUsageErrors(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	common := []string{"--out", out, "--source", "../../sample-app"}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"deploy", "--app", "sample-app", "--env", "staging", "--image", "ghcr.io/acme/sample-app:v1"}, 2, "digests only"},
		{[]string{"deploy", "--app", "sample-app", "--env", "staging"}, 2, "required"},
		{[]string{"deploy", "--app", "sample-app", "--env", "qa", "--image", dig(1), "--source-commit", strings.Repeat("a", 40)}, 2, "environments: development, production, staging"},
		{[]string{"deploy", "--app", "sample-app", "--env", "staging", "--image", dig(1), "--source-commit", "HEAD"}, 2, "--source-commit"},
		{[]string{"deploy", "--app", "sample-app", "--env", "staging", "--image", dig(1), "--source-commit", strings.Repeat("a", 40), "--gitops-repo", filepath.Join(out, "none.git")}, 2, "none.git"},
		{[]string{"history", "--since", "last tuesday"}, 2, "--since"},
		{[]string{"promote", "--app", "sample-app", "--from", "staging"}, 2, "required"},
	}
	for _, c := range cases {
		_, stderr, code := run(t, append(c.args, common...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d %q, want %d %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

// TestPublishEndToEnd: with nothing configured, push goes to Slipway's local
// registry and deploy to the local GitOps repository; history shows it.
func TestPublishEndToEnd(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	scannedImageTar(t, out, pipeline.GatePassed)
	stdout, stderr, code := run(t, "run", "push", "deploy", "--out", out, "--source", "../../sample-app")
	if code != 0 || !shaLine.MatchString(lastLine(stdout)) {
		t.Fatalf("run push deploy: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var res struct {
		Image  struct{ Ref string }
		Deploy struct{ Commit, Environment string }
	}
	data, _ := os.ReadFile(filepath.Join(out, "result.json"))
	json.Unmarshal(data, &res)
	if res.Deploy.Commit != lastLine(stdout) || res.Deploy.Environment != "development" || !strings.Contains(res.Image.Ref, "@sha256:") {
		t.Errorf("result.json: %s", data)
	}
	stdout, _, _ = run(t, "history", "--out", out, "--source", "../../sample-app", "--json")
	if !strings.Contains(stdout, res.Image.Ref) {
		t.Errorf("history lacks %s:\n%s", res.Image.Ref, stdout)
	}
	if prov, err := os.ReadFile(filepath.Join(out, "provenance.json")); err != nil || !strings.Contains(string(prov), `"predicateType": "https://slsa.dev/provenance/v1"`) || !strings.Contains(string(prov), strings.TrimPrefix(res.Image.Ref[strings.Index(res.Image.Ref, "@sha256:")+8:], "")) {
		t.Errorf("out/provenance.json: %v\n%s", err, prov)
	}
	if html, err := os.ReadFile(filepath.Join(out, "report.html")); err != nil || !strings.Contains(string(html), "What runs now") {
		t.Errorf("the publish did not write out/report.html: %v", err)
	}
	md, _ := os.ReadFile(filepath.Join(out, "summary.md"))
	if !strings.Contains(string(md), res.Image.Ref) || !strings.Contains(string(md), "GitOps: sample-app → development") {
		t.Errorf("summary.md:\n%s", md)
	}
}

// TestGitOpsTokenNeverLeaks: a token given for an unreachable HTTPS remote
// appears in no output and no file under out/.
func TestGitOpsTokenNeverLeaks(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	tok := "ghp_TokenValue_NEVER_PRINT_123"
	t.Setenv("GITOPS_TOKEN", tok)
	t.Setenv("GITOPS_REPO", "https://ci-bot:"+tok+"@127.0.0.1:1/acme/gitops.git")
	var all strings.Builder
	for _, args := range [][]string{
		{"deploy", "--app", "sample-app", "--env", "staging", "--image", dig(1), "--source-commit", strings.Repeat("b", 40)},
		{"history"},
		{"promote", "--app", "sample-app", "--from", "development", "--to", "staging"},
		{"plan"},
		{"plan", "--json"},
	} {
		stdout, stderr, code := run(t, append(args, "--out", out, "--source", "../../sample-app")...)
		all.WriteString(stdout + stderr)
		if args[0] != "plan" && (code != 1 || !strings.Contains(stderr, "127.0.0.1:1/acme/gitops.git")) {
			t.Errorf("%v: exit %d, stderr %q should name the repository", args, code, stderr)
		}
	}
	filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			data, _ := os.ReadFile(p)
			all.Write(data)
		}
		return nil
	})
	if strings.Contains(all.String(), tok) {
		t.Error("GITOPS_TOKEN reached output or out/")
	}
}
