package registry

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/slipway-ci/slipway/internal/testenv"
)

// slack is how far the wait a message reports may be from the wall time the
// test measured around the whole operation (rounding, scheduling on a
// loaded 2-core machine, the test's own setup of the push).
const slack = 1500 * time.Millisecond

var waitedRE = regexp.MustCompile(`(?:waited|gave up after) ([0-9.]+(?:ms|s|m|h)(?:[0-9.]+(?:ms|s))?)`)

// reportedWait is the wait an error message states.
func reportedWait(t *testing.T, msg string) time.Duration {
	t.Helper()
	m := waitedRE.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("the error states no wait: %s", msg)
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatalf("wait %q in %s: %v", m[1], msg, err)
	}
	return d
}

// checkWait: the reported wait is the operation's wall time.
func checkWait(t *testing.T, msg string, elapsed time.Duration) {
	t.Helper()
	t.Logf("measured %s: %s", elapsed, msg)
	got := reportedWait(t, msg)
	if got > elapsed+100*time.Millisecond || elapsed-got > slack {
		t.Errorf("reported %s waited, measured %s: %s", got, elapsed, msg)
	}
}

// silentTLS accepts TCP connections and never answers a TLS handshake.
func silentTLS(t *testing.T) net.Listener {
	t.Helper()
	return testenv.Silent(t)
}

// Issue 17 (trust, item 2): a registry that accepts the connection and
// never speaks TLS fails after the per-request limit with one line naming
// it, and the wait it states is the wall time from the operation's start.
// The transport's own handshake limit (ggcr's default is 10 s against
// Slipway's 60 s, scaled down here) neither ends the request early with a
// bare "TLS handshake timeout" nor sets off a second retry layer.
func TestSilentTLSReportsWallTime(t *testing.T) {
	ln := silentTLS(t)
	base := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, ln.Addr().String())
		},
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 100 * time.Millisecond,
	}
	repo, err := name.NewRepository("registry.slipway.test/acme/app")
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(256, 1)
	a := open(t, archives(t, img)["oci-layout"])
	start := time.Now()
	_, err = Push(context.Background(), a, repo, []string{"v1"}, fast(), WithTransport(base), WithTimeouts(time.Second, time.Minute))
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("a registry that never speaks TLS took the push")
	}
	msg := err.Error()
	if !strings.Contains(msg, "registry registry.slipway.test") || !strings.Contains(msg, "per-request registry timeout") || strings.Contains(msg, "\n") {
		t.Fatalf("want one line naming the registry and the per-request timeout: %s", msg)
	}
	checkWait(t, msg, elapsed)
}

// A registry answering 429 with Retry-After: 3600, on every request or only
// on the blob upload (a streamed body), fails at once: one line naming the
// registry, the status, the Retry-After and the budget, the wait stated
// being the wall time.
func TestLongRetryAfterFailsAtOnce(t *testing.T) {
	for _, only := range []string{"", http.MethodPatch, http.MethodPut} {
		t.Run("on "+orDash(only), func(t *testing.T) {
			reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if only == "" || (r.Method == only && strings.Contains(r.URL.Path, "/blobs/uploads/")) {
					hits.Add(1)
					w.Header().Set("Retry-After", "3600")
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				reg.ServeHTTP(w, r)
			}))
			defer srv.Close()
			repo, _ := ParseRepo(host(srv) + "/acme/app")
			img, _ := random.Image(4096, 1)
			a := open(t, archives(t, img)["oci-layout"])
			start := time.Now()
			_, err := Push(context.Background(), a, repo, []string{"v1"}, fast(), WithJobs(1))
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("pushed through 429s")
			}
			msg := err.Error()
			for _, want := range []string{"registry " + host(srv), "429", "Retry-After 1h0m0s", "budget"} {
				if !strings.Contains(msg, want) {
					t.Errorf("%q does not name %q", msg, want)
				}
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("the registry was asked %d times after it said to come back in an hour", n)
			}
			checkWait(t, msg, elapsed)
		})
	}
}

// A 503 with Retry-After: 1, then 200, on any request (a blob upload's
// streamed body included), is waited out by Slipway's one policy: the push
// completes, each refused request sent again once.
func TestShortRetryAfterThenSuccess(t *testing.T) {
	for _, only := range []string{http.MethodGet, http.MethodPatch, http.MethodPut} {
		t.Run("on "+only, func(t *testing.T) {
			reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
			var refused atomic.Bool
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == only && !refused.Load() && (only == http.MethodGet || strings.Contains(r.URL.Path, "/blobs/uploads/")) {
					refused.Store(true)
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				hits.Add(1)
				reg.ServeHTTP(w, r)
			}))
			defer srv.Close()
			repo, _ := ParseRepo(host(srv) + "/acme/app")
			img, _ := random.Image(4096, 1)
			res, err := Push(context.Background(), open(t, archives(t, img)["oci-layout"]), repo, []string{"v1"}, fast(), WithJobs(1))
			if err != nil {
				t.Fatalf("503 once, then 200: %v", err)
			}
			if !refused.Load() || len(res.Tags) != 1 {
				t.Fatalf("refused %v, tags %v", refused.Load(), res.Tags)
			}
		})
	}
}
