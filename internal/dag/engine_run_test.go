//go:build engine

package dag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dagger.io/dagger"

	"github.com/slipway-ci/slipway/internal/imagelock"
	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/scan"
	"github.com/slipway-ci/slipway/internal/testenv"
	"github.com/slipway-ci/slipway/internal/version"
)

func stages(t *testing.T) *Stages {
	t.Helper()
	testenv.Engine(t) // the shell's engine, registry and SLIPWAY_IMAGES, on purpose
	if err := Preflight(context.Background(), os.Getenv); err != nil {
		t.Skipf("needs a Dagger engine (GitHub Actions provides one through Docker): %v", err)
	}
	// A team behind a mirror runs these tests with SLIPWAY_IMAGES, as it
	// runs the pipeline.
	lockPath := os.Getenv("SLIPWAY_IMAGES")
	if lockPath == "" {
		lockPath = "../../ci/images.lock"
	}
	lock, err := imagelock.Load(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := version.Detect("../../sample-app")
	src, _ := filepath.Abs("../../sample-app")
	s, err := Open(context.Background(), 10*time.Minute, io.Discard, Config{
		Source: src, Binary: "sample-app", Package: ".", Images: lock, Version: info, GoEnv: HostGoEnv(os.Getenv),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestImageRunsAsNonroot builds, normalizes and imports the image, and runs
// its binary: it must start, report its build info and run as UID 65532.
func TestImageRunsAsNonroot(t *testing.T) {
	s := stages(t)
	ctx := context.Background()
	dir := t.TempDir()
	raw, out := filepath.Join(dir, "raw.tar"), filepath.Join(dir, "image.tar")
	if err := s.ExportImage(ctx, raw); err != nil {
		t.Fatal(err)
	}
	a, err := ocitar.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	img, err := ocitar.Normalize(a.Image, s.cfg.Version.CommitTime)
	if err != nil {
		t.Fatal(err)
	}
	if err := ocitar.Write(out, img, s.cfg.Version.CommitTime); err != nil {
		t.Fatal(err)
	}
	a.Close()
	stdout, err := s.c.Container().Import(s.c.Host().File(out)).
		WithExec([]string{"/app/sample-app", "-version"}).Stdout(ctx)
	if err != nil {
		t.Fatal(ExplainExec("run image", err))
	}
	var bi struct {
		UID     int    `json:"uid"`
		Commit  string `json:"commit"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal([]byte(stdout), &bi); err != nil {
		t.Fatalf("%v: %q", err, stdout)
	}
	if bi.UID != 65532 || bi.Commit != s.cfg.Version.Commit {
		t.Errorf("build info %+v, want uid 65532 and commit %s", bi, s.cfg.Version.Commit)
	}
}

// TestExecErrorIsExplained: a failing step names its command, exit code and output.
func TestExecErrorIsExplained(t *testing.T) {
	s := stages(t)
	_, err := s.GoBase().WithExec([]string{"sh", "-c", "echo compile error: undefined: foo >&2; exit 3"}).Sync(context.Background())
	got := ExplainExec("test", err)
	if got == nil || !strings.Contains(got.Error(), "exited 3") || !strings.Contains(got.Error(), "undefined: foo") || !strings.Contains(got.Error(), "sh -c") {
		t.Errorf("explained: %v", got)
	}
	var ee *dagger.ExecError
	if !errors.As(err, &ee) {
		t.Errorf("not an ExecError: %T", err)
	}
}

// TestCacheMetadataIsReadFresh: the Trivy cache metadata is outside state;
// a second read after the volume changed must see the change (issue 12.19:
// a constant cache-bust served the first, empty answer forever).
func TestCacheMetadataIsReadFresh(t *testing.T) {
	s := stages(t)
	s.cfg.CacheNamespace = fmt.Sprintf("meta-%d", time.Now().UnixNano())
	ctx := context.Background()
	first, err := s.CacheMetadata(ctx, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := scan.ParseCacheState(first); st.DB != nil {
		t.Fatalf("fresh namespace already has a DB: %s", first)
	}
	meta := `{"Version":2,"UpdatedAt":"2026-11-21T06:00:00Z","DownloadedAt":"2026-11-21T08:00:00Z"}`
	_, err = s.TrivyBase(ScanOptions{}).
		WithEnvVariable("SLIPWAY_CACHE_BUST", time.Now().String()).
		WithExec([]string{"sh", "-c", "mkdir -p " + trivyCache + "/db && printf '%s' '" + meta + "' > " + trivyCache + "/db/metadata.json"}, dagger.ContainerWithExecOpts{UseEntrypoint: false}).
		Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.CacheMetadata(ctx, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := scan.ParseCacheState(second); st.DB == nil || st.DB.UpdatedAt.Format(time.RFC3339) != "2026-11-21T06:00:00Z" {
		t.Fatalf("second read did not see the new metadata: %s", second)
	}
}

// TestCachesExportAndRestore: the engine side of --cache-repo. A volume's
// content exported to the host comes back into an empty volume of a fresh
// namespace, and a warm volume is left alone.
func TestCachesExportAndRestore(t *testing.T) {
	s := stages(t)
	ctx := context.Background()
	s.cfg.CacheNamespace = fmt.Sprintf("cache-a-%d", time.Now().UnixNano())
	_, err := s.c.Container().From(s.cfg.Images.MustGet("go").Ref()).
		WithMountedCache(goBuildPath, s.volume(CacheGoBuild)).
		WithEnvVariable("SLIPWAY_CACHE_BUST", time.Now().String()).
		WithExec([]string{"sh", "-c", "mkdir -p " + goBuildPath + "/ab && echo entry > " + goBuildPath + "/ab/x-a"}).
		Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := s.ExportCaches(ctx, dir); err != nil {
		t.Fatal(ExplainExec("export", err))
	}
	if data, err := os.ReadFile(filepath.Join(dir, CacheGoBuild, "ab", "x-a")); err != nil || string(data) != "entry\n" {
		t.Fatalf("exported: %q %v", data, err)
	}
	s.cfg.CacheNamespace = fmt.Sprintf("cache-b-%d", time.Now().UnixNano())
	out, err := s.RestoreCaches(ctx, map[string]string{CacheGoBuild: filepath.Join(dir, CacheGoBuild)})
	if err != nil || !strings.Contains(out, CacheGoBuild) {
		t.Fatalf("restore into an empty volume: %q %v", out, ExplainExec("restore", err))
	}
	got, err := s.c.Container().From(s.cfg.Images.MustGet("go").Ref()).
		WithMountedCache(goBuildPath, s.volume(CacheGoBuild)).
		WithEnvVariable("SLIPWAY_CACHE_BUST", time.Now().String()).
		WithExec([]string{"cat", goBuildPath + "/ab/x-a"}).Stdout(ctx)
	if err != nil || got != "entry\n" {
		t.Fatalf("restored volume: %q %v", got, err)
	}
	if out, err := s.RestoreCaches(ctx, map[string]string{CacheGoBuild: filepath.Join(dir, CacheGoBuild)}); err != nil || strings.Contains(out, CacheGoBuild) {
		t.Errorf("a warm volume was overwritten: %q %v", out, err)
	}
}
