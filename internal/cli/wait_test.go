package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

const argoToken = "argocd-test-token-s3cr3t"

// followingArgo is an Argo CD API that follows the GitOps branch: one
// automated Application deploying sample-app/overlays/ENV of repo, synced
// and healthy at the branch head.
func followingArgo(t *testing.T, repo, env string, health string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var refreshes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+argoToken {
			// Like a proxy in front of Argo CD, it repeats the token it
			// refuses (issue 17 round 2 item 2: never printed).
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"error":"invalid session: token signature is invalid","code":16,"message":"invalid session: %s is invalid"}`, r.Header.Get("Authorization"))
			return
		}
		if r.URL.Query().Get("refresh") != "" {
			refreshes.Add(1)
		}
		head, err := exec.Command("git", "--git-dir", repo, "rev-parse", "main").Output()
		if err != nil {
			w.WriteHeader(500)
			return
		}
		rev := strings.TrimSpace(string(head))
		app := fmt.Sprintf(`{"metadata":{"name":"sample-app-%[1]s","namespace":"argocd"},"spec":{"source":{"repoURL":"file://%[2]s","path":"sample-app/overlays/%[1]s","targetRevision":"HEAD"},"project":"default","syncPolicy":{"automated":{"prune":true}}},
"status":{"sync":{"status":"Synced","revision":"%[3]s"},"health":{"status":"%[4]s","lastTransitionTime":"2026-11-01T10:00:02Z"},"resources":[{"group":"apps","version":"v1","kind":"Deployment","namespace":"default","name":"sample-app","status":"Synced","health":{"status":"%[4]s","message":"Deployment \"sample-app\" exceeded its progress deadline"}}],
"history":[{"id":4,"revision":"%[3]s","deployedAt":"2026-11-01T10:00:01Z"}],
"operationState":{"operation":{"sync":{"revision":"%[3]s"}},"phase":"Succeeded","message":"successfully synced (all tasks run)","syncResult":{"revision":"%[3]s"},"startedAt":"2026-11-01T10:00:00Z","finishedAt":"2026-11-01T10:00:01Z"}}}`, env, repo, rev, health)
		if r.URL.Path == "/api/v1/applications" {
			fmt.Fprintf(w, `{"items":[%s]}`, app)
			return
		}
		fmt.Fprint(w, app)
	}))
	t.Cleanup(srv.Close)
	return srv, &refreshes
}

func TestDeployWait(t *testing.T) {
	noEngineEnv(t)
	t.Setenv("ARGOCD_SERVER", "")
	t.Setenv("ARGOCD_AUTH_TOKEN", "")
	t.Setenv("ARGOCD_PLAINTEXT", "")
	t.Setenv("ARGOCD_INSECURE", "")
	out := t.TempDir()
	src, shas := gitRepo(t, 2)
	common := []string{"--out", out, "--source", "../../sample-app", "--source-repo", src}
	deploy := append([]string{"deploy", "--app", "sample-app", "--env", "development", "--image", dig(1), "--source-commit", shas[0], "--wait", "--wait-timeout", "5s"}, common...)

	// No Argo CD configured: a usage error before anything is committed.
	_, stderr, code := run(t, deploy...)
	if code != 2 || !strings.Contains(stderr, "ARGOCD_SERVER") {
		t.Fatalf("no ARGOCD_SERVER: exit %d %s", code, stderr)
	}
	if _, err := exec.Command("git", "--git-dir", filepath.Join(out, "gitops.git"), "rev-parse", "main").Output(); err == nil {
		t.Fatal("a deploy refused for a missing ARGOCD_SERVER committed something")
	}
	repo := filepath.Join(out, "gitops.git")
	srv, refreshes := followingArgo(t, repo, "development", "Healthy")
	t.Setenv("ARGOCD_SERVER", srv.URL)
	t.Setenv("ARGOCD_AUTH_TOKEN", argoToken)
	// (that run created nothing: it stopped before the GitOps repository)
	stdout, stderr, code := run(t, deploy...)
	if code != 0 || !shaLine.MatchString(lastLine(stdout)) {
		t.Fatalf("deploy --wait: exit %d\n%s\n%s", code, stdout, stderr)
	}
	commit := lastLine(stdout)
	if !strings.Contains(stderr, "sample-app-development sample-app/development "+commit[:12]+" synced 2026-11-01T10:00:01Z healthy 2026-11-01T10:00:02Z") || refreshes.Load() == 0 {
		t.Errorf("the wait's report (stderr), refreshes %d:\n%s", refreshes.Load(), stderr)
	}
	note, err := exec.Command("git", "--git-dir", repo, "notes", "--ref=slipway", "show", commit).CombinedOutput()
	if err != nil || !strings.Contains(string(note), "Argo-CD-Application: sample-app-development") || !strings.Contains(string(note), "History-Id: 4") {
		t.Errorf("git note: %v\n%s", err, note)
	}
	hist := []string{"--out", out, "--source", "../../sample-app"}
	stdout, _, code = run(t, append([]string{"history", "--json"}, hist...)...)
	var recs []struct {
		Observations []struct {
			Application string `json:"application"`
			Result      string `json:"result"`
			HealthyAt   string `json:"healthy_at"`
		} `json:"observations"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &recs) != nil || len(recs) != 1 || len(recs[0].Observations) != 1 || recs[0].Observations[0].HealthyAt != "2026-11-01T10:00:02Z" {
		t.Errorf("history --json: exit %d %s", code, stdout)
	}
	stdout, _, _ = run(t, append([]string{"status", "--env", "development"}, hist...)...)
	if !strings.Contains(stdout, "RUNNING") || !strings.Contains(stdout, "healthy 2026-11-01T10:00:02Z") {
		t.Errorf("status:\n%s", stdout)
	}
	// wait alone, for what the environment runs: stdout names the Application.
	stdout, stderr, code = run(t, append([]string{"wait", "--app", "sample-app", "--env", "development"}, hist...)...)
	if code != 0 || !strings.HasPrefix(lastLine(stdout), "sample-app-development sample-app/development "+commit[:12]) {
		t.Errorf("wait: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// A token Argo CD refuses: exit 1, one line naming the variable, never the value.
	t.Setenv("ARGOCD_AUTH_TOKEN", "wrong-"+argoToken)
	stdout, stderr, code = run(t, append([]string{"wait", "--app", "sample-app", "--env", "development"}, hist...)...)
	if code != 1 || !strings.Contains(stderr, "ARGOCD_AUTH_TOKEN") || strings.Contains(stdout+stderr, argoToken) {
		t.Errorf("refused token: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// --via-branch cannot wait.
	t.Setenv("ARGOCD_AUTH_TOKEN", argoToken)
	_, stderr, code = run(t, append([]string{"promote", "--app", "sample-app", "--from", "development", "--to", "production", "--via-branch", "--wait"}, common...)...)
	if code != 2 || !strings.Contains(stderr, "--via-branch") {
		t.Errorf("promote --via-branch --wait: exit %d %s", code, stderr)
	}
}

func TestDeployWaitDegraded(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	src, shas := gitRepo(t, 1)
	repo := filepath.Join(out, "gitops.git")
	srv, _ := followingArgo(t, repo, "staging", "Degraded")
	t.Setenv("ARGOCD_SERVER", srv.URL)
	t.Setenv("ARGOCD_AUTH_TOKEN", argoToken)
	t.Setenv("ARGOCD_PLAINTEXT", "")
	t.Setenv("ARGOCD_INSECURE", "")
	stdout, stderr, code := run(t, "deploy", "--app", "sample-app", "--env", "staging", "--image", dig(1), "--source-commit", shas[0], "--wait", "--wait-timeout", "5s", "--out", out, "--source", "../../sample-app", "--source-repo", src)
	if code != 1 || !shaLine.MatchString(lastLine(stdout)) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	errLine := stderr[strings.Index(stderr, "error: "):]
	if strings.Count(strings.TrimSpace(errLine), "\n") != 0 || !strings.Contains(errLine, "Degraded") || !strings.Contains(errLine, `exceeded its progress deadline`) {
		t.Errorf("one line naming the degraded resource:\n%s", stderr)
	}
	note, _ := exec.Command("git", "--git-dir", repo, "notes", "--ref=slipway", "show", lastLine(stdout)).CombinedOutput()
	if !strings.Contains(string(note), "Result: degraded") {
		t.Errorf("the failure is recorded:\n%s", note)
	}
}

// With Publish.Wait, the generated wrappers hand the deploy an Argo CD
// token (read-only) and server, and no cluster credential.
func TestGeneratedWrappersWait(t *testing.T) {
	p := testProject()
	p.GitOpsRepo = "https://git.acme.io/platform/gitops.git"
	p.Apps[0].Image = "registry.acme.io/team/sample-app"
	for _, wait := range []bool{false, true} {
		p.Wait = wait
		gha, err := GenerateGitHubActions(p)
		if err != nil {
			t.Fatal(err)
		}
		jf, err := GenerateJenkinsfile(p)
		if err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string]string{"workflow": gha, "Jenkinsfile": jf} {
			if strings.Contains(data, "ARGOCD_AUTH_TOKEN") != wait {
				t.Errorf("%s, Wait %v: ARGOCD_AUTH_TOKEN present = %v", name, wait, !wait)
			}
			if strings.Contains(strings.ToLower(data), "kubeconfig") {
				t.Errorf("%s holds a cluster credential", name)
			}
		}
	}
}

// --publish --wait without Argo CD's address is a usage error before
// anything runs (no engine is asked for, nothing is pushed).
func TestPublishWaitNeedsArgoCD(t *testing.T) {
	noEngineEnv(t)
	t.Setenv("ARGOCD_SERVER", "")
	t.Setenv("ARGOCD_AUTH_TOKEN", "")
	_, stderr, code := run(t, "--publish", "--wait", "--out", t.TempDir(), "--source", "../../sample-app")
	if code != 2 || !strings.Contains(stderr, "ARGOCD_SERVER") || strings.Contains(stderr, "engine") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}

// deploy --wait checks ARGOCD_SERVER and the token before it asks the
// registry for the image's revision label (seconds on an unreachable one).
func TestDeployWaitChecksArgoCDBeforeTheRegistry(t *testing.T) {
	noEngineEnv(t)
	t.Setenv("ARGOCD_SERVER", "")
	t.Setenv("ARGOCD_AUTH_TOKEN", "")
	var asked atomic.Int32
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.WriteHeader(404)
	}))
	t.Cleanup(reg.Close)
	src, _ := gitRepo(t, 1)
	image := strings.TrimPrefix(reg.URL, "http://") + fmt.Sprintf("/acme/sample-app@sha256:%064x", 1)
	_, stderr, code := run(t, "deploy", "--app", "sample-app", "--env", "development", "--image", image, "--wait",
		"--out", t.TempDir(), "--source", "../../sample-app", "--source-repo", src)
	if code != 2 || !strings.Contains(stderr, "ARGOCD_SERVER") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the registry was asked %d time(s) before the missing ARGOCD_SERVER was said:\n%s", n, stderr)
	}
}

// --wait-timeout: a negative value and zero say the same thing, and a
// budget too small to ask Argo CD anything says so in plain words.
func TestWaitTimeoutMessages(t *testing.T) {
	noEngineEnv(t)
	for _, v := range []string{"-5s", "0", "0s"} {
		_, stderr, code := run(t, "wait", "--app", "sample-app", "--env", "development", "--wait-timeout", v)
		if code != 2 || !strings.Contains(stderr, "want a positive duration (e.g. 5m)") || strings.Contains(stderr, "zero or more") {
			t.Errorf("--wait-timeout %s: exit %d %s", v, code, stderr)
		}
	}
	err := (&options{}).waitAll(context.Background(), nil, nil, waitFlags{timeout: time.Nanosecond}, io.Discard, []waitTarget{{app: "web", env: "staging"}})
	if err == nil || err.Error() != "wait web/staging: --wait-timeout 1ns ran out before Argo CD was asked" {
		t.Errorf("got %v", err)
	}
}

// Every error goes through Slipway's "error:" printer, never cobra's
// "Error:": an unknown flag, an unexpected argument, on every command.
func TestNoCobraErrorPrinter(t *testing.T) {
	noEngineEnv(t)
	_, root := tree(testProject(), "ci")
	walk(root, func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		if len(path) > 0 && (path[0] == "help" || path[0] == "completion") {
			return
		}
		if !c.SilenceErrors && !root.SilenceErrors {
			t.Errorf("%s: cobra would print its own Error:", c.CommandPath())
		}
		for _, extra := range [][]string{{"--no-such-flag"}, {"--wait-timeout=-1s", "--no-such-flag"}} {
			_, stderr, code := run(t, append(append([]string{}, path...), extra...)...)
			if code != 2 || strings.Contains(stderr, "Error:") || !strings.HasPrefix(stderr, "error: ") {
				t.Errorf("%s %v: exit %d %q", c.CommandPath(), extra, code, stderr)
			}
		}
	})
	if _, stderr, code := run(t, "wait", "--app", "sample-app", "--env", "development", "extra"); code != 2 || !strings.HasPrefix(stderr, "error: ") {
		t.Errorf("wait extra: exit %d %q", code, stderr)
	}
}
