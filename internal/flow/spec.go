package flow

import (
	"context"
	"fmt"
	"strings"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/manifest"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

// AppSpec is one application the pipeline builds, as configured.
type AppSpec struct {
	Name   string   // GitOps app directory and kustomize image name
	Source string   // its directory (a Go module, or inside one), relative to the working directory
	Main   string   // main package relative to Source (default ".")
	Binary string   // binary name (default Name)
	Deploy string   // kustomize base/ and overlays/ inside Source (default "deploy")
	Image  string   // image repository (default: CI_IMAGE, or CI_IMAGE/NAME with several apps)
	Port   int      // exposed port (default 8080)
	Base   string   // image-lock name of the base image (default "distroless")
	Tags   []string // extra tags on every push
	// Values are where the app's Helm chart takes the image (nil: the defaults).
	Values *manifest.Values
}

// Built-in stage names.
const (
	StageLint   = "lint"
	StageTest   = "test"
	StageBuild  = "build"
	StageScan   = "scan"
	StagePush   = "push"
	StageDeploy = "deploy"
)

// StageSpec is a stage of every app's graph: a built-in one (Builtin set) or
// a custom one (Run set).
type StageSpec struct {
	Name        string
	Builtin     string
	Description string
	Needs       []string
	Secrets     []string
	Host        bool     // custom: runs on the host, no engine session
	Publish     bool     // runs only with --publish (or when named)
	Advisory    bool     // push does not wait for it
	Args        []string // built-in lint/test: extra tool arguments
	Run         func(ctx context.Context, env dag.StageEnv) error
}

// DefaultStages are lint ∥ test ∥ build → scan, then push (which needs lint,
// test and scan) → deploy. Build and scan do not wait for lint and test:
// nothing they produce leaves the machine unless all four passed, and the
// critical path becomes max(lint, test, build + scan) instead of their sum.
func DefaultStages() []StageSpec {
	return []StageSpec{
		{Name: StageLint, Builtin: StageLint},
		{Name: StageTest, Builtin: StageTest},
		{Name: StageBuild, Builtin: StageBuild},
		{Name: StageScan, Builtin: StageScan, Needs: []string{StageBuild}},
		{Name: StagePush, Builtin: StagePush, Needs: []string{StageLint, StageTest, StageScan}, Publish: true},
		{Name: StageDeploy, Builtin: StageDeploy, Needs: []string{StagePush}, Publish: true},
	}
}

// OrderStages checks names and needs and returns the stages in an order
// where every stage comes after what it needs (stable otherwise), push's
// Needs completed with every other non-publish stage of the app that is
// not Advisory and does not come after push. A need on an unknown stage and
// a cycle (named) are configuration errors.
func OrderStages(specs []StageSpec) ([]StageSpec, error) {
	byName := map[string]int{}
	for i, s := range specs {
		field := fmt.Sprintf("Config.Stages[%d]", i)
		if s.Name == "" || strings.ContainsAny(s.Name, "/ \t") {
			return nil, fmt.Errorf("%s.Name %q: want a name without spaces or '/'", field, s.Name)
		}
		if _, dup := byName[s.Name]; dup {
			return nil, fmt.Errorf("%s.Name %q: two stages have this name", field, s.Name)
		}
		if s.Builtin == "" && s.Run == nil {
			return nil, fmt.Errorf("%s (%s): no Run function", field, s.Name)
		}
		byName[s.Name] = i
	}
	for i, s := range specs {
		for _, n := range s.Needs {
			if _, ok := byName[n]; !ok {
				return nil, fmt.Errorf("Config.Stages[%d] (%s).Needs: unknown stage %q (stages: %s)", i, s.Name, n, strings.Join(stageNames(specs), ", "))
			}
		}
	}
	ordered, err := pipeline.Order(graphSpecs(specs))
	if err != nil {
		return nil, fmt.Errorf("Config.Stages: %w", err)
	}
	out := make([]StageSpec, len(ordered))
	for i, o := range ordered {
		out[i] = specs[byName[o.Name]]
		out[i].Needs = o.Needs
	}
	return out, nil
}

// graphSpecs are the stages as the stage graph sees them: push gates each
// app's publishing on its other stages, deploy is one stage for all apps.
func graphSpecs(specs []StageSpec) []pipeline.Spec {
	out := make([]pipeline.Spec, len(specs))
	for i, s := range specs {
		out[i] = pipeline.Spec{Name: s.Name, Needs: s.Needs, Publish: s.Publish, Ungated: s.Advisory,
			Gate: s.Builtin == StagePush, Shared: s.Builtin == StageDeploy}
	}
	return out
}

// stageNames are the specs' names, in order.
func stageNames(specs []StageSpec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Name
	}
	return out
}

// stageBound is how many stages of a run of apps may run at once: none for
// one app (its lint, test and build start together); 3 × concurrency when
// the configuration sets Concurrency; otherwise bounded by the cores, not by
// the apps: max(3, cores+1). On 2 cores that is one app's lint ∥ test ∥
// build at a time, in the graph's order, so a cold run compiles the
// standard library and shared dependencies once into the shared build cache
// instead of once per app at the same time (each Go process already uses
// every core).
func stageBound(apps, concurrency, cores int) int {
	switch {
	case apps <= 1:
		return 0
	case concurrency > 0:
		return 3 * concurrency
	}
	return max(3, cores+1)
}
