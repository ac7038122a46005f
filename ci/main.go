// Command ci is this repository's pipeline, written with Slipway's public API
// as any service repository's would be: `go run ./ci` lints, tests, builds and
// scans sample-app and ledger; `--publish` pushes and deploys them.
package main

import "github.com/slipway-ci/slipway"

func config() slipway.Config {
	return slipway.Config{
		Apps: []slipway.App{
			// ghcr.io: the publish job pushes with its own GITHUB_TOKEN.
			{Name: "sample-app", Source: "sample-app", Image: "ghcr.io/slipway-ci/slipway/sample-app"},
			{Name: "ledger", Source: "ledger", Image: "ghcr.io/slipway-ci/slipway/ledger"},
		},
		Publish: slipway.Publish{Env: "development"},
		// Slipway's own code is the pipeline: a change to it runs every app.
		AlwaysRebuild: []string{"internal", "cmd", "slipway.go", "stage.go", "go.mod", "go.sum"},
		// Images: "" keeps the built-in lock, which is this repository's
		// ci/images.lock (`go run ./ci pin` rewrites it).
		Wrappers: slipway.Wrappers{
			Setup:        []string{"sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends docker-registry chromium"},
			TestCommands: []string{"make test", "make test-engine"},
		},
	}
}

func main() { slipway.Main(config()) }
