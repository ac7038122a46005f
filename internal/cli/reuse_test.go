package cli

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// passedRun writes what a successful lint, test, build and scan leave in
// out/ for the clean sample-app checkout src.
func passedRun(t testing.TB, src, out string, gateAge time.Duration) {
	t.Helper()
	o := &options{stdout: io.Discard, stderr: io.Discard, proj: testProject().withDefaults(), out: out, source: src}
	rf := &runFlags{}
	rf.scan.dbMaxAge = 12 * time.Hour
	rf.scan.severity = "HIGH,CRITICAL"
	run, err := newRun(context.Background(), o, rf)
	if err != nil {
		t.Fatal(err)
	}
	fp := map[string]string{}
	for _, s := range []string{"lint", "test", "build", "scan"} {
		fp[s] = run.Apps()[0].Fingerprint(s)
	}
	if fp["build"] == "" {
		t.Fatal("no fingerprint for a clean checkout")
	}
	tar := imageTar(t, out)
	a, _ := ocitar.Open(tar)
	d, _ := a.Digest()
	a.Close()
	res, _ := pipeline.LoadResult(out)
	now := time.Now()
	for _, s := range []string{"lint", "test", "build", "scan"} {
		res.Stages[s] = pipeline.StageResult{Name: s, Status: pipeline.Passed, Started: now.Add(-time.Minute), Fingerprint: fp[s]}
	}
	res.Image = pipeline.ImageResult{Tarball: tar, Digest: d.String()}
	res.Gate = &pipeline.GateResult{Digest: d.String(), Verdict: pipeline.GatePassed, Time: now.Add(-gateAge)}
	if err := res.Save(out); err != nil {
		t.Fatal(err)
	}
}

// Issue 13: a run whose inputs did not change reuses the passed results
// without an engine; anything that changes an input runs again.
func TestNoChangeRunReusesWithoutEngine(t *testing.T) {
	noEngineEnv(t)
	src := cleanSampleApp(t)
	out := t.TempDir()
	passedRun(t, src, out, time.Hour)
	start := time.Now()
	_, stderr, code := run(t, "--source", src, "--out", out)
	if code != 0 || !strings.Contains(stderr, "reusing") || strings.Contains(stderr, "no Dagger engine") {
		t.Fatalf("no-change run: exit %d\n%s", code, stderr)
	}
	t.Logf("no-change run: %s", time.Since(start))
	res, _ := pipeline.LoadResult(out)
	if res.Stages["scan"].Details["reused"] == "" {
		t.Errorf("result.json does not say the scan was reused: %+v", res.Stages["scan"])
	}
	// --force, a changed lock, a stale DB verdict: the engine is needed.
	if _, stderr, code := run(t, "--source", src, "--out", out, "--force"); code != 1 || !strings.Contains(stderr, "no Dagger engine") {
		t.Errorf("--force: exit %d %s", code, stderr)
	}
	lock := filepath.Join(t.TempDir(), "mirror.lock")
	data, _ := os.ReadFile("../../ci/images.lock")
	os.WriteFile(lock, []byte(strings.ReplaceAll(string(data), "golang:1.26", "mirror.example/golang:1.26")), 0o644)
	if _, stderr, code := run(t, "--source", src, "--out", out, "--images", lock); code != 1 || !strings.Contains(stderr, "no Dagger engine") {
		t.Errorf("another lock reused the results: exit %d %s", code, stderr)
	}
	passedRun(t, src, out, 13*time.Hour)
	if _, stderr, code := run(t, "--source", src, "--out", out); code != 1 || !strings.Contains(stderr, "no Dagger engine") {
		t.Errorf("a scan older than --db-max-age was reused: exit %d %s", code, stderr)
	}
	// adv19 finding 4: the Go environment the containers receive.
	t.Setenv("GOFLAGS", "")
	passedRun(t, src, out, time.Hour)
	t.Setenv("GOFLAGS", "-tags=integration")
	if _, stderr, code := run(t, "--source", src, "--out", out); code != 1 || !strings.Contains(stderr, "no Dagger engine") {
		t.Errorf("GOFLAGS set since the passing run: exit %d %s", code, stderr)
	}
	t.Setenv("GOFLAGS", "")
	// adv19 finding 1: a package main does not import, with a broken test,
	// not even committed: go test ./... reads it.
	os.MkdirAll(filepath.Join(src, "pkg", "lib"), 0o755)
	os.WriteFile(filepath.Join(src, "pkg", "lib", "l_test.go"), []byte("package lib\n\nimport \"testing\"\n\nfunc TestA(t *testing.T) { t.Fatal(1) }\n"), 0o644)
	if _, stderr, code := run(t, "--source", src, "--out", out); code != 1 || !strings.Contains(stderr, "no Dagger engine") {
		t.Errorf("a new package with a broken test reused the results: exit %d %s", code, stderr)
	}
	os.RemoveAll(filepath.Join(src, "pkg"))
	// A file added since the passing run: the stages run.
	passedRun(t, src, out, time.Hour)
	os.WriteFile(filepath.Join(src, "new.go"), []byte("package main\n"), 0o644)
	if _, stderr, code := run(t, "--source", src, "--out", out); code != 1 || !strings.Contains(stderr, "no Dagger engine") {
		t.Errorf("a changed tree reused the results: exit %d %s", code, stderr)
	}
}

// Issue 19.5: a developer iterating on an uncommitted change reruns with
// nothing changed since the last run: reused, no session, whether or not
// the tree is committed; any further edit (modified, untracked, deleted)
// runs the stages again, and reverting it reuses again.
func TestNoChangeOnADirtyTreeReuses(t *testing.T) {
	noEngineEnv(t)
	src := cleanSampleApp(t)
	out := t.TempDir()
	main := filepath.Join(src, "main.go")
	orig, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(main, append(append([]byte{}, orig...), "\n// work in progress\n"...), 0o644)
	os.WriteFile(filepath.Join(src, "wip.go"), []byte("package main\n"), 0o644)
	passedRun(t, src, out, time.Hour)
	start := time.Now()
	_, stderr, code := run(t, "--source", src, "--out", out)
	if code != 0 || !strings.Contains(stderr, "reusing") {
		t.Fatalf("no change on a dirty tree: exit %d\n%s", code, stderr)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("no change on a dirty tree took %s, want ≤ 0.5 s", d)
	}
	for _, edit := range []struct {
		what        string
		do, restore func()
	}{
		{"another edit", func() { os.WriteFile(main, append(append([]byte{}, orig...), "\n// more\n"...), 0o644) },
			func() { os.WriteFile(main, append(append([]byte{}, orig...), "\n// work in progress\n"...), 0o644) }},
		{"an untracked file", func() { os.WriteFile(filepath.Join(src, "more.go"), []byte("package main\n"), 0o644) },
			func() { os.Remove(filepath.Join(src, "more.go")) }},
		{"a deleted file", func() { os.Remove(filepath.Join(src, "wip.go")) },
			func() { os.WriteFile(filepath.Join(src, "wip.go"), []byte("package main\n"), 0o644) }},
	} {
		edit.do()
		if _, stderr, code := run(t, "--source", src, "--out", out); code != 1 || !strings.Contains(stderr, "no Dagger engine") {
			t.Errorf("%s since the passing run was reused: exit %d %s", edit.what, code, stderr)
		}
		edit.restore()
		if _, stderr, code := run(t, "--source", src, "--out", out); code != 0 || !strings.Contains(stderr, "reusing") {
			t.Errorf("%s, reverted: not reused: exit %d %s", edit.what, code, stderr)
		}
	}
}

func TestPlanShowsCaches(t *testing.T) {
	noEngineEnv(t)
	t.Setenv("SLIPWAY_CACHE_REPO", "127.0.0.1:5000/acme/slipway-cache")
	src := cleanSampleApp(t)
	if out, err := exec.Command("git", "-C", src, "checkout", "-q", "-b", "feature/x").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	stdout, stderr, code := run(t, "plan", "--source", src, "--out", t.TempDir())
	if code != 0 || !strings.Contains(stdout, "gobuild-1.26-bookworm-a688600ca24f-feature-x (else :gobuild-1.26-bookworm-a688600ca24f-main)") {
		t.Errorf("plan: exit %d %s\n%s", code, stderr, stdout)
	}
}

// BenchmarkNoChangeRun: a run whose inputs did not change, end to end on
// the host (configuration, version, result.json, fingerprints, summary; no
// engine session at all).
func BenchmarkNoChangeRun(b *testing.B) { benchNoChange(b, false) }

// BenchmarkNoChangeRunDirty: the same on a tree with an uncommitted change
// and an untracked file (issue 19.5: ≤ 0.5 s).
func BenchmarkNoChangeRunDirty(b *testing.B) { benchNoChange(b, true) }

func benchNoChange(b *testing.B, dirty bool) {
	b.Setenv("DAGGER_SESSION_PORT", "")
	b.Setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", "")
	b.Setenv("DOCKER_HOST", "unix:///nonexistent.sock")
	for _, k := range ciVariables {
		b.Setenv(k, "")
	}
	src := cleanSampleApp(b)
	if dirty {
		f, _ := os.OpenFile(filepath.Join(src, "main.go"), os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString("\n// work in progress\n")
		f.Close()
		os.WriteFile(filepath.Join(src, "wip.go"), []byte("package main\n"), 0o644)
	}
	out := b.TempDir()
	passedRun(b, src, out, time.Hour)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if code := Execute(context.Background(), testProject(), []string{"--source", src, "--out", out}, io.Discard, io.Discard); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}

// Issue 13: a push to Slipway's own registry never asks the Docker config's
// credential helpers (seconds each on a developer machine).
func TestLocalRegistryPushSkipsCredentialHelpers(t *testing.T) {
	noEngineEnv(t)
	bin := t.TempDir()
	marker := filepath.Join(t.TempDir(), "helper-ran")
	helper := "#!/bin/sh\ntouch " + marker + "\nsleep 2\necho '{\"ServerURL\":\"\",\"Username\":\"u\",\"Secret\":\"s\"}'\n"
	os.WriteFile(filepath.Join(bin, "docker-credential-slow"), []byte(helper), 0o755)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cfg := t.TempDir()
	os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"credsStore":"slow"}`), 0o600)
	t.Setenv("DOCKER_CONFIG", cfg)
	t.Setenv("REGISTRY_USERNAME", "")
	t.Setenv("REGISTRY_PASSWORD", "")
	out := t.TempDir()
	scannedImageTar(t, out, pipeline.GatePassed)
	if _, stderr, code := run(t, "run", "push", "--out", out, "--source", "../../sample-app"); code != 0 {
		t.Fatalf("push: %s", stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the push to the local registry ran a Docker credential helper")
	}
}
