package dag

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"dagger.io/dagger"

	"github.com/slipway-ci/slipway/internal/imagelock"
	"github.com/slipway-ci/slipway/internal/version"
)

// Cache volume names. Plan prints them; a shared engine keeps them between runs.
const (
	CacheGoMod    = "slipway-go-mod"
	CacheGoBuild  = "slipway-go-build"
	CacheLint     = "slipway-golangci-lint"
	CacheTrivy    = "slipway-trivy-db"
	srcDir        = "/src"
	goModPath     = "/go/pkg/mod"
	goBuildPath   = "/root/.cache/go-build"
	lintCachePath = "/root/.cache/golangci-lint"
	trivyCache    = "/root/.cache/trivy"
)

// GoEnvPassthrough lists the host variables the Go containers receive, so a
// corporate module proxy keeps working; nothing else of the host leaks in.
var GoEnvPassthrough = []string{"GOPROXY", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOSUMDB", "GOFLAGS"}

// Config is what the container stages need to know.
type Config struct {
	Source  string // host directory of the app (its own Go module)
	Binary  string // binary name, and the image entrypoint /app/<Binary>
	Package string // main package inside Source, e.g. "."
	Port    int    // exposed port (default 8080)
	Base    string // image-lock name of the base image (default "distroless")
	// LintArgs and TestArgs are extra arguments of golangci-lint run and go test.
	LintArgs []string
	TestArgs []string
	Images   *imagelock.Lock
	Version  version.Info
	GoEnv    map[string]string // values of GoEnvPassthrough present on the host
	// CacheNamespace, when set, gives every cache volume a separate name and
	// every Go exec a separate cache key: a cold build on a warm engine (the
	// reproducibility check builds twice, the second time in a fresh namespace).
	CacheNamespace string
}

// CacheNamespaceEnv is the environment variable that sets Config.CacheNamespace.
const CacheNamespaceEnv = "SLIPWAY_CACHE_NAMESPACE"

// volume is the cache volume of that name in the configured namespace.
func (s *Stages) volume(name string) *dagger.CacheVolume {
	if s.cfg.CacheNamespace != "" {
		name += "-" + s.cfg.CacheNamespace
	}
	return s.c.CacheVolume(name)
}

// Stages builds the pipeline's containers on one Dagger session.
type Stages struct {
	c   *dagger.Client
	cfg Config
}

// New returns the stages for a session.
func New(c *dagger.Client, cfg Config) *Stages { return &Stages{c: c, cfg: cfg} }

// HostGoEnv picks GoEnvPassthrough out of the environment.
func HostGoEnv(getenv Env) map[string]string {
	env := map[string]string{}
	for _, k := range GoEnvPassthrough {
		if v := getenv(k); v != "" {
			env[k] = v
		}
	}
	return env
}

// SourceExclude is what the stages never copy from an app's Source: git's
// data, Slipway's outputs, and go.work: a repository whose ci/ is its own
// module has a go.work (`use . ./ci`) so that `go run ./ci` works from the
// root, but the stages build the app's module alone (the pipeline's module
// and its replace directives are not theirs to resolve).
var SourceExclude = []string{".git", "out", "**/*.test", "coverage.out", "go.work", "go.work.sum"}

// goEnv is the fixed Go environment of every Go container: the caches, and
// no workspace (GOWORK=off), whatever the source holds.
func goEnv() [][2]string {
	return [][2]string{{"GOMODCACHE", goModPath}, {"GOCACHE", goBuildPath}, {"GOWORK", "off"}}
}

func (s *Stages) source() *dagger.Directory {
	return s.c.Host().Directory(s.cfg.Source, dagger.HostDirectoryOpts{Exclude: SourceExclude})
}

// withGo mounts the module and build caches and the Go environment on a
// container that has a Go toolchain, then downloads modules from go.mod and
// go.sum alone, before the source is copied: a code change reuses that layer.
func (s *Stages) withGo(ctr *dagger.Container) *dagger.Container {
	ctr = ctr.
		WithMountedCache(goModPath, s.volume(CacheGoMod)).
		WithMountedCache(goBuildPath, s.volume(CacheGoBuild))
	for _, kv := range goEnv() {
		ctr = ctr.WithEnvVariable(kv[0], kv[1])
	}
	if s.cfg.CacheNamespace != "" {
		ctr = ctr.WithEnvVariable(CacheNamespaceEnv, s.cfg.CacheNamespace)
	}
	keys := make([]string, 0, len(s.cfg.GoEnv))
	for k := range s.cfg.GoEnv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ctr = ctr.WithEnvVariable(k, s.cfg.GoEnv[k])
	}
	mods := s.c.Host().Directory(s.cfg.Source, dagger.HostDirectoryOpts{Include: []string{"go.mod", "go.sum"}})
	return ctr.
		WithWorkdir(srcDir).
		WithDirectory(srcDir, mods).
		WithExec([]string{"go", "mod", "download"}).
		WithDirectory(srcDir, s.source())
}

// GoBase is the golang container with caches and source.
func (s *Stages) GoBase() *dagger.Container {
	return s.withGo(s.c.Container().From(s.cfg.Images.MustGet("go").Ref()))
}

// Lint runs golangci-lint v2 with the app's .golangci.yml.
func (s *Stages) Lint() *dagger.Container {
	ctr := s.withGo(s.c.Container().From(s.cfg.Images.MustGet("golangci-lint").Ref())).
		WithMountedCache(lintCachePath, s.volume(CacheLint)).
		WithEnvVariable("GOLANGCI_LINT_CACHE", lintCachePath)
	args := append([]string{"golangci-lint", "run", "--config", ".golangci.yml", "--timeout", "5m"}, s.cfg.LintArgs...)
	return ctr.WithExec(append(args, "./..."))
}

// CoveragePath is where Test leaves the coverage profile inside its container.
const CoveragePath = "/tmp/coverage.out"

// Test runs the race-enabled unit tests (cgo on: -race needs it) with coverage.
func (s *Stages) Test() *dagger.Container {
	return s.GoBase().
		WithEnvVariable("CGO_ENABLED", "1").
		WithExec(append(append([]string{"go", "test", "-race", "-covermode=atomic", "-coverprofile=" + CoveragePath}, s.cfg.TestArgs...), "./..."))
}

// Binary is the static, stamped, reproducible binary.
func (s *Stages) Binary() *dagger.File {
	v := s.cfg.Version
	ldflags := strings.Join([]string{
		"-s", "-w",
		"-X", "main.version=" + v.Version(),
		"-X", "main.commit=" + orUnknown(v.Commit),
		"-X", "main.date=" + v.CommitTime.Format(time.RFC3339),
	}, " ")
	out := "/out/" + s.cfg.Binary
	return s.GoBase().
		WithEnvVariable("CGO_ENABLED", "0").
		WithEnvVariable("SOURCE_DATE_EPOCH", fmt.Sprint(v.CommitTime.Unix())).
		WithExec([]string{"go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, s.cfg.Package}).
		File(out)
}

// Image is the final image: distroless static, nonroot, OCI labels.
func (s *Stages) Image() *dagger.Container {
	entry := "/app/" + s.cfg.Binary
	base, port := s.cfg.Base, s.cfg.Port
	if base == "" {
		base = "distroless"
	}
	if port == 0 {
		port = 8080
	}
	ctr := s.c.Container().From(s.cfg.Images.MustGet(base).Ref()).
		WithFile(entry, s.Binary(), dagger.ContainerWithFileOpts{Permissions: 0o555, Owner: "0:0"}).
		WithUser("65532:65532").
		WithWorkdir("/").
		WithEntrypoint([]string{entry}).
		WithExposedPort(port)
	labels := s.cfg.Version.Labels()
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ctr = ctr.WithLabel(k, labels[k])
	}
	return ctr
}

// ScanOptions configure the Trivy container.
type ScanOptions struct {
	Severity               string   // reported severities; the gate filters again in Go
	DBRepository           string   // mirror for the vulnerability DB
	JavaDBRepository       string   // mirror for the Java DB
	ChecksBundleRepository string   // mirror for the misconfiguration checks bundle
	SecretEnv              []string // host variables passed as *dagger.Secret (TRIVY_USERNAME, TRIVY_PASSWORD)
	// CacheBust changes every run. The metadata read and the refresh carry
	// it (their answer is outside state, never to be served from the
	// engine's cache); the scan never does.
	CacheBust string
	// ScanKey names the DB and checks the scan reads (scan.CacheState.ScanKey):
	// the scan exec is keyed on it and on nothing about how they got into
	// the cache, so a cold run (which downloaded them) and the next warm run
	// (which did not) are one cache entry; a new DB re-scans.
	ScanKey string
}

// TrivyBase is the Trivy container with its DB cache volume mounted.
func (s *Stages) TrivyBase(opts ScanOptions) *dagger.Container {
	ctr := s.c.Container().From(s.cfg.Images.MustGet("trivy").Ref()).
		WithMountedCache(trivyCache, s.volume(CacheTrivy)).
		WithEnvVariable("TRIVY_CACHE_DIR", trivyCache).
		WithEnvVariable("TRIVY_NO_PROGRESS", "true").
		WithEnvVariable("TRIVY_DISABLE_VEX_NOTICE", "true")
	for _, name := range opts.SecretEnv {
		// The value stays in the host's environment: the engine resolves the
		// env:// URI itself, so it never passes through Slipway or its logs.
		ctr = ctr.WithSecretVariable(name, s.c.Secret("env://"+name))
	}
	return ctr
}

// Refresh downloads, in one exec, what the Trivy cache volume lacks or holds
// too old: the vulnerability DB (db) and the misconfiguration checks bundle
// (checks, fetched by a `trivy config` of an empty directory), from the
// mirrors and with the credentials of opts. The scan itself never
// downloads: it reads what this left.
func (s *Stages) Refresh(ctx context.Context, opts ScanOptions, db, checks bool) error {
	script := refreshScript(opts, db, checks)
	if script == "" {
		return nil
	}
	bust := opts.CacheBust
	if bust == "" {
		bust = time.Now().UTC().Format(time.RFC3339Nano)
	}
	_, err := s.TrivyBase(opts).WithEnvVariable("SLIPWAY_CACHE_BUST", bust).
		WithExec([]string{"sh", "-c", script}, dagger.ContainerWithExecOpts{UseEntrypoint: false}).Sync(ctx)
	return err
}

// refreshScript is Refresh's shell script ("" when there is nothing to do).
func refreshScript(opts ScanOptions, db, checks bool) string {
	var cmds []string
	if db {
		args := []string{"trivy", "image", "--download-db-only", "--no-progress", "--skip-version-check"}
		if opts.DBRepository != "" {
			args = append(args, "--db-repository", opts.DBRepository)
		}
		cmds = append(cmds, shellJoin(args))
	}
	if checks {
		args := []string{"trivy", "config", "--quiet", "--skip-version-check", "--exit-code", "0"}
		if opts.ChecksBundleRepository != "" {
			args = append(args, "--checks-bundle-repository", opts.ChecksBundleRepository)
		}
		cmds = append(cmds, "mkdir -p /tmp/slipway-empty && "+shellJoin(append(args, "/tmp/slipway-empty"))+" >/dev/null")
	}
	if len(cmds) == 0 {
		return ""
	}
	return "set -e\n" + strings.Join(cmds, "\n")
}

// cacheStateScript prints {"db":<db/metadata.json or null>,"checks":<policy/metadata.json or null>}.
const cacheStateScript = `printf '{"db":%s,"checks":%s}' "$(cat ` + trivyCache + `/db/metadata.json 2>/dev/null || echo null)" "$(cat ` + trivyCache + `/policy/metadata.json 2>/dev/null || echo null)"`

// CacheMetadata reads the DB's and the checks bundle's metadata from the
// Trivy cache volume in one exec (parse it with scan.ParseCacheState). It
// always carries opts.CacheBust: outside state must be read, not recalled.
func (s *Stages) CacheMetadata(ctx context.Context, opts ScanOptions) (string, error) {
	if opts.CacheBust == "" {
		opts.CacheBust = time.Now().UTC().Format(time.RFC3339Nano)
	}
	return s.TrivyBase(opts).
		WithEnvVariable("SLIPWAY_CACHE_BUST", opts.CacheBust).
		WithExec([]string{"sh", "-c", cacheStateScript}, dagger.ContainerWithExecOpts{UseEntrypoint: false}).
		Stdout(ctx)
}

// Scan runs `trivy image --input` over the image tarball (every package
// listed), and `trivy config` over the deploy manifests, writing both JSON
// reports to /out; then `trivy convert` turns the image report into the
// CycloneDX SBOM /out/sbom.cdx.json: one pass over the tarball, no other tool.
func (s *Stages) Scan(tarball *dagger.File, manifests *dagger.Directory, opts ScanOptions) *dagger.Container {
	image, config, sbom := scanCommands(opts)
	ctr := s.TrivyBase(opts).
		WithMountedFile("/in/image.tar", tarball).
		WithMountedDirectory("/in/manifests", manifests).
		// /out as a directory, not a `mkdir` exec: one container start fewer.
		WithDirectory("/out", s.c.Directory()).
		WithEnvVariable("SLIPWAY_TRIVY_STATE", opts.ScanKey)
	// One container step instead of two, and the two scans run at once.
	return ctr.WithExec([]string{"sh", "-c", scanScript(image, config, sbom)}, dagger.ContainerWithExecOpts{UseEntrypoint: false})
}

// scanCommands are the scan's three commands. They never download (Refresh
// did, before): the same for a cold and a warm run, so the scan's cache key
// is the image, the manifests and opts.ScanKey, never how the DB got there.
func scanCommands(opts ScanOptions) (image, config, sbom []string) {
	// The scan cache in memory: Trivy's default (BoltDB in the cache
	// directory) admits one process at a time, and two run here.
	common := []string{"--format", "json", "--severity", opts.Severity, "--exit-code", "0", "--skip-version-check", "--quiet", "--cache-backend", "memory"}
	image = append([]string{"trivy", "image", "--input", "/in/image.tar", "--scanners", "vuln,secret,misconfig", "--list-all-pkgs", "--output", "/out/trivy-image.json"}, common...)
	// The cached checks bundle, else Trivy's embedded checks: never the
	// bundle's registry (an air-gapped runner would hang on it).
	image = append(image, "--skip-db-update", "--skip-java-db-update", "--skip-check-update")
	// The manifest scan uses a copy of the cached checks bundle in a cache
	// directory of its own, because two Trivy processes on one cache
	// directory contend for its lock.
	config = append([]string{"trivy", "config", "--cache-dir", "/tmp/trivy-config", "--skip-check-update", "--output", "/out/trivy-config.json"}, common...)
	config = append(config, "/in/manifests")
	sbom = []string{"trivy", "convert", "--format", "cyclonedx", "--quiet", "--output", "/out/sbom.cdx.json", "/out/trivy-image.json"}
	return image, config, sbom
}

// scanScript runs both Trivy scans concurrently in one exec, then the SBOM
// conversion of the image report, and fails, naming the command and its
// output, if any does.
func scanScript(image, config, sbom []string) string {
	return fmt.Sprintf(`mkdir -p /tmp/trivy-config && cp -r %[1]s/policy /tmp/trivy-config/ 2>/dev/null
%[3]s 2>/tmp/config.err & cfg=$!
%[2]s 2>/tmp/image.err; img=$?
bom=0
if [ $img -eq 0 ]; then %[4]s 2>/tmp/sbom.err; bom=$?; fi
wait $cfg; conf=$?
if [ $img -ne 0 ]; then echo "trivy image exited $img:" >&2; cat /tmp/image.err >&2; fi
if [ $conf -ne 0 ]; then echo "trivy config exited $conf:" >&2; cat /tmp/config.err >&2; fi
if [ $bom -ne 0 ]; then echo "trivy convert (SBOM) exited $bom:" >&2; cat /tmp/sbom.err >&2; fi
[ $img -eq 0 ] && [ $conf -eq 0 ] && [ $bom -eq 0 ]`, trivyCache, shellJoin(image), shellJoin(config), shellJoin(sbom))
}

// shellJoin quotes arguments for sh.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// ExplainExec turns a failed container command into an error that names the
// command, its exit code and the tail of its output, not just "exit code 1".
func ExplainExec(stage string, err error) error {
	if err == nil {
		return nil
	}
	var ee *dagger.ExecError
	if errors.As(err, &ee) {
		out := ee.Stderr
		if strings.TrimSpace(out) == "" {
			out = ee.Stdout
		}
		return fmt.Errorf("%s: `%s` exited %d:\n%s", stage, strings.Join(ee.Cmd, " "), ee.ExitCode, Tail(out, 30))
	}
	return fmt.Errorf("%s: %w", stage, err)
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines above)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// ExportFile writes a container file to the host, creating the directory.
func ExportFile(ctx context.Context, f *dagger.File, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	_, err := f.Export(ctx, path)
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// CacheMounts are the cache volumes a registry-backed cache carries between
// ephemeral engines, with where they are mounted.
var CacheMounts = []struct{ Volume, Path string }{
	{CacheGoMod, goModPath}, {CacheGoBuild, goBuildPath}, {CacheLint, lintCachePath}, {CacheTrivy, trivyCache},
}

// RestoreCaches copies host directories (volume name → directory) into the
// cache volumes that are empty, in one exec, and returns what it restored. A
// warm volume is left alone: a long-lived engine keeps its own.
func (s *Stages) RestoreCaches(ctx context.Context, dirs map[string]string) (string, error) {
	ctr := s.c.Container().From(s.cfg.Images.MustGet("go").Ref()).
		WithEnvVariable("SLIPWAY_CACHE_BUST", time.Now().UTC().Format(time.RFC3339Nano))
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, m := range CacheMounts {
		dir, ok := dirs[m.Volume]
		if !ok {
			continue
		}
		src := "/restore/" + m.Volume
		ctr = ctr.WithMountedCache(m.Path, s.volume(m.Volume)).
			WithDirectory(src, s.c.Host().Directory(dir))
		fmt.Fprintf(&script, "if [ -z \"$(ls -A %s 2>/dev/null)\" ]; then cp -a %s/. %s/ && echo %s; fi\n", m.Path, src, m.Path, m.Volume)
	}
	return ctr.WithExec([]string{"sh", "-c", script.String()}, dagger.ContainerWithExecOpts{UseEntrypoint: false}).Stdout(ctx)
}

// ExportCaches copies every cache volume to hostDir/<volume> in one exec and
// one export.
func (s *Stages) ExportCaches(ctx context.Context, hostDir string) error {
	ctr := s.c.Container().From(s.cfg.Images.MustGet("go").Ref()).
		WithEnvVariable("SLIPWAY_CACHE_BUST", time.Now().UTC().Format(time.RFC3339Nano))
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, m := range CacheMounts {
		ctr = ctr.WithMountedCache(m.Path, s.volume(m.Volume))
		fmt.Fprintf(&script, "mkdir -p /export/%s && cp -a %s/. /export/%s/ 2>/dev/null || true\n", m.Volume, m.Path, m.Volume)
	}
	_, err := ctr.WithExec([]string{"sh", "-c", script.String()}, dagger.ContainerWithExecOpts{UseEntrypoint: false}).
		Directory("/export").Export(ctx, hostDir)
	return err
}
