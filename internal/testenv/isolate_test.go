package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// childFlag tells this test binary, run again by
// TestIsolationHoldsInAHostileShell, that it is the child (Scrub removes it:
// the child reads it with Saved).
const childFlag = "SLIPWAY_TESTENV_CHILD"

// hostileGitConfig is a developer's global git configuration that breaks
// tests which read it: hooks that reject every commit, push and ref update,
// signing with a gpg that fails, protocol v0, another first branch, output
// formats and an external diff a parser does not expect.
func hostileGitConfig(hooks string) string {
	return "[user]\n\tname = Hostile User\n\temail = hostile@example.invalid\n\tsigningkey = DEADBEEF\n" +
		"[commit]\n\tgpgsign = true\n[tag]\n\tgpgsign = true\n\tforceSignAnnotated = true\n[gpg]\n\tprogram = /bin/false\n" +
		"[core]\n\thooksPath = " + hooks + "\n\tautocrlf = true\n\tquotepath = true\n" +
		"[init]\n\tdefaultBranch = trunk\n[protocol]\n\tversion = 0\n[push]\n\tgpgSign = true\n\tdefault = nothing\n" +
		"[color]\n\tui = always\n[diff]\n\texternal = /bin/false\n\tnoprefix = true\n[format]\n\tpretty = oneline\n" +
		"[log]\n\tshowSignature = true\n[status]\n\tshowUntrackedFiles = no\n[index]\n\tversion = 4\n"
}

// hostileShell makes, under dir, the configuration a hostile machine holds
// and returns the environment that points at it: ~/.gitconfig (and the XDG,
// GIT_CONFIG_GLOBAL, GIT_CONFIG_SYSTEM and GIT_CONFIG_COUNT routes to the
// same settings), ~/.docker/config.json whose credsStore helper fails (it
// leaves called behind when run), and a TMPDIR of 200 bytes.
func hostileShell(t *testing.T, dir string) (env []string, called string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	hooks, home, bin := filepath.Join(dir, "hooks"), filepath.Join(dir, "home"), filepath.Join(dir, "bin")
	called = filepath.Join(dir, "helper-called")
	for _, d := range []string{hooks, bin, filepath.Join(home, ".docker"), filepath.Join(home, ".config", "git")} {
		must(os.MkdirAll(d, 0o755))
	}
	for _, h := range []string{"pre-commit", "commit-msg", "pre-push", "pre-receive", "update", "reference-transaction", "post-checkout"} {
		must(os.WriteFile(filepath.Join(hooks, h), []byte("#!/bin/sh\necho hostile hook rejects >&2\nexit 1\n"), 0o755))
	}
	cfg := hostileGitConfig(hooks)
	for _, f := range []string{filepath.Join(home, ".gitconfig"), filepath.Join(home, ".config", "git", "config"), filepath.Join(dir, "system.gitconfig")} {
		must(os.WriteFile(f, []byte(cfg), 0o644))
	}
	must(os.WriteFile(filepath.Join(bin, "docker-credential-slipwayfail"),
		[]byte("#!/bin/sh\ntouch '"+called+"'\necho broken helper >&2\nexit 1\n"), 0o755))
	must(os.WriteFile(filepath.Join(home, ".docker", "config.json"),
		[]byte(`{"credsStore":"slipwayfail","credHelpers":{"127.0.0.1:5005":"slipwayfail"},"auths":{"127.0.0.1:5005":{"auth":"am9objpzZWNyZXQ="}}}`), 0o600))
	tmp := filepath.Join(dir, strings.Repeat("t", 60), strings.Repeat("m", 60), strings.Repeat("p", 60))
	must(os.MkdirAll(tmp, 0o755))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_CONFIG_NOSYSTEM=") && !strings.HasPrefix(kv, "XDG_") { // this process's isolation
			env = append(env, kv)
		}
	}
	return append(env,
		"HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "TMPDIR="+tmp,
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"DOCKER_CONFIG="+filepath.Join(home, ".docker"),
		"GIT_CONFIG_GLOBAL="+filepath.Join(home, ".gitconfig"), "GIT_CONFIG_SYSTEM="+filepath.Join(dir, "system.gitconfig"),
		"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=core.hooksPath", "GIT_CONFIG_VALUE_0="+hooks,
		"GIT_CONFIG_PARAMETERS='commit.gpgsign'='true'",
	), called
}

// TestIsolationHoldsInAHostileShell runs TestIsolatedChild in a new process
// of this test binary whose shell holds hostileShell's configuration: Main
// must isolate it from all of it. A control first shows the hostile
// configuration does break git in a process that is not isolated.
func TestIsolationHoldsInAHostileShell(t *testing.T) {
	if Saved(childFlag) != "" {
		t.Skip("the child runs TestIsolatedChild")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	env, called := hostileShell(t, dir)

	control := filepath.Join(dir, "control")
	c := exec.Command("sh", "-c", "git init -q "+control+" && cd "+control+" && git commit -q --allow-empty -m x")
	c.Env = env
	if out, err := c.CombinedOutput(); err == nil || !strings.Contains(string(out), "hostile hook rejects") {
		t.Fatalf("control: the hostile configuration does not break a commit outside testenv (err %v):\n%s", err, out)
	}

	cmd := exec.Command(os.Args[0], "-test.run", "^TestIsolatedChild$", "-test.v", "-test.count=1")
	cmd.Env = append(env, childFlag+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestIsolatedChild") {
		t.Fatalf("in a hostile shell (%v):\n%s", err, out)
	}
	if _, err := os.Stat(called); err == nil {
		t.Error("the shell's docker credential helper ran")
	}
}

// TestIsolatedChild is the child's half of TestIsolationHoldsInAHostileShell:
// git commits, tags, pushes and fetches by object id as a fresh
// installation would, the Docker keychain answers anonymous without running
// a helper, a socket fits in t.TempDir, and Engine gives the shell's
// configuration back.
func TestIsolatedChild(t *testing.T) {
	dir := Saved(childFlag)
	if dir == "" {
		t.Skip("run by TestIsolationHoldsInAHostileShell")
	}
	git := func(d string, args ...string) string {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", d}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	repo, bare, clone := t.TempDir(), t.TempDir(), t.TempDir()
	git(repo, "init", "-q")
	if err := os.WriteFile(filepath.Join(repo, "f"), []byte("a\r\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(repo, "add", "f")
	git(repo, "commit", "-qm", "first")
	git(repo, "tag", "-a", "-m", "v1", "v1")
	if b := git(repo, "branch", "--show-current"); b != "main" {
		t.Errorf("first branch %q, want main", b)
	}
	if who := git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>"); who != IdentityName+" <"+IdentityEmail+">|"+IdentityName+" <"+IdentityEmail+">" {
		t.Errorf("identity %q", who)
	}
	if raw := git(repo, "cat-file", "commit", "HEAD"); strings.Contains(raw, "gpgsig") {
		t.Errorf("the commit is signed:\n%s", raw)
	}
	if blob := git(repo, "cat-file", "blob", "HEAD:f"); blob != "a\r\nb" {
		t.Errorf("core.autocrlf reached the index: %q", blob)
	}
	// Every setting git sees comes from the file Isolate wrote.
	for _, line := range strings.Split(git(repo, "config", "--list", "--show-origin", "--show-scope"), "\n") {
		if strings.HasPrefix(line, "global") && !strings.Contains(line, os.Getenv("GIT_CONFIG_GLOBAL")) || strings.HasPrefix(line, "system") || strings.HasPrefix(line, "command") {
			t.Errorf("git reads configuration from outside testenv: %s", line)
		}
	}
	git(bare, "init", "-q", "--bare")
	git(repo, "push", "-q", bare, "main", "v1")
	git(clone, "init", "-q")
	head := git(repo, "rev-parse", "HEAD")
	git(clone, "fetch", "-q", "file://"+bare, head)

	kc, err := authn.DefaultKeychain.Resolve(name.MustParseReference("127.0.0.1:5005/app:1").Context())
	if err != nil {
		t.Fatalf("keychain: %v", err)
	}
	if kc != authn.Anonymous {
		cfg, _ := kc.Authorization()
		t.Errorf("keychain answers %+v for 127.0.0.1:5005, want anonymous", cfg)
	}

	if len(os.TempDir()) > shortTemp+len("/sw0123456789/t") {
		t.Errorf("TMPDIR %s (%d bytes)", os.TempDir(), len(os.TempDir()))
	}
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "engine.sock"))
	if err != nil {
		t.Fatalf("a socket in t.TempDir(): %v", err)
	}
	l.Close()
	if entries, _ := os.ReadDir(os.Getenv("HOME")); len(entries) != 0 || os.Getenv("HOME") == Saved("HOME") {
		t.Errorf("HOME %s is the shell's or not empty (%d entries)", os.Getenv("HOME"), len(entries))
	}

	t.Run("engine", func(t *testing.T) {
		Engine(t)
		if got, want := os.Getenv("HOME"), filepath.Join(dir, "home"); got != want {
			t.Errorf("Engine: HOME=%s, want the shell's %s", got, want)
		}
		if got := os.Getenv("GIT_CONFIG_COUNT"); got != "1" {
			t.Errorf("Engine: GIT_CONFIG_COUNT=%q, want the shell's", got)
		}
		if _, ok := os.LookupEnv("GIT_CONFIG_NOSYSTEM"); ok {
			t.Error("Engine: GIT_CONFIG_NOSYSTEM set, the shell had none")
		}
	})
	if os.Getenv("GIT_CONFIG_NOSYSTEM") != "1" || os.Getenv("HOME") == filepath.Join(dir, "home") {
		t.Error("Engine's restore outlived its test")
	}
}
