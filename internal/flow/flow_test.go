package flow

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/version"
)

// TestExecutionRecordsEachApp: two apps' stages and one shared deploy run
// as one graph; each app's result.json gets its own stages (prefix
// stripped) and the shared one, stamped with its fingerprint and source;
// the summary covers both; a failed stage is ErrStageFailed naming it.
func TestExecutionRecordsEachApp(t *testing.T) {
	out := t.TempDir()
	var apps []*App
	for _, n := range []string{"api", "web"} {
		a, err := Open(n, "/src/"+n, filepath.Join(out, n), n+"/", version.Info{Commit: strings.Repeat("c", 40)})
		if err != nil {
			t.Fatal(err)
		}
		apps = append(apps, a)
	}
	ok := func(context.Context, *pipeline.Record) error { return nil }
	fail := func(context.Context, *pipeline.Record) error { return errors.New("boom") }
	g, err := pipeline.NewGraph(
		pipeline.Stage{Name: "api/build", Run: ok},
		pipeline.Stage{Name: "web/build", Run: fail},
		pipeline.Stage{Name: "deploy", Needs: []string{"api/build"}, Run: ok},
	)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	ex := Execution{
		Apps: apps, Out: out, Order: []string{"build", "deploy"}, Log: &log,
		Fingerprint: func(a *App, _ string) string { return "fp-" + a.Name },
		Source:      func(a *App) map[string]string { return map[string]string{"commit": a.Version.Commit} },
	}
	results, err := ex.Run(context.Background(), pipeline.Runner{KeepGoing: true}, g)
	if !errors.Is(err, ErrStageFailed) || !strings.Contains(err.Error(), "web/build") || len(results) != 3 {
		t.Fatalf("Run: %v (%d results)", err, len(results))
	}
	for _, a := range apps {
		res, err := pipeline.LoadResult(a.Out)
		if err != nil {
			t.Fatal(err)
		}
		b, d := res.Stages["build"], res.Stages["deploy"]
		if b.Name != "build" || b.Fingerprint != "fp-"+a.Name || d.Name != "deploy" || res.Source["commit"] != a.Version.Commit {
			t.Errorf("%s: result.json %+v", a.Name, res)
		}
		if snap := a.Snapshot(); snap.Stages["build"].Status != res.Stages["build"].Status {
			t.Errorf("%s: the in-memory result is not what was written", a.Name)
		}
	}
	if res, _ := pipeline.LoadResult(apps[1].Out); res.Stages["build"].Status != pipeline.Failed {
		t.Errorf("web's build: %+v", res.Stages["build"])
	}
	summary, err := os.ReadFile(filepath.Join(out, "summary.md"))
	if err != nil || !strings.Contains(string(summary), "### api") || !strings.Contains(string(summary), "### web") {
		t.Errorf("summary: %v\n%s", err, summary)
	}
	if !strings.Contains(log.String(), filepath.Join(out, "APP", pipeline.ResultFile)) {
		t.Errorf("log:\n%s", log.String())
	}
}

func TestVersionsReadOnceAndOwn(t *testing.T) {
	a := &App{Prefix: "api/"}
	got := a.Own([]pipeline.StageResult{{Name: "api/build"}, {Name: "web/build"}, {Name: "deploy"}})
	if len(got) != 2 || got[0].Name != "build" || got[1].Name != "deploy" {
		t.Errorf("Own: %+v", got)
	}
	v := NewVersions(t.TempDir())
	if _, err := v.Detect(t.TempDir()); !errors.Is(err, version.ErrNoRepo) {
		t.Errorf("Detect outside a checkout: %v", err)
	}
}

func TestExpand(t *testing.T) {
	ok := func(context.Context, *pipeline.Record) error { return nil }
	g, _ := pipeline.NewGraph(pipeline.Stage{Name: "api/build", Run: ok}, pipeline.Stage{Name: "web/build", Run: ok}, pipeline.Stage{Name: "web/lint", Run: ok}, pipeline.Stage{Name: "deploy", Run: ok})
	apps := []*App{{Prefix: "api/"}, {Prefix: "web/"}}
	known := []string{"lint", "build", "deploy"}
	for _, c := range []struct {
		names []string
		want  string
		err   bool
	}{
		{[]string{"build"}, "api/build web/build", false},
		{[]string{"web/build", "deploy"}, "web/build deploy", false},
		{[]string{"lint"}, "web/lint", false},
		{[]string{"api/lint"}, "", true},
		{[]string{"scan"}, "", true},
	} {
		got, err := Expand(g, apps, c.names, known)
		if (err != nil) != c.err || strings.Join(got, " ") != c.want {
			t.Errorf("Expand(%v) = %v, %v", c.names, got, err)
		}
		if err != nil && !errors.Is(err, ErrUnknownStage) {
			t.Errorf("Expand(%v): %v is not ErrUnknownStage", c.names, err)
		}
	}
}
