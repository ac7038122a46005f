package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestConcurrentPushesOfOneTag: seven pushes of different digests under the
// same tag, at once, against ggcr's registry and Debian's docker-registry.
// Every tag is read back after it is written: the push whose digest the tag
// finally names is the only one that succeeds; every other exits with
// ErrTagMove or ErrTagMoved naming the tag. Before the read-back, six or
// seven succeeded and printed the tag.
func TestConcurrentPushesOfOneTag(t *testing.T) {
	hosts := map[string]func(*testing.T) string{
		"ggcr": func(t *testing.T) string {
			s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
			t.Cleanup(s.Close)
			return strings.TrimPrefix(s.URL, "http://")
		},
		"distribution": distribution,
	}
	for impl, start := range hosts {
		t.Run(impl, func(t *testing.T) {
			host := start(t)
			repo, _ := ParseRepo(host + "/acme/app")
			for round := range 3 {
				tag := fmt.Sprintf("release-1.%d", round)
				const n = 7
				type outcome struct {
					digest string
					err    error
				}
				outs := make([]outcome, n)
				var wg sync.WaitGroup
				ready := make(chan struct{})
				for i := range n {
					img, _ := random.Image(int64(512+i*97), 1)
					a := open(t, archives(t, img)["oci-layout"])
					d, _ := a.Digest()
					outs[i].digest = d.String()
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-ready
						// Signing and attaching take a while, differently for each.
						jitter := WithBeforeTag(func(context.Context, string) error {
							time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
							return nil
						})
						_, outs[i].err = Push(t.Context(), a, repo, []string{tag}, jitter, fast())
					}()
				}
				close(ready)
				wg.Wait()
				desc, err := remote.Head(repo.Tag(tag))
				if err != nil {
					t.Fatal(err)
				}
				final := desc.Digest.String()
				var won []string
				for _, o := range outs {
					switch {
					case o.err == nil:
						won = append(won, o.digest)
					case !errors.Is(o.err, ErrTagMove) && !errors.Is(o.err, ErrTagMoved):
						t.Errorf("round %d: a losing push failed for another reason: %v", round, o.err)
					case !strings.Contains(o.err.Error(), tag):
						t.Errorf("round %d: the refusal does not name the tag: %v", round, o.err)
					}
				}
				if len(won) != 1 || won[0] != final {
					t.Fatalf("round %d: %d pushes succeeded %v; the tag names %s: only its push may succeed", round, len(won), won, final)
				}
			}
		})
	}
}

// TestSettleFollowsTheRegistrysPace: the read-back waits at least tagSettle,
// longer when the registry answers slowly (a concurrent push that checked
// before this one wrote needs as long to write), and never without bound.
// CI saw two of seven pushes succeed on a loaded machine with a fixed 200 ms.
func TestSettleFollowsTheRegistrysPace(t *testing.T) {
	for _, c := range []struct{ slowest, want time.Duration }{
		{0, tagSettle},
		{10 * time.Millisecond, tagSettle},
		{150 * time.Millisecond, 600 * time.Millisecond},
		{time.Minute, maxTagSettle},
	} {
		if got := settleFor(c.slowest); got != c.want {
			t.Errorf("settleFor(%v) = %v, want %v", c.slowest, got, c.want)
		}
	}
}
