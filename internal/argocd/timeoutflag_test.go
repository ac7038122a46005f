package argocd

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Issue 17 (round 2) item 5: a wait that gives up names --wait-timeout as
// the user gave it, not the budget left for a later target
// (9.999999212s of a 10s flag).
func TestWaitNamesTheFlagAsGiven(t *testing.T) {
	env := map[string]string{EnvServer: "127.0.0.1:1", EnvPlaintext: "true", EnvToken: "token-0123456789"}
	c, err := FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	w := &Waiter{Client: c, Timeout: 1999999212 * time.Nanosecond, TimeoutFlag: "10s", Poll: 100 * time.Millisecond}
	_, err = w.Wait(context.Background(), Target{Repo: "https://git.example.org/gitops.git", Branch: "main", File: "a/overlays/dev/kustomization.yaml", Commit: strings.Repeat("a", 40)})
	t.Logf("%v", err)
	if err == nil || !strings.Contains(err.Error(), "--wait-timeout 10s") || strings.Contains(err.Error(), "1.999999") {
		t.Errorf("got %v", err)
	}
}
