package secret

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyForms(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	p := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	file := filepath.Join(t.TempDir(), "team.key")
	os.WriteFile(file, p, 0o600)
	for _, c := range []struct{ v, from string }{
		{file, "file " + file},
		{string(p), "the PEM in K"},
		{strings.ReplaceAll(strings.TrimSpace(string(p)), "\n", `\n`), "the PEM in K"},
		{base64.StdEncoding.EncodeToString(p), "the base64 PEM in K"},
	} {
		data, from, err := Key("K", c.v)
		if err != nil || from != c.from {
			t.Errorf("%.20q: %q %v", c.v, from, err)
			continue
		}
		if b, _ := pem.Decode(data); b == nil || string(b.Bytes) != string(der) {
			t.Errorf("%.20q: not the key", c.v)
		}
	}
	for _, v := range []string{"", "  ", "/nonexistent/key", "hunter2-garbage-value-0123456789", strings.Repeat("A", 5000), "bm90IGEga2V5IGF0IGFsbA=="} {
		_, _, err := Key("SLIPWAY_SIGNING_KEY", v)
		if err == nil || !strings.HasPrefix(err.Error(), "SLIPWAY_SIGNING_KEY") {
			t.Errorf("%.20q: %v", v, err)
			continue
		}
		if tv := strings.TrimSpace(v); len(tv) >= 8 && strings.Contains(err.Error(), tv[:8]) {
			t.Errorf("the error quotes the value: %v", err)
		}
	}
	if _, _, err := Key("K", t.TempDir()); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
}
