// Command mkimage packs a directory into a one-layer image tarball in
// Slipway's format (OCI layout + Docker manifest.json), to produce real
// Trivy reports for the gate's tests. See ../README.md.
package main

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/slipway-ci/slipway/internal/ocitar"
)

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: mkimage ROOTFS OUT.tar")
	}
	root, out := os.Args[1], os.Args[2]
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	stamp := time.Unix(1700000000, 0)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name, h.ModTime = filepath.ToSlash(rel), stamp
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	tw.Close()
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		log.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		log.Fatal(err)
	}
	img, err = ocitar.Normalize(img, stamp)
	if err != nil {
		log.Fatal(err)
	}
	if err := ocitar.Write(out, img, stamp, "fixture/app:v1"); err != nil {
		log.Fatal(err)
	}
}
