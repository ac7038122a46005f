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
	"golang.org/x/crypto/ssh"
)

// gpgKeyPair is a fresh GPG key: its armored private key file and armored
// public key.
func gpgKeyPair(t *testing.T) (string, string) {
	t.Helper()
	e, err := openpgp.NewEntity("Slipway CI", "", "ci@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var priv, pub bytes.Buffer
	w, _ := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	e.SerializePrivate(w, nil)
	w.Close()
	w, _ = armor.Encode(&pub, openpgp.PublicKeyType, nil)
	e.Serialize(w)
	w.Close()
	f := filepath.Join(t.TempDir(), "key.asc")
	if err := os.WriteFile(f, priv.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return f, pub.String()
}

// sshKeyPair is a fresh ed25519 key: its OpenSSH private key file and
// public key line.
func sshKeyPair(t *testing.T) (string, string) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "ci@example.com")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "signing")
	if err := os.WriteFile(f, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := ssh.NewSignerFromKey(priv)
	return f, string(ssh.MarshalAuthorizedKey(s.PublicKey()))
}

// Issue 17 (trust, item 4d): a hand-written commit carrying deploy
// trailers reads as a record; when deploy commits are signed, history and
// status mark it unverified (and the records Slipway signed verified), for
// GPG and SSH keys, whether the key is given as the public half
// (GITOPS_VERIFY_KEY_FILE) or derived from the signing key. A record signed
// by another key is unverified too. With no key nothing is claimed.
func TestForgedRecordIsUnverified(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{"gpg", "ssh"} {
		t.Run(kind, func(t *testing.T) {
			var signer, other Signer
			var pub string
			var err error
			if kind == "gpg" {
				var f, f2 string
				f, pub = gpgKeyPair(t)
				f2, _ = gpgKeyPair(t)
				if signer, err = LoadGPGSigner(f, ""); err == nil {
					other, err = LoadGPGSigner(f2, "")
				}
			} else {
				var f, f2 string
				f, pub = sshKeyPair(t)
				f2, _ = sshKeyPair(t)
				if signer, err = LoadSSHSigner(f, ""); err == nil {
					other, err = LoadSSHSigner(f2, "")
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			dir, r := localGitOps(t)
			src, shas := sourceRepo(t, 3)
			signed, err := (&Deployer{Remote: r, Signer: signer}).Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[0], SourceRepo: src})
			if err != nil {
				t.Fatal(err)
			}
			byOther, err := (&Deployer{Remote: r, Signer: other}).Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(2), SourceCommit: shas[1], SourceRepo: src})
			if err != nil {
				t.Fatal(err)
			}
			// The forgery: the same edit and trailers, written by hand.
			wt := workClone(t, dir)
			p := filepath.Join(wt, "sample-app/overlays/staging/kustomization.yaml")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.ReplaceAll(string(data), digest(2).Digest, digest(3).Digest)), 0o644)
			msg := "deploy(sample-app): staging -> sha256:" + digest(3).Short() + "\n\nImage: " + digest(3).String() + "\nSource-Commit: " + shas[2] +
				"\nApp: sample-app\nEnvironment: staging\nPipeline-Run: local\n"
			gitCLI(t, wt, "commit", "-qam", msg)
			gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
			forged := gitCLI(t, wt, "rev-parse", "HEAD")

			recs, err := History(ctx, r, Filter{})
			if err != nil || len(recs) != 3 || recs[0].Commit != forged {
				t.Fatalf("history reads the forgery as a record: %+v %v", recs, err)
			}
			for _, rec := range recs {
				if rec.Signature != "" {
					t.Fatalf("no key configured, yet %s is %q", short(rec.Commit), rec.Signature)
				}
			}
			keys := map[string]*CommitKey{"derived from the signing key": CommitKeyOf(signer)}
			if keys["public key"], err = LoadCommitKey(pub); err != nil {
				t.Fatal(err)
			}
			pubFile := filepath.Join(t.TempDir(), "commit.pub")
			os.WriteFile(pubFile, []byte(pub), 0o644)
			if keys["public key file"], err = LoadCommitKey(pubFile); err != nil {
				t.Fatal(err)
			}
			for how, key := range keys {
				r.CommitKey = key
				recs, err := History(ctx, r, Filter{})
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]string{signed.Commit: SignatureVerified, byOther.Commit: SignatureUnverified, forged: SignatureUnverified}
				for _, rec := range recs {
					if rec.Signature != want[rec.Commit] {
						t.Errorf("%s: record %s is %q, want %q", how, short(rec.Commit), rec.Signature, want[rec.Commit])
					}
				}
				sts, err := Status(ctx, r, Filter{Env: "staging"})
				if err != nil || len(sts) != 1 || sts[0].Commit != forged || sts[0].Signature != SignatureUnverified {
					t.Errorf("%s: status of the forged record: %+v %v", how, sts, err)
				}
			}
			r.CommitKey = nil
		})
	}
	if _, err := LoadCommitKey("not a key at all"); err == nil || strings.Contains(err.Error(), "not a key at all") {
		t.Errorf("a bad GITOPS_VERIFY_KEY_FILE: %v", err)
	}
}
