package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Every command that writes into the output directory, run by the slipway
// binary in a fresh `git init` checkout, leaves `git status` empty whatever
// --out says: whichever command creates out/ writes its .gitignore first
// (the development private key is never one `git add -A` away).
func TestOutputNeverDirtiesTheCheckout(t *testing.T) {
	noEngineEnv(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	t.Setenv(envSigningKey, "")
	t.Setenv(envSigningPassword, "")
	t.Setenv("REGISTRY_USERNAME", "bot")
	t.Setenv("REGISTRY_PASSWORD", regPass)
	t.Setenv("SLIPWAY_IMAGES", "")
	host := basicAuthRegistry(t)
	t.Setenv("REGISTRY_HOST", host)
	tar := imageTar(t, t.TempDir())
	bin := Project{Name: "slipway", BinaryOnly: true, ImageLock: testProject().ImageLock}

	commands := map[string]func(out string) []string{
		"push": func(string) []string {
			return []string{"push", "--tarball", tar, "--image", host + "/fr/x"}
		},
		"keygen into out": func(out string) []string {
			return []string{"keygen", "--no-password", "--output-key-prefix", filepath.Join(out, "keys", "ci")}
		},
		"scan --sarif into out": func(out string) []string {
			rep := filepath.Join(t.TempDir(), "trivy.json")
			os.WriteFile(rep, []byte(`{"SchemaVersion":2,"Results":[]}`), 0o644)
			return []string{"scan", "--report", rep, "--sarif", filepath.Join(out, "trivy.sarif")}
		},
	}
	for _, spell := range []string{"", "out", "./out", "out/", "build/artifacts", "./build/artifacts/", "ABS"} {
		for name, args := range commands {
			dir := t.TempDir()
			git := func(a ...string) string {
				t.Helper()
				c := exec.Command("git", append([]string{"-C", dir}, a...)...)
				c.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
				b, err := c.CombinedOutput()
				if err != nil {
					t.Fatalf("git %v: %v\n%s", a, err, b)
				}
				return string(b)
			}
			git("init", "-q")
			git("commit", "-q", "--allow-empty", "-m", "init")
			t.Chdir(dir)
			out, flags := spell, []string{"--out", spell}
			switch spell {
			case "":
				out, flags = "out", nil
			case "ABS":
				out = filepath.Join(dir, "abs", "out")
				flags = []string{"--out", out}
			}
			var stdout, stderr bytes.Buffer
			if code := Execute(context.Background(), bin, append(args(out), flags...), &stdout, &stderr); code != 0 {
				t.Fatalf("%s --out %q: exit %d\n%s", name, spell, code, stderr.String())
			}
			if st := git("status", "--porcelain", "--untracked-files=all"); strings.TrimSpace(st) != "" {
				t.Errorf("%s --out %q: the checkout is dirty afterwards:\n%s", name, spell, st)
			}
		}
	}
}

// No command creates a directory but through outdir (which writes out/'s
// .gitignore first when the directory is in out/): generate writes the
// repository's own files, on purpose outside out/.
func TestDirectoriesAreCreatedThroughOutdir(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	more, _ := filepath.Glob("../release/*.go")
	for _, f := range append(files, more...) {
		if strings.HasSuffix(f, "_test.go") || filepath.Base(f) == "generate.go" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "os.MkdirAll(") {
			t.Errorf("%s creates a directory with os.MkdirAll: use outdir.MkdirAll (out/ gets its .gitignore)", f)
		}
	}
}
