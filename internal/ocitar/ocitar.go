// Package ocitar reads and writes image tarballs in the two formats users hand
// Slipway: a Docker archive (`docker save`, a manifest.json at the top) and an
// OCI image layout packed in a tar (what Dagger's Container.Export writes; its
// v0.21 export carries a Docker manifest.json as well). What Slipway writes
// carries both, so Docker, Trivy and OCI tools all read it.
package ocitar

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Archive is an opened image tarball: either one image or a multi-platform index.
type Archive struct {
	Path   string
	Format string // "oci-layout" or "docker-archive"
	Image  v1.Image
	Index  v1.ImageIndex // set for a multi-platform index; Image is nil then
	tmp    string
}

// Close removes what Open extracted.
func (a *Archive) Close() error {
	if a.tmp == "" {
		return nil
	}
	return os.RemoveAll(a.tmp)
}

// Digest is the manifest digest a registry will report for the archive.
func (a *Archive) Digest() (v1.Hash, error) {
	if a.Index != nil {
		return a.Index.Digest()
	}
	return a.Image.Digest()
}

// Open reads a tarball. An OCI layout is extracted to a temporary directory
// (its blobs are read lazily while pushing); call Close when done.
func Open(path string) (*Archive, error) {
	names, err := listTar(path)
	if err != nil {
		return nil, err
	}
	switch {
	case names["index.json"] && names["oci-layout"]:
		return openLayout(path)
	case names["manifest.json"]:
		img, err := tarball.ImageFromPath(path, nil)
		if err != nil {
			return nil, fmt.Errorf("read docker archive %s: %w", path, err)
		}
		return &Archive{Path: path, Format: "docker-archive", Image: img}, nil
	default:
		return nil, fmt.Errorf("read image tarball %s: neither an OCI layout (index.json, oci-layout) nor a Docker archive (manifest.json)", path)
	}
}

func listTar(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read image tarball: %w", err)
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read image tarball %s: not a tar file: %w", path, err)
		}
		names[strings.TrimPrefix(filepath.Clean(h.Name), "./")] = true
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("read image tarball %s: empty", path)
	}
	return names, nil
}

func openLayout(path string) (*Archive, error) {
	tmp, err := os.MkdirTemp("", "slipway-oci-")
	if err != nil {
		return nil, err
	}
	a := &Archive{Path: path, Format: "oci-layout", tmp: tmp}
	if err := extract(path, tmp); err != nil {
		a.Close()
		return nil, err
	}
	idx, err := layout.ImageIndexFromPath(tmp)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("read OCI layout in %s: %w", path, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("read OCI layout in %s: %w", path, err)
	}
	// index.json of a layout lists what the tarball holds. One image manifest:
	// that image. One nested index (a multi-platform image): push that index.
	if len(im.Manifests) != 1 {
		a.Close()
		return nil, fmt.Errorf("read OCI layout in %s: index.json lists %d manifests, want exactly 1 image or index", path, len(im.Manifests))
	}
	d := im.Manifests[0]
	switch {
	case d.MediaType.IsImage():
		a.Image, err = idx.Image(d.Digest)
	case d.MediaType.IsIndex():
		a.Index, err = idx.ImageIndex(d.Digest)
	default:
		err = fmt.Errorf("unsupported media type %s", d.MediaType)
	}
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("read OCI layout in %s: %w", path, err)
	}
	return a, nil
}

func extract(src, dir string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", src, err)
		}
		name := filepath.Clean(h.Name)
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("extract %s: unsafe path %q", src, h.Name)
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.Create(target)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, tr); err != nil { //nolint:gosec // blobs are content-addressed and verified on read
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		}
	}
}

// Normalize makes an image reproducible: the config's created time, every
// history entry and every file in every layer get time t (the source commit
// time), and the media types are OCI's. Two builds of one commit then have one
// digest, whatever time the engine stamped into them.
func Normalize(img v1.Image, t time.Time) (v1.Image, error) {
	t = t.UTC().Truncate(time.Second)
	out, err := mutate.Time(img, t, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("normalize image times: %w", err)
	}
	src, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf, err := out.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Variant = src.Variant // mutate.Time keeps OS and architecture, not the variant
	out, err = mutate.ConfigFile(out, cf)
	if err != nil {
		return nil, err
	}
	out = mutate.MediaType(out, types.OCIManifestSchema1)
	out = mutate.ConfigMediaType(out, types.OCIConfigJSON)
	return out, nil
}

// Write writes img to path as a tar holding an OCI image layout and a Docker
// manifest.json that point at the same blobs, with every tar header stamped t,
// so the file itself is byte-for-byte reproducible. repoTags go into
// manifest.json (what `docker load` tags the image as).
func Write(path string, img v1.Image, t time.Time, repoTags ...string) (err error) {
	t = t.UTC().Truncate(time.Second)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	tw := tar.NewWriter(tmp)
	add := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: t, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	addBytes := func(name string, b []byte) error { return add(name, int64(len(b)), strings.NewReader(string(b))) }

	digest, err := img.Digest()
	if err != nil {
		return err
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}

	index := v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: mt, Digest: digest, Size: int64(len(rawManifest)),
		}},
	}
	if len(repoTags) > 0 {
		index.Manifests[0].Annotations = map[string]string{"org.opencontainers.image.ref.name": repoTags[0]}
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return err
	}
	blob := func(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }
	docker := []tarball.Descriptor{{Config: blob(cfgName), RepoTags: repoTags}}

	if err := addBytes("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := addBytes("index.json", indexJSON); err != nil {
		return err
	}
	if err := addBytes(blob(digest), rawManifest); err != nil {
		return err
	}
	if err := addBytes(blob(cfgName), rawCfg); err != nil {
		return err
	}
	seen := map[v1.Hash]bool{}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		docker[0].Layers = append(docker[0].Layers, blob(d))
		if seen[d] {
			continue
		}
		seen[d] = true
		size, err := l.Size()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		err = add(blob(d), size, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("write layer %s: %w", d, err)
		}
	}
	dockerJSON, err := json.Marshal(docker)
	if err != nil {
		return err
	}
	if err := addBytes("manifest.json", dockerJSON); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Files lists a tarball's entries, sorted; for tests and diagnostics.
func Files(path string) ([]string, error) {
	names, err := listTar(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}
