package registry

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// stalled is a registry that accepts connections and never answers.
func stalled(t *testing.T) *httptest.Server {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(stop); srv.Close() })
	return srv
}

func host(srv *httptest.Server) string {
	u, _ := url.Parse(srv.URL)
	return u.Host
}

// Issue 17.10: a registry that never answers fails the push after the
// per-request timeout, with one line naming the registry and the wait.
func TestSilentRegistryTimesOut(t *testing.T) {
	srv := stalled(t)
	repo, _ := ParseRepo(host(srv) + "/acme/app")
	img, _ := random.Image(256, 1)
	start := time.Now()
	_, err := Push(context.Background(), open(t, archives(t, img)["oci-layout"]), repo, []string{"v1"}, fast(),
		WithTimeouts(200*time.Millisecond, time.Minute))
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "registry "+host(srv)+" did not answer") || !strings.Contains(err.Error(), "200ms") ||
		!strings.Contains(err.Error(), "waited") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err %v", err)
	}
	if took > 20*time.Second {
		t.Errorf("a 200ms per-request timeout took %s", took)
	}
	// The overall budget bounds an operation whose every request is slow but
	// within the per-request limit.
	var slow atomic.Int32
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slow.Add(1)
		time.Sleep(150 * time.Millisecond)
		reg.ServeHTTP(w, r)
	}))
	defer srv2.Close()
	repo2, _ := ParseRepo(host(srv2) + "/acme/app")
	_, err = Push(context.Background(), open(t, archives(t, img)["oci-layout"]), repo2, []string{"v1"}, fast(), WithJobs(1),
		WithTimeouts(time.Second, 400*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "registry "+host(srv2)+": gave up after") || !strings.Contains(err.Error(), "overall registry timeout") {
		t.Fatalf("overall: %v (%d requests)", err, slow.Load())
	}
}

// A registry answering 429 or 503 with Retry-After is waited for (as long
// as it asks, within the cap) and the push completes; one that asks for
// longer than the cap, or never recovers, fails at once or after the
// attempts with one line naming it, the status and the wait.
func TestRetryAfterIsHonoured(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
		var busy atomic.Int32
		busy.Store(2)
		var retryAfter atomic.Value
		retryAfter.Store("1")
		var first, again atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/") && busy.Add(-1) >= 0 {
				if first.Load() == 0 {
					first.Store(time.Now().UnixNano())
				}
				w.Header().Set("Retry-After", retryAfter.Load().(string))
				w.WriteHeader(status)
				return
			}
			if r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/") && again.Load() == 0 {
				again.Store(time.Now().UnixNano())
			}
			reg.ServeHTTP(w, r)
		}))
		repo, _ := ParseRepo(host(srv) + "/acme/app")
		img, _ := random.Image(256, 1)
		if _, err := Push(context.Background(), open(t, archives(t, img)["oci-layout"]), repo, []string{"v1"}, fast()); err != nil {
			t.Fatalf("%d with Retry-After: 1 twice: %v", status, err)
		}
		if waited := time.Duration(again.Load() - first.Load()); waited < 2*time.Second-100*time.Millisecond {
			t.Errorf("%d: retried after %s, the registry asked for 1s twice", status, waited)
		}

		// Longer than the cap: refused at once, naming what it asked.
		busy.Store(1000)
		retryAfter.Store("3600")
		start := time.Now()
		_, err := Push(context.Background(), open(t, archives(t, img)["oci-layout"]), repo, []string{"v2"}, fast(), WithRetryAfter(2*time.Second, 3))
		if err == nil || !strings.Contains(err.Error(), "registry "+host(srv)+" answered "+http.StatusText(status)[:0]) ||
			!strings.Contains(err.Error(), "Retry-After 1h0m0s is more than the 2s budget") || time.Since(start) > 20*time.Second {
			t.Errorf("%d with Retry-After 3600: %v", status, err)
		}
		// Never recovers: gives up after the attempts.
		retryAfter.Store("0")
		_, err = Push(context.Background(), open(t, archives(t, img)["oci-layout"]), repo, []string{"v2"}, fast(), WithRetryAfter(2*time.Second, 3))
		if err == nil || !strings.Contains(err.Error(), "3 times") || !strings.Contains(err.Error(), "gave up after 3 attempts") || !strings.Contains(err.Error(), "waited") {
			t.Errorf("%d forever: %v", status, err)
		}
		srv.Close()
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"0": 0, "7": 7 * time.Second, "Sun, 29 Nov 2026 12:00:30 GMT": 30 * time.Second, "Sun, 29 Nov 2026 11:00:00 GMT": 0,
	} {
		if got, ok := retryAfter(v, now); !ok || got != want {
			t.Errorf("Retry-After %q = %s %v, want %s", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "-1", "soon"} {
		if _, ok := retryAfter(v, now); ok {
			t.Errorf("Retry-After %q accepted", v)
		}
	}
}
