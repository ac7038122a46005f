package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/testenv"
)

// lockedBuffer is a bytes.Buffer the SDK's progress goroutine and the
// command can both write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// neverAnsweringEngine points the run at a TCP address that accepts and
// never answers, with a Dagger CLI that prints its progress and never opens
// a session (no engine or download here; it ends with the test process),
// and returns the address.
func neverAnsweringEngine(t *testing.T) string {
	t.Helper()
	noEngineEnv(t)
	os.Unsetenv("DAGGER_SESSION_PORT") // the SDK reads a set-but-empty one as a port
	l := testenv.Silent(t)
	bin := filepath.Join(t.TempDir(), "dagger")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nprintf 'Establishing connection to Engine... ' >&2\nwhile kill -0 $PPID 2>/dev/null; do sleep 0.2; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", bin)
	addr := "tcp://" + l.Addr().String()
	t.Setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", addr)
	return addr
}

// errorLines are stderr's lines that hold "error:", and whether each starts
// with it (no progress text left in front).
func errorLines(t *testing.T, stderr string) []string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if i := strings.Index(l, "error:"); i >= 0 {
			if i > 0 {
				t.Errorf("an error line starts with other text: %q", l)
			}
			lines = append(lines, l)
		}
	}
	return lines
}

// An engine that accepts and never answers: exit 1 after --engine-timeout,
// one error line of its own naming the address and the flag, not the
// engine image.
func TestEngineThatNeverAnswers(t *testing.T) {
	addr := neverAnsweringEngine(t)
	var out, errb lockedBuffer
	start := time.Now()
	code := execute(context.Background(), []string{"lint", "--source", "../../sample-app", "--out", t.TempDir(), "--engine-timeout", "1s"}, &out, &errb)
	stderr := errb.String()
	if code != 1 || time.Since(start) > 20*time.Second {
		t.Fatalf("exit %d after %s, want 1 after about 1s\n%s", code, time.Since(start), stderr)
	}
	lines := errorLines(t, stderr)
	if len(lines) != 1 || !strings.Contains(lines[0], "_EXPERIMENTAL_DAGGER_RUNNER_HOST="+addr) ||
		!strings.Contains(lines[0], "--engine-timeout") || strings.Contains(lines[0], "pullable") {
		t.Errorf("stderr %q: want one error line naming %s and --engine-timeout", stderr, addr)
	}
}

// SIGTERM or Ctrl-C while connecting: exit 130, "interrupted after N s",
// not a timeout that did not pass.
func TestInterruptedWhileConnecting(t *testing.T) {
	addr := neverAnsweringEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(1200*time.Millisecond, cancel)
	var out, errb lockedBuffer
	code := execute(ctx, []string{"lint", "--source", "../../sample-app", "--out", t.TempDir()}, &out, &errb)
	stderr := errb.String()
	lines := errorLines(t, stderr)
	if code != 130 || len(lines) != 1 || !strings.HasPrefix(lines[0], "error: interrupted: after 1s connecting to the engine at _EXPERIMENTAL_DAGGER_RUNNER_HOST="+addr) ||
		strings.Contains(stderr, "5m0s") {
		t.Errorf("exit %d stderr %q: want 130 and one line saying it was interrupted after 1s at %s", code, stderr, addr)
	}
}

// A runner host that is no engine address (no scheme, a misspelt one) is a
// configuration error, exit 2, before anything is dialled or downloaded.
func TestRunnerHostThatIsNoAddress(t *testing.T) {
	noEngineEnv(t)
	os.Unsetenv("DAGGER_SESSION_PORT")
	t.Setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", filepath.Join(t.TempDir(), "no-dagger")) // never run
	for _, v := range []string{"junk", "tpc://127.0.0.1:1234", "kube-pdo://engine", "127.0.0.1:1234"} {
		t.Setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", v)
		_, stderr, code := run(t, "lint", "--source", "../../sample-app", "--out", t.TempDir())
		lines := errorLines(t, stderr)
		if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], "_EXPERIMENTAL_DAGGER_RUNNER_HOST="+v) ||
			strings.Contains(stderr, "Download") || strings.Contains(stderr, "started") {
			t.Errorf("%s: exit %d stderr %q, want 2 and one line naming the variable", v, code, stderr)
		}
	}
}
