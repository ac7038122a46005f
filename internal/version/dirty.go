package version

import (
	"os"
	"path/filepath"
	"strings"
)

// Option adjusts Detect.
type Option func(*options)

type options struct {
	output []string // absolute directories whose changes are not the source's
}

// IgnoringOutput makes Detect's dirtiness ignore changes under dirs,
// Slipway's own output directory (out/): what Slipway writes is never a
// change to the source it builds, whether or not .gitignore lists it.
func IgnoringOutput(dirs ...string) Option {
	return func(o *options) {
		for _, d := range dirs {
			if d == "" {
				continue
			}
			if abs, err := filepath.Abs(d); err == nil {
				o.output = append(o.output, realPath(abs))
			}
		}
	}
}

// realPath resolves symbolic links in as much of p as exists, as git's
// --show-toplevel does (a temporary directory under a symlinked /tmp).
func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	parent := filepath.Dir(p)
	if parent == p {
		return p
	}
	return filepath.Join(realPath(parent), filepath.Base(p))
}

// isOutput reports whether path (slash-separated, relative to root) is in an
// output directory.
func (o options) isOutput(root, path string) bool {
	if len(o.output) == 0 {
		return false
	}
	p := filepath.Join(realPath(root), filepath.FromSlash(strings.TrimSuffix(path, "/")))
	for _, d := range o.output {
		if p == d || strings.HasPrefix(p, d+string(os.PathSeparator)) {
			return true
		}
	}
	return false
}

// excludes are pathspecs leaving out the output directories inside root:
// git then reports an untracked build/ holding only --out build/artifacts
// as nothing, and build/ with anything else in it as before.
func (o options) excludes(root string) []string {
	r := realPath(root)
	var specs []string
	for _, d := range o.output {
		rel, err := filepath.Rel(r, d)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(os.PathSeparator)) {
			continue
		}
		specs = append(specs, ":(top,exclude,literal)"+filepath.ToSlash(rel))
	}
	return specs
}

// dirtyAt asks the git CLI about the checkout at root; a status git cannot
// give counts as dirty (a build never passes for a clean commit by accident).
// Entries under an output directory do not count.
func dirtyAt(root string, o options) bool {
	args := append([]string{"status", "--porcelain=v2", "-z", "--untracked-files=normal", "--", "."}, o.excludes(root)...)
	out, err := gitCLI(root, args...)
	if err != nil {
		return true
	}
	recs := strings.Split(out, "\x00")
	for i := 0; i < len(recs); i++ {
		rec := recs[i]
		if rec == "" {
			continue
		}
		var paths []string
		switch rec[0] {
		case '1': // 1 XY sub mH mI mW hH hI path
			paths = fieldRest(rec, 8)
		case '2': // 2 XY sub mH mI mW hH hI Xscore path, then the original path
			paths = fieldRest(rec, 9)
			if i+1 < len(recs) {
				i++
				paths = append(paths, recs[i])
			}
		case 'u': // u XY sub m1 m2 m3 mW h1 h2 h3 path
			paths = fieldRest(rec, 10)
		case '?', '!': // ? path
			paths = []string{rec[min(2, len(rec)):]}
		default:
			return true // a format this code does not know: not clean
		}
		if len(paths) == 0 {
			return true
		}
		for _, p := range paths {
			if !o.isOutput(root, p) {
				return true
			}
		}
	}
	return false
}

// fieldRest is what follows the first n space-separated fields of rec (a
// path may hold spaces).
func fieldRest(rec string, n int) []string {
	f := strings.SplitN(rec, " ", n+1)
	if len(f) <= n {
		return nil
	}
	return []string{f[n]}
}
