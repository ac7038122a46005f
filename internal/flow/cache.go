package flow

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/registry"
)

// CacheSettings configure the registry-backed cache of the engine's volumes.
type CacheSettings struct {
	// Repo is the OCI repository the caches live in ("" none).
	Repo string
	// MaxSize is the largest cache pushed (bytes; 0 no limit).
	MaxSize int64
	// DefaultBranch is the branch whose build and lint caches other branches start from.
	DefaultBranch string
}

// CacheKeys are the keys each cache volume is restored from (first hit
// wins) and saved under (the first key).
func (run *Run) CacheKeys() map[string][]string {
	goImg := run.opts.Lock.MustGet("go")
	goVersion := goImg.Tag + "-" + strings.TrimPrefix(goImg.Digest, "sha256:")[:12]
	var sums [][]byte
	for _, r := range run.apps {
		if data, err := os.ReadFile(filepath.Join(r.Src, "go.sum")); err == nil {
			sums = append(sums, data)
		}
	}
	branch := ""
	if len(run.apps) > 0 {
		branch = run.apps[0].Version.Branch
	}
	def := run.opts.Cache.DefaultBranch
	lintImg := run.opts.Lock.MustGet("golangci-lint")
	return map[string][]string{
		dag.CacheGoMod:   registry.GoModCacheKeys(sums, goVersion),
		dag.CacheGoBuild: registry.BranchCacheKeys("gobuild", goVersion, branch, def),
		dag.CacheLint:    registry.BranchCacheKeys("golangci-lint", lintImg.Tag, branch, def),
		dag.CacheTrivy:   {registry.CacheTag("trivy", "db")},
	}
}

// pullCaches fetches every cache artifact into a temp directory on the host
// (concurrently, and while the engine session opens). A failure warns: the
// run goes on cold.
func (run *Run) pullCaches(ctx context.Context, repo string) (map[string]string, func()) {
	r, err := registry.ParseRepo(repo)
	if err != nil {
		run.logf("warning: cache: --cache-repo %s: %v; running cold", repo, err)
		return nil, func() {}
	}
	tmp, err := os.MkdirTemp("", "slipway-cache-restore-")
	if err != nil {
		return nil, func() {}
	}
	keys, kc := run.CacheKeys(), run.cacheKeychain()
	var mu sync.Mutex
	dirs := map[string]string{}
	var wg sync.WaitGroup
	for vol, ks := range keys {
		wg.Add(1)
		go func(vol string, ks []string) {
			defer wg.Done()
			dir := filepath.Join(tmp, vol)
			st, err := registry.PullCache(ctx, r, ks, dir, kc)
			switch {
			case err != nil:
				run.logf("warning: cache: restore %s: %v; it starts cold", vol, err)
			case st.Tag == "":
				run.logf("cache: %s: no artifact under %s; it starts cold", vol, strings.Join(ks, ", "))
			default:
				run.logf("cache: %s: restored %s (%d files, %d bytes received)", vol, st.Tag, st.Files, st.BlobBytes)
				mu.Lock()
				dirs[vol] = dir
				mu.Unlock()
			}
		}(vol, ks)
	}
	wg.Wait()
	return dirs, func() { os.RemoveAll(tmp) }
}

// cacheKeychain is the push's credential resolution for the cache
// repository: REGISTRY_USERNAME/PASSWORD bound to their one registry
// (Host.CredentialHost), GITHUB_TOKEN for ghcr.io, the Docker config. When
// that registry is unknown the cache still runs (it never fails a run) with
// no static pair, saying why.
func (run *Run) cacheKeychain() registry.Option {
	host, err := run.host.CredentialHost()
	if err != nil {
		run.logf("warning: cache: %v; the cache repository gets no REGISTRY_USERNAME/PASSWORD", err)
		host = ""
	}
	return registry.WithKeychain(registry.Learning(registry.KeychainFor(host, os.Getenv), run.opts.Learn))
}

// saveCaches exports the cache volumes and pushes each under its first key.
// Unchanged buckets upload nothing; a failure warns, never fails the run.
func (run *Run) saveCaches(ctx context.Context, repo string, st *dag.Stages) {
	r, err := registry.ParseRepo(repo)
	if err != nil {
		run.logf("warning: cache: --cache-repo %s: %v; not saved", repo, err)
		return
	}
	tmp, err := os.MkdirTemp("", "slipway-cache-save-")
	if err != nil {
		return
	}
	defer os.RemoveAll(tmp)
	if err := st.ExportCaches(ctx, tmp); err != nil {
		run.logf("warning: cache: export from the engine: %v; not saved", dag.ExplainExec("cache", err))
		return
	}
	kc := run.cacheKeychain()
	var wg sync.WaitGroup
	for vol, ks := range run.CacheKeys() {
		wg.Add(1)
		go func(vol, tag string) {
			defer wg.Done()
			stats, err := registry.PushCache(ctx, r, tag, filepath.Join(tmp, vol), run.opts.Cache.MaxSize, kc)
			if err != nil {
				run.logf("warning: cache: save %s: %v", vol, err)
				return
			}
			run.logf("cache: %s: saved %s:%s (%d files; %d bytes uploaded)", vol, repo, tag, stats.Files, stats.BlobBytes)
		}(vol, ks[0])
	}
	wg.Wait()
}
