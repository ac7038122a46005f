// Command ci is the payments repository's pipeline: Slipway's stages plus an
// integration test against a real PostgreSQL service container.
package main

import (
	"context"

	"github.com/slipway-ci/slipway"
)

// integration runs `go test -tags integration` with postgres bound as "db".
func integration(ctx context.Context, sc *slipway.StageContext) error {
	image, err := sc.Image("postgres") // pinned in ci/images.lock
	if err != nil {
		return err
	}
	pw, err := sc.Secret("DB_PASSWORD")
	if err != nil {
		return err
	}
	db := sc.Dagger.Container().From(image).WithSecretVariable("POSTGRES_PASSWORD", pw).WithExposedPort(5432).AsService()
	_, err = sc.Go().WithServiceBinding("db", db).WithEnvVariable("DB_HOST", "db").WithSecretVariable("DB_PASSWORD", pw).
		WithExec([]string{"go", "test", "-tags", "integration", "./..."}).Sync(ctx)
	return err
}

func config() slipway.Config {
	return slipway.Config{
		// ghcr.io: the generated workflow's publish job pushes with GITHUB_TOKEN.
		Apps:    []slipway.App{{Name: "payments", Source: ".", Main: "./cmd/payments", Image: "ghcr.io/acme/payments"}},
		Publish: slipway.Publish{Env: "development"},
		GitOps:  slipway.GitOps{Repo: "https://github.com/acme/gitops.git"},
		Images:  "ci/images.lock",
		Stages: append(slipway.DefaultStages(), slipway.Stage{Name: "integration", Needs: []string{"test"},
			Secrets: []string{"DB_PASSWORD"}, Run: integration, Description: "go test -tags integration against postgres"}),
	}
}

func main() { slipway.Main(config()) }
