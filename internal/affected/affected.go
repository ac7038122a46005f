// Package affected decides which apps of a monorepo a change touches: an app
// is affected when a file one of its stages reads changed (InputSets). Its
// build and scan read its main package, its manifests and the non-test files
// of every package the main package imports (repository or vendored,
// transitively, with their //go:embed and cgo include directories); its
// lint and test run over ./... of its Source, so they read every package
// that pattern matches (test files, testdata/, other mains, packages nobody
// imports) and what those import. Files every app depends on (go.mod,
// go.sum, vendor/modules.txt, go.work, the image lock, the pipeline's own
// ci/ directory) count for all.
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
// slash-separated) affect it: an app is affected when one of its stages
// reads a changed file (InputSets: what build and scan read, what lint and
// test read), so Detect and Inputs agree by construction.
func Detect(root string, apps []App, changed []string, global Global) ([]Result, error) {
	mods, err := modules(root)
	if err != nil {
		return nil, err
	}
	g := newGraph(root, mods)
	out := make([]Result, 0, len(apps))
	for _, a := range apps {
		sets, err := g.sets(a, global)
		if err != nil {
			return nil, fmt.Errorf("app %s: %w", a.Name, err)
		}
		src := path.Clean(filepath.ToSlash(a.Source))
		res := Result{App: a.Name, Reason: "no change in what its build and scan read (" + orDot(a.Main) + " in " + src +
			" and the packages it imports) or what its lint and test read (./... of " + src + " and the packages they import)"}
	files:
		for _, f := range changed {
			f = path.Clean(filepath.ToSlash(f))
			for _, set := range [][]spec{sets.build, sets.check} {
				if s, ok := matchSet(set, f); ok {
					res.Affected, res.Reason = true, "changed "+f+" ("+s.why+")"
					break files
				}
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// spec is one pathspec of an app's inputs: every file (all), the files
// directly in dir (files), or everything under dir (tree); why is what
// Detect says when a change matches it. A build set ends with the marker
// kind 'x': no test file (noTests).
type spec struct {
	kind byte // 'a' all, 'f' files directly in dir, 't' tree, 'x' the noTests marker
	dir  string
	why  string
}

// String is the git pathspec.
func (s spec) String() string {
	switch {
	case s.kind == 'a':
		return "."
	case s.kind == 'f' && s.dir == ".":
		return ":(glob)*"
	case s.kind == 'f':
		return ":(glob)" + globEscape(s.dir) + "/*"
	case s.dir == ".":
		return "."
	}
	return ":(literal)" + s.dir
}

func (s spec) match(f string) bool {
	switch s.kind {
	case 'a':
		return true
	case 'f':
		return path.Dir(f) == s.dir
	}
	return under(f, s.dir)
}

// noTests is the exclusion of the build's pathspecs: a test file is never
// read by a build.
const noTests = ":(exclude,glob)**/*_test.go"

func isTest(f string) bool { return strings.HasSuffix(path.Base(f), "_test.go") }

// matchSet is the first spec of set f matches; a build set (its last
// element is the noTests marker) never matches a test file.
func matchSet(set []spec, f string) (spec, bool) {
	if len(set) > 0 && set[len(set)-1].kind == 'x' {
		if isTest(f) {
			return spec{}, false
		}
		set = set[:len(set)-1]
	}
	for _, s := range set {
		if s.match(f) {
			return s, true
		}
	}
	return spec{}, false
}

func strs(set []spec) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range set {
		str := s.String()
		if s.kind == 'x' {
			str = noTests
		}
		if !seen[str] {
			seen[str] = true
			out = append(out, str)
		}
	}
	sort.Strings(out)
	return out
}

// Sets are an app's inputs, as git pathspecs relative to the root, by what
// reads them. Build is what the build and the scan read: the main
// package's directory and the manifests, the
// non-test files of every package the main package imports (repository
// and vendored packages, transitively), their //go:embed targets and cgo
// -I/-L${SRCDIR} directories, the go.mod, go.sum and vendor/modules.txt of
// their modules, go.work and the global files; never a _test.go file, so a
// test-only change leaves the image's revision, and its digest, as they
// were. A package read through a symbolic link counts by the link and by
// its target's files, a symlinked file of a package by its target too; a package of another module of the repository (a
// replace directive) by its copy in vendor/ when the importing module
// vendors (the stages build with GOWORK=off). Check is what lint and test
// read: the files directly in Source (.golangci.yml), and they run over
// ./... of Source, so every package that pattern matches (test files, testdata/, other
// mains, packages nobody imports, new untracked ones, and directories
// without Go files below a package: embedded assets), and everything those
// packages and their tests import, the same way. BuildIgnored and
// CheckIgnored are the pathspecs under which gitignored files are inputs
// too: the stages copy them, and Go reads them there (package directories,
// embedded directories, include directories, testdata/).
type Sets struct {
	Build, BuildIgnored, Check, CheckIgnored []string
}

// All is every pathspec of s that a change can match (build's and check's).
func (s Sets) All() []string {
	var build []string
	for _, b := range s.Build {
		if b != noTests {
			build = append(build, b)
		}
	}
	return union(build, s.Check)
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range [][]string{a, b} {
		for _, s := range l {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

// InputSets are app a's inputs by stage (see Sets).
func InputSets(root string, a App, global Global) (Sets, error) {
	mods, err := modules(root)
	if err != nil {
		return Sets{}, err
	}
	sets, err := newGraph(root, mods).sets(a, global)
	if err != nil {
		return Sets{}, fmt.Errorf("app %s: %w", a.Name, err)
	}
	return Sets{Build: strs(sets.build), BuildIgnored: strs(sets.buildIgnored), Check: strs(sets.check), CheckIgnored: strs(sets.checkIgnored)}, nil
}

type specSets struct {
	build, buildIgnored, check, checkIgnored []spec
}

// sets computes an app's specs (see Sets).
func (g *graph) sets(a App, global Global) (specSets, error) {
	src := path.Clean(filepath.ToSlash(a.Source))
	main := path.Clean(path.Join(src, filepath.ToSlash(orDot(a.Main))))
	var common []spec
	common = append(common, spec{'t', "go.work", "the workspace"}, spec{'t', "go.work.sum", "the workspace"})
	for _, f := range global.Files {
		common = append(common, spec{'t', path.Clean(filepath.ToSlash(f)), "every app depends on it"})
	}
	for _, d := range global.Dirs {
		common = append(common, spec{'t', path.Clean(filepath.ToSlash(d)), "the pipeline itself"})
	}
	var s specSets
	// Build and scan.
	s.build = append(s.build, common...)
	s.build = append(s.build, spec{'t', main, "the main package " + main})
	if a.Deploy != "" {
		d := path.Clean(path.Join(src, filepath.ToSlash(a.Deploy)))
		s.build = append(s.build, spec{'t', d, "its manifests"})
	}
	if err := g.addClosure(&s.build, &s.buildIgnored, []string{main}, false, "imported by "+main); err != nil {
		return s, err
	}
	s.build = append(s.build, spec{kind: 'x'})
	// Lint and test: ./... of the app's Source, and its top files
	// (.golangci.yml, …). The build reads none of these but go.mod and
	// go.sum (its module's, added below): a file at the top of Source
	// (notes.txt, README.md) is no build input.
	s.check = append(s.check, common...)
	s.check = append(s.check, spec{'f', src, "a file of " + src + ", which lint and test run in"})
	pkgs, extra, err := g.pattern(src)
	if err != nil {
		return s, err
	}
	why := "lint and test run over ./... of " + src
	for _, e := range extra {
		e.why = why
		s.check = append(s.check, e)
		s.checkIgnored = append(s.checkIgnored, e)
	}
	if err := g.addClosure(&s.check, &s.checkIgnored, pkgs, true, why); err != nil {
		return s, err
	}
	return s, nil
}

// addClosure adds the packages of roots and every package they import
// (with their tests' imports when tests), their embedded and include
// directories and their modules' files.
func (g *graph) addClosure(set, ignored *[]spec, roots []string, tests bool, why string) error {
	seen := map[string]bool{}
	queue := append([]string{}, roots...)
	for _, r := range roots {
		seen[r] = true
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		info, err := g.pkg(p)
		if err != nil {
			return err
		}
		own := spec{'f', p, "package " + p + ", " + why}
		*set = append(*set, own)
		*ignored = append(*ignored, own)
		links, targets := g.through(own)
		*set = append(append(*set, links...), targets...)
		*ignored = append(*ignored, targets...)
		deps, dirs := info.prodDeps, info.prodDirs
		if tests {
			deps, dirs = info.allDeps, info.allDirs
			td := spec{'t', path.Join(p, "testdata"), "test data of " + p + ", " + why}
			*set = append(*set, td)
			*ignored = append(*ignored, td)
		}
		for _, d := range dirs {
			t := spec{'t', d, "read by package " + p + " (//go:embed or a cgo include directory), " + why}
			*set = append(*set, t)
			*ignored = append(*ignored, t)
			links, targets := g.through(t)
			*set = append(append(*set, links...), targets...)
			*ignored = append(*ignored, targets...)
		}
		if m := g.moduleOf(p); m != nil {
			for _, f := range []string{"go.mod", "go.sum", "vendor/modules.txt"} {
				*set = append(*set, spec{'t', path.Clean(path.Join(m.dir, f)), "the module of " + p})
			}
		}
		for _, d := range deps {
			if !seen[d] {
				seen[d] = true
				queue = append(queue, d)
			}
		}
	}
	return nil
}

// through is what reading s's directory through symbolic links reads
// besides s itself: each symlink on its path (the link is a file git
// tracks: retargeting it changes what is read) and, when the directory
// resolves elsewhere in the repository, the same spec at its target (whose
// files are what Go reads). A target outside the repository is not copied
// into the stages: the link alone is the input.
func (g *graph) through(s spec) (links, targets []spec) {
	if s.dir == "." || s.dir == "" {
		return nil, nil
	}
	var out []string
	parts := strings.Split(s.dir, "/")
	for i := range parts {
		pre := path.Join(parts[:i+1]...)
		fi, err := os.Lstat(filepath.Join(g.root, filepath.FromSlash(pre)))
		if err != nil {
			break
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			out = append(out, pre)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	for _, l := range out {
		links = append(links, spec{'t', l, "a symbolic link " + s.why + " is read through"})
	}
	rel, ok := g.linkTarget(s.dir)
	if !ok {
		return links, nil
	}
	if rel != s.dir {
		targets = append(targets, spec{s.kind, rel, s.why + " (through a symbolic link)"})
	}
	return links, targets
}

// linkTarget is where the symbolic link rel (relative to the root)
// resolves, relative to the root, when that is inside the repository.
func (g *graph) linkTarget(rel string) (string, bool) {
	if g.realRoot == "" {
		r, err := filepath.EvalSymlinks(g.root)
		if err != nil {
			r = g.root
		}
		g.realRoot = r
	}
	real, err := filepath.EvalSymlinks(filepath.Join(g.root, filepath.FromSlash(rel)))
	if err != nil {
		return "", false
	}
	t, err := filepath.Rel(g.realRoot, real)
	if err != nil || !filepath.IsLocal(t) {
		return "", false
	}
	return filepath.ToSlash(t), true
}

// pattern is what ./... matches in the module at src: its package
// directories, and (extra) the files of directories without Go files below
// a package (embedded assets) — not nested modules, vendor/, testdata/,
// directories the go tool ignores ("_x", ".x"), node_modules/, or
// Slipway's out/ at the top (the stages never copy it).
func (g *graph) pattern(src string) (pkgs []string, extra []spec, err error) {
	if p, ok := g.patterns[src]; ok {
		return p.pkgs, p.extra, nil
	}
	defer func() {
		if err == nil {
			g.patterns[src] = patternResult{pkgs, extra}
		}
	}()
	top := filepath.Join(g.root, filepath.FromSlash(src))
	pkgAbove := map[string]bool{}
	err = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(g.root, p)
		rel = filepath.ToSlash(rel)
		name := d.Name()
		if p != top {
			if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "vendor" || name == "testdata" || name == "node_modules" ||
				(name == "out" && filepath.Dir(p) == top) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // a nested module: not in ./...
			}
		}
		above := p != top && pkgAbove[path.Dir(rel)]
		if hasGo(p) {
			pkgs = append(pkgs, rel)
			pkgAbove[rel] = true
		} else if above {
			extra = append(extra, spec{kind: 'f', dir: rel})
			pkgAbove[rel] = true
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list the packages of %s/...: %w", src, err)
	}
	return pkgs, extra, nil
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
	root     string
	realRoot string // root with symbolic links resolved (once needed)
	mods     []module
	pkgs     map[string]*pkgInfo // package dir -> what its files read
	vendors  map[string]bool     // module dir -> it has vendor/modules.txt
	// patterns caches ./... of a Source: the apps of one module share it.
	patterns map[string]patternResult
}

type patternResult struct {
	pkgs  []string
	extra []spec
}

func newGraph(root string, mods []module) *graph {
	return &graph{root: root, mods: mods, pkgs: map[string]*pkgInfo{}, vendors: map[string]bool{}, patterns: map[string]patternResult{}}
}

// pkgInfo is what a package directory's files read: the package
// directories they import (of this repository, or vendored), and the
// directories they embed or include; prod* for the non-test files, all* for
// every file.
type pkgInfo struct {
	prodDeps, allDeps, prodDirs, allDirs []string
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

// dirOf maps an import path, imported from package directory from, to a
// package directory of this repository: a module's package, or a package
// vendored in from's module (vendor/<path>, which the go command uses
// when the module has vendor/modules.txt).
//
// A package of another module of this repository (a replace directive's
// directory) is read from vendor/ when from's module vendors it: the stages
// build without go.work (GOWORK=off), so the go command uses vendor/ for
// every package outside the main module.
func (g *graph) dirOf(from, importPath string) (string, bool) {
	if importPath == "C" || strings.HasPrefix(importPath, ".") {
		return "", false // cgo, or a relative import
	}
	m := g.moduleOf(from)
	for i := range g.mods {
		mm := &g.mods[i]
		dir := ""
		if importPath == mm.path {
			dir = mm.dir
		} else if rest, ok := strings.CutPrefix(importPath, mm.path+"/"); ok {
			dir = path.Clean(path.Join(mm.dir, rest))
		} else {
			continue
		}
		if m != nil && mm.dir != m.dir {
			if d, ok := g.vendored(m, importPath); ok {
				return d, true
			}
		}
		return dir, true
	}
	if m == nil {
		return "", false
	}
	return g.vendored(m, importPath)
}

// vendored is importPath's directory in module m's vendor/, when m vendors
// its dependencies (vendor/modules.txt) and that directory has Go files.
func (g *graph) vendored(m *module, importPath string) (string, bool) {
	v, ok := g.vendors[m.dir]
	if !ok {
		_, err := os.Stat(filepath.Join(g.root, filepath.FromSlash(m.dir), "vendor", "modules.txt"))
		v = err == nil
		g.vendors[m.dir] = v
	}
	if !v {
		return "", false
	}
	// The standard library is never vendored: a directory with Go files is
	// the only evidence (a removed vendored package shows in modules.txt).
	d := path.Clean(path.Join(m.dir, "vendor", importPath))
	return d, hasGo(filepath.Join(g.root, filepath.FromSlash(d)))
}

// pkg reads a package directory's files: imports (go/parser, imports
// only), //go:embed patterns and cgo -I/-L${SRCDIR} directories.
func (g *graph) pkg(dir string) (*pkgInfo, error) {
	if p, ok := g.pkgs[dir]; ok {
		return p, nil
	}
	info := &pkgInfo{}
	g.pkgs[dir] = info
	entries, err := os.ReadDir(filepath.Join(g.root, filepath.FromSlash(dir)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return info, nil
		}
		return nil, err
	}
	fset := token.NewFileSet()
	prod, all := map[string]bool{}, map[string]bool{}
	prodDirs, allDirs := map[string]bool{}, map[string]bool{}
	for _, e := range entries {
		n := e.Name()
		if e.Type()&fs.ModeSymlink != 0 {
			// A file read through a symbolic link: its target's bytes
			// are what Go reads (the link itself is a file of dir).
			if t, ok := g.linkTarget(path.Join(dir, n)); ok {
				allDirs[t] = true
				if !isTest(n) {
					prodDirs[t] = true
				}
			}
		}
		if e.IsDir() || !strings.HasSuffix(n, ".go") {
			continue
		}
		file := filepath.Join(g.root, filepath.FromSlash(dir), n)
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path.Join(dir, n), err)
		}
		// A file that does not parse (being edited) still has what parsed:
		// the stages will say what is wrong with it.
		f, _ := parser.ParseFile(fset, file, data, parser.ImportsOnly|parser.ParseComments)
		if f == nil {
			continue
		}
		test := strings.HasSuffix(n, "_test.go")
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			if d, ok := g.dirOf(dir, ip); ok && d != dir {
				all[d] = true
				if !test {
					prod[d] = true
				}
			}
		}
		for _, d := range readDirs(dir, string(data)) {
			allDirs[d] = true
			if !test {
				prodDirs[d] = true
			}
		}
	}
	info.prodDeps, info.allDeps, info.prodDirs, info.allDirs = keys(prod), keys(all), keys(prodDirs), keys(allDirs)
	return info, nil
}

// readDirs are the directories (below the repository root) a Go file of
// package directory dir reads besides its own directory: the leading
// directory of each //go:embed pattern (the whole directory when the
// pattern starts with a glob), and each ${SRCDIR}-relative -I or -L of its
// #cgo lines.
func readDirs(dir, src string) []string {
	var out []string
	add := func(rel string) {
		d := path.Clean(path.Join(dir, rel))
		if d != ".." && !strings.HasPrefix(d, "../") {
			out = append(out, d)
		}
	}
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "//go:embed"); ok {
			for _, pat := range embedPatterns(rest) {
				pat = strings.TrimPrefix(pat, "all:")
				var lead []string
				for _, seg := range strings.Split(pat, "/") {
					if strings.ContainsAny(seg, "*?[\\") {
						break
					}
					lead = append(lead, seg)
				}
				add(path.Join(lead...))
			}
			continue
		}
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(line, "//"), "*"))
		if rest, ok := strings.CutPrefix(line, "#cgo"); ok && strings.Contains(rest, "${SRCDIR}") {
			_, flags, _ := strings.Cut(rest, ":")
			for _, f := range strings.Fields(flags) {
				f = strings.Trim(f, `"'`)
				for _, p := range []string{"-I", "-L", "-isystem", "-iquote"} {
					f = strings.TrimPrefix(f, p)
				}
				if rel, ok := strings.CutPrefix(f, "${SRCDIR}"); ok {
					add("." + rel)
				}
			}
		}
	}
	return out
}

// embedPatterns splits a //go:embed line's patterns (space-separated,
// Go-quoted or back-quoted when they hold spaces).
func embedPatterns(s string) []string {
	var out []string
	s = strings.TrimSpace(s)
	for s != "" {
		if s[0] == '"' || s[0] == '`' {
			if q, err := strconv.QuotedPrefix(s); err == nil {
				v, _ := strconv.Unquote(q)
				out = append(out, v)
				s = strings.TrimSpace(s[len(q):])
				continue
			}
		}
		f, rest, _ := strings.Cut(s, " ")
		out = append(out, f)
		s = strings.TrimSpace(rest)
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
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
	// -z: names as they are (git quotes unusual ones otherwise: "caf\303\251.go");
	// --no-relative: root-relative whatever the user's diff.relative says.
	out, err := gitOut(ctx, root, "diff", "-z", "--name-only", "--no-renames", "--no-relative", mb)
	if err != nil {
		return "", nil, fmt.Errorf("diff %s: %w", mb, err)
	}
	untracked, err := gitOut(ctx, root, "ls-files", "-z", "--others", "--exclude-standard", "--full-name")
	if err != nil {
		return "", nil, fmt.Errorf("list untracked files: %w", err)
	}
	prefix, err := gitOut(ctx, root, "rev-parse", "--show-prefix")
	if err != nil {
		return "", nil, err
	}
	prefix = strings.TrimSpace(prefix)
	seen := map[string]bool{}
	for _, l := range strings.Split(out+"\x00"+untracked, "\x00") {
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
// as a dependency of app a: what any of its stages reads (InputSets). A
// commit changes a file these pathspecs match exactly when Detect, given
// that commit's changed files, says a is affected
// (TestInputsAgreeWithDetect). The image's revision is the newest commit
// that changed InputSets' Build, a narrower set.
func Inputs(root string, a App, global Global) ([]string, error) {
	s, err := InputSets(root, a, global)
	if err != nil {
		return nil, err
	}
	return s.All(), nil
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
