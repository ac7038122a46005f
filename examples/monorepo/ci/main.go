// Command ci is the shop monorepo's pipeline: orders and billing, two
// services of one Go module sharing internal/money. On a pull request only
// the services a change affects run (both share lint and test over ./... of
// the module; a service's image changes only with what its build reads);
// --publish deploys them in one GitOps push.
package main

import "github.com/slipway-ci/slipway"

func config() slipway.Config {
	return slipway.Config{
		Apps: []slipway.App{
			// A registry of its own: the generated CI binds REGISTRY_USERNAME and
			// REGISTRY_PASSWORD for it.
			{Name: "orders", Source: ".", Main: "./services/orders", Deploy: "services/orders/deploy", Image: "registry.acme.io/shop/orders"},
			{Name: "billing", Source: ".", Main: "./services/billing", Deploy: "services/billing/deploy", Image: "registry.acme.io/shop/billing"},
		},
		Publish: slipway.Publish{Env: "development"},
		GitOps:  slipway.GitOps{Repo: "https://git.acme.io/platform/gitops.git"},
		// Publishing waits for the production environment's reviewers.
		Wrappers:    slipway.Wrappers{Environment: "production"},
		Concurrency: 2,
	}
}

func main() { slipway.Main(config()) }
