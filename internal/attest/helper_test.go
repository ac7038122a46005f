package attest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeHelper is a helper process written in sh: it says it is ready after
// delay, reads its request, and answers with answer (a sed script over the
// request JSON).
func fakeHelper(delay, answer string) *Helper {
	script := "sleep " + delay + "; echo '" + HelperReady + "'; sed -n '" + answer + "'"
	return &Helper{Command: []string{"sh", "-c", script}}
}

// TestHelperSaysWhenItCompiles: the one progress line is said only when the
// helper is slow to start (go run compiling it), not when it answers at once.
func TestHelperSaysWhenItCompiles(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		delay  string
		notice time.Duration
		said   bool
	}{{"0", 5 * time.Second, false}, {"0.5", 100 * time.Millisecond, true}} {
		h := fakeHelper(c.delay, `s/.*/{"trusted_root":"e30="}/p`)
		var progress bytes.Buffer
		h.Progress, h.Notice = &progress, c.notice
		tr, err := h.TrustedRoot(ctx, nil)
		if err != nil || string(tr) != "{}" {
			t.Fatalf("%q %v", tr, err)
		}
		if said := strings.Contains(progress.String(), "compiling the Sigstore keyless helper"); said != c.said {
			t.Fatalf("delay %s: progress %q", c.delay, progress.String())
		}
	}
}

// TestHelperFailureIsOneLine: when `go run` of the helper fails, the error is
// one line naming the command, go's error line, and the fix for it.
func TestHelperFailureIsOneLine(t *testing.T) {
	t.Chdir(t.TempDir()) // no ci/ module to try next
	h := &Helper{Command: []string{"sh", "-c", "echo 'go: github.com/slipway-ci/slipway@v0.0.0: missing go.sum entry' >&2; echo 'more' >&2; exit 1"}}
	_, err := h.TrustedRoot(context.Background(), nil)
	want := "keyless verification compiles its helper with `go run " + HelperPackage + "` and that failed: go: github.com/slipway-ci/slipway@v0.0.0: missing go.sum entry; run `go mod tidy` in ci/ (or the module that runs the pipeline)"
	if err == nil || err.Error() != want || !errors.Is(err, ErrHelper) {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

// TestHelperNeverRepeatsTheToken: the token travels on stdin, and a helper
// (a Fulcio behind it) that echoes it in an error does not get it into
// Slipway's.
func TestHelperNeverRepeatsTheToken(t *testing.T) {
	const token = "eyJhbGciOi.SECRET-OIDC.TOKEN"
	h := fakeHelper("0", `s/.*"token":"\([^"]*\)".*/{"error":"signing certificate: 401 invalid token \1"}/p`)
	s, _ := h.Signer(KeylessConfig{FulcioURL: "https://fulcio.test", RekorURLs: []string{"https://rekor.test"},
		Token: func(context.Context) (string, error) { return token, nil }})
	_, err := s.Sign(context.Background(), []byte(`{}`))
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "invalid token") {
		t.Fatalf("%v", err)
	}
	for _, a := range h.Command {
		if strings.Contains(a, token) {
			t.Fatal("the token is on the helper's command line")
		}
	}
}

// TestHelperWithoutGo: with no go command on PATH the one line says so.
func TestHelperWithoutGo(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("PATH", t.TempDir())
	_, err := (&Helper{}).TrustedRoot(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "go is not on PATH") || !errors.Is(err, ErrHelper) {
		t.Fatalf("%v", err)
	}
}

// TestHelperFailureFromRealGo: over what go itself wrote when `go run` of
// the helper failed (testdata/gofail, provoked for real), the one line is
// go's error (not a "go: downloading" progress line; a multi-line reason
// kept, on one line) and the fix is the one for that failure.
func TestHelperFailureFromRealGo(t *testing.T) {
	for _, c := range []struct {
		file, goflags string
		line, fix     string
	}{
		{"proxyoff.txt", "", "internal/keyless/keyless.go:27:2: module lookup disabled by GOPROXY=off", "not in the module cache and GOPROXY is off: run `go mod download` in ci/"},
		{"network.txt", "", `internal/keyless/keyless.go:27:2: github.com/sigstore/protobuf-specs@v0.5.1: Get "http://127.0.0.1:46351/github.com/sigstore/protobuf-specs/@v/v0.5.1.zip": dial tcp 127.0.0.1:46351: connect: connection refused`, "the module proxy (GOPROXY) is unreachable: run `go mod download` in ci/"},
		{"vendor.txt", "-mod=vendor", "go: inconsistent vendoring in /home/ci/slipway: dagger.io/dagger@v0.21.8: is explicitly required in go.mod, but not marked as explicit in vendor/modules.txt (and 156 more)", "unset GOFLAGS=-mod=vendor"},
		{"vendor.txt", "", "go: inconsistent vendoring in /home/ci/slipway: dagger.io/dagger@v0.21.8", "run `go mod vendor` in that module"},
		{"gosum.txt", "", "/home/ci/slipway/internal/keyless/keyless.go:29:2: missing go.sum entry for module providing package github.com/sigstore/sigstore-go/pkg/bundle (imported by github.com/slipway-ci/slipway/internal/keyless)", "run `go mod tidy` in ci/"},
		{"vendorpkgs.txt", "", "cannot find module providing package github.com/slipway-ci/slipway/cmd/slipway-sigstore: import lookup disabled by -mod=vendor", "`go get -tool " + HelperPackage + "` and `go mod vendor` in ci/"},
		{"nomod.txt", "", "no required module provides package " + HelperPackage + ": go.mod file not found", "run from your repository root"},
		{"other.txt", "", "no required module provides package " + HelperPackage, "run from your repository root"},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", "gofail", c.file))
		if err != nil {
			t.Fatal(err)
		}
		f := goFailure(string(data), func(k string) string {
			if k == "GOFLAGS" {
				return c.goflags
			}
			return ""
		})
		if !strings.HasPrefix(f.line, c.line) || strings.Contains(f.line, "\n") || strings.Contains(f.line, "go: downloading") || strings.HasSuffix(f.line, ":") {
			t.Errorf("%s: line %q, want it to start with %q", c.file, f.line, c.line)
		}
		if !strings.Contains(f.fix, c.fix) {
			t.Errorf("%s (GOFLAGS=%s): fix %q, want %q", c.file, c.goflags, f.fix, c.fix)
		}
	}
}

// TestHelperFailureLive provokes two of those failures with the real go
// command: the modules missing with GOPROXY=off (an empty module cache),
// and GOFLAGS=-mod=vendor with no vendor directory.
func TestHelperFailureLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	t.Setenv("GOWORK", "off")
	for _, c := range []struct {
		env       map[string]string
		line, fix string
	}{
		{map[string]string{"GOPROXY": "off", "GOFLAGS": "", "GOMODCACHE": t.TempDir()}, "module lookup disabled by GOPROXY=off", "GOPROXY is off: run `go mod download`"},
		{map[string]string{"GOFLAGS": "-mod=vendor"}, "go: inconsistent vendoring in ", "unset GOFLAGS=-mod=vendor"},
	} {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		_, err := (&Helper{Progress: io.Discard}).TrustedRoot(t.Context(), []byte(`{}`))
		if err == nil || !errors.Is(err, ErrHelper) || !strings.Contains(err.Error(), c.line) || !strings.Contains(err.Error(), c.fix) ||
			strings.Contains(err.Error(), "go: downloading") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v", c.env, err)
		}
	}
}
