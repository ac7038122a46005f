package redact

import (
	"encoding/base64"
	"math/rand"
	"net/url"
	"strings"
	"testing"
)

// TestURLSecretsEveryForm: a credential in a URL (given raw or
// percent-encoded, as a user:password pair or a lone token) learned from
// the URL is redacted in every form a server echoes it: raw, decoded,
// user:pass, base64 user:pass (a Basic header), the password alone.
func TestURLSecretsEveryForm(t *testing.T) {
	r := rand.New(rand.NewSource(17))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~!$&'()*+,;=:@/ %"
	for i := 0; i < 300; i++ {
		b := make([]byte, 20+r.Intn(40))
		for j := range b {
			b[j] = alphabet[r.Intn(len(alphabet))]
		}
		tok := string(b)
		user := "alice"
		var raw string
		lone := i%3 == 0
		if lone {
			raw = "https://" + url.PathEscape(tok) + "@git.example.org/acme/app.git"
		} else {
			raw = "https://" + user + ":" + url.QueryEscape(tok) + "@git.example.org:8443/acme/app.git"
		}
		set := NewSet()
		for _, s := range URLSecrets("origin\t" + raw + " (fetch)") {
			set.Add(s)
		}
		echoes := []string{
			"fatal: remote error: access denied for " + user + ":" + tok,
			"remote: token " + tok + " lacks scope",
			"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+tok)),
			"403 for " + raw,
			"token=" + url.QueryEscape(tok),
		}
		if lone {
			echoes = append(echoes, "Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte(tok+":")))
		}
		for _, e := range echoes {
			got := set.String(e)
			if piece, ok := leaks(got, tok); ok && len(strings.TrimSpace(piece)) >= setMinLen {
				t.Fatalf("url %q: %q still holds %q: %q", raw, e, piece, got)
			}
		}
	}
}

func TestURLSecretsIgnoresURLsWithout(t *testing.T) {
	if got := URLSecrets("https://git.example.org/a.git ssh://git.example.org/x git@github.com:a/b"); len(got) != 0 {
		t.Errorf("got %q", got)
	}
}
