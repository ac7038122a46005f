package gitops

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/gittest"
)

const gitToken = "ghp_TOKENthatMustNeverBePrinted"

// smartHTTP serves root's repositories with `git http-backend` behind
// net/http/cgi, requiring basic auth with gitToken as the password.
func smartHTTP(t testing.TB, root string) string {
	t.Helper()
	backend := gittest.HTTPBackend(t, root)
	return gittest.BasicAuthServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Remote-User", "ci") // http-backend lets an authenticated user push
		backend.ServeHTTP(w, r)
	}), func(_, p string) bool { return p == gitToken })
}

func TestDeployOverSmartHTTPWithToken(t *testing.T) {
	dir, _ := localGitOps(t)
	if out, err := exec.Command("git", "--git-dir", dir, "config", "http.receivepack", "true").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	url := smartHTTP(t, filepath.Dir(dir)) + "/" + filepath.Base(dir)
	_, shas := sourceRepo(t, 1)
	var log bytes.Buffer

	r, err := NewRemote(url, "main", env(map[string]string{"GITOPS_TOKEN": gitToken}))
	if err != nil {
		t.Fatal(err)
	}
	d := &Deployer{Remote: r, Log: &log}
	out, err := d.Deploy(context.Background(), Request{App: "sample-app", Env: "staging", Image: digest(42), SourceCommit: shas[0]})
	if err != nil {
		t.Fatal(err)
	}
	if head(t, dir, "main") != out.Commit {
		t.Error("push over HTTP did not land")
	}
	recs, err := History(context.Background(), r, Filter{})
	if err != nil || len(recs) != 1 {
		t.Errorf("history over HTTP: %v %v", recs, err)
	}

	// Wrong token: a one-line error naming the URL, never the token.
	before := head(t, dir, "main")
	bad, _ := NewRemote(url, "main", env(map[string]string{"GITOPS_TOKEN": "wrong-" + gitToken}))
	_, err = (&Deployer{Remote: bad, Log: &log}).Deploy(context.Background(), Request{App: "sample-app", Env: "staging", Image: digest(43), SourceCommit: shas[0]})
	if err == nil || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "GITOPS_TOKEN") {
		t.Errorf("wrong token: %v", err)
	}
	// Token in the URL itself: used, and stripped from what is shown.
	inURL := strings.Replace(url, "http://", "http://ci:"+gitToken+"@", 1)
	r3, err := NewRemote(inURL, "main", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r3.String(), gitToken) {
		t.Errorf("String() shows the token: %s", r3)
	}
	if _, err := (&Deployer{Remote: r3}).Deploy(context.Background(), Request{App: "sample-app", Env: "staging", Image: digest(44), SourceCommit: shas[0]}); err != nil {
		t.Errorf("token in URL: %v", err)
	}
	if strings.Contains(fmt.Sprint(err)+log.String(), gitToken) {
		t.Error("token printed")
	}
	if head(t, dir, "main") == before {
		t.Error("deploy with the token in the URL did not land")
	}
	msgs, _ := exec.Command("git", "--git-dir", dir, "log", "--format=%B", "main").Output()
	if strings.Contains(string(msgs), gitToken) {
		t.Error("token in a commit message")
	}
}

// startGitDaemon serves root over git:// in its own process group, and
// stops the whole group (git daemon forks a child per connection) at cleanup.
func startGitDaemon(t *testing.T, root string) (port int, stop func()) {
	t.Helper()
	return startGitDaemonWith(t, root, "--enable=receive-pack")
}

// startGitDaemonWith is startGitDaemon with the daemon's service flags.
func startGitDaemonWith(t *testing.T, root string, services ...string) (port int, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := append([]string{"daemon", "--reuseaddr", "--export-all"}, services...)
	cmd := exec.Command("git", append(args, "--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), "--base-path="+root, root)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return port, stop
		}
		if time.Now().After(deadline) {
			t.Fatal("git daemon did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processesMentioning lists running processes whose command line holds s.
func processesMentioning(s string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), s) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}

func TestDeployOverGitDaemon(t *testing.T) {
	dir, _ := localGitOps(t)
	port, stop := startGitDaemon(t, filepath.Dir(dir))
	r, err := NewRemote(fmt.Sprintf("git://127.0.0.1:%d/%s", port, filepath.Base(dir)), "main", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	_, shas := sourceRepo(t, 1)
	out, err := (&Deployer{Remote: r}).Deploy(context.Background(), Request{App: "sample-app", Env: "development", Image: digest(5), SourceCommit: shas[0]})
	if err != nil {
		t.Fatal(err)
	}
	if head(t, dir, "main") != out.Commit {
		t.Error("git:// push did not land")
	}
	// Issue 12.17: nothing of the daemon outlives the test.
	stop()
	deadline := time.Now().Add(5 * time.Second)
	for left := processesMentioning("--base-path=" + filepath.Dir(dir)); len(left) > 0; left = processesMentioning("--base-path=" + filepath.Dir(dir)) {
		if time.Now().After(deadline) {
			t.Fatalf("git daemon still running after stop: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReadOnlyGitDaemonSaysItRefusesPushes: a git daemon that serves the
// repository but not receive-pack answers a push with "access denied", which
// go-git reports as "repository not found". The repository was just read, so
// the error says the server refuses pushes (and how to allow them); nothing
// is written.
func TestReadOnlyGitDaemonSaysItRefusesPushes(t *testing.T) {
	dir, _ := localGitOps(t)
	port, _ := startGitDaemonWith(t, filepath.Dir(dir))
	r, err := NewRemote(fmt.Sprintf("git://127.0.0.1:%d/%s", port, filepath.Base(dir)), "main", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	_, shas := sourceRepo(t, 1)
	before := head(t, dir, "main")
	_, err = (&Deployer{Remote: r}).Deploy(context.Background(), Request{App: "sample-app", Env: "development", Image: digest(5), SourceCommit: shas[0]})
	if err == nil {
		t.Fatal("a push to a read-only daemon succeeded")
	}
	msg := err.Error()
	if strings.Contains(msg, "not found") || !strings.Contains(msg, "refuses pushes") || !strings.Contains(msg, "--enable=receive-pack") || strings.Contains(msg, "\n") {
		t.Errorf("error %q; want one line saying the server refuses pushes to a repository it serves", msg)
	}
	if head(t, dir, "main") != before {
		t.Error("the refused push changed the repository")
	}
	// A repository that is really not there is still "not found".
	r2, _ := NewRemote(fmt.Sprintf("git://127.0.0.1:%d/nope.git", port), "main", env(nil))
	_, err = (&Deployer{Remote: r2}).Deploy(context.Background(), Request{App: "sample-app", Env: "development", Image: digest(5), SourceCommit: shas[0]})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("a missing repository: %v", err)
	}
}

// Issue 12.13: a server's rejection (a protected branch, a hook) reaches the
// user in the server's own words.
func TestPushRejectionKeepsServerMessage(t *testing.T) {
	dir, _ := localGitOps(t)
	if out, err := exec.Command("git", "--git-dir", dir, "config", "http.receivepack", "true").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	hook := "#!/bin/sh\necho 'error: GH006: Protected branch update failed for refs/heads/main.' >&2\necho 'error: Changes must be made through a pull request.' >&2\nexit 1\n"
	os.MkdirAll(filepath.Join(dir, "hooks"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	url := smartHTTP(t, filepath.Dir(dir)) + "/" + filepath.Base(dir)
	r, err := NewRemote(url, "main", env(map[string]string{"GITOPS_TOKEN": gitToken}))
	if err != nil {
		t.Fatal(err)
	}
	_, shas := sourceRepo(t, 1)
	before := head(t, dir, "main")
	_, err = (&Deployer{Remote: r}).Deploy(context.Background(), Request{App: "sample-app", Env: "staging", Image: digest(42), SourceCommit: shas[0]})
	if err == nil || !strings.Contains(err.Error(), "GH006: Protected branch update failed") || !strings.Contains(err.Error(), "must be made through a pull request") {
		t.Fatalf("rejection: %v", err)
	}
	if strings.Contains(err.Error(), gitToken) || head(t, dir, "main") != before {
		t.Fatal("token shown or remote changed")
	}
}

func TestNewRemoteErrors(t *testing.T) {
	cases := []struct {
		repo, branch string
		env          map[string]string
		want         string
	}{
		{"", "main", nil, "GITOPS_REPO"},
		{filepath.Join(t.TempDir(), "nope.git"), "main", nil, "no such directory"},
		{"https://example.invalid/x.git", "bad branch", nil, "not a valid branch"},
		{"git@github.com:acme/gitops.git", "main", map[string]string{"GITOPS_SSH_KEY_FILE": writeFile(t, "not a key")}, "cannot use it as an SSH private key"},
	}
	for _, c := range cases {
		_, err := NewRemote(c.repo, c.branch, env(c.env))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.repo, err, c.want)
		}
	}
}

func writeFile(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte(content), 0o600)
	return p
}
