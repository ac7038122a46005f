package dag

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/testenv"
	"github.com/slipway-ci/slipway/internal/usage"
)

// A runner host no Dagger driver takes is a one-line usage error naming the
// variable, before anything is dialled or downloaded; every scheme Dagger's
// drivers register passes.
func TestCheckRunnerHost(t *testing.T) {
	for _, ok := range []string{
		"tcp://127.0.0.1:1234", "tcp://engine.ci.internal:1234", "unix:///run/dagger/engine.sock",
		"kube-pod://dagger-engine-0?namespace=dagger", "docker-container://dagger-engine",
		"docker-image://registry.dagger.io/engine:v0.21.8", "podman-container://e", "podman-image://x",
		"nerdctl-container://e", "finch-image://x", "image://registry.dagger.io/engine", "image+podman://x",
		"container://dagger-engine", "container+docker://e", "tls://engine:8443", "ssh://ci@builder:22",
		"dagger-cloud://default-engine-config.dagger.cloud",
	} {
		if err := CheckRunnerHost(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, c := range []struct{ value, why string }{
		{"junk", "no scheme"}, {"127.0.0.1:1234", "no scheme"}, {"engine.ci.internal", "no scheme"},
		{"://127.0.0.1:1", "no scheme"}, {"tpc://127.0.0.1:1234", `unknown scheme "tpc"`},
		{"kube-pdo://x", `unknown scheme "kube-pdo"`}, {"docker-imag://x", `unknown scheme "docker-imag"`},
		{"http://127.0.0.1:1234", `unknown scheme "http"`}, {"TCP://127.0.0.1:1", `unknown scheme "TCP"`},
		{"tcp://127.0.0.1", "HOST:PORT"}, {"tcp://:1234", "HOST:PORT"}, {"unix://", "socket path"},
		{"kube-pod://", "nothing after"}, {"htps://ci:hunter2@engine:1", `unknown scheme "htps"`},
	} {
		err := CheckRunnerHost(c.value)
		if err == nil {
			t.Errorf("%s: accepted", c.value)
			continue
		}
		msg := err.Error()
		if !usage.Is(err) || !strings.Contains(msg, "_EXPERIMENTAL_DAGGER_RUNNER_HOST=") || !strings.Contains(msg, c.why) ||
			!strings.Contains(msg, "tcp://HOST:PORT") || strings.Contains(msg, "\n") || strings.Contains(msg, "hunter2") {
			t.Errorf("%s: %q (usage %v), want one usage line naming the variable, %q and the fix", c.value, msg, usage.Is(err), c.why)
		}
		if perr := Preflight(context.Background(), env(map[string]string{"_EXPERIMENTAL_DAGGER_RUNNER_HOST": c.value})); !usage.Is(perr) {
			t.Errorf("%s: Preflight: %v, want the usage error", c.value, perr)
		}
	}
}

// blackHole accepts TCP connections and never answers, as a wrong port or a
// stuck engine does.
func blackHole(t *testing.T) string {
	t.Helper()
	return "tcp://" + testenv.Silent(t).Addr().String()
}

// silentCLI is a Dagger CLI that prints the progress a real one prints
// while it waits for the engine, never opens a session, prints more after
// lateAfter, and ends with the test process.
func silentCLI(t *testing.T, lateAfter time.Duration) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dagger")
	script := "#!/bin/sh\nprintf 'Establishing connection to Engine... ' >&2\n(sleep " +
		strconv.FormatFloat(lateAfter.Seconds(), 'f', -1, 64) + "; printf 'LATE progress' >&2) &\nwhile kill -0 $PPID 2>/dev/null; do sleep 0.2; done\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// syncBuffer is a bytes.Buffer the SDK's goroutines can write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An engine address that accepts but never answers: Connect gives up after
// the timeout naming that address and --engine-timeout (not the engine
// image, which nobody pulls for a tcp:// engine); the progress line it
// interrupted is ended, and what the abandoned attempt prints afterwards
// does not reach the log.
func TestConnectToAnEngineThatNeverAnswers(t *testing.T) {
	addr := blackHole(t)
	t.Setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", addr)
	t.Setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", silentCLI(t, 1500*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log syncBuffer
	start := time.Now()
	_, err := Connect(ctx, 700*time.Millisecond, &log)
	if err == nil {
		t.Fatal("connected to a black hole")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %s, timeout 700ms", d)
	}
	msg := err.Error()
	if !errors.Is(err, ErrNoEngine) || !strings.Contains(msg, "_EXPERIMENTAL_DAGGER_RUNNER_HOST="+addr) ||
		!strings.Contains(msg, "--engine-timeout") || !strings.Contains(msg, "700ms") || strings.Contains(msg, "pullable") {
		t.Errorf("error %q, want the address, the timeout and --engine-timeout, and no image", msg)
	}
	time.Sleep(2 * time.Second)
	got := log.String()
	if !strings.Contains(got, "Establishing connection to Engine") || !strings.HasSuffix(got, "\n") || strings.Contains(got, "LATE") {
		t.Errorf("progress %q: want the CLI's line, ended, and nothing after Connect returned", got)
	}
}

// Interrupted while connecting (SIGTERM, Ctrl-C cancel ctx): the error says
// so and after how long, wraps ctx's error (the run exits 130), and does not
// claim a timeout that did not pass.
func TestConnectInterrupted(t *testing.T) {
	addr := blackHole(t)
	t.Setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", addr)
	t.Setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", silentCLI(t, 3*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(1200*time.Millisecond, cancel)
	var log syncBuffer
	_, err := Connect(ctx, 5*time.Minute, &log)
	if err == nil {
		t.Fatal("connected to a black hole")
	}
	msg := err.Error()
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(msg, "after 1s connecting to the engine at _EXPERIMENTAL_DAGGER_RUNNER_HOST="+addr) ||
		strings.Contains(msg, "5m0s") {
		t.Errorf("error %q, want an interruption after 1s at %s", msg, addr)
	}
	if got := log.String(); !strings.HasSuffix(got, "\n") {
		t.Errorf("progress %q left its line open", got)
	}
}

// What Connect says when no session comes names what Slipway knows: the
// runner host, the `dagger run` session, or Docker (where the image pull is
// the likely wait).
func TestSessionError(t *testing.T) {
	for _, c := range []struct {
		env       map[string]string
		want, not []string
	}{
		{map[string]string{"_EXPERIMENTAL_DAGGER_RUNNER_HOST": "tcp://ci:hunter2@10.0.0.7:1234"},
			[]string{"_EXPERIMENTAL_DAGGER_RUNNER_HOST=tcp://10.0.0.7:1234", "5m0s", "--engine-timeout"}, []string{"pullable", "hunter2"}},
		{map[string]string{"DAGGER_SESSION_PORT": "41234"}, []string{"DAGGER_SESSION_PORT=41234", "--engine-timeout"}, []string{"pullable"}},
		{map[string]string{"DOCKER_HOST": "tcp://docker:2375"}, []string{"Docker runs at tcp://docker:2375", "pullable", "--engine-timeout"}, nil},
		{map[string]string{}, []string{"unix:///var/run/docker.sock", "pullable"}, nil},
	} {
		msg := sessionError(nil, 5*time.Minute, 5*time.Minute, env(c.env)).Error()
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: %q lacks %q", c.env, msg, w)
			}
		}
		for _, n := range c.not {
			if strings.Contains(msg, n) {
				t.Errorf("%v: %q says %q", c.env, msg, n)
			}
		}
		intr := sessionError(context.Canceled, 61*time.Second+400*time.Millisecond, 5*time.Minute, env(c.env))
		if !errors.Is(intr, context.Canceled) || !strings.HasPrefix(intr.Error(), "after 1m1s connecting to ") || strings.Contains(intr.Error(), "5m0s") {
			t.Errorf("%v: interrupted: %q", c.env, intr)
		}
	}
}

// alive reports whether pid runs (a zombie waiting for its parent's wait
// does not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// A Dagger CLI that never answers and ignores its stdin closing (the SDK's
// only way to end it), with a child of its own: once Connect gives up, on
// the timeout or on an interruption, neither survives (the run would
// otherwise leave them running after it exits).
func TestConnectLeavesNoSessionProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("no /proc")
	}
	for _, interrupt := range []bool{false, true} {
		pids := filepath.Join(t.TempDir(), "pids")
		bin := filepath.Join(t.TempDir(), "dagger")
		script := "#!/bin/sh\nsleep 100000 &\necho $! >> " + pids + "\necho $$ >> " + pids + "\nexec sleep 100000\n"
		if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", blackHole(t))
		t.Setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", bin)
		ctx, cancel := context.WithCancel(context.Background())
		timeout := 1500 * time.Millisecond
		if interrupt {
			timeout = time.Minute
			time.AfterFunc(1500*time.Millisecond, cancel)
		}
		_, err := Connect(ctx, timeout, nil)
		cancel()
		if err == nil {
			t.Fatal("connected to a black hole")
		}
		b, _ := os.ReadFile(pids)
		fields := strings.Fields(string(b))
		if len(fields) != 2 {
			t.Fatalf("interrupt %v: the CLI recorded %q, want two pids", interrupt, b)
		}
		for _, f := range fields {
			pid, _ := strconv.Atoi(f)
			if alive(pid) {
				t.Errorf("interrupt %v: process %d the CLI started still runs after Connect returned", interrupt, pid)
				if p, err := os.FindProcess(pid); err == nil {
					_ = p.Kill()
				}
			}
		}
	}
}
