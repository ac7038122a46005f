//go:build argocd

package cli

// Tests of wait against a real Argo CD v3.2.2 (hack/argocd-lab): `make
// argocd-lab` builds the stack, `make test-argocd` starts it in a private
// network namespace and runs these tests inside it. Each ends with the
// exit code and the one line a pipeline would see.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// lab is the running stack, from the environment start.sh gives.
type lab struct {
	gitops, server, token, syncToken, noRights, projectToken, kubectl, kubeconfig, captureDir string
}

func argoLab(t *testing.T) lab {
	t.Helper()
	// TestMain scrubbed ARGOCD_*, SLIPWAY_* and KUBECONFIG: the lab's
	// values are what the shell (start.sh) gave.
	env := testenv.Saved
	l := lab{gitops: env("ARGOCD_LAB_GITOPS"), server: env("ARGOCD_SERVER"), token: env("ARGOCD_AUTH_TOKEN"),
		syncToken: env("ARGOCD_LAB_SYNC_TOKEN"), noRights: env("ARGOCD_LAB_NORIGHTS_TOKEN"), projectToken: env("ARGOCD_LAB_PROJECT_TOKEN"),
		kubeconfig: env("KUBECONFIG"), captureDir: env("SLIPWAY_ARGOCD_CAPTURE")}
	if l.gitops == "" || l.server == "" {
		t.Skip("no Argo CD lab: run `make argocd-lab` (builds it, ~25 min) then `make test-argocd` (starts it and runs these tests inside its network namespace)")
	}
	l.kubectl = filepath.Join(env("ARGOCD_LAB_BIN"), "kubectl")
	noEngineEnv(t)
	t.Setenv("ARGOCD_PLAINTEXT", "true")
	t.Setenv("ARGOCD_SERVER", l.server)
	t.Setenv("ARGOCD_AUTH_TOKEN", l.token)
	return l
}

// labProject is the lab's GitOps apps (web, api, canary) as a Go
// configuration: commands refuse an --app the configuration does not have.
func labProject() Project {
	p := testProject()
	p.Apps = nil
	for _, a := range []string{"web", "api", "canary"} {
		p.Apps = append(p.Apps, App{Name: a, Source: "../../sample-app"})
	}
	return p
}

// labRun runs the CLI with labProject.
func labRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Execute(context.Background(), labProject(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// labMu serializes the tests that deploy: they share one GitOps repository
// and one Argo CD.
var labMu sync.Mutex

// args are a command's arguments for the lab's GitOps repository; a deploy
// also names the source repository of its --source-commit.
func (l lab) args(t *testing.T, src string, more ...string) []string {
	more = append(more, "--gitops-repo", l.gitops, "--out", t.TempDir())
	if more[0] == "deploy" {
		more = append(more, "--source-repo", src)
	}
	return more
}

// errorLine is the first stderr line starting with "error:".
func errorLine(t *testing.T, stderr string) string {
	t.Helper()
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "error:") {
			return l
		}
	}
	t.Fatalf("no error line in:\n%s", stderr)
	return ""
}

var digestN = time.Now().UnixNano()

func nextImage(app string) string {
	digestN++
	return fmt.Sprintf("registry.lab/%s@sha256:%064x", app, digestN)
}

// capture saves what Argo CD answers for an Application (the shapes the
// unit tests replay) when SLIPWAY_ARGOCD_CAPTURE names a directory. The
// lab's directory becomes /lab, so that the files name no machine; they
// hold no token (Argo CD never echoes it).
func (l lab) capture(t *testing.T, name, app, commit, want string, extra ...string) {
	dir := l.captureDir
	if dir == "" {
		return
	}
	get := func(p string) []byte {
		req, _ := http.NewRequest(http.MethodGet, "http://"+l.server+p, nil)
		req.Header.Set("Authorization", "Bearer "+l.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Logf("capture %s: %v", p, err)
			return nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	os.MkdirAll(dir, 0o755)
	l.saveCapture(t, filepath.Join(dir, name+".app.json"), get("/api/v1/applications/"+app))
	l.saveCapture(t, filepath.Join(dir, name+".tree.json"), get("/api/v1/applications/"+app+"/resource-tree"))
	l.saveCapture(t, filepath.Join(dir, name+".windows.json"), get("/api/v1/applications/"+app+"/syncwindows"))
	envName := strings.SplitN(app, "-", 2)
	spec := fmt.Sprintf("commit %s\nrepo file://%s\npath %s/overlays/%s\nwant %s\n", commit, l.gitops, envName[0], envName[1], want)
	for _, e := range extra {
		spec += e + "\n"
	}
	l.saveCapture(t, filepath.Join(dir, name+".want"), []byte(spec))
}

// saveCapture writes a captured answer with the lab's directory as /lab,
// JSON indented for review.
func (l lab) saveCapture(t *testing.T, fn string, b []byte) {
	b = []byte(strings.ReplaceAll(string(b), filepath.Dir(l.gitops), "/lab"))
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", " ") == nil {
		b = append(buf.Bytes(), '\n')
	}
	if err := os.WriteFile(fn, b, 0o644); err != nil {
		t.Errorf("capture: %v", err)
	}
}

func TestArgoCDSyncedHealthy(t *testing.T) {
	l := argoLab(t)
	labMu.Lock()
	defer labMu.Unlock()
	src, shas := gitRepo(t, 2)
	start := time.Now()
	stdout, stderr, code := labRun(t, l.args(t, src, "deploy", "--app", "web", "--env", "staging", "--image", nextImage("web"), "--source-commit", shas[0], "--allow-unknown-source", "--wait", "--wait-timeout", "3m")...)
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("deploy --wait: exit %d\n%s\n%s", code, stdout, stderr)
	}
	commit := lastLine(stdout)
	t.Logf("deploy --wait to synced and healthy: %s\n%s", took.Round(100*time.Millisecond), stderr)
	var line string
	for _, s := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(s, "web-staging web/staging "+commit[:12]+" synced ") {
			line = s
		}
	}
	if line == "" {
		t.Fatalf("no success line for web-staging at %s:\n%s", commit[:12], stderr)
	}
	note, err := exec.Command("git", "--git-dir", l.gitops, "notes", "--ref=slipway", "show", commit).CombinedOutput()
	if err != nil || !strings.Contains(string(note), "Result: healthy") || !strings.Contains(string(note), "History-Id: ") ||
		!strings.Contains(string(note), "Argo-CD-Application: web-staging") {
		t.Errorf("note: %v\n%s", err, note)
	}
	if strings.Contains(stdout+stderr+string(note), l.token) {
		t.Error("the token was printed or recorded")
	}
	// argoproj/argo-cd#10274: `argocd app wait` can hang on an app that is
	// already synced. Waiting again for the same commit returns at once.
	start = time.Now()
	stdout, stderr, code = labRun(t, l.args(t, src, "wait", "--app", "web", "--env", "staging", "--commit", commit, "--wait-timeout", "1m")...)
	again := time.Since(start)
	if code != 0 {
		t.Fatalf("wait: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("wait on an already synced and healthy commit: %s", again.Round(10*time.Millisecond))
	if again > 10*time.Second {
		t.Errorf("waiting on an already synced and healthy commit took %s", again)
	}
	l.capture(t, "synced-healthy", "web-staging", commit, "ok")
	// The record: status, history, dora (lead time to running) and the
	// report's timeline read the note.
	stdout, _, _ = labRun(t, l.args(t, src, "status", "--env", "staging", "--app", "web")...)
	if !strings.Contains(stdout, "healthy ") {
		t.Errorf("status:\n%s", stdout)
	}
	stdout, _, _ = labRun(t, l.args(t, src, "history", "--env", "staging", "--app", "web", "--json")...)
	if !strings.Contains(stdout, `"application": "web-staging"`) && !strings.Contains(stdout, `"application":"web-staging"`) {
		t.Errorf("history --json lacks the observation:\n%s", stdout)
	}
	// dora's lead time needs the previous deploy's source commit in the
	// source repository: deploy its second commit too.
	_, stderr, code = labRun(t, l.args(t, src, "deploy", "--app", "web", "--env", "staging", "--image", nextImage("web"), "--source-commit", shas[1], "--allow-unknown-source", "--wait", "--wait-timeout", "3m")...)
	if code != 0 {
		t.Fatalf("second deploy --wait: exit %d\n%s", code, stderr)
	}
	stdout, stderr, _ = labRun(t, l.args(t, src, "dora", "--env", "staging", "--app", "web", "--json", "--source-repo", src)...)
	var dora []struct {
		LeadTime struct {
			ToRunning int `json:"to_running"`
		} `json:"lead_time"`
	}
	if err := json.Unmarshal([]byte(stdout), &dora); err != nil || len(dora) != 1 || dora[0].LeadTime.ToRunning == 0 {
		t.Errorf("dora measures no lead time to running (%v):\n%s\n%s", err, stdout, stderr)
	}
	html := filepath.Join(t.TempDir(), "report.html")
	_, stderr, code = labRun(t, l.args(t, src, "report", "--out-file", html, "--source-repo", src)...)
	page, _ := os.ReadFile(html)
	if code != 0 || !strings.Contains(string(page), "→ healthy ") {
		t.Errorf("report: exit %d, no committed → synced → healthy timeline\n%s", code, stderr)
	}
}

// TestArgoCDWaitLatency measures how long `deploy --wait` waits after the
// GitOps commit until Argo CD reports it synced and healthy (the "waited"
// of the success line), over several deploys.
func TestArgoCDWaitLatency(t *testing.T) {
	l := argoLab(t)
	labMu.Lock()
	defer labMu.Unlock()
	src, shas := gitRepo(t, 1)
	var waits []time.Duration
	for i := 0; i < 5; i++ {
		_, stderr, code := labRun(t, l.args(t, src, "deploy", "--app", "web", "--env", "staging", "--image", nextImage("web"), "--source-commit", shas[0], "--allow-unknown-source", "--wait", "--wait-timeout", "3m")...)
		if code != 0 {
			t.Fatalf("deploy %d: exit %d\n%s", i, code, stderr)
		}
		at := strings.LastIndex(stderr, "(waited ")
		if at < 0 {
			t.Fatalf("no waited duration in:\n%s", stderr)
		}
		d, err := time.ParseDuration(strings.TrimSuffix(strings.Fields(stderr[at+len("(waited "):])[0], ")"))
		if err != nil {
			t.Fatalf("waited: %v\n%s", err, stderr)
		}
		waits = append(waits, d)
	}
	sorted := append([]time.Duration(nil), waits...)
	slices.Sort(sorted)
	t.Logf("GitOps commit to synced and healthy, %d deploys: %v; median %s", len(waits), waits, sorted[len(sorted)/2])
}

func TestArgoCDApplicationMissing(t *testing.T) {
	l := argoLab(t)
	src, _ := gitRepo(t, 1)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		// No Application deploys the path (discovery).
		{"no application for the path", []string{"--env", "qa"}, "no Argo CD Application deploys web/overlays/qa/kustomization.yaml"},
		// A named Application Argo CD does not have: 403, as for no rights.
		{"named application missing", []string{"--env", "staging", "--argocd-app", "web-qa"}, "it does not exist"},
		// A named Application that deploys another path.
		{"named application not tracking", []string{"--env", "staging", "--argocd-app", "web-production"}, "does not deploy web/overlays/staging/kustomization.yaml"},
	} {
		args := append([]string{"wait", "--app", "web", "--commit", strings.Repeat("a", 40), "--wait-timeout", "30s"}, tc.args...)
		_, stderr, code := labRun(t, l.args(t, src, args...)...)
		e := errorLine(t, stderr)
		t.Logf("%s: exit %d: %s", tc.name, code, e)
		if code != 1 || !strings.Contains(e, tc.want) {
			t.Errorf("%s: exit %d, want 1 with %q:\n%s", tc.name, code, tc.want, stderr)
		}
	}
}

func TestArgoCDNeverReady(t *testing.T) {
	l := argoLab(t)
	labMu.Lock()
	defer labMu.Unlock()
	src, shas := gitRepo(t, 1)
	stdout, stderr, code := labRun(t, l.args(t, src, "deploy", "--app", "web", "--env", "unschedulable", "--image", nextImage("web"), "--source-commit", shas[0], "--allow-unknown-source", "--wait", "--wait-timeout", "2m")...)
	e := errorLine(t, stderr)
	t.Logf("exit %d: %s", code, e)
	if code != 1 || !strings.Contains(e, "Degraded") || !strings.Contains(e, "progress deadline") {
		t.Errorf("exit %d, want 1 naming the Degraded Deployment:\n%s\n%s", code, stdout, stderr)
	}
	l.capture(t, "degraded", "web-unschedulable", lastLine(stdout), "degraded", `msg Deployment.apps web-unschedulable/web Degraded: Deployment "web" exceeded its progress deadline`)
	note, _ := exec.Command("git", "--git-dir", l.gitops, "notes", "--ref=slipway", "show", lastLine(stdout)).CombinedOutput()
	if !strings.Contains(string(note), "Result: degraded") {
		t.Errorf("the failed change is recorded:\n%s", note)
	}
}

func TestArgoCDSyncError(t *testing.T) {
	l := argoLab(t)
	labMu.Lock()
	defer labMu.Unlock()
	src, shas := gitRepo(t, 1)
	// web-invalid retries a failed sync once: the wait reports the failed
	// attempt, then ends at Argo CD's verdict (Failed), not at the timeout.
	start := time.Now()
	stdout, stderr, code := labRun(t, l.args(t, src, "deploy", "--app", "web", "--env", "invalid", "--image", nextImage("web"), "--source-commit", shas[0], "--allow-unknown-source", "--wait", "--wait-timeout", "2m")...)
	e := errorLine(t, stderr)
	t.Logf("exit %d after %s: %s", code, time.Since(start).Round(100*time.Millisecond), e)
	if code != 1 || !strings.Contains(e, "could not sync web-invalid") || !strings.Contains(e, "spec.replicas") || strings.Contains(e, "gave up") {
		t.Errorf("exit %d, want 1 with Argo CD's message:\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "failed and is retried (retry 1)") {
		t.Errorf("the retried attempt was not reported:\n%s", stderr)
	}
	l.capture(t, "sync-failed", "web-invalid", lastLine(stdout), "sync-failed", "msg spec.replicas: Invalid value: -1")
}

func TestArgoCDTwoAppsOnePush(t *testing.T) {
	l := argoLab(t)
	labMu.Lock()
	defer labMu.Unlock()
	_, shas := gitRepo(t, 1)
	r, err := gitops.NewRemote(l.gitops, "main", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	d := &gitops.Deployer{Remote: r}
	var reqs []gitops.Request
	for _, app := range []string{"web", "api"} {
		img, _ := gitops.ParseImage(nextImage(app))
		reqs = append(reqs, gitops.Request{App: app, Env: "staging", Image: img, SourceCommit: shas[0], AllowUnknownSource: true})
	}
	outs, err := d.DeployAll(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	res := make([]string, 2)
	codes := make([]int, 2)
	for i, app := range []string{"web", "api"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stdout, stderr, code := labRun(t, "wait", "--app", app, "--env", "staging", "--commit", outs[i].Commit, "--gitops-repo", l.gitops, "--out", t.TempDir(), "--wait-timeout", "3m")
			res[i], codes[i] = stdout+stderr, code
		}()
	}
	wg.Wait()
	for i := range res {
		if codes[i] != 0 {
			t.Errorf("wait %d: exit %d\n%s", i, codes[i], res[i])
		}
	}
	// web's commit is the parent of the pushed head: Argo CD synced a
	// descendant that still carries web's image.
	if !strings.Contains(res[0], "web-staging web/staging "+outs[1].Commit[:12]) {
		t.Errorf("web was synced at the push's head %s:\n%s", outs[1].Commit[:12], res[0])
	}
	l.capture(t, "descendant", "web-staging", outs[0].Commit, "ok", "rel "+outs[1].Commit+" carries")
}

func TestArgoCDSyncWindow(t *testing.T) {
	// A change freeze: web-frozen's project denies syncing around the
	// clock. Argo CD's Application says only OutOfSync; the line says why.
	l := argoLab(t)
	labMu.Lock()
	defer labMu.Unlock()
	src, shas := gitRepo(t, 1)
	stdout, stderr, code := labRun(t, l.args(t, src, "deploy", "--app", "web", "--env", "frozen", "--image", nextImage("web"), "--source-commit", shas[0], "--allow-unknown-source", "--wait", "--wait-timeout", "20s")...)
	e := errorLine(t, stderr)
	t.Logf("exit %d: %s", code, e)
	if code != 1 || !strings.Contains(e, "web-frozen is OutOfSync at") || !strings.Contains(e, "Deployment.apps web-frozen/web OutOfSync") ||
		!strings.Contains(e, `sync window of its project blocks syncing now (deny "* * * * *" for 24h)`) {
		t.Errorf("exit %d, want 1 naming the OutOfSync resources and the window:\n%s\n%s", code, stdout, stderr)
	}
	l.capture(t, "sync-window", "web-frozen", lastLine(stdout), "timeout", `msg a sync window of its project blocks syncing now (deny "* * * * *" for 24h)`)
}

func TestArgoCDOvertaken(t *testing.T) {
	l := argoLab(t)
	labMu.Lock()
	defer labMu.Unlock()
	src, shas := gitRepo(t, 2)
	stdout, stderr, code := labRun(t, l.args(t, src, "deploy", "--app", "web", "--env", "staging", "--image", nextImage("web"), "--source-commit", shas[0], "--allow-unknown-source")...)
	if code != 0 {
		t.Fatalf("%s %s", stdout, stderr)
	}
	ours := lastLine(stdout)
	stdout, stderr, code = labRun(t, l.args(t, src, "deploy", "--app", "web", "--env", "staging", "--image", nextImage("web"), "--source-commit", shas[1], "--allow-unknown-source")...)
	if code != 0 {
		t.Fatalf("%s %s", stdout, stderr)
	}
	newer := lastLine(stdout)
	stdout, stderr, code = labRun(t, l.args(t, src, "wait", "--app", "web", "--env", "staging", "--commit", ours, "--wait-timeout", "2m")...)
	e := errorLine(t, stderr)
	t.Logf("exit %d: %s", code, e)
	if code != 1 || !strings.Contains(e, "replaced deploy commit "+ours[:12]) {
		t.Errorf("exit %d, want 1 naming the newer deploy:\n%s\n%s", code, stdout, stderr)
	}
	l.capture(t, "replaced", "web-staging", ours, "replaced", "rel "+newer+" replaced")
}

func TestArgoCDManualSync(t *testing.T) {
	l := argoLab(t)
	labMu.Lock()
	defer labMu.Unlock()
	src, shas := gitRepo(t, 1)
	stdout, stderr, code := labRun(t, l.args(t, src, "deploy", "--app", "web", "--env", "production", "--image", nextImage("web"), "--source-commit", shas[0], "--allow-unknown-source", "--wait", "--wait-timeout", "20s")...)
	e := errorLine(t, stderr)
	t.Logf("without --sync: exit %d: %s", code, e)
	if code != 1 || !strings.Contains(e, "waiting for a manual sync") {
		t.Errorf("exit %d:\n%s\n%s", code, stdout, stderr)
	}
	commit := lastLine(stdout)
	l.capture(t, "manual", "web-production", commit, "manual-sync", "msg waiting for a manual sync")
	// --sync with the read-only token: Argo CD refuses; the line says which right is missing.
	_, stderr, code = labRun(t, l.args(t, src, "wait", "--app", "web", "--env", "production", "--sync", "--wait-timeout", "1m")...)
	e = errorLine(t, stderr)
	t.Logf("--sync, read-only token: exit %d: %s", code, e)
	if code != 1 || !strings.Contains(e, "applications, sync") || strings.Contains(stderr, l.token) {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
	// Another app's deploy moves the branch on: the head is no longer ours.
	if _, stderr, code := labRun(t, l.args(t, src, "deploy", "--app", "api", "--env", "staging", "--image", nextImage("api"), "--source-commit", shas[0], "--allow-unknown-source")...); code != 0 {
		t.Fatalf("deploy api: %s", stderr)
	}
	// --sync with a role that may sync: exactly our commit is synced (not
	// the branch's head).
	t.Setenv("ARGOCD_AUTH_TOKEN", l.syncToken)
	start := time.Now()
	stdout, stderr, code = labRun(t, l.args(t, src, "wait", "--app", "web", "--env", "production", "--commit", commit, "--sync", "--wait-timeout", "2m")...)
	if code != 0 || !strings.Contains(stdout, "web-production web/production ") {
		t.Fatalf("--sync: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("--sync to synced and healthy: %s", time.Since(start).Round(100*time.Millisecond))
	var app struct {
		Status struct {
			OperationState struct {
				Operation struct {
					Sync struct {
						Revision string `json:"revision"`
					} `json:"sync"`
				} `json:"operation"`
				Phase string `json:"phase"`
			} `json:"operationState"`
		} `json:"status"`
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+l.server+"/api/v1/applications/web-production", nil)
	req.Header.Set("Authorization", "Bearer "+l.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&app); err != nil {
		t.Fatal(err)
	}
	if op := app.Status.OperationState; op.Operation.Sync.Revision != commit || op.Phase != "Succeeded" {
		t.Errorf("Argo CD's sync operation: revision %s phase %s, want exactly the deploy commit %s", op.Operation.Sync.Revision, op.Phase, commit)
	}
}

func TestArgoCDTokenWithoutRights(t *testing.T) {
	l := argoLab(t)
	src, _ := gitRepo(t, 1)
	for _, tc := range []struct{ token, want string }{
		{l.noRights, "applications, get"},
		{"not-a-token", "401"},
	} {
		t.Setenv("ARGOCD_AUTH_TOKEN", tc.token)
		stdout, stderr, code := labRun(t, l.args(t, src, "wait", "--app", "web", "--env", "staging", "--argocd-app", "web-staging", "--wait-timeout", "30s")...)
		e := errorLine(t, stderr)
		t.Logf("exit %d: %s", code, e)
		if code != 1 || !strings.Contains(e, "ARGOCD_AUTH_TOKEN") || !strings.Contains(e, tc.want) || strings.Contains(stdout+stderr, tc.token) {
			t.Errorf("exit %d:\n%s\n%s", code, stdout, stderr)
		}
		if dir := l.captureDir; dir != "" {
			req, _ := http.NewRequest(http.MethodGet, "http://"+l.server+"/api/v1/applications/web-staging", nil)
			req.Header.Set("Authorization", "Bearer "+tc.token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				name := fmt.Sprintf("denied-%d", resp.StatusCode)
				l.saveCapture(t, filepath.Join(dir, name+".body"), b)
				l.saveCapture(t, filepath.Join(dir, name+".want"), []byte(fmt.Sprintf("commit %040d\nrepo file://%s\npath web/overlays/staging\napp web-staging\nstatus %d\nwant denied\n", 0, l.gitops, resp.StatusCode)))
			}
		}
		// Discovery with no rights: the token sees no Application.
		_, stderr, code = labRun(t, l.args(t, src, "wait", "--app", "web", "--env", "staging", "--wait-timeout", "30s")...)
		t.Logf("discovery: exit %d: %s", code, errorLine(t, stderr))
		if code != 1 {
			t.Errorf("discovery: exit %d\n%s", code, stderr)
		}
	}
}

func TestArgoCDProjectRoleToken(t *testing.T) {
	// A project role's token (p, proj:default:wait, applications, get,
	// default/*, allow) is enough to wait; it sees only its project.
	l := argoLab(t)
	labMu.Lock()
	defer labMu.Unlock()
	if l.projectToken == "" {
		t.Skip("the lab gives no ARGOCD_LAB_PROJECT_TOKEN (an older start.sh)")
	}
	t.Setenv("ARGOCD_AUTH_TOKEN", l.projectToken)
	src, shas := gitRepo(t, 1)
	stdout, stderr, code := labRun(t, l.args(t, src, "deploy", "--app", "web", "--env", "staging", "--image", nextImage("web"), "--source-commit", shas[0], "--allow-unknown-source", "--wait", "--wait-timeout", "3m")...)
	if code != 0 || strings.Contains(stdout+stderr, l.projectToken) {
		t.Fatalf("deploy --wait with a project role's token: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// web-frozen is in project frozen: invisible to this token.
	_, stderr, code = labRun(t, l.args(t, src, "wait", "--app", "web", "--env", "frozen", "--commit", strings.Repeat("a", 40), "--wait-timeout", "30s")...)
	e := errorLine(t, stderr)
	t.Logf("another project: exit %d: %s", code, e)
	if code != 1 || !strings.Contains(e, "no Argo CD Application deploys web/overlays/frozen/kustomization.yaml") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}

func TestArgoCDUnreachable(t *testing.T) {
	l := argoLab(t)
	src, _ := gitRepo(t, 1)
	t.Setenv("ARGOCD_SERVER", "127.0.0.1:1")
	start := time.Now()
	_, stderr, code := labRun(t, l.args(t, src, "wait", "--app", "web", "--env", "staging", "--wait-timeout", "5s")...)
	e := errorLine(t, stderr)
	t.Logf("exit %d after %s: %s", code, time.Since(start).Round(100*time.Millisecond), e)
	if code != 1 || !strings.Contains(e, "unreachable") || time.Since(start) > 8*time.Second {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}

// slowProxy forwards to Argo CD after a delay.
func slowProxy(t *testing.T, server string, delay time.Duration) string {
	u, _ := url.Parse("http://" + server)
	p := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestArgoCDSlowAPI(t *testing.T) {
	l := argoLab(t)
	src, _ := gitRepo(t, 1)
	// Slower than the wait's budget: it gives up on time, saying so.
	t.Setenv("ARGOCD_SERVER", slowProxy(t, l.server, 30*time.Second))
	start := time.Now()
	_, stderr, code := labRun(t, l.args(t, src, "wait", "--app", "web", "--env", "staging", "--wait-timeout", "5s")...)
	e := errorLine(t, stderr)
	t.Logf("exit %d after %s: %s", code, time.Since(start).Round(100*time.Millisecond), e)
	if code != 1 || !strings.Contains(e, "did not answer in time") || time.Since(start) > 8*time.Second {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
	// Slow but within the budget: it waits it out.
	t.Setenv("ARGOCD_SERVER", slowProxy(t, l.server, 2*time.Second))
	stdout, stderr, code := labRun(t, l.args(t, src, "wait", "--app", "web", "--env", "staging", "--wait-timeout", "2m")...)
	if code != 0 {
		t.Errorf("exit %d:\n%s\n%s", code, stdout, stderr)
	}
}

func (l lab) kubectlOut(t *testing.T, args ...string) string {
	cmd := exec.Command(l.kubectl, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+l.kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Logf("kubectl %v: %v %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestArgoCDRolloutAborted(t *testing.T) {
	l := argoLab(t)
	labMu.Lock()
	defer labMu.Unlock()
	src, shas := gitRepo(t, 1)
	image := nextImage("canary")
	// Play the Rollouts controller: once the new spec is applied, pause at
	// the canary step, then abort.
	done := make(chan struct{})
	go func() {
		defer close(done)
		ns := []string{"-n", "canary-staging"}
		for i := 0; i < 240; i++ {
			if strings.Contains(l.kubectlOut(t, append(ns, "get", "rollout", "canary", "-o", "jsonpath={.spec.template.spec.containers[0].image}")...), image[strings.Index(image, "@"):]) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		gen := l.kubectlOut(t, append(ns, "get", "rollout", "canary", "-o", "jsonpath={.metadata.generation}")...)
		patch := func(phase, msg string) {
			p, _ := json.Marshal(map[string]any{"status": map[string]any{"observedGeneration": gen, "phase": phase, "message": msg, "currentStepIndex": 1}})
			l.kubectlOut(t, append(ns, "patch", "rollout", "canary", "--subresource=status", "--type=merge", "-p", string(p))...)
		}
		patch("Paused", "CanaryPauseStep")
		time.Sleep(8 * time.Second)
		patch("Degraded", "RolloutAborted: Rollout aborted update to revision 2")
	}()
	stdout, stderr, code := labRun(t, l.args(t, src, "deploy", "--app", "canary", "--env", "staging", "--image", image, "--source-commit", shas[0], "--allow-unknown-source", "--wait", "--wait-timeout", "3m")...)
	<-done
	e := errorLine(t, stderr)
	t.Logf("exit %d: %s", code, e)
	if code != 1 || !strings.Contains(e, "RolloutAborted") {
		t.Errorf("exit %d, want 1 naming the aborted canary:\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "rollout canary Suspended: CanaryPauseStep") {
		t.Errorf("the paused step was not reported:\n%s", stderr)
	}
	l.capture(t, "rollout-aborted", "canary-staging", lastLine(stdout), "degraded", "msg Rollout.argoproj.io canary-staging/canary Degraded: RolloutAborted")
}
