package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func cacheRegistry(t testing.TB) name.Repository {
	t.Helper()
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	repo, err := ParseRepo(u.Host + "/acme/app/slipway-cache")
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// fakeGoBuildCache writes n files spread over 00..ff like Go's build cache.
func fakeGoBuildCache(t testing.TB, dir string, n, size int) {
	t.Helper()
	buf := make([]byte, size)
	for i := 0; i < n; i++ {
		rand.Read(buf)
		p := filepath.Join(dir, fmt.Sprintf("%02x", i%256), fmt.Sprintf("%064x-a", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "README"), []byte("go build cache\n"), 0o644)
	os.Symlink("README", filepath.Join(dir, "link"))
}

func TestCacheRoundTripAndUnchangedUpload(t *testing.T) {
	repo := cacheRegistry(t)
	ctx := context.Background()
	src := t.TempDir()
	fakeGoBuildCache(t, src, 300, 2048)
	st, err := PushCache(ctx, repo, "gobuild-1.26-main", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 302 || st.BlobBytes == 0 {
		t.Fatalf("first push: %+v", st)
	}
	// Unchanged: nothing uploads.
	again, err := PushCache(ctx, repo, "gobuild-1.26-main", src, 0)
	if err != nil || again.BlobBytes != 0 {
		t.Fatalf("unchanged re-push uploaded %d bytes (%v)", again.BlobBytes, err)
	}
	// One new entry: one bucket re-uploads, not the cache.
	os.WriteFile(filepath.Join(src, "ab", "new-entry-a"), bytes.Repeat([]byte("x"), 2048), 0o644)
	one, err := PushCache(ctx, repo, "gobuild-1.26-main", src, 0)
	if err != nil || one.BlobBytes == 0 || one.BlobBytes > st.BlobBytes/8 {
		t.Fatalf("one new entry uploaded %d of %d bytes (%v)", one.BlobBytes, st.BlobBytes, err)
	}
	// Restore: a miss on the branch key falls back to main's.
	dst := t.TempDir()
	keys := BranchCacheKeys("gobuild", "1.26", "feature/x", "main")
	got, err := PullCache(ctx, repo, keys, dst)
	if err != nil || got.Tag != "gobuild-1.26-main" || got.Files != 303 {
		t.Fatalf("pull: %+v %v (keys %v)", got, err, keys)
	}
	for _, rel := range []string{"ab/new-entry-a", "README"} {
		a, _ := os.ReadFile(filepath.Join(src, rel))
		b, _ := os.ReadFile(filepath.Join(dst, rel))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs after the round trip", rel)
		}
	}
	if target, err := os.Readlink(filepath.Join(dst, "link")); err != nil || target != "README" {
		t.Errorf("symlink: %q %v", target, err)
	}
	if info, _ := os.Stat(filepath.Join(dst, "README")); time.Since(info.ModTime()) > time.Minute {
		t.Error("restored files must look fresh to Go's cache trimming")
	}
	// The artifact says what it is.
	desc, err := remote.Get(mustTag(t, repo, "gobuild-1.26-main"))
	if err != nil || !bytes.Contains(desc.Manifest, []byte(CacheArtifactType)) {
		t.Errorf("artifactType missing: %s %v", desc.Manifest, err)
	}
	// A miss is no error.
	miss, err := PullCache(ctx, repo, []string{"gomod-nothing"}, t.TempDir())
	if err != nil || miss.Tag != "" {
		t.Errorf("miss: %+v %v", miss, err)
	}
	// Over the limit: not pushed, said so.
	if _, err := PushCache(ctx, repo, "gobuild-1.26-big", src, 1024); !errors.Is(err, ErrCacheTooBig) {
		t.Errorf("limit: %v", err)
	}
}

func mustTag(t testing.TB, repo name.Repository, tag string) name.Tag {
	tg, err := name.NewTag(repo.String()+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestCacheKeys(t *testing.T) {
	a := GoModCacheKeys([][]byte{[]byte("x v1 h1:abc\n")}, "1.26-bookworm")
	b := GoModCacheKeys([][]byte{[]byte("x v2 h1:def\n")}, "1.26-bookworm")
	c := GoModCacheKeys([][]byte{[]byte("x v1 h1:abc\n")}, "1.27-bookworm")
	if a[0] == b[0] || a[0] == c[0] || len(a) != 1 {
		t.Errorf("module cache keys must change with go.sum and the Go version: %v %v %v", a, b, c)
	}
	if k := BranchCacheKeys("gobuild", "1.26", "main", "main"); len(k) != 1 {
		t.Errorf("main: %v", k)
	}
	if k := CacheTag("gobuild", "1.26-feature/Ünïcode branch"); !tagRE.MatchString(k) {
		t.Errorf("invalid tag %q", k)
	}
	_ = authn.Anonymous
}

var tagRE = regexpMust(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// A cache pull refuses an artifact whose files would land outside the directory.
func TestCacheExtractRefusesTraversal(t *testing.T) {
	var buf bytes.Buffer
	tw := newTarWriter(&buf)
	tw.file("../escape", "x")
	if _, _, err := extract(&buf, t.TempDir(), time.Now()); err == nil {
		t.Error("a ../ entry was extracted")
	}
}

// BenchmarkCache1GB: push and pull of a 1 GB Go build cache (4,096 files of
// 256 KiB, random so incompressible: the worst case) on a loopback registry,
// and the unchanged re-upload.
func BenchmarkCache1GB(b *testing.B) {
	src := b.TempDir()
	fakeGoBuildCache(b, src, 4096, 256<<10)
	ctx := context.Background()
	seeded := cacheRegistry(b)
	if _, err := PushCache(ctx, seeded, "gobuild-seed", src, 0); err != nil {
		b.Fatal(err)
	}
	b.Run("push", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			repo := cacheRegistry(b) // empty: everything uploads
			b.StartTimer()
			st, err := PushCache(ctx, repo, "gobuild-main", src, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(st.BlobBytes)/1e6, "MB-sent")
		}
	})
	b.Run("repush-unchanged", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			st, err := PushCache(ctx, seeded, "gobuild-seed", src, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(st.BlobBytes), "bytes-sent")
		}
	})
	b.Run("pull", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			st, err := PullCache(ctx, seeded, []string{"gobuild-seed"}, b.TempDir())
			if err != nil || st.Files != 4098 {
				b.Fatalf("%+v %v", st, err)
			}
			b.ReportMetric(float64(st.BlobBytes)/1e6, "MB-received")
		}
	})
}
