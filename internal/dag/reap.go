package dag

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// sessionMarkVar marks, in its environment, every process the Dagger SDK
// starts for one Connect (the `dagger session` child and whatever it
// starts), so an abandoned attempt can be ended whatever the CLI does with
// the stdin close the SDK's own cancel path relies on.
const sessionMarkVar = "SLIPWAY_DAGGER_SESSION"

// newSessionMark is a value of sessionMarkVar no other Connect uses.
func newSessionMark() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// markedProcs lists the processes whose environment holds
// sessionMarkVar=mark (Linux /proc; nothing elsewhere).
func markedProcs(mark string) []int {
	entry := []byte(sessionMarkVar + "=" + mark)
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, entry) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// reapSession ends what an abandoned Connect started: the SDK's cancel path
// (already triggered by the caller) closes the CLI's stdin, which ends a
// real `dagger session`; what is still running after grace is killed.
func reapSession(mark string, grace time.Duration) {
	deadline := time.Now().Add(grace)
	for {
		pids := runningOf(markedProcs(mark))
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range pids {
				if p, err := os.FindProcess(pid); err == nil {
					_ = p.Kill()
				}
			}
			// SIGKILL is delivered asynchronously: return once they are gone.
			for end := time.Now().Add(time.Second); time.Now().Before(end) && len(runningOf(pids)) > 0; {
				time.Sleep(20 * time.Millisecond)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runningOf is the pids that still run (a zombie waiting for its parent's
// wait does not).
func runningOf(pids []int) []int {
	var run []int
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X') {
			continue
		}
		run = append(run, pid)
	}
	return run
}
