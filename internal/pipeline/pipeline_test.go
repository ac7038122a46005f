package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

type recEvents struct {
	mu    sync.Mutex
	lines []string
}

func (e *recEvents) StageStarted(n string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lines = append(e.lines, "start "+n)
}

func (e *recEvents) StageFinished(r StageResult) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lines = append(e.lines, string(r.Status)+" "+r.Name)
}

func ok(context.Context, *Record) error { return nil }

func graph(t *testing.T, run map[string]func(context.Context, *Record) error) *Graph {
	t.Helper()
	f := func(n string) func(context.Context, *Record) error {
		if r, found := run[n]; found {
			return r
		}
		return ok
	}
	g, err := NewGraph(
		Stage{Name: "lint", Run: f("lint")},
		Stage{Name: "test", Run: f("test")},
		Stage{Name: "build", Needs: []string{"lint", "test"}, Run: f("build")},
		Stage{Name: "scan", Needs: []string{"build"}, Run: f("scan")},
		Stage{Name: "docs", Run: f("docs")},
	)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func statuses(rs []StageResult) map[string]Status {
	m := map[string]Status{}
	for _, r := range rs {
		m[r.Name] = r.Status
	}
	return m
}

func TestLintAndTestRunConcurrently(t *testing.T) {
	// Each of lint and test waits until the other has started: a runner that
	// ran them one after the other would never finish (the timeout fails it).
	lintStarted, testStarted := make(chan struct{}), make(chan struct{})
	wait := func(mine, other chan struct{}) func(context.Context, *Record) error {
		return func(context.Context, *Record) error {
			close(mine)
			select {
			case <-other:
				return nil
			case <-time.After(5 * time.Second):
				return errors.New("ran alone")
			}
		}
	}
	g := graph(t, map[string]func(context.Context, *Record) error{
		"lint": wait(lintStarted, testStarted),
		"test": wait(testStarted, lintStarted),
	})
	rs := Runner{}.Run(context.Background(), g)
	for _, r := range rs {
		if r.Status != Passed {
			t.Errorf("%s: %s %s", r.Name, r.Status, r.Error)
		}
	}
}

func TestBuildWaitsForBoth(t *testing.T) {
	var mu sync.Mutex
	var order []string
	note := func(n string, d time.Duration) func(context.Context, *Record) error {
		return func(context.Context, *Record) error {
			time.Sleep(d)
			mu.Lock()
			order = append(order, n)
			mu.Unlock()
			return nil
		}
	}
	g := graph(t, map[string]func(context.Context, *Record) error{
		"lint": note("lint", 30*time.Millisecond), "test": note("test", 10*time.Millisecond),
		"build": note("build", 0), "scan": note("scan", 0), "docs": note("docs", 50*time.Millisecond),
	})
	Runner{}.Run(context.Background(), g)
	idx := map[string]int{}
	for i, n := range order {
		idx[n] = i
	}
	if idx["build"] < idx["lint"] || idx["build"] < idx["test"] || idx["scan"] < idx["build"] {
		t.Errorf("order %v: build must follow lint and test, scan must follow build", order)
	}
}

func TestFailureSkipsDependents(t *testing.T) {
	ev := &recEvents{}
	g := graph(t, map[string]func(context.Context, *Record) error{
		"test": func(context.Context, *Record) error { return errors.New("go test: exit code 1") },
	})
	rs := Runner{Events: ev}.Run(context.Background(), g)
	got := statuses(rs)
	want := map[string]Status{"lint": Passed, "test": Failed, "build": Skipped, "scan": Skipped, "docs": Passed}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if rs[2].Error != "not started: needs test" {
		t.Errorf("build skip reason %q", rs[2].Error)
	}
	if !reflect.DeepEqual(FailedStages(rs), []string{"test"}) {
		t.Errorf("FailedStages = %v", FailedStages(rs))
	}
}

func TestFailFastVersusKeepGoing(t *testing.T) {
	g, err := NewGraph(
		Stage{Name: "a", Run: func(context.Context, *Record) error { return errors.New("boom") }},
		Stage{Name: "b", Needs: []string{"a"}, Run: ok},
		Stage{Name: "c", Needs: []string{}, Run: func(context.Context, *Record) error { time.Sleep(20 * time.Millisecond); return nil }},
	)
	if err != nil {
		t.Fatal(err)
	}
	// c has no needs so it starts at once either way; make a stage that starts late.
	g2, _ := NewGraph(
		Stage{Name: "a", Run: func(context.Context, *Record) error { return errors.New("boom") }},
		Stage{Name: "slow", Run: func(context.Context, *Record) error { time.Sleep(50 * time.Millisecond); return nil }},
		Stage{Name: "late", Needs: []string{"slow"}, Run: ok},
	)
	if got := statuses(Runner{}.Run(context.Background(), g2)); got["late"] != Skipped || got["slow"] != Passed {
		t.Errorf("fail-fast: %v, want slow passed (already running) and late skipped", got)
	}
	if got := statuses(Runner{KeepGoing: true}.Run(context.Background(), g2)); got["late"] != Passed {
		t.Errorf("keep-going: %v, want late passed", got)
	}
	if got := statuses(Runner{KeepGoing: true}.Run(context.Background(), g)); got["b"] != Skipped {
		t.Errorf("keep-going must still skip dependents: %v", got)
	}
}

func TestSelectAndWaves(t *testing.T) {
	g := graph(t, nil)
	if got := g.Waves(); !reflect.DeepEqual(got, [][]string{{"lint", "test", "docs"}, {"build"}, {"scan"}}) {
		t.Errorf("waves %v", got)
	}
	sel, err := g.Select("scan", "build")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sel.Names(), []string{"build", "scan"}) || len(sel.Stages()[0].Needs) != 0 {
		t.Errorf("select: %v needs %v", sel.Names(), sel.Stages()[0].Needs)
	}
	if _, err := g.Select("deploy"); err == nil || !strings.Contains(err.Error(), "lint, test, build, scan, docs") {
		t.Errorf("unknown stage error %v", err)
	}
	if g, err := NewGraph(Stage{Name: "a", Needs: []string{"b"}}, Stage{Name: "b"}); err != nil || !reflect.DeepEqual(g.Names(), []string{"b", "a"}) {
		t.Errorf("a forward need is ordered: %v %v", g, err)
	}
	if _, err := NewGraph(Stage{Name: "a", Needs: []string{"b"}}, Stage{Name: "b", Needs: []string{"a"}}); err == nil || !strings.Contains(err.Error(), "cycle a -> b -> a") {
		t.Errorf("cycle: %v", err)
	}
}

func TestResultMergeAcrossInvocations(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	r, err := LoadResult(dir)
	if err != nil {
		t.Fatal(err)
	}
	r.Merge([]StageResult{{Name: "build", Status: Passed, Duration: Duration(1500 * time.Millisecond), Details: map[string]string{"digest": "sha256:x"}}}, now)
	r.Image.Digest = "sha256:x"
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	r2, err := LoadResult(dir)
	if err != nil {
		t.Fatal(err)
	}
	r2.Merge([]StageResult{{Name: "scan", Status: Failed, Error: "2 HIGH"}}, now)
	if err := r2.Save(dir); err != nil {
		t.Fatal(err)
	}
	r3, _ := LoadResult(dir)
	if len(r3.Stages) != 2 || r3.Image.Digest != "sha256:x" || time.Duration(r3.Stages["build"].Duration) != 1500*time.Millisecond {
		t.Errorf("merged result %+v", r3)
	}
	if got := r3.Ordered([]string{"build", "scan"}); got[0].Name != "build" || got[1].Name != "scan" {
		t.Errorf("ordered %v", got)
	}
	if err := os.WriteFile(filepath.Join(dir, ResultFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadResult(dir); err == nil || !strings.Contains(err.Error(), "result.json") {
		t.Errorf("corrupt result.json: %v", err)
	}
}

func TestSummaryToStepSummary(t *testing.T) {
	dir := t.TempDir()
	step := filepath.Join(dir, "step.md")
	if err := os.WriteFile(step, []byte("earlier step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GITHUB_STEP_SUMMARY", step)
	r := &Result{Stages: map[string]StageResult{}, Source: map[string]string{"commit": "abc"}}
	rs := []StageResult{
		{Name: "lint", Status: Passed, Duration: Duration(2 * time.Second)},
		{Name: "test", Status: Failed, Error: "go test: exit code 1\nmore"},
		{Name: "build", Status: Skipped, Error: "not started: needs test"},
	}
	md := Markdown(r, rs)
	if err := WriteSummary(dir, md); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(step)
	if !strings.HasPrefix(string(got), "earlier step\n## Slipway pipeline") || !strings.Contains(string(got), "| test | ❌ failed | 0s | go test: exit code 1 |") {
		t.Errorf("step summary:\n%s", got)
	}
	var tbl bytes.Buffer
	WriteTable(&tbl, rs)
	if !strings.Contains(tbl.String(), "lint     passed          2s") {
		t.Errorf("table:\n%s", tbl.String())
	}
}

// Split runs sharing out/ at once (a Jenkins parallel block) each add their
// stages: none overwrites the other's.
func TestSaveMergedConcurrentSplitRuns(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			mine := &Result{Version: 1, Stages: map[string]StageResult{}}
			if _, err := SaveMerged(dir, mine, []StageResult{{Name: fmt.Sprintf("stage%02d", i), Status: Passed}}, time.Now()); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	res, err := LoadResult(dir)
	if err != nil || len(res.Stages) != 16 {
		t.Fatalf("%d stages recorded, want 16 (%v)", len(res.Stages), err)
	}
	// A stage that ran replaces its record; others keep theirs.
	mine := &Result{Version: 1, Stages: map[string]StageResult{}, Gate: &GateResult{Digest: "sha256:a", Verdict: GatePassed}}
	if _, err := SaveMerged(dir, mine, []StageResult{{Name: "scan", Status: Passed}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	other := &Result{Version: 1, Stages: map[string]StageResult{}} // a lint run knows no gate
	merged, err := SaveMerged(dir, other, []StageResult{{Name: "lint", Status: Passed}}, time.Now())
	if err != nil || merged.Gate == nil || merged.Gate.Digest != "sha256:a" {
		t.Fatalf("a lint run dropped the scan verdict: %+v %v", merged.Gate, err)
	}
}
