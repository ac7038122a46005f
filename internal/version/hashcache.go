package version

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// bigFile is the size from which ContentKeyOf remembers a file's blob id
// by its stat data (hashCache), so a large untracked or modified file in a
// stage's inputs is read once, not on every run.
const bigFile = 1 << 20

// readFile reads a file whose content ContentKeyOf names (a variable for
// tests that count reads).
var readFile = os.ReadFile

// hashCache remembers the blob ids of big files by path, size,
// modification time, inode and status change time (Linux and macOS), in the repository's git directory
// (slipway-content-cache: never copied into the stages, never committed).
// An entry is trusted only when the file's modification and status change
// times are older than
// the moment the entry was written by more than racyWindow, as git does for
// its index: a file rewritten within the same timestamp tick is re-read.
type hashCache struct {
	path    string
	entries map[string]cacheEntry
	dirty   bool
}

type cacheEntry struct {
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtime_ns"`
	Ino     uint64 `json:"ino"`
	CtimeNs int64  `json:"ctime_ns"`
	Written int64  `json:"written_ns"`
	ID      string `json:"id"`
}

// racyWindow covers the coarsest file timestamp granularity (FAT, HFS+).
var racyWindow = 2 * time.Second

var cacheMu sync.Mutex

// openHashCache reads the cache of the checkout at dir ("" path when git
// cannot say where its directory is: nothing is remembered).
func openHashCache(dir string) *hashCache {
	c := &hashCache{entries: map[string]cacheEntry{}}
	p, err := gitCLI(dir, "rev-parse", "--path-format=absolute", "--git-path", "slipway-content-cache")
	if err != nil {
		return c
	}
	c.path = strings.TrimSpace(p)
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if data, err := os.ReadFile(c.path); err == nil {
		_ = json.Unmarshal(data, &c.entries) // a damaged cache is an empty one
	}
	return c
}

// id is the blob id of the file at p (path relative to the checkout, for
// the cache) with stat data fi.
func (c *hashCache) id(path, p string, fi os.FileInfo) (string, error) {
	ino, ct, stat := statID(fi)
	mt := fi.ModTime().UnixNano()
	if e, ok := c.entries[path]; ok && stat && e.Size == fi.Size() && e.MtimeNs == mt && e.Ino == ino && e.CtimeNs == ct &&
		mt < e.Written-racyWindow.Nanoseconds() && ct < e.Written-racyWindow.Nanoseconds() {
		return e.ID, nil
	}
	data, err := readFile(p)
	if err != nil {
		return "", err
	}
	id := blobID(data)
	if stat {
		c.entries[path] = cacheEntry{Size: fi.Size(), MtimeNs: mt, Ino: ino, CtimeNs: ct, Written: time.Now().UnixNano(), ID: id}
		c.dirty = true
	}
	return id, nil
}

// save writes the cache back (best effort: a failure only costs a re-read).
func (c *hashCache) save() {
	if !c.dirty || c.path == "" {
		return
	}
	data, err := json.Marshal(c.entries)
	if err != nil {
		return
	}
	cacheMu.Lock()
	defer cacheMu.Unlock()
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".slipway-content-cache-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), c.path) != nil {
		_ = os.Remove(tmp.Name())
	}
}
