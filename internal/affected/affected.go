// Package affected decides which apps of a monorepo a change touches: an app
// is affected when a changed file lies in its source directory, belongs to
// any package of this repository its main package imports (transitively,
// test files' imports included, since the test stage compiles them) — a
// file of the package's directory, of its testdata/, or of a directory
// below it that holds no Go package (embedded files) — or is one of the
// files every build depends on (go.mod, go.sum, go.work, the image lock, the
// pipeline's own ci/ directory).
//
// Imports are read with go/parser (imports only), not `go list`: no
// toolchain, no module download, and a 200-service repository is read in
// milliseconds. Build tags are ignored, which errs on the side of affected.
package affected

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/slipway-ci/slipway/internal/version"
)

// App is one app of the repository.
type App struct {
	Name   string
	Source string // directory of the app, relative to the repository root ("." for the root)
	Main   string // main package, relative to Source ("." or "./cmd/app")
	Deploy string // its manifests, relative to Source (scanned, so they count)
}

// Result is the decision for one app.
type Result struct {
	App      string `json:"app"`
	Affected bool   `json:"affected"`
	Reason   string `json:"reason"`
}

// Global names the repository files every app depends on, besides each
// module's go.mod and go.sum.
type Global struct {
	Files []string // e.g. "ci/images.lock"
	Dirs  []string // e.g. "ci": a change to the pipeline itself rebuilds everything
}

// Detect decides for each app whether the changed files (relative to root,
// slash-separated) affect it.
func Detect(root string, apps []App, changed []string, global Global) ([]Result, error) {
	mods, err := modules(root)
	if err != nil {
		return nil, err
	}
	changedSet := map[string]bool{}
	changedDirs := map[string][]string{} // owning package directory -> files
	for _, f := range changed {
		f = path.Clean(filepath.ToSlash(f))
		changedSet[f] = true
		d := owner(root, mods, f)
		changedDirs[d] = append(changedDirs[d], f)
	}
	// Files every app depends on.
	for _, f := range changed {
		f = path.Clean(filepath.ToSlash(f))
		base := path.Base(f)
		if path.Dir(f) == "." && (base == "go.work" || base == "go.work.sum") {
			return all(apps, "changed "+f), nil
		}
		for _, g := range global.Files {
			if f == path.Clean(g) {
				return all(apps, "changed "+f), nil
			}
		}
		for _, d := range global.Dirs {
			if d = path.Clean(d); strings.HasPrefix(f, d+"/") {
				return all(apps, "changed "+f+" (the pipeline itself)"), nil
			}
		}
	}
	g := &graph{root: root, mods: mods, deps: map[string][]string{}}
	out := make([]Result, 0, len(apps))
	for _, a := range apps {
		src := path.Clean(filepath.ToSlash(a.Source))
		main := path.Clean(path.Join(src, filepath.ToSlash(orDot(a.Main))))
		own := []string{main}
		if a.Deploy != "" {
			own = append(own, path.Clean(path.Join(src, filepath.ToSlash(a.Deploy))))
		}
		res := Result{App: a.Name, Reason: "no change in " + strings.Join(own, ", ") + ", the files of " + src + " or the packages " + main + " imports"}
		// 1. A file in the app's own directories (its main package, its
		// manifests), or directly in its Source (go.mod, .golangci.yml, an
		// ignore file): several apps of one module share those.
		for _, f := range changed {
			hit := path.Dir(f) == src
			for _, d := range own {
				hit = hit || under(f, d)
			}
			if hit {
				res.Affected, res.Reason = true, "changed "+f
				break
			}
		}
		if !res.Affected {
			pkgs, err := g.closure(main)
			if err != nil {
				return nil, fmt.Errorf("app %s: %w", a.Name, err)
			}
			for _, p := range pkgs {
				if fs := changedDirs[p]; len(fs) > 0 {
					res.Affected, res.Reason = true, "changed "+fs[0]+" (package "+p+", imported by "+main+")"
					break
				}
				// The go.mod and go.sum of a module the app builds with.
				if m := g.moduleOf(p); m != nil {
					for _, f := range []string{path.Join(m.dir, "go.mod"), path.Join(m.dir, "go.sum")} {
						if changedSet[path.Clean(f)] {
							res.Affected, res.Reason = true, "changed "+path.Clean(f)
							break
						}
					}
				}
				if res.Affected {
					break
				}
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// owner is the package directory a changed file belongs to: a file under
// testdata/ (or a directory the go tool ignores, "_x" or ".x") belongs to
// the package above it, and a file in a directory holding no Go file
// (embedded assets, templates) to the nearest package directory above,
// within its module.
func owner(root string, mods []module, f string) string {
	d := path.Dir(f)
	parts := strings.Split(d, "/")
	for i, p := range parts {
		if p == "testdata" || strings.HasPrefix(p, "_") || (strings.HasPrefix(p, ".") && p != ".") {
			d = path.Join(parts[:i]...)
			if d == "" {
				d = "."
			}
			break
		}
	}
	for d != "." && !hasGo(filepath.Join(root, filepath.FromSlash(d))) && !isModule(mods, d) {
		d = path.Dir(d)
	}
	return d
}

func hasGo(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".go") {
			return true
		}
	}
	return false
}

func isModule(mods []module, d string) bool {
	for _, m := range mods {
		if m.dir == d {
			return true
		}
	}
	return false
}

func all(apps []App, reason string) []Result {
	out := make([]Result, len(apps))
	for i, a := range apps {
		out[i] = Result{App: a.Name, Affected: true, Reason: reason}
	}
	return out
}

func under(f, dir string) bool {
	return dir == "." || f == dir || strings.HasPrefix(f, dir+"/")
}

func orDot(s string) string {
	if s == "" {
		return "."
	}
	return s
}

type module struct {
	path string // module path
	dir  string // slash-separated, relative to the root
}

// modules finds every go.mod below root (skipping vendor, testdata, hidden
// directories and node_modules), longest module path first.
func modules(root string) ([]module, error) {
	var mods []module
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || name == "vendor" || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "go.mod" {
			return nil
		}
		mp, err := modulePath(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		mods = append(mods, module{path: mp, dir: filepath.ToSlash(rel)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find Go modules under %s: %w", root, err)
	}
	sort.Slice(mods, func(i, j int) bool { return len(mods[i].path) > len(mods[j].path) })
	return mods, nil
}

func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			mp := strings.Trim(strings.TrimSpace(rest), `"`)
			if mp != "" {
				return mp, nil
			}
		}
	}
	return "", fmt.Errorf("%s: no module line", gomod)
}

type graph struct {
	root string
	mods []module
	deps map[string][]string // package dir -> repository package dirs it imports
}

// moduleOf is the module holding a package directory.
func (g *graph) moduleOf(dir string) *module {
	var best *module
	for i := range g.mods {
		m := &g.mods[i]
		if under(dir, m.dir) && (best == nil || len(m.dir) > len(best.dir)) {
			best = m
		}
	}
	return best
}

// dirOf maps an import path to a package directory of this repository.
func (g *graph) dirOf(importPath string) (string, bool) {
	for _, m := range g.mods {
		if importPath == m.path {
			return m.dir, true
		}
		if rest, ok := strings.CutPrefix(importPath, m.path+"/"); ok {
			return path.Clean(path.Join(m.dir, rest)), true
		}
	}
	return "", false
}

// closure is the package directory and every repository package it imports, transitively.
func (g *graph) closure(dir string) ([]string, error) {
	seen := map[string]bool{dir: true}
	queue := []string{dir}
	var out []string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, p)
		deps, err := g.imports(p)
		if err != nil {
			return nil, err
		}
		for _, d := range deps {
			if !seen[d] {
				seen[d] = true
				queue = append(queue, d)
			}
		}
	}
	return out, nil
}

// imports reads a package directory's imports that resolve to this repository.
func (g *graph) imports(dir string) ([]string, error) {
	if d, ok := g.deps[dir]; ok {
		return d, nil
	}
	entries, err := os.ReadDir(filepath.Join(g.root, filepath.FromSlash(dir)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			g.deps[dir] = nil
			return nil, nil
		}
		return nil, err
	}
	fset := token.NewFileSet()
	set := map[string]bool{}
	for _, e := range entries {
		n := e.Name()
		// Test files count: the test stage compiles them, so a package only
		// a test imports is as much a dependency as any other.
		if e.IsDir() || !strings.HasSuffix(n, ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(g.root, filepath.FromSlash(dir), n), nil, parser.ImportsOnly)
		if err != nil {
			return nil, fmt.Errorf("read imports of %s: %w", path.Join(dir, n), err)
		}
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			if d, ok := g.dirOf(ip); ok && d != dir {
				set[d] = true
			}
		}
	}
	deps := make([]string, 0, len(set))
	for d := range set {
		deps = append(deps, d)
	}
	sort.Strings(deps)
	g.deps[dir] = deps
	return deps, nil
}

// ChangedSince lists the files changed between the merge base of ref and
// HEAD and the working tree in the git repository at root (paths relative to
// root): committed changes, and uncommitted ones too (staged, unstaged,
// untracked but not ignored), so a local run sees the edits it builds; a CI
// checkout is clean and sees only the commits. Files under ignore
// (directories relative to root: Slipway's own out/) are left out. A ref of
// a branch that was force-pushed or a shallow history that lacks the merge
// base is an error: the caller builds everything then.
func ChangedSince(ctx context.Context, root, ref string, ignore ...string) (base string, files []string, err error) {
	mb, err := gitOut(ctx, root, "merge-base", ref, "HEAD")
	if err != nil {
		return "", nil, fmt.Errorf("merge base of %s and HEAD: %w (a shallow clone needs fetch-depth: 0)", ref, err)
	}
	mb = strings.TrimSpace(mb)
	out, err := gitOut(ctx, root, "diff", "--name-only", "--no-renames", mb)
	if err != nil {
		return "", nil, fmt.Errorf("diff %s: %w", mb, err)
	}
	untracked, err := gitOut(ctx, root, "ls-files", "--others", "--exclude-standard", "--full-name")
	if err != nil {
		return "", nil, fmt.Errorf("list untracked files: %w", err)
	}
	prefix, err := gitOut(ctx, root, "rev-parse", "--show-prefix")
	if err != nil {
		return "", nil, err
	}
	prefix = strings.TrimSpace(prefix)
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out)+"\n"+strings.TrimSpace(untracked), "\n") {
		if l == "" {
			continue
		}
		if prefix != "" {
			rel, ok := strings.CutPrefix(l, prefix)
			if !ok {
				continue // outside the directory the pipeline runs in
			}
			l = rel
		}
		skip := seen[l]
		for _, d := range ignore {
			if d = path.Clean(filepath.ToSlash(d)); d != "." && under(l, d) {
				skip = true
			}
		}
		if !skip {
			seen[l] = true
			files = append(files, l)
		}
	}
	sort.Strings(files)
	return mb, files, nil
}

// DefaultBase is the ref a pull request's changes are measured from, read
// from the CI environment ("" when this is not a pull request).
func DefaultBase(getenv func(string) string) string {
	for _, k := range []string{"GITHUB_BASE_REF", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "CHANGE_TARGET"} {
		if v := getenv(k); v != "" {
			return "origin/" + v
		}
	}
	return ""
}

func gitOut(ctx context.Context, root string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", root}, args...)...)
	// A partial clone fetches missing objects on its own: origin's
	// credential stays off that fetch's argv (version.GitEnv).
	cmd.Env = version.GitEnv(root, append(os.Environ(), "GIT_TERMINAL_PROMPT=0"))
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			line, _, _ := strings.Cut(strings.TrimSpace(string(ee.Stderr)), "\n")
			return "", errors.New(line)
		}
		return "", err
	}
	return string(out), nil
}

// Inputs lists, as git pathspecs relative to root, everything Detect counts
// as a dependency of app a: the files directly in its Source, its main
// package's directory and its manifests (with what is below them), the files
// of every repository package its main package imports (transitively), the
// go.mod and go.sum of those packages' modules, go.work, and global's files
// and directories. A commit changes a file these pathspecs match exactly when
// Detect, given that commit's changed files, says a is affected
// (TestInputsAgreeWithDetect), so `git log -1 -- Inputs(…)` is the newest
// commit that changed the app.
func Inputs(root string, a App, global Global) ([]string, error) {
	mods, err := modules(root)
	if err != nil {
		return nil, err
	}
	g := &graph{root: root, mods: mods, deps: map[string][]string{}}
	src := path.Clean(filepath.ToSlash(a.Source))
	main := path.Clean(path.Join(src, filepath.ToSlash(orDot(a.Main))))
	seen := map[string]bool{}
	var specs []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			specs = append(specs, s)
		}
	}
	// The files directly in a directory: glob magic, where * stops at "/".
	files := func(dir string) string {
		if dir == "." {
			return ":(glob)*"
		}
		return ":(glob)" + globEscape(dir) + "/*"
	}
	tree := func(dir string) string {
		if dir == "." {
			return "."
		}
		return ":(literal)" + dir
	}
	if main == "." {
		// The main package is the root: under(f, ".") holds for every file.
		return []string{"."}, nil
	}
	add(files(src))
	add(tree(main))
	if a.Deploy != "" {
		d := path.Clean(path.Join(src, filepath.ToSlash(a.Deploy)))
		if d == "." {
			return []string{"."}, nil
		}
		add(tree(d))
	}
	pkgs, err := g.closure(main)
	if err != nil {
		return nil, fmt.Errorf("app %s: %w", a.Name, err)
	}
	for _, p := range pkgs {
		add(files(p))
		if m := g.moduleOf(p); m != nil {
			add(":(literal)" + path.Clean(path.Join(m.dir, "go.mod")))
			add(":(literal)" + path.Clean(path.Join(m.dir, "go.sum")))
		}
	}
	add(":(literal)go.work")
	add(":(literal)go.work.sum")
	for _, f := range global.Files {
		add(":(literal)" + path.Clean(filepath.ToSlash(f)))
	}
	for _, d := range global.Dirs {
		add(tree(path.Clean(filepath.ToSlash(d))))
	}
	sort.Strings(specs)
	return specs, nil
}

// globEscape quotes the characters glob pathspecs treat as patterns.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
