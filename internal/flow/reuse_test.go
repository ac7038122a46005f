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
	passed := func(gateAge time.Duration, tarballDigest string) (*Run, *pipeline.Graph) {
		t.Helper()
		run, err := New(context.Background(), opts, &stubHost{}, apps)
		if err != nil {
			t.Fatal(err)
		}
		a := run.Apps()[0]
		fp := a.Fingerprint()
		if fp == "" {
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
		a.Update(func(res *pipeline.Result) {
			for _, s := range []string{"lint", "test", "build", "scan"} {
				res.Stages[s] = pipeline.StageResult{Name: s, Status: pipeline.Passed, Started: now.Add(-time.Minute), Fingerprint: fp}
			}
			res.Image = pipeline.ImageResult{Tarball: tar, Digest: tarballDigest}
			res.Gate = &pipeline.GateResult{Digest: tarballDigest, Verdict: pipeline.GatePassed, Time: now.Add(-gateAge)}
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
	run, _ := passed(time.Hour, "")
	writeIn(t, root, "services/orders/extra.go", "package main\n")
	run2, err := New(context.Background(), opts, &stubHost{}, apps)
	if err != nil {
		t.Fatal(err)
	}
	if run2.Apps()[0].Fingerprint() == run.Apps()[0].Fingerprint() {
		t.Error("a new file in orders' inputs left its fingerprint as it was")
	}
	if run2.Apps()[1].Fingerprint() != run.Apps()[1].Fingerprint() {
		t.Error("a new file in orders' inputs changed billing's fingerprint")
	}
}
