//go:build unix

package attest

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelperCancelKillsTheHelper: cancelling a call ends it at once and kills
// the helper too, not only the go command that started it (the helper, a
// grandchild, would otherwise keep the answer pipe open and the call
// waiting).
func TestHelperCancelKillsTheHelper(t *testing.T) {
	pidFile := t.TempDir() + "/pid"
	// The "go command" starts the "helper" (sleep) as its child, which holds stdout.
	h := &Helper{Command: []string{"sh", "-c", "sleep 60 & echo $! > " + pidFile + "; wait"}, Notice: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := h.TrustedRoot(ctx, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("the call returned %v after it was cancelled", d)
	}
	pid, _ := os.ReadFile(pidFile)
	p, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	if p == 0 {
		t.Fatal("the helper did not start")
	}
	for range 50 {
		// Gone, or a zombie nobody reaped yet (its parent was killed too).
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
		if syscall.Kill(p, 0) != nil || err == nil && strings.Contains(string(stat), ") Z ") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the helper (pid %d) still runs after the call was cancelled", p)
}
