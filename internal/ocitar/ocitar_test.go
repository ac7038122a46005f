package ocitar

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// engineImage builds what an engine exports: one layer holding the binary,
// whose file time and config time are the moment of the build.
func engineImage(t *testing.T, stamp time.Time) v1.Image {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	body := []byte("#!binary sample-app\n")
	for _, h := range []*tar.Header{
		{Name: "app/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: stamp},
		{Name: "app/sample-app", Typeflag: tar.TypeReg, Mode: 0o555, Size: int64(len(body)), ModTime: stamp},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(body)
		}
	}
	tw.Close()
	raw := b.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: stamp}, CreatedBy: "COPY sample-app"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: stamp}
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Config.User = "65532:65532"
	cf.Config.Labels = map[string]string{"org.opencontainers.image.revision": "abc"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.ConfigMediaType(img, types.OCIConfigJSON)
}

// writeDaggerStyle writes an OCI layout tar with a Docker manifest.json, as
// Dagger v0.21.8's Container.Export does.
func writeDaggerStyle(t *testing.T, path string, img v1.Image) {
	t.Helper()
	if err := Write(path, img, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestNormalizeMakesStampedExportsEqual(t *testing.T) {
	dir := t.TempDir()
	commitTime := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	var digests []v1.Hash
	for i, stamp := range []time.Time{time.Now(), time.Now().Add(37 * time.Minute)} {
		raw := filepath.Join(dir, "raw.tar")
		first := engineImage(t, stamp)
		d0, _ := first.Digest()
		writeDaggerStyle(t, raw, first)
		a, err := Open(raw)
		if err != nil {
			t.Fatal(err)
		}
		if a.Format != "oci-layout" {
			t.Errorf("format %s", a.Format)
		}
		norm, err := Normalize(a.Image, commitTime)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "image.tar")
		if err := Write(out, norm, commitTime, "sample-app:test"); err != nil {
			t.Fatal(err)
		}
		a.Close()
		back, err := Open(out)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := back.Digest()
		want, _ := norm.Digest()
		if d != want {
			t.Errorf("round trip changed digest %s -> %s", want, d)
		}
		cf, _ := back.Image.ConfigFile()
		if !cf.Created.Equal(commitTime) || cf.Config.User != "65532:65532" || cf.Config.Labels["org.opencontainers.image.revision"] != "abc" {
			t.Errorf("config after normalize: created %v user %q labels %v", cf.Created, cf.Config.User, cf.Config.Labels)
		}
		if mt, _ := back.Image.MediaType(); mt != types.OCIManifestSchema1 {
			t.Errorf("media type %s", mt)
		}
		back.Close()
		if i == 1 && d0 == digests[0] {
			t.Fatal("test is vacuous: the two raw exports already had one digest")
		}
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of one commit gave %s and %s", digests[0], digests[1])
	}
}

func TestWrittenTarIsBothFormats(t *testing.T) {
	dir := t.TempDir()
	img, err := random.Image(1024, 3)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "image.tar")
	ts := time.Unix(1700000000, 0)
	if err := Write(path, img, ts, "example/app:v1"); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	// Docker archive reader (what `docker load` and Trivy use).
	dimg, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := dimg.Digest(); got != want {
		// Docker archives carry no manifest, so compare layers and config.
		dl, _ := dimg.Layers()
		if len(dl) != 3 {
			t.Errorf("docker view has %d layers", len(dl))
		}
	}
	tag, _ := name.NewTag("example/app:v1")
	if _, err := tarball.ImageFromPath(path, &tag); err != nil {
		t.Errorf("docker view by tag: %v", err)
	}
	// OCI layout reader.
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got, _ := a.Digest(); got != want {
		t.Errorf("layout digest %s, want %s", got, want)
	}
	if _, err := layout.ImageIndexFromPath(a.tmp); err != nil {
		t.Error(err)
	}
	// The file itself is reproducible.
	first, _ := os.ReadFile(path)
	if err := Write(path, img, ts, "example/app:v1"); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(path)
	if !bytes.Equal(first, second) {
		t.Error("two writes of one image differ byte for byte")
	}
}

func TestOpenDockerArchive(t *testing.T) {
	dir := t.TempDir()
	img, _ := random.Image(512, 2)
	path := filepath.Join(dir, "docker.tar")
	tag, _ := name.NewTag("example/app:v1")
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Format != "docker-archive" || a.Image == nil {
		t.Errorf("format %s", a.Format)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notTar := filepath.Join(dir, "x.tar")
	os.WriteFile(notTar, []byte("hello, this is not a tarball at all, not even close......"), 0o644)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "readme.txt", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("hi"))
	tw.Close()
	other := filepath.Join(dir, "other.tar")
	os.WriteFile(other, b.Bytes(), 0o644)
	for _, p := range []string{filepath.Join(dir, "missing.tar"), notTar, other} {
		if _, err := Open(p); err == nil {
			t.Errorf("%s opened", p)
		}
	}
}
