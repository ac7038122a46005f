package gitops

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"

	"github.com/slipway-ci/slipway/internal/secret"
)

// A deploy record is a commit with trailers, and anyone who can push to the
// GitOps repository can write one by hand. When deploy commits are signed
// (GITOPS_GPG_KEY_FILE or GITOPS_SSH_SIGNING_KEY_FILE), the key that signs
// them tells a Slipway record from a forged one: history, status and the
// report mark a record whose commit has no signature that key verifies as
// unverified. An unsigned GitOps repository cannot tell them apart.

// Signature states of a record, when a commit key is configured.
const (
	SignatureVerified   = "verified"
	SignatureUnverified = "unverified"
)

// unverifiedNote is how history, status and the report name an unverified record.
const unverifiedNote = "unverified: its commit is not signed by the GitOps commit key"

// CommitKey is the public key deploy commits are signed with: a GPG key or
// an SSH key (git's gpg.format=ssh).
type CommitKey struct {
	gpg openpgp.EntityList
	ssh ssh.PublicKey
}

// LoadCommitKey reads the public key deploy commits must be signed with
// (GITOPS_VERIFY_KEY_FILE: a file, or the key itself): an armored GPG
// public key, or an OpenSSH public key line ("ssh-ed25519 AAAA…").
func LoadCommitKey(value string) (*CommitKey, error) {
	const name = "GITOPS_VERIFY_KEY_FILE"
	data := []byte(strings.TrimSpace(value))
	if data0, _, err := secret.Key(name, value); err == nil {
		data = data0 // a file, or a PEM-like armored block
	}
	if list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data)); err == nil && len(list) > 0 {
		return &CommitKey{gpg: list}, nil
	}
	if pub, _, _, _, err := ssh.ParseAuthorizedKey(data); err == nil {
		return &CommitKey{ssh: pub}, nil
	}
	return nil, fmt.Errorf("%s: neither an armored GPG public key nor an OpenSSH public key (a file, or the key itself)", name)
}

// CommitKeyOf is the public half of a Signer LoadGPGSigner or LoadSSHSigner
// made (nil for any other).
func CommitKeyOf(s Signer) *CommitKey {
	switch s := s.(type) {
	case gpgSigner:
		return &CommitKey{gpg: openpgp.EntityList{s.key}}
	case sshSigner:
		return &CommitKey{ssh: s.s.PublicKey()}
	}
	return nil
}

// verify reports whether c carries a signature of k over its content.
func (k *CommitKey) verify(c *object.Commit) bool {
	if c.PGPSignature == "" {
		return false
	}
	var payload plumbing.MemoryObject
	if err := c.EncodeWithoutSignature(&payload); err != nil {
		return false
	}
	r, err := payload.Reader()
	if err != nil {
		return false
	}
	var msg bytes.Buffer
	if _, err := msg.ReadFrom(r); err != nil {
		return false
	}
	if k.gpg != nil {
		_, err := openpgp.CheckArmoredDetachedSignature(k.gpg, bytes.NewReader(msg.Bytes()), strings.NewReader(c.PGPSignature), nil)
		return err == nil
	}
	return k.ssh != nil && verifySSHSig(k.ssh, msg.Bytes(), c.PGPSignature) == nil
}

// verifySSHSig checks an armored SSHSIG (OpenSSH's PROTOCOL.sshsig) of
// message, namespace "git", made by pub.
func verifySSHSig(pub ssh.PublicKey, message []byte, armored string) error {
	body := strings.TrimSpace(armored)
	if !strings.HasPrefix(body, "-----BEGIN SSH SIGNATURE-----") || !strings.HasSuffix(body, "-----END SSH SIGNATURE-----") {
		return errors.New("not an SSH signature")
	}
	body = strings.TrimSuffix(strings.TrimPrefix(body, "-----BEGIN SSH SIGNATURE-----"), "-----END SSH SIGNATURE-----")
	blob, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil || !bytes.HasPrefix(blob, []byte("SSHSIG")) {
		return errors.New("not an SSH signature")
	}
	rest := blob[len("SSHSIG"):]
	if len(rest) < 4 || !bytes.Equal(rest[:4], []byte{0, 0, 0, 1}) {
		return errors.New("unknown SSH signature version")
	}
	rest = rest[4:]
	var fields [5][]byte // public key, namespace, reserved, hash algorithm, signature
	for i := range fields {
		if len(rest) < 4 {
			return errors.New("truncated SSH signature")
		}
		n := int(rest[0])<<24 | int(rest[1])<<16 | int(rest[2])<<8 | int(rest[3])
		if n < 0 || len(rest) < 4+n {
			return errors.New("truncated SSH signature")
		}
		fields[i], rest = rest[4:4+n], rest[4+n:]
	}
	if !bytes.Equal(fields[0], pub.Marshal()) {
		return errors.New("signed by another key")
	}
	if string(fields[1]) != "git" || string(fields[3]) != "sha512" {
		return errors.New("not a git sha512 SSH signature")
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal(fields[4], &sig); err != nil {
		return err
	}
	h := sha512.Sum512(message)
	var signed bytes.Buffer
	signed.WriteString("SSHSIG")
	signed.Write(sshString(fields[1]))
	signed.Write(sshString(fields[2]))
	signed.Write(sshString(fields[3]))
	signed.Write(sshString(h[:]))
	return pub.Verify(signed.Bytes(), &sig)
}

// markSignatures sets each record's Signature from its commit, when the
// remote has a commit key.
func (r *Remote) markSignatures(repo interface {
	CommitObject(plumbing.Hash) (*object.Commit, error)
}, recs []Record) {
	if r.CommitKey == nil {
		return
	}
	for i := range recs {
		recs[i].Signature = SignatureUnverified
		if c, err := repo.CommitObject(plumbing.NewHash(recs[i].Commit)); err == nil && r.CommitKey.verify(c) {
			recs[i].Signature = SignatureVerified
		}
	}
}
