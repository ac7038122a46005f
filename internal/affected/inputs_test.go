package affected

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// TestInputsAgreeWithDetect is a property test over generated histories: for
// every commit, `git log -- Inputs(app)` lists it exactly when Detect, given
// the files that commit changed, says the app is affected. The newest such
// commit is what an app's image names as its revision, so an app whose
// inputs did not change keeps its digest.
func TestInputsAgreeWithDetect(t *testing.T) {
	pool := []string{
		"README.md", "docs/guide.md", "go.mod", "go.sum", "go.work", "ci/images.lock", "ci/main.go", "ci/sub/x.go",
		"internal/shared/shared.go", "internal/shared/extra.go", "internal/shared/deep/d.go", "internal/shared/shared_test.go",
		"internal/other/other.go", "internal/other/notes.txt", "internal/unused/u.go",
		"services/a/main.go", "services/a/deploy/k.yaml", "services/a/sub/s.go",
		"services/b/main.go", "services/b/.golangci.yml", "services/b/deploy/d.yaml",
		"services/c/main.go", "services/c/go.mod", "services/c/go.sum", "services/c/cmd/tool/t.go",
		"libs/x/x.go", "libs/x/go.mod", "libs/x/y/y.go", "libs/other.md",
		"weird[dir]/f.go", "star*/f.txt",
		// Read through vendor/, //go:embed and a cgo include directory;
		// test-only files; a package nobody imports.
		"vendor/modules.txt", "vendor/example.com/ext/e.go", "include/x.h", "internal/shared/assets/a.txt",
		"internal/shared/testdata/g.txt", "services/a/a_test.go", "pkg/lone/l_test.go", "pkg/lone/l.go",
	}
	withDeploy := append([]App{}, apps...)
	withDeploy[0].Deploy = "services/a/deploy"
	withDeploy[1].Deploy = "deploy"
	global := Global{Files: []string{"ci/images.lock"}, Dirs: []string{"ci"}}
	for seed := int64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rnd := rand.New(rand.NewSource(seed))
			root := monorepo(t)
			write(t, root, "internal/shared/embed.go", "package shared\n\n// #cgo CFLAGS: -I${SRCDIR}/../../include\nimport \"C\"\n\n//go:embed assets\nvar assets string\n")
			write(t, root, "internal/shared/ext.go", "package shared\n\nimport _ \"example.com/ext\"\n")
			write(t, root, "vendor/modules.txt", "# example.com/ext v1.0.0\n")
			write(t, root, "vendor/example.com/ext/e.go", "package ext\n")
			git(t, root, "add", "-A")
			git(t, root, "commit", "-qm", "vendor, embed, cgo")
			var commits []string
			for i := 0; i < 25; i++ {
				n := 1 + rnd.Intn(3)
				for j := 0; j < n; j++ {
					f := pool[rnd.Intn(len(pool))]
					content := fmt.Sprintf("// %d %d\n", i, j)
					if strings.HasSuffix(f, ".go") && !strings.HasSuffix(f, "main.go") {
						content = "package " + pkgName(f) + "\n" + content
					}
					if strings.HasSuffix(f, "main.go") || f == "go.mod" || f == "services/c/go.mod" || f == "libs/x/go.mod" {
						continue // keep the module and import graph valid: only other files change
					}
					write(t, root, f, content)
				}
				git(t, root, "add", "-A")
				git(t, root, "commit", "-qm", fmt.Sprint("c", i), "--allow-empty")
				commits = append(commits, git(t, root, "rev-parse", "HEAD"))
			}
			for _, a := range withDeploy {
				specs, err := Inputs(root, a, global)
				if err != nil {
					t.Fatal(err)
				}
				logged := map[string]bool{}
				for _, c := range strings.Fields(git(t, root, append([]string{"log", "--format=%H", "--"}, specs...)...)) {
					logged[c] = true
				}
				// The build's pathspecs (test files excluded) and the
				// matcher agree too: they name the image's revision.
				sets, err := InputSets(root, a, global)
				if err != nil {
					t.Fatal(err)
				}
				mods, _ := modules(root)
				internal, err := newGraph(root, mods).sets(a, global)
				if err != nil {
					t.Fatal(err)
				}
				built := map[string]bool{}
				for _, c := range strings.Fields(git(t, root, append([]string{"log", "--format=%H", "--"}, sets.Build...)...)) {
					built[c] = true
				}
				for _, c := range commits {
					changed := strings.Fields(git(t, root, "diff-tree", "--no-commit-id", "--name-only", "-r", c))
					res, err := Detect(root, []App{a}, changed, global)
					if err != nil {
						t.Fatal(err)
					}
					build := false
					for _, f := range changed {
						_, ok := matchSet(internal.build, f)
						build = build || ok
					}
					if build != built[c] {
						t.Errorf("app %s, commit changing %v: the build's matcher says %v, git log over %v says %v", a.Name, changed, build, sets.Build, built[c])
					}
					if res[0].Affected != logged[c] {
						t.Errorf("app %s, commit changing %v: Detect says affected=%v (%s), git log over %v says %v",
							a.Name, changed, res[0].Affected, res[0].Reason, specs, logged[c])
					}
				}
			}
		})
	}
}

func pkgName(f string) string {
	parts := strings.Split(f, "/")
	name := parts[len(parts)-2]
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r
		}
		return -1
	}, name)
	return name
}
