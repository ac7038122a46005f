package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"hash/maphash"
	"io"
	"regexp"
	"strings"
	"sync"
)

// Window is the length of the pieces a Set recognizes: no run of Window
// bytes of a secret, in any of its forms, passes through a Set. A text that
// quotes a secret in part (a parser's "invalid character near …", a
// truncated dump) is caught as surely as one that quotes it whole.
const Window = 16

// setMinLen keeps very short values (a "1", a "true") from shredding the
// output; a value shorter than this is not a credential anyone relies on.
const setMinLen = 6

// maxIndexed bounds the bytes of one form whose windows are indexed; beyond
// it a value is matched whole only (nobody's credential is that long).
const maxIndexed = 4 << 20

// Set is every secret value one run of Slipway read, in the forms it may be
// printed in: as given, trimmed, base64 (standard, URL, unpadded), decoded
// from base64, on one line (newlines dropped or escaped as JSON does), and
// each of its lines. String, Error and Writer replace any Window-byte piece
// of any form, and every whole form shorter than that, with "***".
// A Set is safe for concurrent use; the zero value is not: use NewSet.
type Set struct {
	mu      sync.RWMutex
	seed    maphash.Seed
	windows map[uint64]struct{}
	short   []string // forms shorter than Window, matched whole
}

// NewSet returns an empty Set.
func NewSet() *Set {
	return &Set{seed: maphash.MakeSeed(), windows: map[uint64]struct{}{}}
}

// Add records value (and its forms) as secret. Values shorter than six
// bytes are ignored.
func (s *Set) Add(value string) {
	if s == nil {
		return
	}
	forms := Forms(value)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range forms {
		if len(f) < Window {
			s.short = append(s.short, f)
			continue
		}
		if len(f) > maxIndexed {
			f = f[:maxIndexed]
		}
		for i := 0; i+Window <= len(f); i++ {
			s.windows[maphash.String(s.seed, f[i:i+Window])] = struct{}{}
		}
	}
}

// Forms are the ways value may appear in text: as given, trimmed, each line,
// on one line, JSON-escaped, base64-encoded and base64-decoded. Forms
// shorter than six bytes are left out.
func Forms(value string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(f string) {
		if len(f) >= setMinLen && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	var addText func(v string, depth int)
	addText = func(v string, depth int) {
		if public := StripArmor(v); public != v {
			// An armored key: its BEGIN/END labels are public words ("ENCRYPTED
			// SIGSTORE PRIVATE KEY"), never learned; the armored value is
			// still learned in its base64 forms (no label is readable there).
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
				add(enc.EncodeToString([]byte(v)))
			}
			v = public
		}
		add(v)
		t := strings.TrimSpace(v)
		add(t)
		for _, line := range strings.Split(t, "\n") {
			add(strings.TrimSpace(line))
		}
		oneLine := strings.Join(strings.Fields(t), "")
		add(oneLine)
		add(strings.ReplaceAll(strings.ReplaceAll(t, "\r", ""), "\n", " "))
		if q, err := json.Marshal(t); err == nil {
			add(string(q[1 : len(q)-1]))
		}
		add(strings.ReplaceAll(t, "\n", `\n`))
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			// Unpadded encodings add only their end: their windows are the
			// padded ones'; a short value needs them whole.
			if len(v) < Window || enc == base64.StdEncoding || enc == base64.URLEncoding {
				add(enc.EncodeToString([]byte(v)))
				if t != v {
					add(enc.EncodeToString([]byte(t)))
				}
			}
			if depth == 0 {
				if dec, err := enc.DecodeString(oneLine); err == nil && len(dec) > 0 {
					addText(string(dec), depth+1)
				}
			}
		}
	}
	if value != "" {
		addText(value, 0)
	}
	return out
}

// armorLine is a PEM or OpenPGP armor line, "-----BEGIN LABEL-----" or
// "-----END LABEL-----", as the line itself or pasted inline.
var armorLine = regexp.MustCompile(`-----(BEGIN|END) [A-Z0-9 ]{1,64}-----`)

// StripArmor returns value with its PEM / OpenPGP armor lines replaced by
// newlines: what is left of a key is its secret body. A label names a kind
// of key, not a key: learning it would mask every message that names the
// kind (`a "ENCRYPTED PRIVATE KEY" PEM block …`).
func StripArmor(value string) string {
	if !strings.Contains(value, "-----") {
		return value
	}
	return armorLine.ReplaceAllString(value, "\n")
}

// String returns text with every piece of a secret replaced by "***".
func (s *Set) String(text string) string {
	if s == nil || len(text) < setMinLen {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.windows) == 0 && len(s.short) == 0 {
		return text
	}
	var covered []bool
	mark := func(from, to int) {
		if covered == nil {
			covered = make([]bool, len(text))
		}
		for i := from; i < to; i++ {
			covered[i] = true
		}
	}
	if len(s.windows) > 0 {
		for i := 0; i+Window <= len(text); i++ {
			if _, ok := s.windows[maphash.String(s.seed, text[i:i+Window])]; ok {
				mark(i, i+Window)
			}
		}
	}
	for _, f := range s.short {
		for off := 0; ; {
			i := strings.Index(text[off:], f)
			if i < 0 {
				break
			}
			mark(off+i, off+i+len(f))
			off += i + 1
		}
	}
	if covered == nil {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); {
		if !covered[i] {
			b.WriteByte(text[i])
			i++
			continue
		}
		b.WriteString("***")
		for i < len(text) && covered[i] {
			i++
		}
	}
	return b.String()
}

// Error returns err with every piece of a secret in its message replaced,
// like the package's Error.
func (s *Set) Error(err error) error {
	if err == nil || s == nil {
		return err
	}
	msg := err.Error()
	clean := s.String(msg)
	if clean == msg {
		return err
	}
	return &redacted{msg: clean, err: err}
}

// Writer returns a writer that passes text to w with the Set's secrets
// redacted. It holds back an incomplete last line (a secret may continue in
// the next write); Flush writes it.
func (s *Set) Writer(w io.Writer) *Writer { return &Writer{set: s, w: w} }

// Writer redacts what passes through it; see Set.Writer.
type Writer struct {
	mu  sync.Mutex
	set *Set
	w   io.Writer
	buf []byte
}

// flushAt is how much of an unterminated line a Writer holds before it
// writes it anyway (a progress line with no newline must still show).
const flushAt = 64 << 10

// Write implements io.Writer: complete lines go out redacted at once.
func (r *Writer) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	end := bytes.LastIndexByte(r.buf, '\n') + 1
	if len(r.buf) > flushAt {
		end = len(r.buf)
	}
	if end == 0 {
		return len(p), nil
	}
	out := r.set.String(string(r.buf[:end]))
	r.buf = append(r.buf[:0], r.buf[end:]...)
	if _, err := io.WriteString(r.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is held back.
func (r *Writer) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) == 0 {
		return nil
	}
	out := r.set.String(string(r.buf))
	r.buf = r.buf[:0]
	_, err := io.WriteString(r.w, out)
	return err
}
