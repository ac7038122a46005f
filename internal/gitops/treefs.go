package gitops

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// treeFS is a git tree as an fs.FS, with edited files laid on top: what a
// render reads. Blobs are read when opened, so a render of one environment
// reads that environment's files and no others, however large the rest of
// the repository is.
type treeFS struct {
	tree  *object.Tree
	edits map[string][]byte // clean path -> new content
}

func (s *snapshot) fs(edits map[string][]byte) *treeFS {
	return &treeFS{tree: s.tree, edits: edits}
}

func (t *treeFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if data, ok := t.edits[name]; ok {
		return &memFile{name: path.Base(name), r: bytes.NewReader(data), size: int64(len(data))}, nil
	}
	if name == "." {
		return &dirFile{name: ".", fsys: t, path: "."}, nil
	}
	e, err := t.tree.FindEntry(name)
	if err != nil {
		if t.editsUnder(name) {
			return &dirFile{name: path.Base(name), fsys: t, path: name}, nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if e.Mode == filemode.Dir {
		return &dirFile{name: e.Name, fsys: t, path: name}, nil
	}
	if e.Mode == filemode.Submodule {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f, err := t.tree.TreeEntryFile(e)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	r, err := f.Reader()
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &blobFile{name: e.Name, rc: r, size: f.Size}, nil
}

func (t *treeFS) editsUnder(dir string) bool {
	for p := range t.edits {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// ReadDir lists a directory of the tree, edited files included.
func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	seen := map[string]fs.DirEntry{}
	sub := t.tree
	if name != "." {
		var err error
		if sub, err = t.tree.Tree(name); err != nil {
			sub = nil
		}
	}
	if sub != nil {
		for _, e := range sub.Entries {
			if e.Mode == filemode.Submodule {
				continue
			}
			seen[e.Name] = dirEntry{name: e.Name, dir: e.Mode == filemode.Dir}
		}
	} else if !t.editsUnder(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	prefix := name + "/"
	if name == "." {
		prefix = ""
	}
	for p := range t.edits {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			first, more, _ := strings.Cut(rest, "/")
			seen[first] = dirEntry{name: first, dir: more != ""}
		}
	}
	out := make([]fs.DirEntry, 0, len(seen))
	for _, e := range seen {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

type dirEntry struct {
	name string
	dir  bool
}

func (d dirEntry) Name() string               { return d.name }
func (d dirEntry) IsDir() bool                { return d.dir }
func (d dirEntry) Type() fs.FileMode          { return d.info().Mode().Type() }
func (d dirEntry) Info() (fs.FileInfo, error) { return d.info(), nil }
func (d dirEntry) info() fileInfo {
	return fileInfo{name: d.name, dir: d.dir}
}

type fileInfo struct {
	name string
	size int64
	dir  bool
}

func (f fileInfo) Name() string { return f.name }
func (f fileInfo) Size() int64  { return f.size }
func (f fileInfo) Mode() fs.FileMode {
	if f.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (f fileInfo) ModTime() time.Time { return time.Time{} }
func (f fileInfo) IsDir() bool        { return f.dir }
func (f fileInfo) Sys() any           { return nil }

type blobFile struct {
	name string
	rc   io.ReadCloser
	size int64
}

func (b *blobFile) Stat() (fs.FileInfo, error) { return fileInfo{name: b.name, size: b.size}, nil }
func (b *blobFile) Read(p []byte) (int, error) { return b.rc.Read(p) }
func (b *blobFile) Close() error               { return b.rc.Close() }

type memFile struct {
	name string
	r    *bytes.Reader
	size int64
}

func (m *memFile) Stat() (fs.FileInfo, error) { return fileInfo{name: m.name, size: m.size}, nil }
func (m *memFile) Read(p []byte) (int, error) { return m.r.Read(p) }
func (m *memFile) Close() error               { return nil }

type dirFile struct {
	name string
	fsys *treeFS
	path string
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return fileInfo{name: d.name, dir: true}, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.path, Err: fs.ErrInvalid}
}
func (d *dirFile) Close() error { return nil }

// ReadDir makes a directory listable through fs.ReadDir's fallback too.
func (d *dirFile) ReadDir(int) ([]fs.DirEntry, error) { return d.fsys.ReadDir(d.path) }

// Stat answers without reading a blob.
func (t *treeFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	if data, ok := t.edits[name]; ok {
		return fileInfo{name: path.Base(name), size: int64(len(data))}, nil
	}
	if name == "." {
		return fileInfo{name: ".", dir: true}, nil
	}
	e, err := t.tree.FindEntry(name)
	if err != nil {
		if t.editsUnder(name) {
			return fileInfo{name: path.Base(name), dir: true}, nil
		}
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	if e.Mode == filemode.Submodule {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return fileInfo{name: e.Name, dir: e.Mode == filemode.Dir}, nil
}
