package dag

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// excluded reports whether rel (slash-separated, relative to Source) matches
// SourceExclude as the engine's host-directory copy applies it.
func excluded(rel string) bool {
	for _, p := range SourceExclude {
		if rest, ok := strings.CutPrefix(p, "**/"); ok {
			if m, _ := filepath.Match(rest, filepath.Base(rel)); m {
				return true
			}
			continue
		}
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// stageView copies src as the stages see it (SourceExclude applied) into a
// directory outside every module and workspace.
func stageView(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "src")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		rel = filepath.ToSlash(rel)
		if rel != "." && excluded(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestSourceExcludeKeepsWorkspaceOut(t *testing.T) {
	for rel, want := range map[string]bool{
		"go.work": true, "go.work.sum": true, ".git": true, ".git/HEAD": true, "out/image.tar": true,
		"cmd/app/app.test": true, "go.mod": false, "ci/go.mod": false, "cmd/main.go": false, "outside/x.go": false,
	} {
		if got := excluded(rel); got != want {
			t.Errorf("%s excluded = %v, want %v", rel, got, want)
		}
	}
	env := map[string]string{}
	for _, kv := range goEnv() {
		env[kv[0]] = kv[1]
	}
	if env["GOWORK"] != "off" {
		t.Errorf("Go containers run with GOWORK=%q, want off: the pipeline's workspace is not the app's", env["GOWORK"])
	}
}

// TestExamplesBuildAsTheStagesSeeThem is the host-side half of running the
// examples on an engine: each example's service module, copied as the stages
// copy it (no .git, no go.work, nothing outside Source), resolves, vets and
// tests with no workspace and no network. Before ci/ became its own module,
// the service's go.mod replaced Slipway with ../.., outside the copy, and
// every Go stage failed with "reading /go.mod".
func TestExamplesBuildAsTheStagesSeeThem(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go vet and go test on the examples")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command")
	}
	for _, ex := range []string{"service-repo", "monorepo"} {
		t.Run(ex, func(t *testing.T) {
			src := filepath.Join("..", "..", "examples", ex)
			mod, err := os.ReadFile(filepath.Join(src, "go.mod"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(mod), "slipway") {
				t.Errorf("%s/go.mod names Slipway: the pipeline's dependencies belong in ci/go.mod\n%s", ex, mod)
			}
			dir := stageView(t, src)
			for _, args := range [][]string{{"vet", "./..."}, {"test", "-count=1", "./..."}} {
				cmd := exec.Command(goBin, args...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "GOWORK=off", "GOPROXY=off", "GOFLAGS=-mod=readonly")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("go %s in %s as the stages see it: %v\n%s", strings.Join(args, " "), ex, err, out)
				}
			}
		})
	}
}
