package cli

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Issue 17 (trust, item 4d) end to end: deploy commits signed with
// GITOPS_SSH_SIGNING_KEY_FILE; a commit written by hand with deploy
// trailers reads as a record, and history --json, history and status mark
// it unverified, given the signing key or only its public half
// (GITOPS_VERIFY_KEY_FILE); a verify key that is no key exits 2.
func TestForgedRecordShowsUnverified(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "ci@example.com")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "signing")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := ssh.NewSignerFromKey(priv)
	pubFile := filepath.Join(t.TempDir(), "signing.pub")
	if err := os.WriteFile(pubFile, ssh.MarshalAuthorizedKey(s.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	src, shas := gitRepo(t, 2)
	common := []string{"--out", out, "--source", "../../sample-app"}
	dig := "ghcr.io/acme/sample-app@sha256:" + strings.Repeat("1", 64)
	t.Setenv("GITOPS_SSH_SIGNING_KEY_FILE", keyFile)
	if _, stderr, code := run(t, append([]string{"deploy", "--app", "sample-app", "--env", "development", "--image", dig, "--source-commit", shas[0], "--source-repo", src}, common...)...); code != 0 {
		t.Fatalf("signed deploy: exit %d %s", code, stderr)
	}
	t.Setenv("GITOPS_SSH_SIGNING_KEY_FILE", "")

	// The forgery, pushed by someone with write access and no key.
	wt := filepath.Join(t.TempDir(), "wt")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Slipway", "GIT_AUTHOR_EMAIL=slipway@noreply.invalid", "GIT_COMMITTER_NAME=Slipway", "GIT_COMMITTER_EMAIL=slipway@noreply.invalid")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, b)
		}
		return strings.TrimSpace(string(b))
	}
	git(filepath.Dir(wt), "clone", "-q", filepath.Join(out, "gitops.git"), wt)
	kust := filepath.Join(wt, "sample-app/overlays/development/kustomization.yaml")
	data, err := os.ReadFile(kust)
	if err != nil {
		t.Fatal(err)
	}
	forgedImg := "ghcr.io/acme/sample-app@sha256:" + strings.Repeat("6", 64)
	os.WriteFile(kust, []byte(strings.ReplaceAll(string(data), strings.Repeat("1", 64), strings.Repeat("6", 64))), 0o644)
	git(wt, "commit", "-qam", "deploy(sample-app): development -> sha256:"+strings.Repeat("6", 12)+"\n\nImage: "+forgedImg+"\nSource-Commit: "+shas[1]+"\nApp: sample-app\nEnvironment: development\nPipeline-Run: local\n")
	git(wt, "push", "-q", "origin", "HEAD:main")

	t.Setenv("GITOPS_VERIFY_KEY_FILE", pubFile)
	stdout, stderr, code := run(t, append([]string{"history", "--json"}, common...)...)
	var recs []map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &recs) != nil || len(recs) != 2 {
		t.Fatalf("history --json: exit %d %s %s", code, stdout, stderr)
	}
	if recs[0]["image"] != forgedImg || recs[0]["signature"] != "unverified" || recs[1]["signature"] != "verified" {
		t.Errorf("history --json does not tell the forgery: %v", recs)
	}
	stdout, _, _ = run(t, append([]string{"history"}, common...)...)
	if !strings.Contains(stdout, "unverified: its commit is not signed by the GitOps commit key") {
		t.Errorf("history table:\n%s", stdout)
	}
	stdout, _, _ = run(t, append([]string{"status", "--env", "development"}, common...)...)
	if !strings.Contains(stdout, "unverified") {
		t.Errorf("status table:\n%s", stdout)
	}
	t.Setenv("GITOPS_VERIFY_KEY_FILE", "not a key")
	if _, stderr, code := run(t, append([]string{"history"}, common...)...); code != 2 || !strings.Contains(stderr, "GITOPS_VERIFY_KEY_FILE") {
		t.Errorf("a GITOPS_VERIFY_KEY_FILE that is no key: exit %d %s", code, stderr)
	}
}
