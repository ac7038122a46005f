package cli

import (
	"context"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

func lintStage(r *runState, args []string) pipeline.Stage {
	return pipeline.Stage{
		Name:        "lint",
		Description: "golangci-lint v2 with the app's .golangci.yml",
		Engine:      true,
		Images:      []string{"golangci-lint"},
		Caches:      []string{dag.CacheGoMod, dag.CacheGoBuild, dag.CacheLint},
		Run: func(ctx context.Context, _ *pipeline.Record) error {
			st, err := r.engine(ctx)
			if err != nil {
				return err
			}
			return st.WithLintArgs(args).RunLint(ctx)
		},
	}
}
