package argocd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"
)

const (
	testToken = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.s3cr3t-SIGNATURE"
	commit    = "c0ffee0000000000000000000000000000000001"
	parent    = "c0ffee0000000000000000000000000000000000"
	child     = "c0ffee0000000000000000000000000000000002"
	newer     = "c0ffee0000000000000000000000000000000003"
	elsewhere = "badbad0000000000000000000000000000000000"
	repo      = "https://git.example.com/acme/gitops.git"
	file      = "web/overlays/staging/kustomization.yaml"
)

// lineage is the GitOps history the tests pretend: parent → commit →
// child (another app's deploy) → newer (a newer deploy of ours).
func lineage(_ context.Context, rev string) (Relation, string, error) {
	switch rev {
	case commit:
		return Same, "", nil
	case parent:
		return Behind, "", nil
	case child:
		return Carries, "", nil
	case newer:
		return Replaced, "commit " + newer[:12] + " (web/staging -> registry.example/web@sha256:9999)", nil
	}
	return Unrelated, "", nil
}

// fixture renders an Application as Argo CD v3.2.2 serves it: testdata/app.json.tmpl
// follows testdata/captured/synced-healthy.app.json (from `make test-argocd`).
type fixture struct {
	Name, Repo, Path, Target   string
	Auto                       bool
	Sync, Rev, Prev            string
	Synced                     bool
	Health, HealthMsg          string
	ResSync, ResHealth, ResMsg string
	OpRev, OpPhase, OpMsg      string
	OpResStatus, OpResMsg      string
	OpHookPhase                string
	OpDone                     bool
	OpRetry                    int
	Conditions                 bool
	Condition, ConditionMsg    string
}

func base(rev string) fixture {
	return fixture{Name: "web-staging", Repo: repo, Path: "web/overlays/staging", Target: "HEAD", Auto: true,
		Sync: "Synced", Rev: rev, Prev: parent, Synced: true, Health: "Healthy", ResSync: "Synced",
		OpRev: rev, OpPhase: "Succeeded", OpMsg: "successfully synced (all tasks run)", OpResStatus: "Synced",
		OpResMsg: "deployment.apps/web configured", OpDone: true}
}

func (f fixture) render(t *testing.T) string {
	t.Helper()
	tm := template.Must(template.ParseFiles(filepath.Join("testdata", "app.json.tmpl")))
	var b bytes.Buffer
	if err := tm.Execute(&b, f); err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b.Bytes(), &v); err != nil {
		t.Fatalf("fixture is not JSON: %v\n%s", err, b.String())
	}
	return b.String()
}

// fakeArgo serves Argo CD's REST API from canned answers.
type fakeArgo struct {
	mu       sync.Mutex
	apps     map[string][]string // GET answers in turn; the last repeats
	gets     map[string]int
	trees    map[string][]string // resource trees, in turn with the GETs of the Application
	list     string
	syncCode int
	syncs    []map[string]any
	// after a sync request, GETs answer these
	afterSync map[string][]string
	refreshes int
	delay     time.Duration
	status    int // answer every request with this status
	body      string
	windows   map[string]string // …/syncwindows answers
	syncBody  string            // the body of a refused sync (default: permission denied)
}

func newFake() *fakeArgo {
	return &fakeArgo{apps: map[string][]string{}, gets: map[string]int{}, trees: map[string][]string{}, afterSync: map[string][]string{}, syncCode: 200}
}

func (f *fakeArgo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		w.WriteHeader(401)
		io.WriteString(w, `{"error":"invalid session: token signature is invalid","code":16,"message":"invalid session: token signature is invalid"}`)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status != 0 {
		w.WriteHeader(f.status)
		io.WriteString(w, f.body)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/api/v1/applications")
	switch {
	case p == "" && r.Method == http.MethodGet:
		io.WriteString(w, f.list)
	case strings.HasSuffix(p, "/resource-tree"):
		name := strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/resource-tree")
		trees := f.trees[name]
		if len(trees) == 0 {
			io.WriteString(w, `{"nodes":[]}`)
			return
		}
		io.WriteString(w, trees[max(0, min(f.gets[name]-1, len(trees)-1))])
	case strings.HasSuffix(p, "/syncwindows"):
		name := strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/syncwindows")
		if a, ok := f.windows[name]; ok {
			io.WriteString(w, a)
			return
		}
		io.WriteString(w, `{"assignedWindows":[],"canSync":true}`)
	case strings.HasSuffix(p, "/sync") && r.Method == http.MethodPost:
		name := strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/sync")
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.syncs = append(f.syncs, body)
		if f.syncCode != 200 && f.syncBody != "" {
			w.WriteHeader(f.syncCode)
			io.WriteString(w, f.syncBody)
			return
		}
		if f.syncCode != 200 {
			w.WriteHeader(f.syncCode)
			io.WriteString(w, `{"error":"permission denied: applications, sync, default/`+name+`, sub: slipway-wait, iat: 2026-11-29T22:00:00Z","code":7,"message":"permission denied: applications, sync, default/`+name+`, sub: slipway-wait, iat: 2026-11-29T22:00:00Z"}`)
			return
		}
		if a, ok := f.afterSync[name]; ok {
			f.apps[name], f.gets[name] = a, 0
		}
		io.WriteString(w, f.apps[name][0])
	case r.Method == http.MethodGet:
		name := strings.TrimPrefix(p, "/")
		answers, ok := f.apps[name]
		if !ok {
			w.WriteHeader(403)
			io.WriteString(w, `{"error":"permission denied","code":7,"message":"permission denied"}`)
			return
		}
		if r.URL.Query().Get("refresh") == "normal" {
			f.refreshes++
		}
		i := min(f.gets[name], len(answers)-1)
		f.gets[name]++
		io.WriteString(w, answers[i])
	default:
		w.WriteHeader(404)
	}
}

func waiter(t *testing.T, url string) (*Waiter, *bytes.Buffer) {
	t.Helper()
	c, err := NewClient(url, testToken, false, false)
	if err != nil {
		t.Fatal(err)
	}
	c.RequestTimeout = 500 * time.Millisecond
	var log bytes.Buffer
	return &Waiter{Client: c, Lineage: lineage, Timeout: 3 * time.Second, Poll: 10 * time.Millisecond, RefreshEvery: 50 * time.Millisecond, Log: &log}, &log
}

func target(apps ...string) Target {
	return Target{Repo: repo, Branch: "main", File: file, Commit: commit, Applications: apps}
}

func serve(t *testing.T, f *fakeArgo) string {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

// failure asserts a wait failed with kind, in one line, naming want, and
// never showing the token.
func failure(t *testing.T, err error, kind Kind, want ...string) *Failure {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("want a *Failure (%s), got %v", kind, err)
	}
	if f.Kind != kind {
		t.Errorf("kind %s, want %s: %s", f.Kind, kind, f.Msg)
	}
	if strings.Contains(f.Msg, "\n") {
		t.Errorf("more than one line: %q", f.Msg)
	}
	if strings.Contains(f.Msg, testToken) || strings.Contains(f.Msg, "s3cr3t") {
		t.Errorf("the token leaked: %s", f.Msg)
	}
	for _, w := range want {
		if !strings.Contains(f.Msg, w) {
			t.Errorf("message lacks %q: %s", w, f.Msg)
		}
	}
	return f
}

func TestWaitSyncedHealthy(t *testing.T) {
	f := newFake()
	behind := base(parent)
	behind.Synced, behind.OpRev = false, parent
	f.apps["web-staging"] = []string{behind.render(t), base(commit).render(t)}
	w, log := waiter(t, serve(t, f))
	obs, err := w.Wait(context.Background(), target("web-staging"))
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 1 {
		t.Fatalf("observations: %+v", obs)
	}
	o := obs[0]
	if o.Result != Healthy || o.Revision != commit || o.HistoryID != 1 {
		t.Errorf("observation %+v", o)
	}
	if got := o.SyncedAt.Format(time.RFC3339); got != "2026-11-01T10:41:05Z" {
		t.Errorf("synced at %s, want the operation's finishedAt", got)
	}
	if got := o.HealthyAt.Format(time.RFC3339); got != "2026-11-01T10:41:07Z" {
		t.Errorf("healthy at %s, want the health's lastTransitionTime", got)
	}
	if f.refreshes == 0 {
		t.Error("no ?refresh=normal was asked")
	}
	if !strings.Contains(log.String(), "synced to c0ffee000000") {
		t.Errorf("log: %s", log.String())
	}
}

func TestWaitDescendantCarriesCommit(t *testing.T) {
	// Two apps in one push: Argo CD syncs the last commit, a descendant of
	// ours that still deploys our image.
	f := newFake()
	f.apps["web-staging"] = []string{base(child).render(t)}
	w, _ := waiter(t, serve(t, f))
	obs, err := w.Wait(context.Background(), target("web-staging"))
	if err != nil {
		t.Fatal(err)
	}
	if obs[0].Revision != child {
		t.Errorf("revision %s, want the descendant", obs[0].Revision)
	}
}

func TestWaitDescendantSyncedAtFromOurHistoryEntry(t *testing.T) {
	// Argo CD moved to a descendant whose manifests for this path did not
	// change: it synced nothing there (no history entry, no operation of
	// its own). Synced-at is the history entry of the deploy commit.
	f := newFake()
	d := base(child)
	d.Prev, d.Synced, d.OpRev = commit, false, commit
	f.apps["web-staging"] = []string{d.render(t)}
	w, _ := waiter(t, serve(t, f))
	obs, err := w.Wait(context.Background(), target("web-staging"))
	if err != nil {
		t.Fatal(err)
	}
	o := obs[0]
	if o.Revision != child || o.HistoryID != 0 || o.SyncedAt.Format(time.RFC3339) != "2026-11-01T10:40:10Z" {
		t.Errorf("want synced at the deploy commit's history entry (id 0, 10:40:10): %+v", o)
	}
}

func TestWaitReplacedByNewerDeploy(t *testing.T) {
	f := newFake()
	f.apps["web-staging"] = []string{base(newer).render(t)}
	w, _ := waiter(t, serve(t, f))
	_, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindReplaced, "web-staging", newer[:12], "replaced deploy commit "+commit[:12])
}

func TestWaitDegraded(t *testing.T) {
	f := newFake()
	d := base(commit)
	d.Health, d.HealthMsg, d.ResHealth, d.ResMsg = "Degraded", "", "Degraded", `Deployment \"web\" exceeded its progress deadline`
	f.apps["web-staging"] = []string{d.render(t)}
	w, _ := waiter(t, serve(t, f))
	obs, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindDegraded, "web-staging", "Degraded", `Deployment.apps web-staging/web Degraded: Deployment "web" exceeded its progress deadline`)
	if len(obs) != 1 || obs[0].Result != Degraded {
		t.Errorf("a degraded deploy is recorded as such: %+v", obs)
	}
}

func TestWaitDegradedFromResourceTree(t *testing.T) {
	// Argo CD 3 does not persist resource health in the Application: the
	// messages come from the resource tree.
	f := newFake()
	d := base(commit)
	d.Health, d.ResHealth = "Degraded", ""
	f.apps["web-staging"] = []string{d.render(t)}
	f.trees["web-staging"] = []string{`{"nodes":[{"version":"v1","kind":"Deployment","namespace":"default","name":"web","group":"apps","uid":"1","health":{"status":"Degraded","message":"Deployment \"web\" exceeded its progress deadline"},"resourceVersion":"9"},{"version":"v1","kind":"Pod","namespace":"default","name":"web-5d9c-abcde","uid":"2","parentRefs":[{"group":"apps","kind":"ReplicaSet","namespace":"default","name":"web-5d9c"}],"health":{"status":"Progressing"},"resourceVersion":"8"}]}`}
	w, _ := waiter(t, serve(t, f))
	_, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindDegraded, `exceeded its progress deadline`, "Pod default/web-5d9c-abcde Progressing")
}

func TestWaitNeverHealthyTimesOut(t *testing.T) {
	f := newFake()
	d := base(commit)
	d.Health, d.HealthMsg, d.ResHealth, d.ResMsg = "Progressing", "", "Progressing", `Waiting for rollout to finish: 0 of 1 updated replicas are available...`
	f.apps["web-staging"] = []string{d.render(t)}
	w, _ := waiter(t, serve(t, f))
	w.Timeout = 400 * time.Millisecond
	start := time.Now()
	obs, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindTimeout, "synced to c0ffee000000 but Progressing", "0 of 1 updated replicas", "--wait-timeout")
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %s, past the timeout", el)
	}
	if len(obs) != 1 || obs[0].Result != NotHealthy {
		t.Errorf("a synced deploy that never became healthy is recorded: %+v", obs)
	}
}

func TestWaitSyncFailed(t *testing.T) {
	f := newFake()
	d := base(commit)
	d.Sync, d.Synced, d.OpPhase, d.OpMsg = "OutOfSync", false, "Failed", "one or more objects failed to apply, reason: Deployment.apps \\\"web\\\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
	d.OpResStatus, d.OpResMsg, d.OpHookPhase = "SyncFailed", `Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`, "Failed"
	f.apps["web-staging"] = []string{d.render(t)}
	w, _ := waiter(t, serve(t, f))
	obs, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindSyncFailed, "could not sync web-staging", "spec.replicas: Invalid value: -1")
	if len(obs) != 1 || obs[0].Result != SyncFailed {
		t.Errorf("observations %+v", obs)
	}
}

// failedAttempt is an automated sync of commit whose attempt failed and
// that Argo CD retries (phase Running, retryCount n), as v3.2.2 serves it.
func failedAttempt(t *testing.T, n int) string {
	d := base(commit)
	d.Sync, d.Synced, d.OpPhase, d.OpDone, d.OpRetry = "OutOfSync", false, "Running", false, n
	d.OpMsg = fmt.Sprintf(`one or more objects failed to apply, reason: Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0. Retrying attempt #%d at 1:33AM.`, n)
	d.OpResStatus, d.OpResMsg = "SyncFailed", `Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`
	return d.render(t)
}

func TestWaitSyncRetriedThenFailed(t *testing.T) {
	// Argo CD retries a failed automated sync (5 times by default): each
	// failed attempt is said once, and the wait ends at its verdict.
	f := newFake()
	final := base(commit)
	final.Sync, final.Synced, final.OpPhase = "OutOfSync", false, "Failed"
	final.OpMsg = `one or more objects failed to apply, reason: Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0 (retried 2 times).`
	final.OpResStatus = "SyncFailed"
	f.apps["web-staging"] = []string{failedAttempt(t, 1), failedAttempt(t, 1), failedAttempt(t, 2), final.render(t)}
	w, log := waiter(t, serve(t, f))
	_, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindSyncFailed, "could not sync web-staging", "retried 2 times")
	if n := strings.Count(log.String(), "failed and is retried"); n != 2 {
		t.Errorf("want each of the 2 failed attempts said once, got %d:\n%s", n, log.String())
	}
}

func TestWaitSyncStillRetriedAtTimeout(t *testing.T) {
	f := newFake()
	f.apps["web-staging"] = []string{failedAttempt(t, 3)}
	w, _ := waiter(t, serve(t, f))
	w.Timeout = 300 * time.Millisecond
	_, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindSyncFailed, "sync of web-staging to c0ffee000000 failed and is still retried (retry 3)", "spec.replicas", "--wait-timeout")
}

// denyWindow is Argo CD v3.2.2's answer for a project whose deny window
// is active.
const denyWindow = `{"activeWindows":[{"kind":"deny","schedule":"* * * * *","duration":"24h","manualSync":false}],"assignedWindows":[{"kind":"deny","schedule":"* * * * *","duration":"24h","manualSync":false}],"canSync":false}`

func TestWaitSyncWindowBlocks(t *testing.T) {
	// An automated sync a deny window holds: Argo CD's Application says
	// only OutOfSync; the wait asks the project's windows and says so.
	f := newFake()
	d := base(commit)
	d.Sync, d.Synced, d.ResSync, d.ResHealth, d.Health, d.OpRev = "OutOfSync", false, "OutOfSync", "Missing", "Missing", parent
	f.apps["web-staging"] = []string{d.render(t)}
	f.windows = map[string]string{"web-staging": denyWindow}
	w, log := waiter(t, serve(t, f))
	w.Timeout = 300 * time.Millisecond
	_, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindTimeout, "is OutOfSync at c0ffee000000: Deployment.apps web-staging/web OutOfSync", `a sync window of its project blocks syncing now (deny "* * * * *" for 24h)`)
	if !strings.Contains(log.String(), "blocks syncing now") {
		t.Errorf("the blocking window was not said while waiting:\n%s", log.String())
	}
}

func TestWaitSyncWindowOpenSaysNothing(t *testing.T) {
	f := newFake()
	d := base(commit)
	d.Sync, d.Synced, d.ResSync, d.OpRev = "OutOfSync", false, "OutOfSync", parent
	f.apps["web-staging"] = []string{d.render(t)}
	w, _ := waiter(t, serve(t, f))
	w.Timeout = 300 * time.Millisecond
	_, err := w.Wait(context.Background(), target("web-staging"))
	if f := failure(t, err, KindTimeout, "is OutOfSync"); strings.Contains(f.Msg, "sync window") {
		t.Errorf("an open window is blamed: %s", f.Msg)
	}
}

func TestWaitManualSyncBlockedByWindow(t *testing.T) {
	f := newFake()
	d := base(commit)
	d.Auto, d.Sync, d.Synced, d.OpRev = false, "OutOfSync", false, parent
	f.apps["web-staging"] = []string{d.render(t)}
	f.syncCode = 403
	f.syncBody = `{"error":"cannot sync: blocked by sync window","code":7,"message":"cannot sync: blocked by sync window"}`
	w, _ := waiter(t, serve(t, f))
	w.Sync = true
	_, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindSyncFailed, "refused to sync web-staging to c0ffee000000: cannot sync: blocked by sync window")
}

func TestWaitOldFailedOperationIsNotOurs(t *testing.T) {
	// The last operation failed on an older commit; ours is not synced yet,
	// then is: not a failure.
	f := newFake()
	old := base(commit)
	old.Sync, old.OpRev, old.OpPhase, old.OpMsg = "OutOfSync", parent, "Failed", "one or more objects failed to apply"
	f.apps["web-staging"] = []string{old.render(t), base(commit).render(t)}
	w, _ := waiter(t, serve(t, f))
	if _, err := w.Wait(context.Background(), target("web-staging")); err != nil {
		t.Fatal(err)
	}
}

func TestWaitComparisonError(t *testing.T) {
	f := newFake()
	d := base(commit)
	d.Sync, d.Conditions, d.Condition, d.ConditionMsg = "Unknown", true, "ComparisonError", "Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown desc = kustomize build failed"
	f.apps["web-staging"] = []string{d.render(t)}
	w, _ := waiter(t, serve(t, f))
	_, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindSyncFailed, "ComparisonError", "kustomize build failed")
}

func manual(rev string) fixture {
	m := base(rev)
	m.Auto, m.Sync, m.Synced, m.OpRev = false, "OutOfSync", false, parent
	return m
}

func TestWaitManualSync(t *testing.T) {
	f := newFake()
	f.apps["web-production"] = []string{manual(commit).render(t)}
	w, log := waiter(t, serve(t, f))
	w.Timeout = 300 * time.Millisecond
	_, err := w.Wait(context.Background(), target("web-production"))
	failure(t, err, KindManual, "waiting for a manual sync", "--sync")
	if !strings.Contains(log.String(), "waiting for a manual sync of c0ffee000000") {
		t.Errorf("log: %s", log.String())
	}
	if len(f.syncs) != 0 {
		t.Errorf("synced without --sync: %v", f.syncs)
	}
}

func TestWaitManualSyncRequested(t *testing.T) {
	f := newFake()
	done := base(commit)
	done.Auto = false
	f.apps["web-production"] = []string{manual(commit).render(t)}
	f.afterSync["web-production"] = []string{done.render(t)}
	w, _ := waiter(t, serve(t, f))
	w.Sync = true
	if _, err := w.Wait(context.Background(), target("web-production")); err != nil {
		t.Fatal(err)
	}
	if len(f.syncs) != 1 || f.syncs[0]["revision"] != commit {
		t.Errorf("sync requests %v, want one of exactly %s", f.syncs, commit)
	}
}

func TestWaitManualSyncDenied(t *testing.T) {
	f := newFake()
	f.apps["web-production"] = []string{manual(commit).render(t)}
	f.syncCode = 403
	w, _ := waiter(t, serve(t, f))
	w.Sync = true
	_, err := w.Wait(context.Background(), target("web-production"))
	failure(t, err, KindDenied, "applications, sync", "ARGOCD_AUTH_TOKEN")
}

func TestWaitTokenRefused(t *testing.T) {
	f := newFake()
	f.apps["web-staging"] = []string{base(commit).render(t)}
	url := serve(t, f)
	c, _ := NewClient(url, "not-the-token", false, false)
	w := &Waiter{Client: c, Lineage: lineage, Timeout: time.Second, Poll: 10 * time.Millisecond}
	_, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindDenied, "ARGOCD_AUTH_TOKEN", "401", "invalid session")
}

func TestWaitTokenWithoutRights(t *testing.T) {
	// Argo CD answers 403 for an Application the role may not get (and for
	// one that does not exist).
	f := newFake()
	w, _ := waiter(t, serve(t, f))
	_, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindDenied, "403", "applications, get", "ARGOCD_AUTH_TOKEN")
	// Discovery with a role that sees nothing says so.
	f.list = `{"metadata":{"resourceVersion":"12"},"items":null}`
	_, err = w.Wait(context.Background(), target())
	failure(t, err, KindNotFound, "sees 0 Application", `"applications, get"`)
}

func TestWaitUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	w, _ := waiter(t, "http://"+addr)
	w.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err = w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindUnreachable, "unreachable", "ARGOCD_SERVER", addr)
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %s past a 300ms timeout", el)
	}
}

func TestWaitSlowAPI(t *testing.T) {
	f := newFake()
	f.apps["web-staging"] = []string{base(commit).render(t)}
	f.delay = 5 * time.Second
	w, _ := waiter(t, serve(t, f))
	w.Timeout = 700 * time.Millisecond
	w.Client.RequestTimeout = 200 * time.Millisecond
	start := time.Now()
	_, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindUnreachable, "did not answer in time")
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Errorf("took %s past a 700ms timeout", el)
	}
}

func TestWaitSlowButAnswering(t *testing.T) {
	// Slower than one poll but within the request timeout: still a success.
	f := newFake()
	f.apps["web-staging"] = []string{base(commit).render(t)}
	f.delay = 100 * time.Millisecond
	w, _ := waiter(t, serve(t, f))
	if _, err := w.Wait(context.Background(), target("web-staging")); err != nil {
		t.Fatal(err)
	}
}

func TestWaitServerErrorsAreRetried(t *testing.T) {
	f := newFake()
	f.status, f.body = 503, "upstream connect error"
	w, _ := waiter(t, serve(t, f))
	w.Timeout = 300 * time.Millisecond
	_, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindUnreachable, "503", "gave up after", "(--wait-timeout 300ms)")
}

func listOf(t *testing.T, apps ...fixture) string {
	var items []string
	for _, a := range apps {
		items = append(items, a.render(t))
	}
	return `{"metadata":{"resourceVersion":"77"},"items":[` + strings.Join(items, ",") + `]}`
}

func TestWaitDiscoversApplications(t *testing.T) {
	f := newFake()
	staging := base(commit)
	prod := base(commit)
	prod.Name, prod.Path = "web-production", "web/overlays/production"
	other := base(commit)
	other.Name, other.Repo = "other-repo", "https://git.example.com/acme/other.git"
	root := base(commit)
	root.Name, root.Path = "apps-of-apps", "."
	branch := base(commit)
	branch.Name, branch.Target = "web-staging-release", "release"
	f.list = listOf(t, staging, prod, other, root, branch)
	f.apps["web-staging"] = []string{staging.render(t)}
	w, log := waiter(t, serve(t, f))
	obs, err := w.Wait(context.Background(), target())
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 1 || obs[0].Application != "web-staging" {
		t.Fatalf("waited for %+v, want web-staging only (closest path, this branch)", obs)
	}
	if !strings.Contains(log.String(), "waiting for web-staging to sync") {
		t.Errorf("log: %s", log.String())
	}
	// Nothing tracks the path: one line that says what was seen.
	f.list = listOf(t, prod, branch)
	_, err = w.Wait(context.Background(), target())
	failure(t, err, KindNotFound, "no Argo CD Application deploys "+file, "web-staging-release follows revision release, not branch main", "--argocd-app")
}

func TestWaitTwoApplicationsOnePath(t *testing.T) {
	f := newFake()
	a := base(commit)
	b := base(child)
	b.Name = "web-staging-eu"
	f.list = listOf(t, a, b)
	f.apps["web-staging"] = []string{a.render(t)}
	f.apps["web-staging-eu"] = []string{b.render(t)}
	w, _ := waiter(t, serve(t, f))
	obs, err := w.Wait(context.Background(), target())
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 2 {
		t.Fatalf("observations %+v", obs)
	}
}

func TestWaitNamedApplicationNotTracking(t *testing.T) {
	f := newFake()
	a := base(commit)
	a.Path = "web/overlays/production"
	f.apps["web-staging"] = []string{a.render(t)}
	w, _ := waiter(t, serve(t, f))
	_, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindNotTracking, "does not deploy "+file, "path web/overlays/production")
}

func TestWaitRollout(t *testing.T) {
	f := newFake()
	susp := base(commit)
	susp.Health = "Suspended"
	aborted := base(commit)
	aborted.Health = "Degraded"
	app := func(fx fixture) string {
		return strings.Replace(fx.render(t), `"kind":"Deployment","namespace":"web-staging","name":"web","status":"Synced"`, `"kind":"Rollout","namespace":"web-staging","name":"web","status":"Synced"`, 1)
	}
	fixRollout := func(s string) string {
		return strings.ReplaceAll(s, `"group":"apps","version":"v1","kind":"Rollout"`, `"group":"argoproj.io","version":"v1alpha1","kind":"Rollout"`)
	}
	f.apps["web-staging"] = []string{fixRollout(app(susp)), fixRollout(app(susp)), fixRollout(app(aborted))}
	paused := `{"nodes":[{"group":"argoproj.io","version":"v1alpha1","kind":"Rollout","namespace":"web-staging","name":"web","uid":"r1","health":{"status":"Suspended","message":"CanaryPauseStep"}}]}`
	abort := `{"nodes":[{"group":"argoproj.io","version":"v1alpha1","kind":"Rollout","namespace":"web-staging","name":"web","uid":"r1","health":{"status":"Degraded","message":"RolloutAborted: Rollout aborted update to revision 2"}}]}`
	f.trees["web-staging"] = []string{paused, paused, abort}
	w, log := waiter(t, serve(t, f))
	_, err := w.Wait(context.Background(), target("web-staging"))
	failure(t, err, KindDegraded, "Rollout.argoproj.io web-staging/web Degraded: RolloutAborted")
	if !strings.Contains(log.String(), "rollout web Suspended: CanaryPauseStep") {
		t.Errorf("the paused step is not reported: %s", log.String())
	}
}

func TestNormalizeRepo(t *testing.T) {
	same := [][]string{
		{"https://github.com/Acme/GitOps.git", "https://github.com/acme/gitops", "git@github.com:acme/gitops.git", "ssh://git@github.com:22/acme/gitops", "https://user:pw@github.com/acme/gitops/"},
		{"/tmp/x/gitops.git", "file:///tmp/x/gitops.git", "file:///tmp/x/gitops/", "/tmp/x/./gitops.git"},
	}
	for _, group := range same {
		for _, u := range group[1:] {
			if NormalizeRepo(u) != NormalizeRepo(group[0]) {
				t.Errorf("%s and %s are the same repository: %q vs %q", u, group[0], NormalizeRepo(u), NormalizeRepo(group[0]))
			}
		}
	}
	for _, pair := range [][2]string{{"https://github.com/acme/gitops", "https://github.com/acme/gitops-2"}, {"https://github.com/acme/gitops", "https://gitlab.com/acme/gitops"}, {"/tmp/a/gitops", "/tmp/b/gitops"}} {
		if NormalizeRepo(pair[0]) == NormalizeRepo(pair[1]) {
			t.Errorf("%s and %s are different repositories", pair[0], pair[1])
		}
	}
}

func TestFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, err := FromEnv(env(map[string]string{EnvToken: "x"})); err == nil || !strings.Contains(err.Error(), EnvServer) {
		t.Errorf("missing server: %v", err)
	}
	if _, err := FromEnv(env(map[string]string{EnvServer: "argocd.example.com"})); err == nil || !strings.Contains(err.Error(), EnvToken) || !strings.Contains(err.Error(), "applications, get") {
		t.Errorf("missing token: %v", err)
	}
	c, err := FromEnv(env(map[string]string{EnvServer: "argocd.example.com:8443", EnvToken: testToken}))
	if err != nil || c.String() != "https://argocd.example.com:8443" {
		t.Errorf("%v %v", c, err)
	}
	c, err = FromEnv(env(map[string]string{EnvServer: "127.0.0.1:8080", EnvToken: testToken, EnvPlaintext: "true"}))
	if err != nil || c.String() != "http://127.0.0.1:8080" {
		t.Errorf("%v %v", c, err)
	}
	_, err = FromEnv(env(map[string]string{EnvServer: "https://admin:hunter2@argocd.example.com", EnvToken: testToken}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("credentials in the URL: %v", err)
	}
}

// TestCapturedShapes decodes every Argo CD answer captured from the real
// stack (testdata/captured, written by the argocd-tagged tests).
func TestCapturedShapes(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "captured", "*.json"))
	if len(files) == 0 {
		t.Skip("no captures in testdata/captured (make test-argocd writes them)")
	}
	for _, fn := range files {
		data, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Application
			Items []Application  `json:"items"`
			Nodes []ResourceNode `json:"nodes"`
		}
		if err := json.Unmarshal(data, &v); err != nil {
			t.Errorf("%s: %v", fn, err)
		}
		_ = fmt.Sprint(v.Metadata.Name)
	}
}

// Argo CD v3.2.2 without helm: the Application answers sync status Unknown
// at its unresolved revision, with a ComparisonError. The wait fails at
// once with Argo CD's message and never cuts "refs/heads/main" as a SHA.
func TestWaitComparisonErrorBeforeTheCommitFailsAtOnce(t *testing.T) {
	for _, target := range []string{"main", "HEAD", "refs/heads/main"} {
		f := newFake()
		d := base("refs/heads/main")
		d.Target, d.Synced, d.OpRev = target, false, parent
		d.Sync, d.Conditions, d.Condition, d.ConditionMsg = "Unknown", true, "ComparisonError", `Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown desc = exec: \"helm\": executable file not found in $PATH`
		f.apps["web-staging"] = []string{d.render(t)}
		w, _ := waiter(t, serve(t, f))
		w.Timeout = 2 * time.Second
		start := time.Now()
		obs, err := w.Wait(context.Background(), Target{Repo: repo, Branch: "main", File: file, Commit: commit, Applications: []string{"web-staging"}})
		fl := failure(t, err, KindSyncFailed, "ComparisonError", `exec: "helm": executable file not found`, "web-staging")
		if strings.Contains(fl.Msg, "refs/heads/m ") || strings.Contains(fl.Msg, "does it follow") {
			t.Errorf("target %s: %s", target, fl.Msg)
		}
		if el := time.Since(start); el > time.Second {
			t.Errorf("target %s: took %s: the ComparisonError did not end the wait", target, el)
		}
		if len(obs) != 1 || obs[0].Result != SyncFailed || !strings.Contains(obs[0].Reason, "ComparisonError") || obs[0].Revision != "" || obs[0].HistoryID != -1 {
			t.Errorf("target %s: the failure is not recorded: %+v", target, obs)
		}
	}
}

// A warning condition does not end the wait; a SyncError about an older
// revision does not either.
func TestWaitWarningConditionsDoNotFail(t *testing.T) {
	for _, c := range []string{"RepeatedResourceWarning", "SharedResourceWarning", "SyncError"} {
		f := newFake()
		behind := base(parent)
		behind.Synced, behind.OpRev = false, parent
		behind.Conditions, behind.Condition, behind.ConditionMsg = true, c, "something about an older state"
		f.apps["web-staging"] = []string{behind.render(t), base(commit).render(t)}
		w, _ := waiter(t, serve(t, f))
		if _, err := w.Wait(context.Background(), target("web-staging")); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
}

func TestShortCutsOnlyHex(t *testing.T) {
	for in, want := range map[string]string{
		commit: commit[:12], "refs/heads/main": "refs/heads/main", "v1.2.3": "v1.2.3", "": "", "release-2026-11": "release-2026-11",
	} {
		if got := short(in); got != want {
			t.Errorf("short(%q) = %q, want %q", in, got, want)
		}
	}
}

// The timeout's "still compares" line hints at the branch only when what
// the Application follows may not be it.
func TestWaitStillComparesHint(t *testing.T) {
	for follows, hint := range map[string]string{"main": "", "HEAD": "is main the repository's default branch?"} {
		f := newFake()
		behind := base(parent)
		behind.Target, behind.Synced, behind.OpRev = follows, false, parent
		f.apps["web-staging"] = []string{behind.render(t)}
		w, _ := waiter(t, serve(t, f))
		w.Timeout = 300 * time.Millisecond
		_, err := w.Wait(context.Background(), target("web-staging"))
		fl := failure(t, err, KindTimeout, "still compares c0ffee000000")
		if hint == "" && (strings.Contains(fl.Msg, "follow") || strings.Contains(fl.Msg, "branch")) {
			t.Errorf("follows %s: a hint for an Application that follows the branch: %s", follows, fl.Msg)
		}
		if hint != "" && !strings.Contains(fl.Msg, hint) {
			t.Errorf("follows %s: lacks %q: %s", follows, hint, fl.Msg)
		}
	}
}

// turnsAt answers before until `at` after the first request, then after.
type turnsAt struct {
	mu            sync.Mutex
	first         time.Time
	at            time.Duration
	before, after http.Handler
}

func (h *turnsAt) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	if h.first.IsZero() {
		h.first = time.Now()
	}
	late := time.Since(h.first) >= h.at
	h.mu.Unlock()
	if late {
		h.after.ServeHTTP(w, r)
		return
	}
	h.before.ServeHTTP(w, r)
}

var gaveUpRE = regexp.MustCompile(`gave up after ([0-9.]+(?:ms|s))`)

// The last look happens just before --wait-timeout, not a whole poll
// earlier: an Application healthy at 70% of a 1s budget, polled every
// 600ms, is seen (the old wait looked last at 600ms and gave up at 900ms).
func TestWaitLooksLastJustBeforeTheDeadline(t *testing.T) {
	progressing := base(commit)
	progressing.Health, progressing.ResHealth = "Progressing", "Progressing"
	before, after := newFake(), newFake()
	before.apps["web-staging"] = []string{progressing.render(t)}
	after.apps["web-staging"] = []string{base(commit).render(t)}
	srv := httptest.NewServer(&turnsAt{at: 700 * time.Millisecond, before: before, after: after})
	t.Cleanup(srv.Close)
	w, _ := waiter(t, srv.URL)
	w.Timeout, w.Poll = time.Second, 600*time.Millisecond
	obs, err := w.Wait(context.Background(), target("web-staging"))
	if err != nil {
		t.Fatalf("healthy at 700ms of a 1s wait, not seen: %v", err)
	}
	if len(obs) != 1 || obs[0].Result != Healthy {
		t.Errorf("%+v", obs)
	}
}

// A wait that times out says how long it really waited: never more than
// it did (the old one said "gave up after 1s" at 0.6s of looking).
func TestWaitGaveUpSaysTheTimeWaited(t *testing.T) {
	for _, poll := range []time.Duration{10 * time.Millisecond, 300 * time.Millisecond, 2 * time.Second} {
		f := newFake()
		d := base(commit)
		d.Health, d.ResHealth = "Progressing", "Progressing"
		f.apps["web-staging"] = []string{d.render(t)}
		w, _ := waiter(t, serve(t, f))
		w.Timeout, w.Poll = time.Second, poll
		start := time.Now()
		_, err := w.Wait(context.Background(), target("web-staging"))
		el := time.Since(start)
		fl := failure(t, err, KindTimeout, "--wait-timeout 1s")
		m := gaveUpRE.FindStringSubmatch(fl.Msg)
		if m == nil {
			t.Fatalf("poll %s: no time waited: %s", poll, fl.Msg)
		}
		said, err := time.ParseDuration(m[1])
		if err != nil {
			t.Fatal(err)
		}
		if said > el || said < el-200*time.Millisecond {
			t.Errorf("poll %s: says %s, waited %s: %s", poll, said, el, fl.Msg)
		}
		if el < 800*time.Millisecond || el > 1100*time.Millisecond {
			t.Errorf("poll %s: a 1s wait gave up after %s", poll, el)
		}
	}
}

// stops answers until `after` requests, then never (a SIGSTOPped Argo CD).
type stops struct {
	mu    sync.Mutex
	n     int
	after int
	next  http.Handler
}

func (h *stops) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.n++
	stopped := h.n > h.after
	h.mu.Unlock()
	if stopped {
		<-r.Context().Done()
		return
	}
	h.next.ServeHTTP(w, r)
}

// Argo CD stops answering mid-wait: the failure says the last state seen
// and that Argo CD did not answer for the last N s.
func TestWaitArgoStopsAnswering(t *testing.T) {
	for _, rt := range []time.Duration{150 * time.Millisecond, 5 * time.Second} {
		f := newFake()
		d := base(commit)
		d.Health, d.ResHealth, d.ResMsg = "Progressing", "Progressing", "Waiting for rollout to finish"
		f.apps["web-staging"] = []string{d.render(t)}
		srv := httptest.NewServer(&stops{after: 2, next: f})
		w, _ := waiter(t, srv.URL)
		w.Timeout, w.Poll = time.Second, 50*time.Millisecond
		w.Client.RequestTimeout = rt
		_, err := w.Wait(context.Background(), target("web-staging"))
		srv.CloseClientConnections()
		srv.Close()
		fl := failure(t, err, KindTimeout, "but Progressing", "Argo CD did not answer for the last ", "gave up after")
		if rt < time.Second && !strings.Contains(fl.Msg, "no answer within the request timeout") {
			t.Errorf("request timeout %s: the last error is not named: %s", rt, fl.Msg)
		}
	}
}

// Argo CD answers 503 at first (restarting), then healthy at 60% of the
// budget, polled every 2s: the last try of the first request is just
// before the deadline, so it is seen (the old wait tried once and slept
// past the deadline).
func TestWaitFirstRequestRetriedUntilTheDeadline(t *testing.T) {
	down, up := newFake(), newFake()
	down.status, down.body = 503, "upstream connect error"
	up.apps["web-staging"] = []string{base(commit).render(t)}
	srv := httptest.NewServer(&turnsAt{at: 600 * time.Millisecond, before: down, after: up})
	t.Cleanup(srv.Close)
	w, _ := waiter(t, srv.URL)
	w.Timeout, w.Poll = time.Second, 2*time.Second
	if _, err := w.Wait(context.Background(), target("web-staging")); err != nil {
		t.Fatalf("up at 600ms of a 1s wait, not seen: %v", err)
	}
}
