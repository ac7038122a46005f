package slipway_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goBlocks returns the ```go blocks of a Markdown document.
func goBlocks(md string) []string {
	var blocks []string
	for _, part := range strings.Split(md, "```go\n")[1:] {
		if end := strings.Index(part, "```"); end >= 0 {
			blocks = append(blocks, part[:end])
		}
	}
	return blocks
}

// snippetImports are the packages a README snippet without its own import
// block may use; the test adds those it mentions.
var snippetImports = map[string]string{
	"slipway.": "github.com/slipway-ci/slipway",
	"context.": "context",
	"dagger.":  "dagger.io/dagger",
	"fmt.":     "fmt",
}

// asFile turns a snippet into a Go file: a whole file stays as it is; a
// fragment gets a package clause (main when it declares main) and imports.
func asFile(block string) string {
	if regexp.MustCompile(`(?m)^package `).MatchString(block) {
		return block
	}
	pkg := "snippet"
	if strings.Contains(block, "func main()") {
		pkg = "main"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "package %s\n\nimport (\n", pkg)
	for use, path := range snippetImports {
		if strings.Contains(block, use) {
			fmt.Fprintf(&b, "\t%q\n", path)
		}
	}
	b.WriteString(")\n\n" + block)
	return b.String()
}

// TestReadmeSnippetsCompile compiles every ```go block of the
// README against this module's public API: a documented use that no longer
// compiles fails here, not in a user's first `go run ./ci`.
func TestReadmeSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Go compiler")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command")
	}
	md, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(string(md))
	if len(blocks) < 3 {
		t.Fatalf("README has %d go blocks, want the service, monorepo and custom stage examples", len(blocks))
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	// The snippets are compiled as packages of this module that exist only
	// in an overlay: nothing is written into the source tree.
	overlay := map[string]string{}
	var pkgs []string
	tmp := t.TempDir()
	for i, block := range blocks {
		rel := fmt.Sprintf("internal/readmesnippet%d", i+1)
		file := filepath.Join(tmp, fmt.Sprintf("snippet%d.go", i+1))
		if err := os.WriteFile(file, []byte(asFile(block)), 0o644); err != nil {
			t.Fatal(err)
		}
		overlay[filepath.Join(root, rel, "snippet.go")] = file
		pkgs = append(pkgs, "./"+rel)
	}
	ov, _ := json.Marshal(map[string]any{"Replace": overlay})
	ovFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ovFile, ov, 0o644); err != nil {
		t.Fatal(err)
	}
	// go list -export compiles the packages without linking them (go vet
	// cannot run in a directory that exists only in an overlay).
	cmd := exec.Command(goBin, append([]string{"list", "-export", "-overlay", ovFile}, pkgs...)...)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("README go blocks do not compile: %v\n%s", err, out)
		for i, b := range blocks {
			t.Logf("block %d:\n%s", i+1, asFile(b))
		}
	}
}
