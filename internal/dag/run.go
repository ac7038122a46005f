package dag

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// The Run* functions evaluate one stage each: the only places, with
// CacheMetadata, where the pipeline waits on the engine.

// RunLint runs the linter.
func (s *Stages) RunLint(ctx context.Context) error {
	_, err := s.Lint().Sync(ctx)
	return ExplainExec("lint", err)
}

// RunTest runs the tests and exports the coverage profile to coverageOut.
func (s *Stages) RunTest(ctx context.Context, coverageOut string) error {
	ctr, err := s.Test().Sync(ctx)
	if err != nil {
		return ExplainExec("test", err)
	}
	if err := ExportFile(ctx, ctr.File(CoveragePath), coverageOut); err != nil {
		return fmt.Errorf("test: export coverage: %w", err)
	}
	return nil
}

// ExportImage builds the image and writes the engine's export (an OCI layout
// tar with a Docker manifest.json) to path. The caller normalizes it.
func (s *Stages) ExportImage(ctx context.Context, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	_, err := s.Image().Export(ctx, path)
	return ExplainExec("build", err)
}

// RunScan scans the image tarball and the manifests directory (host paths)
// and exports trivy-image.json, trivy-config.json and sbom.cdx.json into outDir.
func (s *Stages) RunScan(ctx context.Context, tarball, manifests, outDir string, opts ScanOptions) error {
	ctr, err := s.Scan(s.c.Host().File(tarball), s.c.Host().Directory(manifests), opts).Sync(ctx)
	if err != nil {
		return ExplainExec("scan", err)
	}
	for _, name := range []string{"trivy-image.json", "trivy-config.json", "sbom.cdx.json"} {
		if err := ExportFile(ctx, ctr.File("/out/"+name), filepath.Join(outDir, name)); err != nil {
			return fmt.Errorf("scan: export %s: %w", name, err)
		}
	}
	return nil
}
