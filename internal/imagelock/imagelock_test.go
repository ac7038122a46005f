package imagelock

import (
	"os"
	"strings"
	"testing"
)

const good = `# comment kept
go: golang:1.26-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d

golangci-lint: golangci/golangci-lint:v2.12.2@sha256:5cceeef04e53efe1470638d4b4b4f5ceefd574955ab3941b2d9a68a8c9ad5240
trivy: aquasec/trivy:0.69.3@sha256:bcc376de8d77cfe086a917230e818dc9f8528e3c852f7b1aff648949b6258d1c
distroless: localhost:5000/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
`

func TestParse(t *testing.T) {
	l, err := Parse("test", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	d := l.MustGet("distroless")
	if d.Repo != "localhost:5000/distroless/static-debian12" || d.Tag != "nonroot" {
		t.Errorf("distroless = %+v", d)
	}
	if got := len(l.Images()); got != 4 {
		t.Errorf("%d images, want 4", got)
	}
	if l.Images()[0].Name != "distroless" {
		t.Errorf("images not sorted: %v", l.Images())
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"tag only":        strings.Replace(good, "@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d", "", 1),
		"digest only":     strings.Replace(good, "golang:1.26-bookworm@", "golang@", 1),
		"short digest":    strings.Replace(good, "a688600ca24f8a4d", "a688", 1),
		"compromised":     strings.Replace(good, "trivy:0.69.3", "trivy:0.69.4", 1),
		"compromised v":   strings.Replace(good, "trivy:0.69.3", "trivy:v0.69.6", 1),
		"missing trivy":   strings.Replace(good, "trivy:", "scanner:", 1),
		"duplicate":       good + "go: golang:1.26-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d\n",
		"not a key value": good + "just words here\n",
	}
	for name, data := range cases {
		if _, err := Parse("x.lock", []byte(data)); err == nil {
			t.Errorf("%s: parsed, want error", name)
		} else if !strings.Contains(err.Error(), "x.lock") {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
	// 0.69.3 and 0.69.40 are fine: only 0.69.4-0.69.6 are refused.
	if _, err := Parse("x", []byte(strings.Replace(good, "trivy:0.69.3", "trivy:0.69.40", 1))); err != nil {
		t.Errorf("0.69.40 refused: %v", err)
	}
}

func TestSetDigestKeepsComments(t *testing.T) {
	l, err := Parse("test", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	newDigest := "sha256:" + strings.Repeat("ab", 32)
	if err := l.SetDigest("go", newDigest); err != nil {
		t.Fatal(err)
	}
	out := string(l.Bytes())
	if !strings.HasPrefix(out, "# comment kept\n") || !strings.Contains(out, "go: golang:1.26-bookworm@"+newDigest+"\n\ngolangci-lint") {
		t.Errorf("rewrite lost layout:\n%s", out)
	}
	l2, err := Parse("again", l.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if l2.MustGet("go").Digest != newDigest {
		t.Error("digest did not round-trip")
	}
	if err := l.SetDigest("go", "sha256:nothex"); err == nil {
		t.Error("bad digest accepted")
	}
}

func TestBuiltInLockParses(t *testing.T) {
	data, err := os.ReadFile("../../ci/images.lock")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("ci/images.lock", data); err != nil {
		t.Fatal(err)
	}
}
