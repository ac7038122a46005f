package testenv

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

// hostile is what a developer's or a runner's shell may hold: every family
// Scrub removes, set to values that break a test that reads them. The
// Makefile's test target runs the whole suite with the same variables.
var hostile = map[string]string{
	"SLIPWAY_IMAGES": "/nonexistent/images.lock", "SLIPWAY_CACHE_REPO": "junk.invalid/cache",
	"GITOPS_REPO": "https://junk.invalid/gitops.git", "GITOPS_TOKEN": "junk",
	"CI": "true", "CI_IMAGE": "junk.invalid/app", "GITHUB_ACTIONS": "true", "GITHUB_BASE_REF": "junk",
	"DOCKER_HOST": "tcp://junk.invalid:1", "REGISTRY_PASSWORD": "junk", "ARGOCD_SERVER": "junk",
	"_EXPERIMENTAL_DAGGER_RUNNER_HOST": "tcp://junk.invalid:1", "JENKINS_URL": "http://junk.invalid",
	"GIT_DIR": "/nonexistent",
}

func TestScrubRemovesAndEngineRestores(t *testing.T) {
	for k, v := range hostile {
		t.Setenv(k, v)
	}
	t.Setenv("SLIPWAY_TEST_ARTIFACTS", "/tmp/artifacts")
	t.Setenv("HOME_NOT_OURS", "kept")
	Scrub()
	for k := range hostile {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("%s=%q survived Scrub", k, v)
		}
	}
	if os.Getenv("SLIPWAY_TEST_ARTIFACTS") == "" || os.Getenv("HOME_NOT_OURS") != "kept" {
		t.Error("Scrub removed a variable outside its families")
	}
	t.Run("engine", func(t *testing.T) {
		Engine(t)
		for k, v := range hostile {
			if got := os.Getenv(k); got != v {
				t.Errorf("Engine: %s=%q, want %q", k, got, v)
			}
		}
	})
	if os.Getenv("SLIPWAY_IMAGES") != "" {
		t.Error("Engine's restore outlived its test")
	}
}

// TestEveryTestPackageIsHermetic is the class-level check: every package of
// this module that has tests starts them with testenv.Main, so a new test
// package cannot read the shell's SLIPWAY_IMAGES or CI by accident.
func TestEveryTestPackageIsHermetic(t *testing.T) {
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "out") {
				return filepath.SkipDir
			}
			if path != root {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // another module (sample-app, examples): not ours to scrub
				}
			}
			return nil
		}
		if strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 10 {
		t.Fatalf("found only %d test packages under %s", len(dirs), root)
	}
	for dir := range dirs {
		if !callsMain(t, dir) {
			rel, _ := filepath.Rel(root, dir)
			t.Errorf("%s: tests do not start with testenv.Main; add testmain_test.go with `func TestMain(m *testing.M) { testenv.Main(m) }`", rel)
		}
	}
}

// callsMain reports whether a test file in dir (any build tags) declares a
// TestMain that calls testenv.Main.
func callsMain(t *testing.T, dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	for _, f := range files {
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || fn.Name.Name != "TestMain" || fn.Body == nil {
				continue
			}
			found := false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				switch f := call.Fun.(type) {
				case *ast.SelectorExpr:
					if x, ok := f.X.(*ast.Ident); ok && x.Name == "testenv" && f.Sel.Name == "Main" {
						found = true
					}
				case *ast.Ident:
					if f.Name == "Main" && file.Name.Name == "testenv" {
						found = true
					}
				}
				return !found
			})
			if found {
				return true
			}
		}
	}
	return false
}
