package dag

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) Env { return func(k string) string { return m[k] } }

func TestPreflight(t *testing.T) {
	dir := t.TempDir()
	// A socket that answers Docker's /_ping, as dockerd does.
	sock := filepath.Join(dir, "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			w.Write([]byte("OK"))
			return
		}
		http.NotFound(w, r)
	})}
	go srv.Serve(l)
	defer srv.Close()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()

	ctx := context.Background()
	cases := []struct {
		name string
		env  map[string]string
		ok   bool
		msg  string
	}{
		{"inside dagger run", map[string]string{"DAGGER_SESSION_PORT": "1234"}, true, ""},
		{"docker answers", map[string]string{"DOCKER_HOST": "unix://" + sock}, true, ""},
		{"no docker", map[string]string{"DOCKER_HOST": "unix://" + filepath.Join(dir, "none.sock")}, false, "Docker does not answer"},
		{"runner tcp answers", map[string]string{"_EXPERIMENTAL_DAGGER_RUNNER_HOST": "tcp://" + tcp.Addr().String()}, true, ""},
		{"runner tcp silent", map[string]string{"_EXPERIMENTAL_DAGGER_RUNNER_HOST": "tcp://127.0.0.1:1"}, false, "does not answer"},
		{"runner kube trusted", map[string]string{"_EXPERIMENTAL_DAGGER_RUNNER_HOST": "kube-pod://dagger-engine?namespace=ci"}, true, ""},
		{"bad docker scheme", map[string]string{"DOCKER_HOST": "ssh://builder"}, false, "Docker does not answer"},
	}
	for _, c := range cases {
		err := Preflight(ctx, env(c.env))
		if c.ok != (err == nil) {
			t.Errorf("%s: err %v, want ok=%v", c.name, err, c.ok)
			continue
		}
		if err != nil && (!errors.Is(err, ErrNoEngine) || !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), "\n")) {
			t.Errorf("%s: error %q, want one line with %q", c.name, err, c.msg)
		}
	}
}

func TestTail(t *testing.T) {
	var lines []string
	for i := 0; i < 50; i++ {
		lines = append(lines, "line")
	}
	got := Tail(strings.Join(lines, "\n")+"\n", 30)
	if n := strings.Count(got, "\n") + 1; n != 31 || !strings.HasPrefix(got, "... (20 lines above)") {
		t.Errorf("tail has %d lines: %q", n, got[:40])
	}
	if Tail("a\nb", 30) != "a\nb" {
		t.Error("short output changed")
	}
}

func TestExplainExecWrapsOtherErrors(t *testing.T) {
	err := ExplainExec("lint", errors.New("connection reset"))
	if err.Error() != "lint: connection reset" {
		t.Errorf("got %q", err)
	}
	if ExplainExec("lint", nil) != nil {
		t.Error("nil error wrapped")
	}
}

func TestHostGoEnvPassesOnlyGoSettings(t *testing.T) {
	got := HostGoEnv(env(map[string]string{"GOPROXY": "https://proxy.corp", "GOFLAGS": "-mod=mod", "AWS_SECRET_ACCESS_KEY": "x", "HOME": "/root"}))
	if len(got) != 2 || got["GOPROXY"] != "https://proxy.corp" || got["GOFLAGS"] != "-mod=mod" {
		t.Errorf("HostGoEnv = %v", got)
	}
}
