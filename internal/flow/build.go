package flow

import (
	"context"
	"fmt"
	"os"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

func lintStage(r *App, args []string) pipeline.Stage {
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

func testStage(r *App, args []string) pipeline.Stage {
	coverage := r.OutPath("coverage.out")
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

func buildStage(r *App) pipeline.Stage {
	tarball := r.OutPath("image.tar")
	return pipeline.Stage{
		Name:        "build",
		Description: "static binary on distroless nonroot, OCI labels, reproducible (created = commit time)",
		Needs:       []string{"lint", "test"},
		Engine:      true,
		Images:      []string{"go", "distroless"},
		Caches:      []string{dag.CacheGoMod, dag.CacheGoBuild},
		Artifacts:   []string{tarball},
		Run: func(ctx context.Context, rec *pipeline.Record) error {
			// A build replaces the image record whatever happens: a failed
			// build leaves no earlier image for scan and push to pick up.
			r.Update(func(res *pipeline.Result) { res.Image = pipeline.ImageResult{} })
			st, err := r.engine(ctx)
			if err != nil {
				return err
			}
			raw := r.OutPath(".image-export.tar")
			defer os.Remove(raw)
			if err := st.ExportImage(ctx, raw); err != nil {
				return err
			}
			digest, err := normalizeImage(raw, tarball, r)
			if err != nil {
				return fmt.Errorf("build: %w", err)
			}
			r.Update(func(res *pipeline.Result) {
				res.Image = pipeline.ImageResult{Tarball: tarball, Digest: digest}
			})
			rec.Artifact(tarball)
			rec.Set("digest", digest)
			return nil
		},
	}
}

// normalizeImage rewrites the engine's export so that two builds of one
// commit have one digest: every timestamp becomes the commit time.
func normalizeImage(raw, out string, r *App) (string, error) {
	a, err := ocitar.Open(raw)
	if err != nil {
		return "", err
	}
	defer a.Close()
	if a.Image == nil {
		return "", fmt.Errorf("engine exported a multi-platform index; the build stage makes one image")
	}
	in := r.Inputs()
	img, err := ocitar.Normalize(a.Image, in.CommitTime)
	if err != nil {
		return "", err
	}
	if err := ocitar.Write(out, img, in.CommitTime, r.Spec.Name+":"+in.Version()); err != nil {
		return "", fmt.Errorf("write %s: %w", out, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}
