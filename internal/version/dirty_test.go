package version

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 17.9: Slipway's output directory is never a change to the source;
// everything else still is (renames, paths with spaces, a file moved into
// out/ from the source).
func TestDirtyIgnoresOutput(t *testing.T) {
	clearCI(t)
	dir := t.TempDir()
	gitCmd(t, dir, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a\n"), 0o644)
	gitCmd(t, dir, "add", ".")
	gitCmd(t, dir, "commit", "-qm", "c")
	out := filepath.Join(dir, "out")
	detect := func() bool {
		t.Helper()
		info, err := Detect(dir, IgnoringOutput(out))
		if err != nil {
			t.Fatal(err)
		}
		return info.Dirty
	}
	os.MkdirAll(filepath.Join(out, "app"), 0o755)
	os.WriteFile(filepath.Join(out, "app", "image.tar"), []byte("x"), 0o644)
	if detect() {
		t.Error("out/ counted as a change")
	}
	if info, _ := Detect(dir); !info.Dirty {
		t.Error("without IgnoringOutput an untracked out/ is a change, as git says")
	}
	os.MkdirAll(filepath.Join(dir, "out dir"), 0o755)
	os.WriteFile(filepath.Join(dir, "out dir", "x"), []byte("x"), 0o644)
	if !detect() {
		t.Error(`"out dir/" is not out/: a change`)
	}
	os.RemoveAll(filepath.Join(dir, "out dir"))
	gitCmd(t, dir, "mv", "a.txt", "out/a.txt")
	if !detect() {
		t.Error("a source file moved into out/ is a change")
	}
}

// The output directory is ignored however --out spells it: nested in an
// untracked directory (git reports "?? build/", not the output directory),
// "./out", "out/", an absolute path; anything beside it still counts.
func TestDirtyIgnoresOutputAnySpelling(t *testing.T) {
	clearCI(t)
	for _, spell := range []string{"out", "./out", "out/", "build/artifacts", "./build/artifacts/", "ABS/build/artifacts", "a/b/c/out"} {
		dir := t.TempDir()
		gitCmd(t, dir, "init", "-q", "-b", "main")
		os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a\n"), 0o644)
		gitCmd(t, dir, "add", ".")
		gitCmd(t, dir, "commit", "-qm", "c")
		t.Chdir(dir)
		out := spell
		if rest, ok := strings.CutPrefix(spell, "ABS/"); ok {
			out = filepath.Join(dir, rest)
		}
		os.MkdirAll(filepath.Join(out, "signing"), 0o755)
		os.WriteFile(filepath.Join(out, "signing", "slipway.key"), []byte("x"), 0o600)
		info, err := Detect(dir, IgnoringOutput(out))
		if err != nil {
			t.Fatal(err)
		}
		if info.Dirty {
			t.Errorf("--out %s: the output directory counted as a change", spell)
		}
		parent := filepath.Dir(filepath.Clean(out))
		os.WriteFile(filepath.Join(parent, "beside.txt"), []byte("x"), 0o644)
		if info, _ := Detect(dir, IgnoringOutput(out)); !info.Dirty {
			t.Errorf("--out %s: a file beside the output directory (%s) is a change", spell, parent)
		}
	}
}
