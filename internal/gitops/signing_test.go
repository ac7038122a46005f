package gitops

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
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

	key, err := LoadSignKey(keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	dir, r := localGitOps(t)
	_, shas := sourceRepo(t, 1)
	out, err := (&Deployer{Remote: r, SignKey: key}).Deploy(context.Background(), Request{App: "sample-app", Env: "staging", Image: digest(8), SourceCommit: shas[0]})
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
	if _, err := LoadSignKey(writeFile(t, "not a key"), ""); err == nil || strings.Contains(err.Error(), "not a key") {
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
	r, err := NewRemote("git@github.com:acme/gitops.git", "main", env(map[string]string{
		"GITOPS_SSH_KEY_FILE": keyFile, "GITOPS_SSH_KEY_PASSPHRASE": "key-passphrase-secret",
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
