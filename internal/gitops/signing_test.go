package gitops

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

func TestSignedDeployCommit(t *testing.T) {
	entity, err := openpgp.NewEntity("Slipway CI", "", "ci@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var priv, pub bytes.Buffer
	w, _ := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	entity.SerializePrivate(w, nil)
	w.Close()
	w, _ = armor.Encode(&pub, openpgp.PublicKeyType, nil)
	entity.Serialize(w)
	w.Close()
	keyFile := filepath.Join(t.TempDir(), "key.asc")
	os.WriteFile(keyFile, priv.Bytes(), 0o600)

	signer, err := LoadGPGSigner(keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	dir, r := localGitOps(t)
	_, shas := sourceRepo(t, 1)
	out, err := (&Deployer{Remote: r, Signer: signer}).Deploy(context.Background(), Request{App: "sample-app", Env: "staging", Image: digest(8), SourceCommit: shas[0]})
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := git.PlainOpen(dir)
	c, err := repo.CommitObject(plumbing.NewHash(out.Commit))
	if err != nil {
		t.Fatal(err)
	}
	if c.PGPSignature == "" {
		t.Fatal("commit not signed")
	}
	if _, err := c.Verify(pub.String()); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	if _, err := LoadGPGSigner(writeFile(t, "not a key"), ""); err == nil || strings.Contains(err.Error(), "not a key") {
		t.Errorf("bad key file: %v", err)
	}
}

func TestSSHKeyAuth(t *testing.T) {
	_, pk, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(pk, "", []byte("key-passphrase-secret"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(knownHosts, nil, 0o600)
	r, err := NewRemote("git@github.com:acme/gitops.git", "main", env(map[string]string{
		"GITOPS_SSH_KEY_FILE": keyFile, "GITOPS_SSH_KEY_PASSPHRASE": "key-passphrase-secret", "GITOPS_SSH_KNOWN_HOSTS": knownHosts,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := r.Auth.(*gitssh.PublicKeys); !ok || a.User != "git" {
		t.Errorf("auth %T %+v", r.Auth, r.Auth)
	}
	_, err = NewRemote("ssh://deploy@git.example.com/acme/gitops.git", "main", env(map[string]string{
		"GITOPS_SSH_KEY_FILE": keyFile, "GITOPS_SSH_KEY_PASSPHRASE": "wrong-passphrase",
	}))
	if err == nil || strings.Contains(err.Error(), "wrong-passphrase") || !strings.Contains(err.Error(), keyFile) {
		t.Errorf("wrong passphrase: %v", err)
	}
}

// TestSSHSignedDeployCommit signs with an SSH key and lets the real git CLI
// verify the signature (gpg.format=ssh, an allowed-signers file).
func TestSSHSignedDeployCommit(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen (openssh-client) is needed for git to verify SSH signatures")
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "signing")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci@example.com", "-f", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	pub, _ := os.ReadFile(keyFile + ".pub")
	allowed := filepath.Join(dir, "allowed_signers")
	os.WriteFile(allowed, []byte("ci@example.com "+string(pub)), 0o644)

	signer, err := LoadSSHSigner(keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	gdir, r := localGitOps(t)
	_, shas := sourceRepo(t, 1)
	out, err := (&Deployer{Remote: r, Signer: signer}).Deploy(context.Background(), Request{App: "sample-app", Env: "staging", Image: digest(9), SourceCommit: shas[0]})
	if err != nil {
		t.Fatal(err)
	}
	verify := exec.Command("git", "--git-dir", gdir, "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+allowed, "verify-commit", "-v", out.Commit)
	if b, err := verify.CombinedOutput(); err != nil || !strings.Contains(string(b), `Good "git" signature for ci@example.com`) {
		t.Errorf("git verify-commit: %v\n%s", err, b)
	}
	if _, err := LoadSSHSigner(writeFile(t, "junk"), ""); err == nil || strings.Contains(err.Error(), "junk") {
		t.Errorf("bad key: %v", err)
	}
}
