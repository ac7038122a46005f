package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

var fallbackTagPath = regexp.MustCompile(`/manifests/sha256-[0-9a-f]{64}$`)

// TestAttachSurvivesALostReferrersTagUpdate: on a registry without the
// referrers API, another pipeline attaching to the same digest at the same
// moment can write the referrers tag from a stale read and drop our entry.
// Here the first write of the tag loses everything it should hold, as that
// stale write would; AttachAll reads back, puts the missing manifest again,
// and returns only once every attachment is listed.
func TestAttachSurvivesALostReferrersTagUpdate(t *testing.T) {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var dropped atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && fallbackTagPath.MatchString(r.URL.Path) && dropped.Add(1) == 1 {
			body, _ := io.ReadAll(r.Body)
			var idx map[string]any
			_ = json.Unmarshal(body, &idx)
			idx["manifests"] = []any{} // the stale writer's view: nothing attached yet
			body, _ = json.Marshal(idx)
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	img := pushRandom(t, strings.TrimPrefix(srv.URL, "http://")+"/acme/payments")
	key, pub := testKey(t)
	ctx := context.Background()
	st, _ := Statement(img.Context().String(), img.DigestStr(), SignaturePredicate, nil)
	b, err := KeySigner{key}.Sign(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	as, err := AttachAll(ctx, img, []Bundle{{SignaturePredicate, b}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if dropped.Load() < 2 {
		t.Fatalf("the referrers tag was written %d times: the lost entry was not put again", dropped.Load())
	}
	rep, err := Verify(ctx, img, Policy{Key: pub, Require: []string{"signature"}})
	if err != nil || rep.Err() != nil || rep.Signature.Manifest != as[0].Manifest {
		t.Fatalf("%v %v %+v", err, rep.Err(), rep)
	}
}
