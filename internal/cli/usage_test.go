package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// validName is the GitOps name rule (an app or environment directory).
var validName = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

// badNames are seeds (the reported `--app ../x`, a capitalised environment)
// and generated values that break the name rule in every way: separators,
// dots, capitals, spaces, other scripts, leading or trailing punctuation,
// length.
func badNames(r *rand.Rand, n int) []string {
	out := []string{"../x", "Staging", "a/b", "x y", ".", "..", "-x", "x-", strings.Repeat("a", 64), "prod\n", "ÿ"}
	alphabet := []rune("abZ09./_- :@~\\é\t")
	for len(out) < n {
		var b strings.Builder
		for i := 0; i < 1+r.Intn(8); i++ {
			b.WriteRune(alphabet[r.Intn(len(alphabet))])
		}
		if s := b.String(); !validName.MatchString(s) {
			out = append(out, s)
		}
	}
	return out
}

// TestInputErrorsAreUsage: every command that takes an app or environment
// name answers a name that breaks the rule, or names nothing that exists,
// with exit 2 (usage) and one error line naming the value, whichever layer
// (flags, CLI, GitOps) finds the problem, and writes nothing.
func TestInputErrorsAreUsage(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	src, shas := gitRepo(t, 2)
	common := []string{"--out", out, "--source", "../../sample-app"}
	if _, stderr, code := run(t, append([]string{"deploy", "--app", "sample-app", "--env", "staging", "--image", dig(1), "--source-commit", shas[1], "--source-repo", src}, common...)...); code != 0 {
		t.Fatalf("seed deploy: %s", stderr)
	}
	head := func() string {
		b, err := exec.Command("git", "-C", filepath.Join(out, "gitops.git"), "rev-parse", "main").Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	before := head()
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	// Each command with a placeholder X for the name under test.
	commands := [][]string{
		{"deploy", "--app", "X", "--env", "staging", "--image", dig(2), "--source-commit", shas[1], "--source-repo", src},
		{"deploy", "--app", "sample-app", "--env", "X", "--image", dig(2), "--source-commit", shas[1], "--source-repo", src},
		{"promote", "--app", "X", "--from", "staging", "--to", "production", "--source-repo", src},
		{"promote", "--app", "sample-app", "--from", "X", "--to", "production", "--source-repo", src},
		{"promote", "--app", "sample-app", "--from", "staging", "--to", "X", "--source-repo", src},
		{"rollback", "--app", "X", "--env", "staging", "--reason", "r"},
		{"rollback", "--app", "sample-app", "--env", "X", "--reason", "r"},
		{"unpin", "--app", "X", "--env", "staging", "--reason", "r"},
		{"unpin", "--app", "sample-app", "--env", "X", "--reason", "r"},
		{"freeze", "--env", "X", "--until", until, "--reason", "r"},
		{"unfreeze", "--env", "X"},
		{"status", "--app", "X"},
		{"status", "--env", "X"},
		{"history", "--app", "X"},
		{"history", "--env", "X"},
		{"dora", "--app", "X", "--source-repo", src},
		{"dora", "--env", "X", "--source-repo", src},
	}
	r := rand.New(rand.NewSource(17))
	names := append(badNames(r, 40), "prodcution", "sample-ap") //nolint:misspell // the reported typo
	for _, cmd := range commands {
		for _, name := range names {
			args := make([]string, 0, len(cmd)+len(common))
			for i, a := range cmd {
				if a == "X" {
					// --flag=value: a value that starts with "-" stays a value.
					args = append(args[:len(args)-1], cmd[i-1]+"="+name)
					continue
				}
				args = append(args, a)
			}
			_, stderr, code := run(t, append(args, common...)...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			errLine := ""
			for _, l := range lines {
				if strings.HasPrefix(l, "error:") {
					errLine = l
				}
			}
			if code != 2 || (!strings.Contains(errLine, fmt.Sprintf("%q", name)) && !strings.Contains(errLine, name)) {
				t.Errorf("%s %s=%q: exit %d, error %q; want exit 2 naming the value", cmd[0], flagOf(cmd), name, code, errLine)
			}
		}
	}
	if head() != before {
		t.Error("a refused input changed the GitOps repository")
	}
}

func flagOf(cmd []string) string {
	for i, a := range cmd {
		if a == "X" {
			return cmd[i-1]
		}
	}
	return ""
}

// TestNegativeNumbersAreUsage: every duration, size or count flag of every
// command refuses a negative value with exit 2 naming the flag, before
// anything runs.
func TestNegativeNumbersAreUsage(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	n := 0
	for path, c := range commandTree(t) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			v := ""
			switch f.Value.Type() {
			case "duration":
				v = "-1s"
			case "int", "int64":
				v = "-1"
			default:
				return
			}
			n++
			args := append(strings.Fields(path), "--"+f.Name+"="+v, "--out", out)
			if c.Args != nil && c.Args(c, nil) != nil {
				args = append(args, dig(1)) // verify IMAGE@sha256:…
			}
			_, stderr, code := run(t, args...)
			if code != 2 || !strings.Contains(stderr, "--"+f.Name) {
				t.Errorf("%s --%s=%s: exit %d, stderr %q; want 2 naming the flag", path, f.Name, v, code, stderr)
			}
		})
	}
	if n < 5 {
		t.Errorf("only %d numeric flags found", n)
	}
}

// TestSupersededSaysItOnce: a deploy that finds a newer build running says
// so in one stderr line (not once per layer) and prints "superseded" last.
func TestSupersededSaysItOnce(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	src, shas := gitRepo(t, 3)
	common := []string{"--out", out, "--source", "../../sample-app", "--source-repo", src}
	if _, stderr, code := run(t, append([]string{"deploy", "--app", "sample-app", "--env", "staging", "--image", dig(2), "--source-commit", shas[2]}, common...)...); code != 0 {
		t.Fatalf("deploy: %s", stderr)
	}
	stdout, stderr, code := run(t, append([]string{"deploy", "--app", "sample-app", "--env", "staging", "--image", dig(1), "--source-commit", shas[1], "--superseded-ok"}, common...)...)
	if code != 0 || lastLine(stdout) != "superseded" {
		t.Fatalf("older build with --superseded-ok: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	n := 0
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "superseded") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("stderr says superseded %d times, want once:\n%s", n, stderr)
	}
	if !strings.Contains(stderr, shas[2][:12]) {
		t.Errorf("stderr does not name the running commit:\n%s", stderr)
	}
}

// zeroMeans are the count and duration flags whose zero means something
// (their help says what); every other one is positiveFlag.
var zeroMeans = map[string]bool{"cache-max-size": true, "db-max-age": true}

// Every count or duration flag of every command, given as zero, is a usage
// error (exit 2) before anything runs, unless its zero means something
// (rollback --steps 0 rolled back one step and pinned).
func TestZeroCountsAndDurationsAreUsageErrors(t *testing.T) {
	noEngineEnv(t)
	for _, p := range []Project{testProject(), {Name: "slipway", BinaryOnly: true, ImageLock: testProject().ImageLock}} {
		root := newRootCmd(p.withDefaults(), io.Discard, io.Discard)
		var walk func(c *cobra.Command)
		walk = func(c *cobra.Command) {
			c.Flags().VisitAll(func(f *pflag.Flag) {
				switch f.Value.Type() {
				case "duration", "int", "int64":
				default:
					return
				}
				if zeroMeans[f.Name] {
					return
				}
				if _, ok := f.Annotations[positiveFlag]; !ok {
					t.Errorf("%s --%s: a count or duration flag neither positive nor in zeroMeans", c.CommandPath(), f.Name)
					return
				}
				args := append(strings.Fields(c.CommandPath())[1:], "--"+f.Name, "0")
				var stdout, stderr bytes.Buffer
				code := Execute(context.Background(), p, args, &stdout, &stderr)
				if code != 2 || !strings.Contains(stderr.String(), "--"+f.Name+" 0") {
					t.Errorf("%s: exit %d, want 2 naming the flag\n%s", strings.Join(args, " "), code, stderr.String())
				}
			})
			for _, s := range c.Commands() {
				walk(s)
			}
		}
		walk(root)
	}
}
