package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/registry"
)

// cacheFlags configure the registry-backed cache.
type cacheFlags struct {
	repo          string
	maxSize       int64
	defaultBranch string
}

func bindCacheFlags(f *pflag.FlagSet, cf *cacheFlags) {
	f.StringVar(&cf.repo, "cache-repo", "", "OCI repository for the engine's caches between ephemeral runners (env SLIPWAY_CACHE_REPO; in GitHub Actions default ghcr.io/<repo>/slipway-cache)")
	f.Int64Var(&cf.maxSize, "cache-max-size", 2<<30, "largest cache (bytes) pushed to --cache-repo; a larger one is skipped with a warning (0: no limit)")
	f.StringVar(&cf.defaultBranch, "cache-default-branch", "main", "the branch whose build and lint caches other branches start from")
}

// cacheRepo is the configured cache repository, or "".
func (cf *cacheFlags) cacheRepo() string {
	if r := envDefault(cf.repo, "SLIPWAY_CACHE_REPO", ""); r != "" {
		return r
	}
	if os.Getenv("GITHUB_ACTIONS") == "true" && os.Getenv("GITHUB_REPOSITORY") != "" {
		return "ghcr.io/" + strings.ToLower(os.Getenv("GITHUB_REPOSITORY")) + "/slipway-cache"
	}
	return ""
}

// cacheKeys are the keys each cache volume is restored from (first hit
// wins) and saved under (the first key).
func (run *invocation) cacheKeys() map[string][]string {
	goImg := run.lock.MustGet("go")
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
	def := run.flags.cache.defaultBranch
	lintImg := run.lock.MustGet("golangci-lint")
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
func (run *invocation) pullCaches(ctx context.Context, repo string) (map[string]string, func()) {
	r, err := registry.ParseRepo(repo)
	if err != nil {
		run.o.logf("warning: cache: --cache-repo %s: %v; running cold", repo, err)
		return nil, func() {}
	}
	tmp, err := os.MkdirTemp("", "slipway-cache-restore-")
	if err != nil {
		return nil, func() {}
	}
	keys := run.cacheKeys()
	var mu sync.Mutex
	dirs := map[string]string{}
	var wg sync.WaitGroup
	for vol, ks := range keys {
		wg.Add(1)
		go func(vol string, ks []string) {
			defer wg.Done()
			dir := filepath.Join(tmp, vol)
			st, err := registry.PullCache(ctx, r, ks, dir)
			switch {
			case err != nil:
				run.o.logf("warning: cache: restore %s: %v; it starts cold", vol, err)
			case st.Tag == "":
				run.o.logf("cache: %s: no artifact under %s; it starts cold", vol, strings.Join(ks, ", "))
			default:
				run.o.logf("cache: %s: restored %s (%d files, %d bytes received)", vol, st.Tag, st.Files, st.BlobBytes)
				mu.Lock()
				dirs[vol] = dir
				mu.Unlock()
			}
		}(vol, ks)
	}
	wg.Wait()
	return dirs, func() { os.RemoveAll(tmp) }
}

// saveCaches exports the cache volumes and pushes each under its first key.
// Unchanged buckets upload nothing; a failure warns, never fails the run.
func (run *invocation) saveCaches(ctx context.Context, repo string, st *dag.Stages) {
	r, err := registry.ParseRepo(repo)
	if err != nil {
		run.o.logf("warning: cache: --cache-repo %s: %v; not saved", repo, err)
		return
	}
	tmp, err := os.MkdirTemp("", "slipway-cache-save-")
	if err != nil {
		return
	}
	defer os.RemoveAll(tmp)
	if err := st.ExportCaches(ctx, tmp); err != nil {
		run.o.logf("warning: cache: export from the engine: %v; not saved", dag.ExplainExec("cache", err))
		return
	}
	var wg sync.WaitGroup
	for vol, ks := range run.cacheKeys() {
		wg.Add(1)
		go func(vol, tag string) {
			defer wg.Done()
			stats, err := registry.PushCache(ctx, r, tag, filepath.Join(tmp, vol), run.flags.cache.maxSize)
			if err != nil {
				run.o.logf("warning: cache: save %s: %v", vol, err)
				return
			}
			run.o.logf("cache: %s: saved %s:%s (%d files; %d bytes uploaded)", vol, repo, tag, stats.Files, stats.BlobBytes)
		}(vol, ks[0])
	}
	wg.Wait()
}

// planCaches says which cache would be restored from where.
func (run *invocation) planCaches() []planCache {
	repo := run.flags.cache.cacheRepo()
	if repo == "" {
		return []planCache{}
	}
	var out []planCache
	for _, m := range dag.CacheMounts {
		out = append(out, planCache{Volume: m.Volume, Repository: repo, Keys: run.cacheKeys()[m.Volume]})
	}
	return out
}

type planCache struct {
	Volume     string   `json:"volume"`
	Repository string   `json:"repository"`
	Keys       []string `json:"keys"` // restored from the first that exists; saved under the first
}

func (c planCache) String() string {
	return fmt.Sprintf("%-22s %s:%s", c.Volume, c.Repository, strings.Join(c.Keys, " (else :")+strings.Repeat(")", len(c.Keys)-1))
}
