package flow

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/imagelock"
	"github.com/slipway-ci/slipway/internal/registry"
)

// credHost binds the static registry credentials to one registry.
type credHost struct {
	stubHost
	host string
}

func (h *credHost) CredentialHost() (string, error) { return h.host, nil }

// Issue 17 (trust, item 4b): the engine cache's registry gets the push's
// credential resolution: REGISTRY_USERNAME/PASSWORD bound to the one
// registry the command line names (not only to REGISTRY_HOST), so a cache
// on the images' registry behind basic auth is restored.
func TestCacheUsesThePushCredentials(t *testing.T) {
	const user, pass = "ci", "cache-password-0123456789"
	reg := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	t.Setenv("REGISTRY_USERNAME", user)
	t.Setenv("REGISTRY_PASSWORD", pass)
	t.Setenv("REGISTRY_HOST", "")

	data, err := os.ReadFile("../../ci/images.lock")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := imagelock.Parse("ci/images.lock", data)
	if err != nil {
		t.Fatal(err)
	}
	repoName := host + "/acme/slipway-cache"
	repo, err := registry.ParseRepo(repoName)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "db"), []byte("trivy db"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := registry.PushCache(context.Background(), repo, registry.CacheTag("trivy", "db"), src, 0,
		registry.WithKeychain(registry.KeychainFor(host, os.Getenv))); err != nil {
		t.Fatalf("seed the cache: %v", err)
	}

	var (
		mu     sync.Mutex // Options.Log is called from the pulls' goroutines
		logged strings.Builder
	)
	run := &Run{opts: Options{Lock: lock, Log: func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged.WriteString(strings.TrimSpace(f) + "\n")
	}}, host: &credHost{host: host}}
	dirs, done := run.pullCaches(context.Background(), repoName)
	defer done()
	if dirs[dag.CacheTrivy] == "" {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the cache on the images' registry was not restored with the bound credentials:\n%s", logged.String())
	}
}
