package affected

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// genRepo is a generated one-module monorepo: packages pkg/pI (each with a
// testdata/ file and an embedded assets/ file) importing later packages,
// some imports only from a _test.go file; apps services/sK whose main
// imports some packages, again some only from its test.
type genRepo struct {
	root  string
	pkgs  int
	apps  int
	deps  map[string][]string // package dir -> package dirs it or its tests import
	prod  map[string][]string // package dir -> package dirs its non-test files import
	files []string            // candidates for a change
}

func generateRepo(t *testing.T, rng *rand.Rand) *genRepo {
	g := &genRepo{root: t.TempDir(), pkgs: 2 + rng.Intn(6), apps: 1 + rng.Intn(3), deps: map[string][]string{}, prod: map[string][]string{}}
	write(t, g.root, "go.mod", "module example.com/gen\n\ngo 1.22\n")
	imports := func(dir string, candidates []int) (src, test []string) {
		for _, j := range candidates {
			if rng.Intn(3) != 0 {
				continue
			}
			imp := fmt.Sprintf("\"example.com/gen/pkg/p%d\"", j)
			if rng.Intn(2) == 0 {
				src = append(src, imp)
				g.prod[dir] = append(g.prod[dir], fmt.Sprintf("pkg/p%d", j))
			} else {
				test = append(test, imp)
			}
			g.deps[dir] = append(g.deps[dir], fmt.Sprintf("pkg/p%d", j))
		}
		return src, test
	}
	goFile := func(pkg string, imps []string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "package %s\n\n", pkg)
		for _, i := range imps {
			fmt.Fprintf(&b, "import _ %s\n", i)
		}
		return b.String()
	}
	for i := 0; i < g.pkgs; i++ {
		dir := fmt.Sprintf("pkg/p%d", i)
		var later []int
		for j := i + 1; j < g.pkgs; j++ {
			later = append(later, j)
		}
		src, test := imports(dir, later)
		name := fmt.Sprintf("p%d", i)
		write(t, g.root, dir+"/p.go", goFile(name, src)+"\n//go:embed assets\nvar assets string\n")
		write(t, g.root, dir+"/p_test.go", goFile(name+"_test", test))
		write(t, g.root, dir+"/testdata/golden.txt", "golden\n")
		write(t, g.root, dir+"/assets/page.html", "<p>x</p>\n")
		g.files = append(g.files, dir+"/p.go", dir+"/p_test.go", dir+"/testdata/golden.txt", dir+"/assets/page.html", dir+"/testdata/new.txt")
	}
	for k := 0; k < g.apps; k++ {
		dir := fmt.Sprintf("services/s%d", k)
		all := make([]int, g.pkgs)
		for j := range all {
			all[j] = j
		}
		src, test := imports(dir, all)
		write(t, g.root, dir+"/main.go", goFile("main", src)+"\nfunc main() {}\n")
		write(t, g.root, dir+"/main_test.go", goFile("main", test))
		g.files = append(g.files, dir+"/main.go", dir+"/main_test.go")
	}
	// Read by lint and test (./...) only: a package nobody imports, with a
	// test; a second main.
	write(t, g.root, "pkg/lone/l_test.go", "package lone\n")
	write(t, g.root, "cmd/tool/main.go", "package main\n\nfunc main() {}\n")
	g.files = append(g.files, "pkg/lone/l_test.go", "pkg/lone/new.go", "cmd/tool/main.go")
	write(t, g.root, "README.md", "# gen\n")
	git(t, g.root, "init", "-q", "-b", "main")
	git(t, g.root, "add", ".")
	git(t, g.root, "commit", "-qm", "base")
	return g
}

// wantBuild is the model's answer for the build and the scan: the app's own
// directory, and every package its main reaches through imports of
// non-test files (with their embedded assets/), never a test file or
// testdata/.
func (g *genRepo) wantBuild(app int, file string) bool {
	main := fmt.Sprintf("services/s%d", app)
	seen := map[string]bool{main: true}
	queue := []string{main}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, d := range g.prod[p] {
			if !seen[d] {
				seen[d] = true
				queue = append(queue, d)
			}
		}
	}
	if strings.HasSuffix(file, "_test.go") || strings.Contains(file, "/testdata/") {
		return false
	}
	return seen[strings.TrimSuffix(path.Dir(file), "/assets")]
}

// TestDetectOnGeneratedRepos (issue 17.11, 19): on generated repositories, a
// change to one file, committed on a branch or left uncommitted in the
// working tree (modified, staged, or a new untracked file), is in the
// build's inputs of exactly the apps whose main package reaches the file's
// package through non-test imports (embedded asset directories belong to
// their package; test files and testdata/ never do), and in the lint and
// test inputs of every app (they run over ./... of the module: test files,
// testdata/, a package nobody imports, a second main); so every app is
// affected. Slipway's out/ never counts.
func TestDetectOnGeneratedRepos(t *testing.T) {
	ctx := context.Background()
	for seed := int64(1); seed <= 12; seed++ {
		rng := rand.New(rand.NewSource(seed))
		g := generateRepo(t, rng)
		var apps []App
		for k := 0; k < g.apps; k++ {
			apps = append(apps, App{Name: fmt.Sprintf("s%d", k), Source: ".", Main: fmt.Sprintf("./services/s%d", k)})
		}
		for trial := 0; trial < 5; trial++ {
			git(t, g.root, "checkout", "-q", "-f", "-B", "work", "main")
			git(t, g.root, "clean", "-qfdx")
			file := g.files[rng.Intn(len(g.files))]
			body := fmt.Sprintf("// change %d\n", trial)
			if !strings.HasSuffix(file, ".go") {
				body = fmt.Sprintf("change %d\n", trial)
			}
			mode := []string{"commit", "modify", "stage"}[rng.Intn(3)]
			old := ""
			if b, err := readFile(g.root, file); err == nil {
				old = b
			} else {
				mode = []string{"commit", "untracked"}[rng.Intn(2)]
			}
			write(t, g.root, file, old+body)
			write(t, g.root, "out/APP/image.tar", "not a change")
			switch mode {
			case "commit":
				git(t, g.root, "add", file)
				git(t, g.root, "commit", "-qm", "change")
			case "stage":
				git(t, g.root, "add", file)
			}
			_, files, err := ChangedSince(ctx, g.root, "main", "out")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(files, ",") != file {
				t.Fatalf("seed %d: %s %s: changed files %v", seed, mode, file, files)
			}
			res, err := Detect(g.root, apps, files, Global{})
			if err != nil {
				t.Fatal(err)
			}
			mods, _ := modules(g.root)
			gr := newGraph(g.root, mods)
			for k, r := range res {
				sets, err := gr.sets(apps[k], Global{})
				if err != nil {
					t.Fatal(err)
				}
				_, build := matchSet(sets.build, file)
				_, check := matchSet(sets.check, file)
				if want := g.wantBuild(k, file); build != want || !check {
					t.Fatalf("seed %d: %s %s: app %s: build input %v (want %v), lint and test input %v (want true)", seed, mode, file, r.App, build, want, check)
				}
				if want := true; r.Affected != want {
					deps := make([]string, 0, len(g.deps))
					for p, d := range g.deps {
						deps = append(deps, p+" -> "+strings.Join(d, " "))
					}
					sort.Strings(deps)
					t.Fatalf("seed %d: %s %s: app %s affected %v (%s), want %v\nimports: %s", seed, mode, file, r.App, r.Affected, r.Reason, want, strings.Join(deps, "; "))
				}
			}
		}
	}
}

func readFile(root, rel string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	return string(b), err
}
