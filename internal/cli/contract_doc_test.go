package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// contractDoc is the project's contract document, relative to this package.
const contractDoc = "../../docs/contract.md"

// commandTree is every command a user can run, by path below the root ("" is
// the root itself), for the ci program and the slipway binary together.
func commandTree(t *testing.T) map[string]*cobra.Command {
	t.Helper()
	cmds := map[string]*cobra.Command{}
	for _, p := range []Project{testProject(), {Name: "slipway", BinaryOnly: true, ImageLock: testProject().ImageLock}} {
		root := newRootCmd(p.withDefaults(), io.Discard, io.Discard)
		root.InitDefaultHelpCmd()
		root.InitDefaultCompletionCmd()
		var walk func(c *cobra.Command)
		walk = func(c *cobra.Command) {
			if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
				return
			}
			path := strings.TrimSpace(strings.TrimPrefix(c.CommandPath(), root.Name()))
			if prev, ok := cmds[path]; ok {
				// The binary's command: keep both trees' flags under one path.
				c.LocalFlags().VisitAll(func(f *pflag.Flag) {
					if prev.LocalFlags().Lookup(f.Name) == nil {
						prev.Flags().AddFlag(f)
					}
				})
			} else {
				cmds[path] = c
			}
			for _, sub := range c.Commands() {
				walk(sub)
			}
		}
		walk(root)
	}
	return cmds
}

// docSection returns the lines of the "## title" section of the document.
func docSection(t *testing.T, doc, title string) []string {
	t.Helper()
	var lines []string
	in := false
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(l, "## ") {
			in = strings.TrimPrefix(l, "## ") == title
			continue
		}
		if in {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("%s has no section %q", contractDoc, title)
	}
	return lines
}

// tableRows are the cells of the rows of a Markdown table whose first cell
// is code (`…`), with the backticks of the first cell removed.
func tableRows(lines []string) [][]string {
	var rows [][]string
	for _, l := range lines {
		if !strings.HasPrefix(l, "| `") {
			continue
		}
		// "\|" inside a cell is a literal bar, not a separator.
		cells := strings.Split(strings.ReplaceAll(strings.Trim(l, "| "), `\|`, "\x00"), " | ")
		for i := range cells {
			cells[i] = strings.TrimSpace(strings.ReplaceAll(cells[i], "\x00", "|"))
		}
		cells[0] = strings.Trim(cells[0], "`")
		rows = append(rows, cells)
	}
	return rows
}

// TestContractDocument keeps docs/contract.md honest: every command of the
// ci program and of the slipway binary has a row in its Commands table (with
// the right program), every row names a command that exists, and the Flags
// table lists every flag on exactly the commands that have it.
func TestContractDocument(t *testing.T) {
	data, err := os.ReadFile(contractDoc)
	if err != nil {
		t.Fatalf("the contract document: %v", err)
	}
	doc := string(data)
	cmds := commandTree(t)
	binary := map[string]bool{}
	{
		root := newRootCmd(Project{Name: "slipway", BinaryOnly: true}.withDefaults(), io.Discard, io.Discard)
		var walk func(c *cobra.Command)
		walk = func(c *cobra.Command) {
			binary[strings.TrimSpace(strings.TrimPrefix(c.CommandPath(), root.Name()))] = true
			for _, sub := range c.Commands() {
				walk(sub)
			}
		}
		walk(root)
	}

	documented := map[string]bool{}
	for _, row := range tableRows(docSection(t, doc, "Commands")) {
		path := row[0]
		documented[path] = true
		if _, ok := cmds[path]; !ok {
			t.Errorf("%s documents command %q, which does not exist", contractDoc, path)
			continue
		}
		want := "ci"
		if binary[path] {
			want = "both"
		}
		if len(row) < 2 || row[1] != want {
			t.Errorf("%s: command %q is in %q, the document says %q", contractDoc, path, want, row[1])
		}
	}
	for path := range cmds {
		if path != "" && !documented[path] {
			t.Errorf("command %q is not in the Commands table of %s", path, contractDoc)
		}
	}

	// Flags: which commands have each one ("all" for the root's persistent flags).
	root := cmds[""]
	has := map[string]map[string]bool{}
	for path, c := range cmds {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			where := path
			if path == "" && root.PersistentFlags().Lookup(f.Name) != nil {
				where = "all"
			}
			if has[f.Name] == nil {
				has[f.Name] = map[string]bool{}
			}
			has[f.Name][where] = true
		})
	}
	rows := map[string]bool{}
	for _, row := range tableRows(docSection(t, doc, "Flags")) {
		name := strings.TrimPrefix(row[0], "--")
		rows[name] = true
		if has[name] == nil {
			t.Errorf("%s documents flag --%s, which no command has", contractDoc, name)
			continue
		}
		if len(row) < 3 || row[2] == "" {
			t.Errorf("%s: flag --%s has no meaning", contractDoc, name)
		}
		listed := map[string]bool{}
		for _, w := range strings.Split(row[1], ",") {
			w = strings.TrimSpace(w)
			if w == "(none)" {
				w = ""
			}
			listed[w] = true
			if !has[name][w] {
				t.Errorf("%s: flag --%s is listed for %q, which does not have it", contractDoc, name, w)
			}
		}
		for w := range has[name] {
			if !listed[w] {
				if w == "" {
					w = "(none)"
				}
				t.Errorf("%s: flag --%s of %q is not listed for it", contractDoc, name, w)
			}
		}
	}
	for name := range has {
		if !rows[name] {
			t.Errorf("flag --%s is not in the Flags table of %s", name, contractDoc)
		}
	}
	if len(has) < 40 {
		t.Errorf("only %d flags found; the command tree walk is broken", len(has))
	}
}

// TestHelpLinksContract: both programs' --help name the contract document.
func TestHelpLinksContract(t *testing.T) {
	for _, p := range []Project{testProject(), {Name: "slipway", BinaryOnly: true}} {
		var out, errb bytes.Buffer
		if code := Execute(context.Background(), p, []string{"--help"}, &out, &errb); code != 0 {
			t.Fatalf("%s --help: exit %d\n%s", p.Name, code, errb.String())
		}
		if !strings.Contains(out.String(), "docs/contract.md") {
			t.Errorf("%s --help does not link docs/contract.md:\n%s", p.Name, out.String())
		}
	}
}

// TestBinaryHelpSpeaksSlipway: every help text of the slipway binary shows
// commands that work when pasted into a shell that has only the binary: no
// `go run ./ci`, and each example line invokes slipway.
func TestBinaryHelpSpeaksSlipway(t *testing.T) {
	root := newRootCmd(Project{Name: "slipway", BinaryOnly: true}.withDefaults(), io.Discard, io.Discard)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		var help bytes.Buffer
		c.SetOut(&help)
		if err := c.Help(); err != nil {
			t.Fatal(err)
		}
		text := help.String()
		for _, bad := range []string{"go run ./ci", "`ci ", "./ci "} {
			if strings.Contains(text, bad) {
				t.Errorf("slipway %s --help says %q:\n%s", c.CommandPath(), bad, text)
			}
		}
		for _, l := range strings.Split(c.Example, "\n") {
			l = strings.TrimSpace(l)
			if l != "" && !strings.HasPrefix(l, "--") && !strings.Contains(l, "slipway ") {
				t.Errorf("%s: example line %q does not run slipway", c.CommandPath(), l)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
