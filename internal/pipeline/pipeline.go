// Package pipeline runs Slipway's stage graph: which stages exist, what each
// needs, which run concurrently, and what a run leaves behind in out/.
//
// It knows nothing of Dagger: a stage is a Go function. That keeps the
// ordering, failure and summary logic testable without an engine.
package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Stage is one step of the pipeline.
type Stage struct {
	Name        string
	Description string
	Needs       []string // stages that must pass first, when they are part of the run
	Engine      bool     // runs containers through a Dagger engine
	Images      []string // image-lock names the stage runs
	Caches      []string // Dagger cache volume names
	Secrets     []string // environment variable names of the secrets it reads (never values)
	Artifacts   []string // files it writes under out/
	Run         func(ctx context.Context, rec *Record) error
}

// Graph is an ordered set of stages.
type Graph struct {
	stages []Stage
	byName map[string]int
}

// NewGraph checks that names are unique, that every need names a stage and
// that the needs form no cycle (a *CycleError naming one), and orders the
// stages so that each comes after what it needs (definition order among
// stages that are ready together).
func NewGraph(stages ...Stage) (*Graph, error) {
	idx := map[string]int{}
	for _, s := range stages {
		if _, dup := idx[s.Name]; dup {
			return nil, fmt.Errorf("stage %q defined twice", s.Name)
		}
		idx[s.Name] = len(idx)
	}
	needs := make([][]int, len(stages))
	for i, s := range stages {
		for _, n := range s.Needs {
			j, ok := idx[n]
			if !ok {
				return nil, fmt.Errorf("stage %q needs %q, which is not defined", s.Name, n)
			}
			needs[i] = append(needs[i], j)
		}
	}
	if cyc := findCycle(needs); cyc != nil {
		names := make([]string, len(cyc))
		for k, i := range cyc {
			names[k] = stages[i].Name
		}
		return nil, &CycleError{Stages: names}
	}
	order, err := topo(needs)
	if err != nil {
		return nil, err
	}
	g := &Graph{byName: map[string]int{}}
	for _, i := range order {
		g.byName[stages[i].Name] = len(g.stages)
		g.stages = append(g.stages, stages[i])
	}
	return g, nil
}

// Stages returns the stages in definition order.
func (g *Graph) Stages() []Stage { return append([]Stage(nil), g.stages...) }

// Names returns the stage names in definition order.
func (g *Graph) Names() []string {
	names := make([]string, len(g.stages))
	for i, s := range g.stages {
		names[i] = s.Name
	}
	return names
}

// Select returns the sub-graph of the named stages, in graph order. Needs on
// stages left out are dropped: a stage run alone reads what earlier runs left
// in out/ (that is how the Jenkinsfile runs one stage per Jenkins stage).
func (g *Graph) Select(names ...string) (*Graph, error) {
	if len(names) == 0 {
		return g, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		if _, ok := g.byName[n]; !ok {
			return nil, fmt.Errorf("unknown stage %q (stages: %s)", n, strings.Join(g.Names(), ", "))
		}
		want[n] = true
	}
	var sel []Stage
	for _, s := range g.stages {
		if !want[s.Name] {
			continue
		}
		var needs []string
		for _, n := range s.Needs {
			if want[n] {
				needs = append(needs, n)
			}
		}
		s.Needs = needs
		sel = append(sel, s)
	}
	return NewGraph(sel...)
}

// NeedsEngine reports whether any stage runs containers.
func (g *Graph) NeedsEngine() bool {
	for _, s := range g.stages {
		if s.Engine {
			return true
		}
	}
	return false
}

// Waves groups stages into the steps that run together: every stage of a wave
// has all its needs in earlier waves. Plan prints these.
func (g *Graph) Waves() [][]string {
	level := map[string]int{}
	var waves [][]string
	for _, s := range g.stages {
		l := 0
		for _, n := range s.Needs {
			if level[n]+1 > l {
				l = level[n] + 1
			}
		}
		level[s.Name] = l
		for len(waves) <= l {
			waves = append(waves, nil)
		}
		waves[l] = append(waves[l], s.Name)
	}
	return waves
}

// Status of a stage.
type Status string

// Stage statuses.
const (
	Passed  Status = "passed"
	Failed  Status = "failed"
	Skipped Status = "skipped" // a stage it needs failed
)

// StageResult is what one stage did.
type StageResult struct {
	Name      string            `json:"name"`
	Status    Status            `json:"status"`
	Started   time.Time         `json:"started"`
	Duration  Duration          `json:"duration_seconds"`
	Error     string            `json:"error,omitempty"`
	Artifacts []string          `json:"artifacts,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
	// Fingerprint names the inputs the stage ran on (commit, configuration,
	// image lock, gate settings): a later run with the same fingerprint may
	// reuse a passed result instead of running the stage again.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Duration marshals as seconds with millisecond precision.
type Duration time.Duration

// MarshalJSON writes seconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%.3f", time.Duration(d).Seconds())), nil
}

// UnmarshalJSON reads seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var f float64
	if _, err := fmt.Sscanf(string(b), "%g", &f); err != nil {
		return fmt.Errorf("duration %s: %w", b, err)
	}
	*d = Duration(time.Duration(f * float64(time.Second)))
	return nil
}

// Record is handed to a running stage to note its artifacts and facts.
type Record struct {
	mu        sync.Mutex
	artifacts []string
	details   map[string]string
}

// Artifact notes a file the stage wrote.
func (r *Record) Artifact(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.artifacts = append(r.artifacts, path)
}

// Set notes a fact (an image digest, a finding count) for the summary and result.json.
func (r *Record) Set(key, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.details == nil {
		r.details = map[string]string{}
	}
	r.details[key] = value
}

// Events receives progress; Runner calls it from several goroutines, one
// call at a time.
type Events interface {
	StageStarted(name string)
	StageFinished(res StageResult)
}

// Runner executes a graph.
type Runner struct {
	Events    Events
	KeepGoing bool // after a failure, still start stages that do not depend on it
	// MaxParallel bounds how many stages run at once (0: no bound); a
	// monorepo's apps share one engine this way. A freed slot goes to the
	// waiting stage that comes first in the graph (slots).
	MaxParallel int
	Now         func() time.Time
	// Redact, when set, cleans every error and detail a stage records
	// before anyone sees it (secrets a library echoed).
	Redact func(string) string
}

// Run executes the graph: each stage starts as soon as all its needs passed,
// so independent stages (lint, test) run concurrently. When a stage fails,
// stages that need it are skipped; other stages already running finish, and
// with KeepGoing unrelated stages still start. Results come back in graph order.
func (r Runner) Run(ctx context.Context, g *Graph) []StageResult {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	var (
		mu       sync.Mutex
		results  = map[string]StageResult{}
		done     = map[string]chan struct{}{}
		failedAt bool
		wg       sync.WaitGroup
	)
	for _, s := range g.stages {
		done[s.Name] = make(chan struct{})
	}
	// Events are delivered one at a time: an Events implementation (a
	// log writer) need not be safe for concurrent use.
	var evMu sync.Mutex
	finished := func(res StageResult) {
		if r.Events != nil {
			evMu.Lock()
			r.Events.StageFinished(res)
			evMu.Unlock()
		}
	}
	var sem *slots
	if r.MaxParallel > 0 {
		sem = newSlots(r.MaxParallel)
	}
	for index, s := range g.stages {
		// A stage that needs nothing takes its slot here, in the graph's
		// order, so an app's first stages start before the next app's.
		held := false
		if sem != nil && len(s.Needs) == 0 {
			sem.acquire(index)
			held = true
		}
		wg.Add(1)
		go func(index int, s Stage) {
			defer wg.Done()
			defer close(done[s.Name])
			if held {
				defer sem.release()
			}
			for _, n := range s.Needs {
				<-done[n]
			}
			mu.Lock()
			var blocked []string
			for _, n := range s.Needs {
				if results[n].Status != Passed {
					blocked = append(blocked, n)
				}
			}
			// Stages with no needs start together at once; later ones check for failures.
			stop := len(blocked) > 0 || (len(s.Needs) > 0 && failedAt && !r.KeepGoing) || ctx.Err() != nil
			mu.Unlock()
			if stop {
				reason := "not started: an earlier stage failed"
				if len(blocked) > 0 {
					reason = "not started: needs " + strings.Join(blocked, ", ")
				} else if ctx.Err() != nil {
					reason = "not started: " + ctx.Err().Error()
				}
				res := StageResult{Name: s.Name, Status: Skipped, Error: reason}
				mu.Lock()
				results[s.Name] = res
				mu.Unlock()
				finished(res)
				return
			}
			if sem != nil && !held {
				sem.acquire(index)
				defer sem.release()
			}
			if r.Events != nil {
				evMu.Lock()
				r.Events.StageStarted(s.Name)
				evMu.Unlock()
			}
			rec := &Record{}
			start := now()
			err := s.Run(ctx, rec)
			res := StageResult{
				Name: s.Name, Status: Passed, Started: start.UTC(),
				Duration: Duration(now().Sub(start)), Artifacts: rec.artifacts, Details: rec.details,
			}
			if err != nil {
				res.Status = Failed
				res.Error = err.Error()
			}
			if r.Redact != nil {
				res.Error = r.Redact(res.Error)
				for k, v := range res.Details {
					res.Details[k] = r.Redact(v)
				}
			}
			mu.Lock()
			results[s.Name] = res
			if err != nil {
				failedAt = true
			}
			mu.Unlock()
			finished(res)
		}(index, s)
	}
	wg.Wait()
	out := make([]StageResult, 0, len(g.stages))
	for _, s := range g.stages {
		out = append(out, results[s.Name])
	}
	return out
}

// FailedStages lists the stages that failed.
func FailedStages(results []StageResult) []string {
	var names []string
	for _, r := range results {
		if r.Status == Failed {
			names = append(names, r.Name)
		}
	}
	sort.Strings(names)
	return names
}
