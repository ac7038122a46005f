package flow

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// Issue 13, without a command line: a run whose engine stages all passed on
// the same inputs reuses them (no engine needed); a stale scan verdict, a
// tarball that is not the recorded build, or a changed input runs them
// again.
func TestReuseNeedsTheSameInputs(t *testing.T) {
	root, _, commit, opts, apps := shop(t)
	commit("base", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	opts.Out = filepath.Join(root, "out")
	opts.Scan = ScanSettings{Severity: "HIGH,CRITICAL", DBMaxAge: 12 * time.Hour}
	engineStages := []string{"orders/lint", "orders/test", "orders/build", "orders/scan"}
	// passed records what a passing lint, test, build and scan leave for
	// orders, its verdict gateAge old, and returns its graph of those stages.
	passed := func(gateAge time.Duration, tarballDigest string, gateDigest ...string) (*Run, *pipeline.Graph) {
		t.Helper()
		run, err := New(context.Background(), opts, &stubHost{}, apps)
		if err != nil {
			t.Fatal(err)
		}
		a := run.Apps()[0]
		if a.Fingerprint("build") == "" {
			t.Fatal("no fingerprint for a clean checkout")
		}
		img, _ := random.Image(256, 1)
		tar := a.OutPath("image.tar")
		if err := os.MkdirAll(a.Out, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := ocitar.Write(tar, img, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		if tarballDigest == "" {
			tarballDigest = d.String()
		}
		now := time.Now()
		gd := tarballDigest
		if len(gateDigest) > 0 {
			gd = gateDigest[0]
		}
		a.Update(func(res *pipeline.Result) {
			for _, s := range []string{"lint", "test", "build", "scan"} {
				res.Stages[s] = pipeline.StageResult{Name: s, Status: pipeline.Passed, Started: now.Add(-time.Minute), Fingerprint: a.Fingerprint(s)}
			}
			res.Image = pipeline.ImageResult{Tarball: tar, Digest: tarballDigest}
			res.Gate = &pipeline.GateResult{Digest: gd, Verdict: pipeline.GatePassed, Time: now.Add(-gateAge)}
		})
		full, err := run.Graph()
		if err != nil {
			t.Fatal(err)
		}
		g, err := full.Select(engineStages...)
		if err != nil {
			t.Fatal(err)
		}
		return run, g
	}
	reused := func(run *Run, g *pipeline.Graph) bool {
		t.Helper()
		out, err := run.reuse(g)
		if err != nil {
			t.Fatal(err)
		}
		if out.NeedsEngine() {
			return false
		}
		for _, s := range out.Stages() {
			if !strings.HasPrefix(s.Description, "reused") {
				t.Errorf("%s: %q, want reused", s.Name, s.Description)
			}
		}
		return true
	}
	if run, g := passed(time.Hour, ""); !reused(run, g) {
		t.Error("the same inputs: not reused")
	}
	if run, g := passed(13*time.Hour, ""); reused(run, g) {
		t.Error("a scan verdict older than DBMaxAge was reused")
	}
	if run, g := passed(time.Hour, "sha256:"+strings.Repeat("0", 64)); reused(run, g) {
		t.Error("a tarball that is not the recorded build was reused")
	}
	// adv19 finding 10: a verdict about another image, or dated in the
	// future (a skewed clock), is not this build's fresh verdict.
	if run, g := passed(time.Hour, "", "sha256:"+strings.Repeat("1", 64)); reused(run, g) {
		t.Error("a scan verdict about another digest was reused")
	}
	if run, g := passed(-time.Hour, ""); reused(run, g) {
		t.Error("a scan verdict dated an hour in the future was reused")
	}
	// adv19 finding 4: the Go environment the containers receive.
	for _, k := range []string{"GOFLAGS", "GOPROXY", "GOPRIVATE", "GONOSUMDB", "SLIPWAY_CACHE_NAMESPACE"} {
		t.Setenv(k, "")
		run, g := passed(time.Hour, "")
		t.Setenv(k, "-tags=integration")
		if reused(run, g) {
			t.Errorf("%s changed since the passing run: reused", k)
		}
		os.Unsetenv(k)
	}
	run, _ := passed(time.Hour, "")
	before := map[string]string{}
	for _, st := range []string{"lint", "test", "build", "scan"} {
		before["billing/"+st] = run.Apps()[1].Fingerprint(st)
	}
	writeIn(t, root, "services/orders/extra.go", "package main\n")
	run2, err := New(context.Background(), opts, &stubHost{}, apps)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"lint", "test", "build", "scan"} {
		if run2.Apps()[0].Fingerprint(st) == run.Apps()[0].Fingerprint(st) {
			t.Errorf("a new file in orders' main package left its %s fingerprint as it was", st)
		}
	}
	// billing's lint and test run over ./... of the module, which holds
	// orders' package: they read the new file; its build and scan do not.
	for st, want := range map[string]bool{"lint": true, "test": true, "build": false, "scan": false} {
		if changed := run2.Apps()[1].Fingerprint(st) != before["billing/"+st]; changed != want {
			t.Errorf("a new file in orders' main package: billing's %s fingerprint changed %v, want %v", st, changed, want)
		}
	}
}
