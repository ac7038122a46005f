package registry

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types of a cache artifact: an OCI image manifest whose layers are
// buckets of one directory (a Go build cache, a module cache, a Trivy DB).
const (
	CacheArtifactType    = "application/vnd.slipway.cache.v1"
	cacheConfigMediaType = "application/vnd.slipway.cache.config.v1+json"
	cacheLayerMediaType  = "application/vnd.slipway.cache.layer.v1.tar+gzip"
)

// CacheBuckets is how many layers a cache directory is split into: a file
// goes to the bucket its top-level path hashes to, so a change to a few
// entries re-uploads a few buckets, and an unchanged cache uploads nothing.
const CacheBuckets = 64

// ErrCacheTooBig means a directory exceeds the size limit; it is not pushed.
var ErrCacheTooBig = errors.New("cache over the size limit")

// CacheStats is what a cache push or pull moved.
type CacheStats struct {
	Tag        string // the tag pushed, or the key a pull restored from ("" for a miss)
	Files      int
	Bytes      int64 // uncompressed size of the directory
	BlobBytes  int64 // bytes sent to (push) or received from (pull) the registry
	BlobsTotal int
}

var tagUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// CacheTag makes a valid tag out of a cache name and a key part.
func CacheTag(name, key string) string {
	t := strings.Trim(tagUnsafe.ReplaceAllString(name+"-"+key, "-"), "-.")
	if len(t) > 128 {
		sum := sha256.Sum256([]byte(t))
		t = t[:100] + "-" + hex.EncodeToString(sum[:])[:16]
	}
	return t
}

// GoModCacheKeys keys the module cache like actions/cache does: by the hash
// of every go.sum and the Go version (the image in the lock).
func GoModCacheKeys(goSums [][]byte, goVersion string) []string {
	h := sha256.New()
	for _, s := range goSums {
		h.Write(s)
		h.Write([]byte{0})
	}
	return []string{CacheTag("gomod", goVersion+"-"+hex.EncodeToString(h.Sum(nil))[:16])}
}

// BranchCacheKeys keys a build or lint cache by branch, falling back to the
// default branch's (a pull request starts from main's cache, never writes it).
func BranchCacheKeys(name, goVersion, branch, defaultBranch string) []string {
	keys := []string{CacheTag(name, goVersion+"-"+orDefault(branch, defaultBranch))}
	if branch != "" && branch != defaultBranch {
		keys = append(keys, CacheTag(name, goVersion+"-"+defaultBranch))
	}
	return keys
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// PushCache uploads dir as a cache artifact tagged tag in repo: the files
// split into CacheBuckets deterministic layers (sorted paths, zero times,
// fixed modes: the same content gives the same bytes), so the registry
// already holds every unchanged bucket and only changed ones upload. A dir
// over maxBytes (0: no limit) is not pushed (ErrCacheTooBig). Cache tags
// move on every push: they are keys, not releases.
func PushCache(ctx context.Context, repo name.Repository, tag, dir string, maxBytes int64, opts ...Option) (*CacheStats, error) {
	c := newConfig(opts)
	st, err := pushCache(ctx, repo, tag, dir, maxBytes, c)
	return st, c.scrub(err)
}

func pushCache(ctx context.Context, repo name.Repository, tag, dir string, maxBytes int64, c *config) (*CacheStats, error) {
	files, total, err := listFiles(dir)
	if err != nil {
		return nil, err
	}
	st := &CacheStats{Tag: tag, Files: len(files), Bytes: total}
	if maxBytes > 0 && total > maxBytes {
		return st, fmt.Errorf("%w: %s holds %d bytes, the limit is %d (--cache-max-size)", ErrCacheTooBig, dir, total, maxBytes)
	}
	buckets := make([][]string, CacheBuckets)
	for _, f := range files {
		b := bucketOf(f)
		buckets[b] = append(buckets[b], f)
	}
	tmp, err := os.MkdirTemp("", "slipway-cache-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, cacheConfigMediaType)
	// Buckets are written (tar, gzip, two hashes) on every core at once.
	layers := make([]v1.Layer, CacheBuckets)
	errs := make([]error, CacheBuckets)
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				layers[i], errs[i] = writeBucket(filepath.Join(tmp, fmt.Sprintf("%02d.tar.gz", i)), dir, buckets[i])
			}
		}()
	}
	for i, b := range buckets {
		if len(b) > 0 {
			work <- i
		}
	}
	close(work)
	wg.Wait()
	var adds []mutate.Addendum
	for i, l := range layers {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if l == nil {
			continue
		}
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: cacheLayerMediaType,
			Annotations: map[string]string{"org.slipway.cache.bucket": fmt.Sprint(i)}})
	}
	img, err = mutate.Append(img, adds...)
	if err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(map[string]any{"buckets": CacheBuckets, "files": len(files), "bytes": total})
	if err != nil {
		return nil, err
	}
	img = withRawConfig{Image: img, raw: cfg}
	ct := &countingTransport{inner: c.transport}
	t, err := name.NewTag(repo.String()+":"+tag, insecureOpt(repo))
	if err != nil {
		return nil, fmt.Errorf("cache tag %q: %w", tag, err)
	}
	if err := remote.Write(t, img, c.remote(ctx, ct)...); err != nil {
		return nil, c.explain(repo, "push cache "+t.String(), err)
	}
	st.BlobBytes, st.BlobsTotal = ct.bytes.Load(), len(adds)+1
	return st, nil
}

// withRawConfig serves a fixed config blob (the artifact's own JSON) in
// place of an image config, and keeps the manifest's config descriptor in step.
type withRawConfig struct {
	v1.Image
	raw []byte
}

func (w withRawConfig) RawConfigFile() ([]byte, error) { return w.raw, nil }

func (w withRawConfig) ConfigName() (v1.Hash, error) {
	h, _, err := v1.SHA256(strings.NewReader(string(w.raw)))
	return h, err
}

func (w withRawConfig) Manifest() (*v1.Manifest, error) {
	m, err := w.Image.Manifest()
	if err != nil {
		return nil, err
	}
	m = m.DeepCopy()
	h, err := w.ConfigName()
	if err != nil {
		return nil, err
	}
	m.Config = v1.Descriptor{MediaType: cacheConfigMediaType, Size: int64(len(w.raw)), Digest: h}
	m.Annotations = nil
	return m, nil
}

func (w withRawConfig) RawManifest() ([]byte, error) {
	m, err := w.Manifest()
	if err != nil {
		return nil, err
	}
	doc := struct {
		*v1.Manifest
		ArtifactType string `json:"artifactType"`
	}{m, CacheArtifactType}
	return json.Marshal(doc)
}

func (w withRawConfig) Digest() (v1.Hash, error) {
	raw, err := w.RawManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	h, _, err := v1.SHA256(strings.NewReader(string(raw)))
	return h, err
}

func (w withRawConfig) Size() (int64, error) {
	raw, err := w.RawManifest()
	return int64(len(raw)), err
}

// PullCache restores the first of keys the registry has into dir (files are
// written with the current time, so the Go build cache counts them as fresh)
// and returns the key it used; "" when none exists (a miss is no error).
func PullCache(ctx context.Context, repo name.Repository, keys []string, dir string, opts ...Option) (*CacheStats, error) {
	c := newConfig(opts)
	st, err := pullCache(ctx, repo, keys, dir, c)
	return st, c.scrub(err)
}

func pullCache(ctx context.Context, repo name.Repository, keys []string, dir string, c *config) (*CacheStats, error) {
	ct := &countingTransport{inner: c.transport}
	rt := &readCounter{inner: ct}
	for _, k := range keys {
		t, err := name.NewTag(repo.String()+":"+k, insecureOpt(repo))
		if err != nil {
			return nil, err
		}
		img, err := remote.Image(t, c.remote(ctx, rt)...)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, c.explain(repo, "pull cache "+t.String(), err)
		}
		st := &CacheStats{Tag: k}
		layers, err := img.Layers()
		if err != nil {
			return nil, c.explain(repo, "pull cache "+t.String(), err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		now := time.Now()
		for _, l := range layers {
			if mt, _ := l.MediaType(); mt != cacheLayerMediaType {
				return nil, fmt.Errorf("pull cache %s: layer of type %s is not a Slipway cache layer", t, mt)
			}
			rc, err := l.Uncompressed()
			if err != nil {
				return nil, c.explain(repo, "pull cache "+t.String(), err)
			}
			n, b, err := extract(rc, dir, now)
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("pull cache %s: %w", t, err)
			}
			st.Files += n
			st.Bytes += b
		}
		st.BlobBytes, st.BlobsTotal = rt.n.Load(), len(layers)
		return st, nil
	}
	return &CacheStats{}, nil
}

// readCounter counts response body bytes of blob downloads.
type readCounter struct {
	inner http.RoundTripper
	n     atomic.Int64
}

func (r *readCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.inner.RoundTrip(req)
	if err == nil && strings.Contains(req.URL.Path, "/blobs/") && req.Method == http.MethodGet {
		resp.Body = &readCountBody{ReadCloser: resp.Body, n: &r.n}
	}
	return resp, err
}

type readCountBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *readCountBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// listFiles lists the regular files and symlinks under dir (slash paths,
// sorted) and their total size. A missing dir is empty.
func listFiles(dir string) ([]string, int64, error) {
	var files []string
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil // sockets, devices: not cache content
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files = append(files, filepath.ToSlash(rel))
		total += info.Size()
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("read cache directory %s: %w", dir, err)
	}
	sort.Strings(files)
	return files, total, nil
}

// bucketOf puts a file in the bucket its first three path components hash
// to: a Go build cache's 00..ff/<entry> files, a module cache's
// host/org/module@version trees and cache/download/host/… stay together, and
// a file keeps its bucket from run to run.
func bucketOf(rel string) int {
	parts := strings.SplitN(rel, "/", 4)
	if len(parts) > 3 {
		parts = parts[:3]
	}
	h := fnv.New32a()
	h.Write([]byte(strings.Join(parts, "/")))
	return int(h.Sum32() % CacheBuckets)
}

// fileLayer is a bucket written to a file, with the digests computed while
// it was written (no second pass to hash or decompress it again).
type fileLayer struct {
	path           string
	digest, diffID v1.Hash
	size           int64
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return cacheLayerMediaType, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	return nil, errors.New("cache layers upload compressed")
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// writeBucket writes files (relative to dir) as a deterministic tar.gz:
// sorted, zero times, uid/gid 0, modes 0644/0755, symlinks as links. Both
// digests are computed on the way.
func writeBucket(path, dir string, files []string) (v1.Layer, error) {
	l, err := writeBucketFile(path, dir, files)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func writeBucketFile(path, dir string, files []string) (*fileLayer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	compressedHash, uncompressedHash := sha256.New(), sha256.New()
	size := &countWriter{}
	gz, err := gzip.NewWriterLevel(io.MultiWriter(f, compressedHash, size), gzip.BestSpeed)
	if err != nil {
		f.Close()
		return nil, err
	}
	tw := tar.NewWriter(io.MultiWriter(gz, uncompressedHash))
	fail := func(err error) (*fileLayer, error) {
		f.Close()
		return nil, err
	}
	for _, rel := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		info, err := os.Lstat(p)
		if err != nil {
			return fail(err)
		}
		hdr := &tar.Header{Name: rel, Mode: 0o644, Format: tar.FormatPAX}
		if info.Mode()&0o111 != 0 {
			hdr.Mode = 0o755
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return fail(err)
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
			if err := tw.WriteHeader(hdr); err != nil {
				return fail(err)
			}
			continue
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return fail(err)
		}
		src, err := os.Open(p)
		if err != nil {
			return fail(err)
		}
		_, err = io.Copy(tw, src)
		src.Close()
		if err != nil {
			return fail(err)
		}
	}
	if err := tw.Close(); err != nil {
		return fail(err)
	}
	if err := gz.Close(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return &fileLayer{
		path:   path,
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(compressedHash.Sum(nil))},
		diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(uncompressedHash.Sum(nil))},
		size:   size.n,
	}, nil
}

// extract writes a bucket's files under dir, refusing paths that leave it.
func extract(r io.Reader, dir string, now time.Time) (int, int64, error) {
	tr := tar.NewReader(r)
	n, total := 0, int64(0)
	root, err := filepath.Abs(dir)
	if err != nil {
		return 0, 0, err
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, total, nil
		}
		if err != nil {
			return n, total, err
		}
		p := filepath.Join(root, filepath.FromSlash(hdr.Name))
		if !strings.HasPrefix(p, root+string(filepath.Separator)) {
			return n, total, fmt.Errorf("entry %q leaves the cache directory", hdr.Name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return n, total, err
		}
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			if filepath.IsAbs(hdr.Linkname) || strings.HasPrefix(filepath.Clean(filepath.Join(filepath.Dir(hdr.Name), hdr.Linkname)), "..") { //nolint:gosec // this line is the traversal check
				return n, total, fmt.Errorf("symlink %q points outside the cache directory", hdr.Name)
			}
			_ = os.Remove(p)
			if err := os.Symlink(hdr.Linkname, p); err != nil {
				return n, total, err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(hdr.Mode)&0o755)
			if err != nil {
				return n, total, err
			}
			w, err := io.CopyN(f, tr, hdr.Size) // the header's size, no more
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return n, total, err
			}
			total += w
			_ = os.Chtimes(p, now, now)
		default:
			continue
		}
		n++
	}
}
