package registry

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/slipway-ci/slipway/internal/ocitar"
)

// benchImage writes a 100 MB, 5-layer image as a Docker archive (a format
// both Slipway and crane push).
func benchImage(b *testing.B) string {
	b.Helper()
	img, err := random.Image(20<<20, 5)
	if err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(b.TempDir(), "image.tar")
	tag, _ := name.NewTag("bench/app:v1")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		b.Fatal(err)
	}
	return p
}

func loopbackRegistry(b *testing.B) (string, func()) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	u, _ := url.Parse(srv.URL)
	return u.Host, srv.Close
}

// BenchmarkPush100MB pushes the same 100 MB tarball to a fresh loopback
// registry per iteration, with Slipway and with crane (go-containerregistry's
// CLI, the anchor).
func BenchmarkPush100MB(b *testing.B) {
	path := benchImage(b)
	st, _ := os.Stat(path)
	b.Run("slipway", func(b *testing.B) {
		b.SetBytes(st.Size())
		for i := 0; i < b.N; i++ {
			host, stop := loopbackRegistry(b)
			a, err := ocitar.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			repo, _ := ParseRepo(host + "/bench/app")
			if _, err := Push(context.Background(), a, repo, []string{"v1"}); err != nil {
				b.Fatal(err)
			}
			a.Close()
			stop()
		}
	})
	b.Run("crane", func(b *testing.B) {
		crane, err := exec.LookPath("crane")
		if err != nil {
			gopath, _ := exec.Command("go", "env", "GOPATH").Output()
			crane = filepath.Join(string(gopath[:len(gopath)-1]), "bin", "crane")
			if _, err := os.Stat(crane); err != nil {
				b.Skip("crane not installed: go install github.com/google/go-containerregistry/cmd/crane@v0.22.1")
			}
		}
		b.SetBytes(st.Size())
		for i := 0; i < b.N; i++ {
			host, stop := loopbackRegistry(b)
			out, err := exec.Command(crane, "push", "--insecure", path, host+"/bench/app:v1").CombinedOutput()
			if err != nil {
				b.Fatalf("crane push: %v\n%s", err, out)
			}
			stop()
		}
	})
}

// BenchmarkRepushUnchanged pushes an image the registry already holds and
// reports the blob bytes uploaded (the target is 0).
func BenchmarkRepushUnchanged(b *testing.B) {
	path := benchImage(b)
	host, stop := loopbackRegistry(b)
	defer stop()
	repo, _ := ParseRepo(host + "/bench/app")
	a, err := ocitar.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	if _, err := Push(context.Background(), a, repo, []string{"v1"}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var uploaded int64
	for i := 0; i < b.N; i++ {
		res, err := Push(context.Background(), a, repo, []string{"v1"})
		if err != nil {
			b.Fatal(err)
		}
		uploaded += res.BlobBytes
	}
	b.ReportMetric(float64(uploaded)/float64(b.N), "blob-bytes/op")
}
