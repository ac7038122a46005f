package slipway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/slipway-ci/slipway"
)

// A service repository's whole pipeline: one app, published to development.
func ExampleMain() {
	cfg := slipway.Config{
		Apps:    []slipway.App{{Name: "payments", Source: ".", Main: "./cmd/payments"}},
		Publish: slipway.Publish{Env: "development"},
	}
	_ = cfg // in ci/main.go: func main() { slipway.Main(cfg) }
	// Output:
}

// Publish.Wait: --publish ends only when Argo CD reports the deploy commit
// synced and healthy (ARGOCD_SERVER, and ARGOCD_AUTH_TOKEN: a read-only
// token, RBAC "p, role:slipway-wait, applications, get, */*, allow"), or
// fails with one line saying why. The plan shows the token the deploy
// stage reads; CI holds no cluster credential.
func ExamplePublish_wait() {
	cfg := slipway.Config{
		Apps: []slipway.App{{Name: "sample-app", Source: "sample-app"}},
		Publish: slipway.Publish{
			Env:         "development",
			Wait:        true,
			WaitTimeout: 5 * time.Minute,
			ArgoCDApps:  []string{"sample-app-development"},
		},
	}
	var out strings.Builder
	code := slipway.Run(context.Background(), cfg, []string{"plan", "--publish", "--json"}, &out, io.Discard)
	var plan struct {
		Stages []struct {
			Name    string
			Secrets []string
		}
	}
	_ = json.Unmarshal([]byte(out.String()), &plan)
	fmt.Println("exit", code)
	for _, s := range plan.Stages {
		if s.Name == "deploy" {
			fmt.Println(strings.Join(s.Secrets, " "))
		}
	}
	// Output:
	// exit 0
	// GITOPS_TOKEN GITOPS_SSH_KEY_FILE ARGOCD_AUTH_TOKEN
}

// Run is Main without os.Exit: here it plans this repository's sample-app
// and reports which stages run together.
func ExampleRun() {
	cfg := slipway.Config{Apps: []slipway.App{{Name: "sample-app", Source: "sample-app"}}}
	var out strings.Builder
	code := slipway.Run(context.Background(), cfg, []string{"plan", "--json"}, &out, io.Discard)
	var plan struct{ Waves [][]string }
	_ = json.Unmarshal([]byte(out.String()), &plan)
	fmt.Println("exit", code)
	for _, w := range plan.Waves {
		fmt.Println(strings.Join(w, " ∥ "))
	}
	// Output:
	// exit 0
	// lint ∥ test ∥ build
	// scan
	// push
	// deploy
}

// A bad configuration is refused before anything runs, with the field named.
func ExampleConfig_Validate() {
	cfg := slipway.Config{Apps: []slipway.App{
		{Name: "sample-app", Source: "sample-app"},
		{Name: "sample-app", Source: "ledger"},
	}}
	fmt.Println(cfg.Validate())
	// Output:
	// Config.Apps[1].Name "sample-app": two apps have this name; give each app its own
}

// A custom stage: a `go generate` drift check after the tests, in the pinned
// golang container with the module and build caches.
func ExampleStage() {
	drift := slipway.Stage{
		Name:        "generate-drift",
		Description: "go generate changes nothing",
		Needs:       []string{"test"},
		Run: func(ctx context.Context, sc *slipway.StageContext) error {
			_, err := sc.Go().
				WithExec([]string{"sh", "-c", "go generate ./... && git diff --exit-code"}).
				Sync(ctx)
			return err
		},
	}
	cfg := slipway.Config{
		Apps:   []slipway.App{{Name: "sample-app", Source: "sample-app"}},
		Stages: append(slipway.DefaultStages(), drift),
	}
	fmt.Println(cfg.Validate())
	// Output: <nil>
}

// Built-in stages take options: extra go test flags, and a build that waits
// for lint, test and a custom stage (by default it runs alongside them).
func ExampleBuild() {
	migrations := slipway.Stage{Name: "migrations", Host: true, Run: func(context.Context, *slipway.StageContext) error { return nil }}
	stages := []slipway.Stage{
		slipway.Lint(),
		slipway.Test(slipway.WithArgs("-short")),
		migrations,
		slipway.Build(slipway.WithNeeds("lint", "test", "migrations")), // build only after they passed
		slipway.Scan(), slipway.Push(), slipway.Deploy(),
	}
	cfg := slipway.Config{Apps: []slipway.App{{Name: "sample-app", Source: "sample-app"}}, Stages: stages}
	fmt.Println(cfg.Validate())
	// Output: <nil>
}

// A monorepo: two services in one pipeline, a Flux layout, and images under
// one registry prefix (CI_IMAGE/APP).
func ExampleConfig_monorepo() {
	cfg := slipway.Config{
		Apps: []slipway.App{
			{Name: "sample-app", Source: "sample-app"},
			{Name: "ledger", Source: "ledger"},
		},
		GitOps:      slipway.GitOps{Layout: "apps/{env}/kustomization.yaml"},
		Concurrency: 2,
	}
	fmt.Println(cfg.Validate())
	// Output: <nil>
}

// A verification policy: every deploy, promote and rollback first checks
// that the digest was signed by this repository's workflow (keyless, in
// GitHub Actions) and carries its SBOM and a provenance naming the commit.
// A half-set policy is refused before anything runs.
func ExampleVerify() {
	cfg := slipway.Config{
		Apps: []slipway.App{{Name: "sample-app", Source: "sample-app"}},
		Verify: slipway.Verify{
			Identity: "https://github.com/acme/payments/.github/workflows/ci.yml@refs/heads/main",
			Issuer:   "https://token.actions.githubusercontent.com",
		},
	}
	fmt.Println(cfg.Validate())
	cfg.Verify.Issuer = ""
	fmt.Println(cfg.Validate())
	// Output:
	// <nil>
	// Config.Verify: a keyless policy needs Identity (or IdentityRegexp) and Issuer (or IssuerRegexp)
}

// An app whose environments are a Helm chart's per-environment values files
// (charts/podinfo/values-staging.yaml, …): the deploy writes the image at
// the chart's value paths, byte for byte.
func ExampleHelmValues() {
	cfg := slipway.Config{
		Apps: []slipway.App{{
			Name: "sample-app", Source: "sample-app",
			Helm: slipway.HelmValues{Repository: "image.repository", Digest: "image.digest"},
		}},
		GitOps: slipway.GitOps{Layout: "charts/{app}/values-{env}.yaml"},
	}
	fmt.Println(cfg.Validate())
	cfg.Apps[0].Helm = slipway.HelmValues{Repository: "image.repository"}
	fmt.Println(cfg.Validate())
	// Output:
	// <nil>
	// Config.Apps[0].Helm (app sample-app): helm value paths: name where the digest goes (digest=PATH, or image=PATH for a whole reference, or tag=PATH for a chart that only takes a tag)
}
