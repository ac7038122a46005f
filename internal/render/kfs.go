package render

import (
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kfs is kustomize's filesys.FileSystem over an fs.FS, rooted at "/":
// kustomize reads files on demand, so a build reads only what its
// kustomizations reference. It is read-only.
type kfs struct {
	fsys *readFS
	// remote is the first remote reference met: kustomize is refused the
	// kustomization naming it, so it never fetches from the network.
	remote error
	// over replaces a kustomization's bytes (Argo CD's overrides applied).
	over map[string][]byte
}

var _ filesys.FileSystem = (*kfs)(nil)

// name maps kustomize's absolute path to an fs.FS name.
func (k *kfs) name(p string) string {
	p = path.Clean("/" + filepath.ToSlash(p))
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

func (k *kfs) Create(string) (filesys.File, error) { return nil, errReadOnly }
func (k *kfs) Mkdir(string) error                  { return errReadOnly }
func (k *kfs) MkdirAll(string) error               { return errReadOnly }
func (k *kfs) RemoveAll(string) error              { return errReadOnly }
func (k *kfs) WriteFile(string, []byte) error      { return errReadOnly }

func (k *kfs) Open(p string) (filesys.File, error) {
	data, err := k.ReadFile(p)
	if err != nil {
		return nil, err
	}
	mem := filesys.MakeFsInMemory()
	if err := mem.WriteFile("/f", data); err != nil {
		return nil, err
	}
	return mem.Open("/f")
}

func (k *kfs) IsDir(p string) bool { return isDir(k.fsys, k.name(p)) }

func (k *kfs) Exists(p string) bool {
	_, err := fs.Stat(k.fsys, k.name(p))
	return err == nil
}

func (k *kfs) ReadDir(p string) ([]string, error) {
	es, err := fs.ReadDir(k.fsys, k.name(p))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out, nil
}

func (k *kfs) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	abs := path.Clean("/" + filepath.ToSlash(p))
	if k.IsDir(abs) {
		return filesys.ConfirmedDir(abs), "", nil
	}
	d := path.Dir(abs)
	if !k.IsDir(d) {
		return "", "", &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	return filesys.ConfirmedDir(d), path.Base(abs), nil
}

func (k *kfs) Glob(pattern string) ([]string, error) {
	matches, err := fs.Glob(k.fsys, k.name(pattern))
	if err != nil {
		return nil, err
	}
	for i, m := range matches {
		matches[i] = "/" + m
	}
	sort.Strings(matches)
	return matches, nil
}

func (k *kfs) ReadFile(p string) ([]byte, error) {
	name := k.name(p)
	data, ok := k.over[name]
	if !ok {
		var err error
		if data, err = k.fsys.ReadFile(name); err != nil {
			return nil, err
		}
	}
	if IsKustomization(name) {
		if ref := remoteIn(k, name, data); ref != "" {
			if k.remote == nil {
				k.remote = remoteError(ref, name)
			}
			return nil, k.remote
		}
	}
	return stripDirectives(data), nil
}

func (k *kfs) Walk(p string, walkFn filepath.WalkFunc) error {
	return fs.WalkDir(k.fsys, k.name(p), func(name string, d fs.DirEntry, err error) error {
		abs := "/" + name
		if name == "." {
			abs = "/"
		}
		if err != nil {
			return walkFn(abs, nil, err)
		}
		info, ierr := d.Info()
		if ierr != nil {
			return walkFn(abs, nil, ierr)
		}
		return walkFn(abs, info, nil)
	})
}
