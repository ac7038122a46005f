package version

import (
	"crypto/sha1" //nolint:gosec // git's blob ids, compared with the index's
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrNoGit means the git CLI is not installed: ContentKey cannot answer.
var ErrNoGit = errors.New("the git CLI is not installed")

// ContentKey names the content of the files pathspecs match in the checkout
// at dir, as they are now, committed or not: tracked files by their blob id,
// modified, deleted and untracked (non-ignored) files by the blob id of
// their bytes. It does not depend on commits: a tree with uncommitted
// changes has a key, equal for equal content, so a rerun with nothing
// changed since the last run is recognised whether or not the tree is
// committed; a file touched but not changed keeps its key. It is
// ContentKeyOf with no ignored files.
func ContentKey(dir string, pathspecs []string) (string, error) {
	return ContentKeyOf(dir, Content{Pathspecs: pathspecs})
}

// Content is what ContentKeyOf names.
type Content struct {
	// Pathspecs select the files (none: the whole checkout).
	Pathspecs []string
	// Ignored select the gitignored files that count too (none: no ignored
	// file counts), unless Skip (path relative to dir) says no.
	Ignored []string
	Skip    func(string) bool
}

// ContentKeyOf is ContentKey over c: the tracked, modified, deleted and
// untracked files c.Pathspecs match, and the gitignored files c.Ignored
// match. A tracked file marked assume-unchanged or skip-worktree (which
// git's own status and diff no longer look at) counts by the bytes in the
// working tree, as the stages see it.
func ContentKeyOf(dir string, c Content) (string, error) {
	if !haveGit() {
		return "", ErrNoGit
	}
	pathspecs := c.Pathspecs
	if len(pathspecs) == 0 {
		pathspecs = []string{"."}
	}
	files := map[string]string{}
	staged, err := gitCLI(dir, append([]string{"ls-files", "-z", "-s", "-v", "--"}, pathspecs...)...)
	if err != nil {
		return "", fmt.Errorf("content of %s: %w", dir, err)
	}
	var hidden []string // assume-unchanged or skip-worktree: read from the working tree
	for _, e := range strings.Split(staged, "\x00") {
		meta, path, ok := strings.Cut(e, "\t")
		if !ok {
			continue
		}
		if f := strings.Fields(meta); len(f) == 4 {
			files[path] = f[1] + " " + f[2]
			if tag := f[0]; tag == "S" || strings.ToLower(tag) == tag {
				hidden = append(hidden, path)
			}
		}
	}
	// Untracked (not ignored) files, and files that differ from the index.
	untracked, err := gitCLI(dir, append([]string{"ls-files", "-z", "-o", "--exclude-standard", "--"}, pathspecs...)...)
	if err != nil {
		return "", fmt.Errorf("content of %s: %w", dir, err)
	}
	changed, err := gitCLI(dir, append([]string{"diff-files", "-z", "--name-only", "--relative", "--"}, pathspecs...)...)
	if err != nil {
		return "", fmt.Errorf("content of %s: %w", dir, err)
	}
	read := append(append(strings.Split(untracked, "\x00"), strings.Split(changed, "\x00")...), hidden...)
	var ignored []string
	if len(c.Ignored) > 0 {
		out, err := gitCLI(dir, append([]string{"ls-files", "-z", "-o", "-i", "--exclude-standard", "--"}, c.Ignored...)...)
		if err != nil {
			return "", fmt.Errorf("content of %s: %w", dir, err)
		}
		for _, p := range strings.Split(out, "\x00") {
			if p != "" && (c.Skip == nil || !c.Skip(p)) {
				ignored = append(ignored, p)
			}
		}
	}
	var cache *hashCache // big files' blob ids by stat data, opened when one is read
	for i, path := range append(read, ignored...) {
		if path == "" {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(path))
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			files[path] = "deleted"
		case err != nil:
			return "", fmt.Errorf("content of %s: %w", path, err)
		case fi.IsDir():
			continue // a nested repository or submodule: its own commit says it
		default:
			var data []byte
			mode := "100644"
			if fi.Mode()&os.ModeSymlink != 0 {
				target, err := os.Readlink(p)
				if err != nil {
					return "", err
				}
				data, mode = []byte(target), "120000"
			} else {
				if fi.Mode()&0o111 != 0 {
					mode = "100755"
				}
				if fi.Size() >= bigFile {
					if cache == nil {
						cache = openHashCache(dir)
					}
					id, err := cache.id(path, p, fi)
					if err != nil {
						return "", fmt.Errorf("content of %s: %w", path, err)
					}
					if i >= len(read) {
						mode = "ignored " + mode
					}
					files[path] = mode + " " + id
					continue
				}
				if data, err = readFile(p); err != nil {
					return "", fmt.Errorf("content of %s: %w", path, err)
				}
			}
			if i >= len(read) {
				mode = "ignored " + mode
			}
			files[path] = mode + " " + blobID(data)
		}
	}
	if cache != nil {
		cache.save()
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		fmt.Fprintf(h, "%s\x00%s\n", p, files[p])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// blobID is git's (SHA-1) object id of a blob with these bytes.
func blobID(data []byte) string {
	h := sha1.New() //nolint:gosec // git's object ids
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}
