package slipway

import (
	"context"
	"io"

	"dagger.io/dagger"

	"github.com/slipway-ci/slipway/internal/cli"
	"github.com/slipway-ci/slipway/internal/dag"
)

// Stage is one step of every app's pipeline: a built-in one (Lint, Test,
// Build, Scan, Push, Deploy) or your own. The graph, plan, the summary,
// out/result.json, --keep-going and one-stage runs (`go run ./ci run NAME`)
// treat yours exactly like the built-in ones.
type Stage struct {
	// Name identifies the stage: `go run ./ci run NAME`, Needs, result.json.
	Name string
	// Description is what plan prints.
	Description string
	// Needs are the stages that must pass first (when they are part of the
	// run), built-in or custom, "deploy" included: a stage that needs deploy
	// runs once deploy passed. An unknown name or a cycle is a configuration
	// error (exit 2, naming the cycle).
	Needs []string
	// Secrets are environment variable names the stage reads; Run gets them
	// as *dagger.Secret through StageContext.Secret, never as strings. plan
	// prints the names, never the values.
	Secrets []string
	// Host marks a stage that runs on the host only: no engine session is
	// opened for it (and none is needed when it runs alone).
	Host bool
	// Publish marks a stage that runs only with --publish (or when named).
	Publish bool
	// Advisory lets Push publish without waiting for this stage. By default
	// Push waits for every stage of its app that is not Publish and does not
	// itself run after Push (one that Needs "push" or "deploy"), whatever
	// Push's own Needs say: a failing integration test holds back
	// publishing. An Advisory stage's failure still fails the run (exit 1).
	Advisory bool
	// Run does the work. A returned error fails the stage; a failed
	// container command is reported with its exit code and output tail.
	Run func(ctx context.Context, sc *StageContext) error

	builtin string
	args    []string
}

// StageContext is what a custom stage's Run gets.
type StageContext struct {
	// Dagger is the engine session's client (nil for a Host stage).
	Dagger *dagger.Client
	// Source is the app's source directory in the engine (nil for a Host stage).
	Source *dagger.Directory
	// SourceDir is the app's source directory on the host.
	SourceDir string
	// Out is the app's artifacts directory on the host (out/, or out/APP/).
	Out string
	// Log is for progress messages people read (stderr).
	Log io.Writer

	env dag.StageEnv
}

// Go returns the pinned golang container with the Go module and build caches
// mounted and the app's source at /src (modules already downloaded): the
// base of a `go generate` drift check or an integration test.
func (sc *StageContext) Go() *dagger.Container {
	if sc.env.GoBase == nil {
		return nil
	}
	return sc.env.GoBase()
}

// Secret returns a secret the stage declared in Secrets, as a *dagger.Secret
// the engine reads from the environment itself: the value never passes
// through Slipway, its logs or out/.
func (sc *StageContext) Secret(name string) (*dagger.Secret, error) {
	return sc.env.Secret(name)
}

// Image returns the image the run's image lock pins under name, as
// repository:tag@sha256:…, for the containers a custom stage starts (a
// database service): add "name: repository:tag@sha256:<digest>" to your lock
// (Config.Images) and `go run ./ci pin` keeps it current with the others.
func (sc *StageContext) Image(name string) (string, error) { return sc.env.Image(name) }

// Set records a fact about the stage (a count, a URL) in the summary and
// out/result.json.
func (sc *StageContext) Set(key, value string) { sc.env.Set(key, value) }

// Artifact records a file the stage wrote (under Out).
func (sc *StageContext) Artifact(path string) { sc.env.Artifact(path) }

// StageOption adjusts a built-in stage.
type StageOption func(*Stage)

// WithNeeds replaces the stages a built-in stage waits for, e.g.
// Build(WithNeeds("lint", "test")) to build only after they passed. Push
// waits for every non-publish stage of its app in any case (see
// Stage.Advisory for the exception).
func WithNeeds(names ...string) StageOption {
	return func(s *Stage) { s.Needs = append([]string(nil), names...) }
}

// WithArgs adds arguments to the tool of Lint (golangci-lint run) or Test
// (go test), e.g. Test(WithArgs("-short", "-timeout", "5m")).
func WithArgs(args ...string) StageOption {
	return func(s *Stage) { s.args = append(s.args, args...) }
}

// WithDescription replaces what plan prints for the stage.
func WithDescription(d string) StageOption {
	return func(s *Stage) { s.Description = d }
}

func builtin(name string, needs []string, publish bool, opts []StageOption) Stage {
	s := Stage{Name: name, Needs: needs, Publish: publish, builtin: name}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// Lint runs golangci-lint v2 (pinned) with the app's .golangci.yml.
func Lint(opts ...StageOption) Stage { return builtin(cli.StageLint, nil, false, opts) }

// Test runs `go test -race` with coverage (out/coverage.out).
func Test(opts ...StageOption) Stage { return builtin(cli.StageTest, nil, false, opts) }

// Build builds the static binary on the distroless nonroot base image,
// reproducibly (two builds of one commit have one digest), to out/image.tar.
// It runs alongside lint and test (push waits for all of them).
func Build(opts ...StageOption) Stage {
	return builtin(cli.StageBuild, nil, false, opts)
}

// Scan runs Trivy (pinned) over the image and the deploy manifests and
// applies the gate; it records its verdict for the image digest.
func Scan(opts ...StageOption) Stage {
	return builtin(cli.StageScan, []string{cli.StageBuild}, false, opts)
}

// Push pushes out/image.tar by digest with immutable tags once lint, test
// and scan passed; it refuses a digest the scan gate did not pass. Runs with
// --publish.
func Push(opts ...StageOption) Stage {
	return builtin(cli.StagePush, []string{cli.StageLint, cli.StageTest, cli.StageScan}, true, opts)
}

// Deploy commits every app's pushed digest to the GitOps repository, in one
// push for all apps. Runs with --publish.
func Deploy(opts ...StageOption) Stage {
	return builtin(cli.StageDeploy, []string{cli.StagePush}, true, opts)
}

// DefaultStages are Lint ∥ Test ∥ Build → Scan, then Push (after lint, test
// and scan) → Deploy.
func DefaultStages() []Stage {
	return []Stage{Lint(), Test(), Build(), Scan(), Push(), Deploy()}
}

// spec turns a public stage into the CLI's.
func (s Stage) spec() cli.StageSpec {
	spec := cli.StageSpec{
		Name: s.Name, Builtin: s.builtin, Description: s.Description, Needs: s.Needs,
		Secrets: s.Secrets, Host: s.Host, Publish: s.Publish, Advisory: s.Advisory, Args: s.args,
	}
	if s.Run != nil {
		run := s.Run
		spec.Run = func(ctx context.Context, env dag.StageEnv) error {
			return run(ctx, &StageContext{
				Dagger: env.Client, Source: env.Source, SourceDir: env.SourceDir, Out: env.Out, Log: env.Log, env: env,
			})
		}
	}
	return spec
}
