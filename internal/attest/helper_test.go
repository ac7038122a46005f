package attest

import (
	"bytes"
	"context"
	"errors"
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
// one line naming the command, go's first line, and what to do.
func TestHelperFailureIsOneLine(t *testing.T) {
	t.Chdir(t.TempDir()) // no ci/ module to try next
	h := &Helper{Command: []string{"sh", "-c", "echo 'go: github.com/slipway-ci/slipway@v0.0.0: missing go.sum entry' >&2; echo 'more' >&2; exit 1"}}
	_, err := h.TrustedRoot(context.Background(), nil)
	want := "keyless verification compiles its helper with `go run " + HelperPackage + "` and that failed: go: github.com/slipway-ci/slipway@v0.0.0: missing go.sum entry; run from your repository root, or `go mod tidy` in ci/"
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
