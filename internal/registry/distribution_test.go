package registry

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/imagelock"
	"github.com/slipway-ci/slipway/internal/regtest"
)

// distribution starts Debian's docker-registry (CNCF distribution 2.8), a
// second registry implementation, on a free loopback port.
func distribution(t *testing.T) string { return regtest.Distribution(t) }

func TestPushToDistribution(t *testing.T) {
	addr := distribution(t)
	img, _ := random.Image(8192, 3)
	for _, format := range []string{"oci-layout", "docker-archive"} {
		repo, _ := ParseRepo(addr + "/slipway/" + format)
		a := open(t, archives(t, img)[format])
		res, err := Push(context.Background(), a, repo, []string{"abc", "v1.2.3"})
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		want, _ := a.Digest()
		if res.Digest != want.String() {
			t.Errorf("%s: digest %s, want %s", format, res.Digest, want)
		}
		ref, _ := ParseReference(addr + "/slipway/" + format + ":v1.2.3")
		desc, err := remote.Head(ref)
		if err != nil || desc.Digest != want {
			t.Errorf("%s: tag: %v %v", format, desc, err)
		}
	}
}

func TestPinAgainstBothRegistries(t *testing.T) {
	hosts := map[string]string{"distribution": distribution(t)}
	l, err := StartLocal(t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	hosts["ggcr"] = l.Addr
	for impl, host := range hosts {
		t.Run(impl, func(t *testing.T) {
			// Copies of the pinned images under the same names, with new content.
			names := map[string]string{
				"go": "library/golang:1.26-bookworm", "golangci-lint": "golangci/golangci-lint:v2.12.2",
				"trivy": "aquasec/trivy:0.69.3", "distroless": "distroless/static-debian12:nonroot",
			}
			current := map[string]string{}
			var lines []string
			for key, ref := range names {
				img, _ := random.Image(256, 1)
				repoName, tag, _ := strings.Cut(ref, ":")
				repo, _ := ParseRepo(host + "/" + repoName)
				res, err := Push(context.Background(), open(t, archives(t, img)["oci-layout"]), repo, []string{tag})
				if err != nil {
					t.Fatal(err)
				}
				current[key] = res.Digest
				stale := "sha256:" + strings.Repeat("0", 64)
				if key == "trivy" {
					stale = res.Digest // already current
				}
				lines = append(lines, key+": "+host+"/"+ref+"@"+stale)
			}
			lock, err := imagelock.Parse("test.lock", []byte("# kept\n"+strings.Join(lines, "\n")+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			changes, err := Pin(context.Background(), lock)
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) != 3 {
				t.Errorf("%d changes, want 3 (trivy was current): %+v", len(changes), changes)
			}
			for key, d := range current {
				if lock.MustGet(key).Digest != d {
					t.Errorf("%s pinned to %s, want %s", key, lock.MustGet(key).Digest, d)
				}
			}
			if !strings.HasPrefix(string(lock.Bytes()), "# kept\n") {
				t.Error("comment lost")
			}
			again, err := Pin(context.Background(), lock)
			if err != nil || len(again) != 0 {
				t.Errorf("second pin: %v %v", again, err)
			}
		})
	}
}

func TestPinUnknownTag(t *testing.T) {
	l, err := StartLocal(t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	z := "@sha256:" + strings.Repeat("0", 64)
	lock, _ := imagelock.Parse("x", []byte(strings.Join([]string{
		"go: " + l.Addr + "/library/golang:nope" + z, "golangci-lint: " + l.Addr + "/a:b" + z,
		"trivy: " + l.Addr + "/c:d" + z, "distroless: " + l.Addr + "/e:f" + z}, "\n")))
	_, err = Pin(context.Background(), lock)
	if err == nil || !strings.Contains(err.Error(), "golang:nope") && !strings.Contains(err.Error(), "distroless") {
		t.Errorf("err %v", err)
	}
}
