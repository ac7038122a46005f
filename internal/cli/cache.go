package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/flow"
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

// planCaches says which cache would be restored from where.
func planCaches(run *flow.Run, repo string) []planCache {
	if repo == "" {
		return []planCache{}
	}
	var out []planCache
	for _, m := range dag.CacheMounts {
		out = append(out, planCache{Volume: m.Volume, Repository: repo, Keys: run.CacheKeys()[m.Volume]})
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
