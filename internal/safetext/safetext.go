// Package safetext prints text that came from outside Slipway (a registry
// annotation, a bundle's statement, a git record, Argo CD's answer, a
// server's error body) so it cannot pose as a line of Slipway's own output
// or drive the terminal: every control character, every Unicode line or
// paragraph separator and every bidirectional formatting character is
// written as an escape, and so is every byte that is not UTF-8.
//
// The escapes are the ones JSON uses (\n, \r, \t, \u001b, \u202e), so a
// secret printed this way is still one of the forms the redactor knows.
package safetext

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Unsafe reports whether r is escaped by String: C0 and C1 controls, DEL,
// the Unicode line and paragraph separators, and the bidirectional marks,
// embeddings, overrides and isolates (U+061C, U+200E, U+200F,
// U+202A–U+202E, U+2066–U+2069).
func Unsafe(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r == 0x2028, r == 0x2029:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0xfeff: // a zero-width no-break space hides at a line's start
		return true
	}
	return false
}

const hexDigits = "0123456789abcdef"

// String returns s with every unsafe rune (see Unsafe) escaped and every
// byte that is not UTF-8 written as \xNN: the result is one line with no
// terminal escape and no change of writing direction. Safe text is
// returned unchanged.
func String(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if Unsafe(r) || r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[s[i]>>4])
			b.WriteByte(hexDigits[s[i]&0xf])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case Unsafe(r):
			b.WriteString(`\u`)
			for shift := 12; shift >= 0; shift -= 4 {
				b.WriteByte(hexDigits[(r>>uint(shift))&0xf])
			}
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Sprintf is fmt.Sprintf with every string, error, fmt.Stringer and
// []string argument escaped by String: the format is Slipway's, the
// arguments may come from outside. Other arguments (numbers, times,
// durations) are formatted as they are.
func Sprintf(format string, a ...any) string {
	return fmt.Sprintf(format, Args(a...)...)
}

// Args returns a with every string-like argument escaped (see Sprintf).
func Args(a ...any) []any {
	out := make([]any, len(a))
	for i, v := range a {
		out[i] = arg(v)
	}
	return out
}

func arg(v any) any {
	switch x := v.(type) {
	case string:
		return String(x)
	case []string:
		y := make([]string, len(x))
		for i, s := range x {
			y[i] = String(s)
		}
		return y
	case error:
		if x == nil {
			return x
		}
		return escapedError{msg: String(x.Error()), err: x}
	case fmt.Stringer:
		// A named number (a duration, a count) keeps its verbs (%d, %.1f).
		rv := reflect.ValueOf(x)
		switch rv.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
			if rv.IsNil() {
				return v
			}
			return String(x.String())
		case reflect.String, reflect.Struct:
			return String(x.String())
		}
		return v
	}
	// A named string type (a status, a band) is text too.
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
		return String(rv.String())
	}
	return v
}

// escapedError keeps %w and errors.Is working on an escaped message.
type escapedError struct {
	msg string
	err error
}

func (e escapedError) Error() string { return e.msg }
func (e escapedError) Unwrap() error { return e.err }

// LineWriter is a writer for log lines formed elsewhere (a package's Log
// writer, one fmt.Fprintf per line): each Write is one line, written with
// everything but its final newline escaped by String.
func LineWriter(w io.Writer) io.Writer { return lineWriter{w} }

type lineWriter struct{ w io.Writer }

func (l lineWriter) Write(p []byte) (int, error) {
	s := string(p)
	nl := ""
	if trimmed, ok := strings.CutSuffix(s, "\n"); ok {
		s, nl = trimmed, "\n"
	}
	if _, err := io.WriteString(l.w, String(s)+nl); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Fold puts a server's text on one line: its non-blank lines, trimmed,
// joined by " / ", so an error stays one line whatever the server sends.
func Fold(s string) string {
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, " / ")
}
