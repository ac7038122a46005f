package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

func buildStage(r *runState) pipeline.Stage {
	tarball := r.outPath("image.tar")
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
			r.update(func(res *pipeline.Result) { res.Image = pipeline.ImageResult{} })
			st, err := r.engine(ctx)
			if err != nil {
				return err
			}
			raw := r.outPath(".image-export.tar")
			defer os.Remove(raw)
			if err := st.ExportImage(ctx, raw); err != nil {
				return err
			}
			digest, err := normalizeImage(raw, tarball, r)
			if err != nil {
				return fmt.Errorf("build: %w", err)
			}
			r.update(func(res *pipeline.Result) {
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
func normalizeImage(raw, out string, r *runState) (string, error) {
	a, err := ocitar.Open(raw)
	if err != nil {
		return "", err
	}
	defer a.Close()
	if a.Image == nil {
		return "", fmt.Errorf("engine exported a multi-platform index; the build stage makes one image")
	}
	in := r.inputs()
	img, err := ocitar.Normalize(a.Image, in.CommitTime)
	if err != nil {
		return "", err
	}
	if err := ocitar.Write(out, img, in.CommitTime, r.app.Name+":"+in.Version()); err != nil {
		return "", fmt.Errorf("write %s: %w", out, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}
