// Command ci is the shop monorepo's pipeline: orders and billing, two
// services of one Go module sharing internal/money. On a pull request only
// the services a change affects run; --publish deploys them in one GitOps push.
package main

import "github.com/slipway-ci/slipway"

func config() slipway.Config {
	return slipway.Config{
		Apps: []slipway.App{
			{Name: "orders", Source: ".", Main: "./services/orders", Deploy: "services/orders/deploy"},
			{Name: "billing", Source: ".", Main: "./services/billing", Deploy: "services/billing/deploy"},
		},
		Publish:     slipway.Publish{Env: "development"},
		Concurrency: 2,
	}
}

func main() { slipway.Main(config()) }
