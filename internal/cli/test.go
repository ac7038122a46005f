package cli

import (
	"context"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

func testStage(r *runState, args []string) pipeline.Stage {
	coverage := r.outPath("coverage.out")
	return pipeline.Stage{
		Name:        "test",
		Description: "go test -race with coverage, in the golang image",
		Engine:      true,
		Images:      []string{"go"},
		Caches:      []string{dag.CacheGoMod, dag.CacheGoBuild},
		Artifacts:   []string{coverage},
		Run: func(ctx context.Context, rec *pipeline.Record) error {
			st, err := r.engine(ctx)
			if err != nil {
				return err
			}
			if err := st.WithTestArgs(args).RunTest(ctx, coverage); err != nil {
				return err
			}
			rec.Artifact(coverage)
			return nil
		},
	}
}
