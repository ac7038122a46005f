// Package flow is one run of the pipeline over the selected apps,
// without the CLI: each app's state (its out/ directory and the result its
// stages update, under a lock), the source versions read once per checkout,
// the stage graph the configuration makes of the apps and the stages
// themselves (lint, test, build, scan, push through internal/release,
// deploy through internal/gitops, custom ones), which --changed-since
// leaves out, what is reused, the engine caches, and the execution whose
// results it merges into each app's result.json and the run's summary.
// It takes plain Options and asks the command line for what it shares with
// the other commands through Host; internal/cli binds flags, calls, and
// prints.
package flow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/version"
)

// App is one app of a run: its name, where its source is, where its files
// go, the version it is built from, and the result its stages update.
type App struct {
	Name    string
	Prefix  string // "APP/" when the run has several apps, else ""
	Out     string // out/, or out/APP/ with several apps
	Src     string // the app's source directory (absolute)
	Version version.Info

	mu     sync.Mutex
	result *pipeline.Result

	appRunState // set when a Run opened the app
}

// Open reads the app's result.json from out (a fresh result when there is
// none).
func Open(name, src, out, prefix string, v version.Info) (*App, error) {
	res, err := pipeline.LoadResult(out)
	if err != nil {
		return nil, err
	}
	return &App{Name: name, Prefix: prefix, Out: out, Src: src, Version: v, result: res}, nil
}

// Update changes the app's result under its lock.
func (a *App) Update(f func(*pipeline.Result)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a.result)
}

// Snapshot is a copy of the app's result.
func (a *App) Snapshot() pipeline.Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	return *a.result
}

// OutPath is a file in the app's out/ directory.
func (a *App) OutPath(name string) string { return filepath.Join(a.Out, name) }

// Own picks the app's results out of a run's and strips the app prefix; a
// stage without an app prefix (the shared deploy) belongs to every app.
func (a *App) Own(results []pipeline.StageResult) []pipeline.StageResult {
	var out []pipeline.StageResult
	for _, s := range results {
		switch {
		case a.Prefix != "" && strings.HasPrefix(s.Name, a.Prefix):
			s.Name = strings.TrimPrefix(s.Name, a.Prefix)
			out = append(out, s)
		case a.Prefix == "" || !strings.Contains(s.Name, "/"):
			out = append(out, s)
		}
	}
	return out
}

// Versions reads the source version once per git checkout: every app of a
// monorepo has the same commit, branch and dirtiness (50 apps: one read).
type Versions struct {
	out  string // the output directory, never counted as a change
	mu   sync.Mutex
	byAt map[string]versionResult
}

type versionResult struct {
	info version.Info
	err  error
}

// NewVersions reads versions ignoring the output directory out.
func NewVersions(out string) *Versions {
	return &Versions{out: out, byAt: map[string]versionResult{}}
}

// Detect is the version of the checkout holding src.
func (v *Versions) Detect(src string) (version.Info, error) {
	root := version.Root(src)
	if root == "" {
		return version.Detect(src, version.IgnoringOutput(v.out))
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if r, ok := v.byAt[root]; ok {
		return r.info, r.err
	}
	info, err := version.Detect(root, version.IgnoringOutput(v.out))
	v.byAt[root] = versionResult{info, err}
	return info, err
}

// ErrStageFailed is a run in which a stage failed.
var ErrStageFailed = errors.New("stage failed")

// Execution runs a stage graph over the apps and records what happened.
type Execution struct {
	Apps []*App
	// Out is the run's output directory (summary.md).
	Out string
	// Order is the stages' order in the summary.
	Order []string
	// Fingerprint is what an app's stage (its name without the app's
	// prefix) read, stamped on results that have none.
	Fingerprint func(a *App, stage string) string
	// Source is what result.json records of an app's source.
	Source func(*App) map[string]string
	// Skipped is markdown appended to the summary (apps left out).
	Skipped string
	// Log receives the results table and the total; Warn a warning.
	Log  io.Writer
	Warn func(format string, args ...any)
}

// Run runs g with runner; then merges each app's results into its
// result.json (under the split-run lock), writes the summary of every stage
// recorded in out/ and prints the table. ErrStageFailed names the failed
// stages; any other error is a result that could not be written.
func (e Execution) Run(ctx context.Context, runner pipeline.Runner, g *pipeline.Graph) ([]pipeline.StageResult, error) {
	start := time.Now()
	results := runner.Run(ctx, g)
	var md strings.Builder
	for _, a := range e.Apps {
		mine := a.Own(results)
		if e.Fingerprint != nil {
			for i := range mine {
				if mine[i].Fingerprint == "" {
					mine[i].Fingerprint = e.Fingerprint(a, mine[i].Name)
				}
			}
		}
		if e.Source != nil {
			src := e.Source(a)
			a.Update(func(res *pipeline.Result) { res.Source = src })
		}
		snap := a.Snapshot()
		merged, err := pipeline.SaveMerged(a.Out, &snap, mine, time.Now())
		if err != nil {
			return results, fmt.Errorf("write %s: %w", a.OutPath(pipeline.ResultFile), err)
		}
		a.Update(func(res *pipeline.Result) { *res = *merged })
		if len(e.Apps) > 1 {
			fmt.Fprintf(&md, "### %s\n\n", a.Name)
		}
		// The summary covers every stage recorded in out/, so a split run's
		// last step summarises the whole pipeline.
		md.WriteString(pipeline.Markdown(merged, merged.Ordered(e.Order)))
		md.WriteString("\n")
	}
	md.WriteString(e.Skipped)
	pipeline.WriteTable(e.Log, results)
	// Where the run's time went: which stages overlapped, which waited.
	if tl := pipeline.Timeline(results); tl != "" && len(results) > 1 {
		fmt.Fprintf(e.Log, "\n%s", tl)
		md.WriteString("\n```\n" + tl + "```\n")
	}
	fmt.Fprintf(e.Log, "total %s; results in %s\n", time.Since(start).Round(100*time.Millisecond), e.resultFiles())
	if err := pipeline.WriteSummary(e.Out, strings.TrimRight(md.String(), "\n")+"\n"); err != nil && e.Warn != nil {
		e.Warn("warning: summary: %v", err)
	}
	if failed := pipeline.FailedStages(results); len(failed) > 0 {
		return results, fmt.Errorf("%w: %v", ErrStageFailed, failed)
	}
	return results, nil
}

func (e Execution) resultFiles() string {
	if len(e.Apps) == 1 {
		return e.Apps[0].OutPath(pipeline.ResultFile)
	}
	return filepath.Join(e.Out, "APP", pipeline.ResultFile)
}

// ErrUnknownStage is a stage name the graph does not have.
var ErrUnknownStage = errors.New("unknown stage")

// Expand turns the stage names a user gave into graph names: a name the
// graph has is itself; with several apps a plain name means that stage of
// every app (each app's Prefix + name); "APP/STAGE" names one. An unknown
// name is ErrUnknownStage listing known, the names to offer.
func Expand(g *pipeline.Graph, apps []*App, names, known []string) ([]string, error) {
	have := map[string]bool{}
	for _, n := range g.Names() {
		have[n] = true
	}
	var out []string
	for _, n := range names {
		switch {
		case have[n]:
			out = append(out, n)
		case strings.Contains(n, "/"):
			return nil, fmt.Errorf("%w %q (stages: %s)", ErrUnknownStage, n, strings.Join(g.Names(), ", "))
		default:
			found := false
			for _, a := range apps {
				if have[a.Prefix+n] {
					out, found = append(out, a.Prefix+n), true
				}
			}
			if !found {
				return nil, fmt.Errorf("%w %q (stages: %s)", ErrUnknownStage, n, strings.Join(known, ", "))
			}
		}
	}
	return out, nil
}
