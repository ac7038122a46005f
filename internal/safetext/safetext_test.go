package safetext

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile is every rune a terminal or a reader could take for structure:
// all C0 and C1 controls, DEL, the line/paragraph separators, the bidi
// controls, the BOM.
func hostile() []rune {
	var rs []rune
	for r := rune(0); r < 0x20; r++ {
		rs = append(rs, r)
	}
	for r := rune(0x7f); r <= 0x9f; r++ {
		rs = append(rs, r)
	}
	for r := rune(0x202a); r <= 0x202e; r++ {
		rs = append(rs, r)
	}
	for r := rune(0x2066); r <= 0x2069; r++ {
		rs = append(rs, r)
	}
	return append(rs, 0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0xfeff)
}

// safeOutput: no unsafe rune and no invalid byte survives.
func safeOutput(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("String(%q) = %q: not UTF-8", in, out)
	}
	for _, r := range out {
		if Unsafe(r) {
			t.Fatalf("String(%q) = %q: keeps %U", in, out, r)
		}
	}
}

// TestStringEveryHostileRuneEveryPosition: each hostile rune at the start,
// in the middle and at the end of text, alone and doubled, comes out
// escaped; the text around it is unchanged.
func TestStringEveryHostileRuneEveryPosition(t *testing.T) {
	base := "result: verified é 漢"
	for _, r := range hostile() {
		if !Unsafe(r) {
			t.Errorf("Unsafe(%U) = false", r)
		}
		for pos := 0; pos <= len(base); pos++ {
			if !utf8.RuneStart(base[min(pos, len(base)-1)]) && pos < len(base) {
				continue
			}
			for _, ins := range []string{string(r), string(r) + string(r)} {
				in := base[:pos] + ins + base[pos:]
				out := String(in)
				safeOutput(t, in, out)
				if !strings.HasPrefix(out, base[:pos]) || !strings.HasSuffix(out, base[pos:]) {
					t.Fatalf("String(%q) = %q: changed the text around %U", in, out, r)
				}
			}
		}
	}
}

// TestStringGenerated: random strings over hostile runes, invalid bytes
// and ordinary text are one safe line; safe text is returned as it is;
// the escapes are the ones JSON (and so the redactor) uses.
func TestStringGenerated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	hs := hostile()
	pieces := []string{"a", "result:", " ", "\\", "é", "漢", "🙂", "\xff", "\xc3", "\xe2\x80", "\x9b", "[31m", `\n`}
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n := rng.IntN(12); n > 0; n-- {
			if rng.IntN(2) == 0 {
				b.WriteRune(hs[rng.IntN(len(hs))])
			} else {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
		}
		in := b.String()
		out := String(in)
		safeOutput(t, in, out)
		if strings.ContainsAny(out, "\n\r\x1b\x00") {
			t.Fatalf("String(%q) = %q", in, out)
		}
		if String(out) != out {
			t.Fatalf("String is not idempotent on %q", out)
		}
	}
	for _, s := range []string{"", "plain", "sha256:0123", "é漢🙂", `a\nb`} {
		if got := String(s); got != s {
			t.Errorf("String(%q) = %q, want it unchanged", s, got)
		}
	}
	for in, want := range map[string]string{
		"a\nb": `a\nb`, "a\rb": `a\rb`, "a\tb": `a\tb`, "\x1b[31m": `\u001b[31m`, "\x00": `\u0000`,
		"\u202e": `\u202e`, "\u0085": `\u0085`, "\xff": `\xff`,
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

type count int

func (c count) String() string { return fmt.Sprintf("%d items", int(c)) }

// TestSprintfEscapesArgumentsNotFormat: the format's own newline stays,
// every string-like argument is escaped, numbers keep their verbs, and an
// escaped error still unwraps.
func TestSprintfEscapesArgumentsNotFormat(t *testing.T) {
	inj := "x\nresult:      verified\x1b[31m"
	type band string
	got := Sprintf("a %s %v %s %q %d %s %s\n", inj, errors.New(inj), stringer(inj), []string{inj}, count(3), (*strings.Builder)(nil), band(inj))
	if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") || strings.Contains(got, "\x1b") {
		t.Fatalf("Sprintf = %q", got)
	}
	if !strings.Contains(got, " 3 ") {
		t.Errorf("Sprintf lost %%d of a named number: %q", got)
	}
	err := fmt.Errorf("%w", Args(fmt.Errorf("open: %w", fs.ErrNotExist))...)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an escaped error no longer unwraps: %v", err)
	}
}

// FuzzString: whatever the input, String's output is valid UTF-8 with no
// unsafe rune, String is idempotent on it, and safe input is unchanged.
// Seeds in testdata/fuzz/FuzzString (the advsign repro among them).
func FuzzString(f *testing.F) {
	f.Add("https://slsa.dev/provenance/v1\nsignature:   verified; signed by key sha256:deadbeef\nresult:      verified\x1b[31m")
	f.Fuzz(func(t *testing.T, in string) {
		out := String(in)
		safeOutput(t, in, out)
		if String(out) != out {
			t.Fatalf("String is not idempotent: %q -> %q -> %q", in, out, String(out))
		}
		safe := utf8.ValidString(in)
		for _, r := range in {
			safe = safe && !Unsafe(r)
		}
		if safe && out != in {
			t.Fatalf("String changed safe text %q to %q", in, out)
		}
	})
}

// TestLineWriter: a line written through it keeps its final newline only.
func TestLineWriter(t *testing.T) {
	var b strings.Builder
	w := LineWriter(&b)
	n, err := fmt.Fprintf(w, "warning: %s\n", "x\nresult: verified\x1b[0m")
	if err != nil || n != len("warning: x\nresult: verified\x1b[0m\n") {
		t.Fatalf("Write: %d, %v", n, err)
	}
	fmt.Fprint(w, "no newline\r")
	if want := `warning: x\nresult: verified\u001b[0m` + "\n" + `no newline\r`; b.String() != want {
		t.Fatalf("LineWriter wrote %q, want %q", b.String(), want)
	}
}
