package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// leaks reports the first Window-byte piece of secret (or the whole of a
// shorter one) that text still holds.
func leaks(text, secret string) (string, bool) {
	if len(secret) < Window {
		if len(secret) >= setMinLen && strings.Contains(text, secret) {
			return secret, true
		}
		return "", false
	}
	for i := 0; i+Window <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+Window]) {
			return secret[i : i+Window], true
		}
	}
	return "", false
}

// quotings are the ways code prints a value it holds: whole, in part, in
// another encoding, wrapped in JSON or a URL, cut at any point.
func quotings(r *rand.Rand, v string) []string {
	b64 := base64.StdEncoding.EncodeToString([]byte(v))
	q, _ := json.Marshal(v)
	cut := func(s string) string {
		if len(s) <= Window {
			return s
		}
		i := r.Intn(len(s) - Window)
		j := i + Window + r.Intn(len(s)-i-Window+1)
		return s[i:j]
	}
	return []string{
		"error: KEY: " + v,
		"error: KEY: " + b64 + "\n",
		fmt.Sprintf("parse %q: invalid", v),
		"json " + string(q),
		"near " + cut(v) + " here",
		"b64 near " + cut(b64),
		strings.ReplaceAll(v, "\n", ""),
		"https://bot:" + v + "@host/x",
	}
}

func randomSecret(r *rand.Rand) string {
	n := 6 + r.Intn(300)
	b := make([]byte, n)
	r.Read(b)
	switch r.Intn(4) {
	case 0:
		return string(b)
	case 1:
		return base64.StdEncoding.EncodeToString(b)
	case 2:
		var lines []string
		enc := base64.StdEncoding.EncodeToString(b)
		for len(enc) > 64 {
			lines, enc = append(lines, enc[:64]), enc[64:]
		}
		lines = append(lines, enc)
		return "-----BEGIN PRIVATE KEY-----\n" + strings.Join(lines, "\n") + "\n-----END PRIVATE KEY-----\n"
	default:
		return base64.StdEncoding.EncodeToString([]byte("-----BEGIN X-----\n" + string(b) + "\n-----END X-----\n"))
	}
}

// TestSetRedactsEveryQuoting is the property: for generated secrets in
// every shape and every way of quoting them, no Window-byte piece of the
// secret (nor of its base64 or decoded form) is left in the text.
func TestSetRedactsEveryQuoting(t *testing.T) {
	seed := int64(17)
	r := rand.New(rand.NewSource(seed))
	for i := 0; i < 300; i++ {
		v := randomSecret(r)
		s := NewSet()
		s.Add(v)
		// A key's armor labels are public words (see StripArmor); the rest
		// of every form is not.
		forms := []string{StripArmor(v), base64.StdEncoding.EncodeToString([]byte(v))}
		if dec, err := base64.StdEncoding.DecodeString(v); err == nil {
			forms = append(forms, StripArmor(string(dec)))
		}
		for _, text := range quotings(r, v) {
			got := s.String(text)
			for _, f := range forms {
				if piece, ok := leaks(got, f); ok {
					t.Fatalf("seed %d case %d: %q survives in %q", seed, i, piece, got)
				}
			}
			var buf bytes.Buffer
			w := s.Writer(&buf)
			for len(text) > 0 { // written in odd pieces, as a log stream is
				n := 1 + r.Intn(len(text))
				w.Write([]byte(text[:n]))
				text = text[n:]
			}
			w.Flush()
			for _, f := range forms {
				if piece, ok := leaks(buf.String(), f); ok && !strings.Contains(f, "\n") {
					t.Fatalf("seed %d case %d: writer let %q through: %q", seed, i, piece, buf.String())
				}
			}
		}
	}
}

func TestSetKeepsOtherText(t *testing.T) {
	s := NewSet()
	s.Add("hunter2-hunter2-hunter2")
	s.Add("1")
	s.Add("")
	for _, text := range []string{"push 127.0.0.1:5000/acme/app: 401 Unauthorized", "exit 1", ""} {
		if got := s.String(text); got != text {
			t.Errorf("%q became %q", text, got)
		}
	}
	if got := s.String("token hunter2-hunter2-hunter2 refused"); got != "token *** refused" {
		t.Errorf("got %q", got)
	}
	err := fmt.Errorf("x: %w", errSentinel)
	if e := s.Error(fmt.Errorf("pw aHVudGVyMi1odW50ZXIyLWh1bnRlcjI=: %w", err)); strings.Contains(e.Error(), "aHVudGVy") || !errors.Is(e, errSentinel) {
		t.Errorf("base64 form: %v", e)
	}
	var nilSet *Set
	if nilSet.String("abc def ghi") != "abc def ghi" {
		t.Error("a nil Set redacts nothing")
	}
}

// TestSetKeepsPEMLabels: a key learned as a secret masks its body, never
// its armor labels: a message naming the kind of a PEM block ("a "ENCRYPTED
// PRIVATE KEY" PEM block is not a private key Slipway reads") stays
// readable, inline, in a file's content, one-line with literal \n, or base64.
func TestSetKeepsPEMLabels(t *testing.T) {
	body := "MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQIk3yCzb2sUq8CAggA\nMAwGCCqGSIb3DQIJBQAwFAYIKoZIhvcNAwcECBcNY7TsVHa6BIIEyBiL6pYMWS3y"
	pemKey := "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + body + "\n-----END ENCRYPTED PRIVATE KEY-----\n"
	for _, v := range []string{pemKey, strings.ReplaceAll(pemKey, "\n", `\n`), base64.StdEncoding.EncodeToString([]byte(pemKey)),
		strings.ReplaceAll(strings.ReplaceAll(pemKey, "ENCRYPTED PRIVATE", "ENCRYPTED SIGSTORE PRIVATE"), "\n", "\r\n")} {
		s := NewSet()
		s.Add(v)
		for _, msg := range []string{
			`the PEM in SLIPWAY_SIGNING_KEY: a "ENCRYPTED PRIVATE KEY" PEM block is not a private key Slipway reads (want "ENCRYPTED SIGSTORE PRIVATE KEY", PRIVATE KEY or EC PRIVATE KEY)`,
			"-----BEGIN ENCRYPTED PRIVATE KEY-----",
		} {
			if got := s.String(msg); got != msg {
				t.Errorf("%.30q learned: %q became %q", v, msg, got)
			}
		}
		if got := s.String("dump: " + pemKey); strings.Contains(got, body[:Window]) || strings.Contains(got, "BIIEyBiL6pYMWS3y") {
			t.Errorf("%.30q learned: the body survives: %q", v, got)
		}
	}
}

// FuzzSetRedacts: whatever the secret and the text around it, the text
// through a Set holds no Window-byte piece of the secret.
func FuzzSetRedacts(f *testing.F) {
	f.Add("LS0tLS1CRUdJTiBFTkNSWVBURUQgU0lHU1RPUkUgUFJJVkFURSBLRVktLS0tLQo=", "error: SLIPWAY_SIGNING_KEY: ")
	f.Add("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n", "GITOPS_SSH_KEY_FILE ")
	f.Add("ghp_0123456789abcdefghij", "https://x-access-token:")
	f.Fuzz(func(t *testing.T, secret, prefix string) {
		s := NewSet()
		s.Add(secret)
		for _, text := range []string{prefix + secret, prefix + base64.StdEncoding.EncodeToString([]byte(secret)), secret + prefix} {
			got := s.String(text)
			if piece, ok := leaks(got, StripArmor(secret)); ok && len(secret) >= setMinLen {
				t.Fatalf("%q survives in %q", piece, got)
			}
		}
	})
}
