package gitops

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"golang.org/x/crypto/ssh"

	"github.com/slipway-ci/slipway/internal/secret"
)

// Signer signs a commit's encoded form; the result goes in its gpgsig header.
type Signer interface {
	Sign(message io.Reader) ([]byte, error)
}

type gpgSigner struct{ key *openpgp.Entity }

func (g gpgSigner) Sign(message io.Reader) ([]byte, error) {
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, g.key, message, nil); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// LoadGPGSigner reads an armored GPG private key (GITOPS_GPG_KEY_FILE: a
// file, the armored block itself, or that block base64-encoded), decrypting
// it with the passphrase when it is protected. Errors never quote the key.
func LoadGPGSigner(value, passphrase string) (Signer, error) {
	data, from, err := secret.Key("GITOPS_GPG_KEY_FILE", value)
	if err != nil {
		return nil, fmt.Errorf("%w (an armored GPG private key)", err)
	}
	list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	if err != nil || len(list) == 0 || list[0].PrivateKey == nil {
		return nil, fmt.Errorf("GITOPS_GPG_KEY_FILE: %s is not an armored GPG private key", from)
	}
	e := list[0]
	if e.PrivateKey.Encrypted {
		if err := e.PrivateKey.Decrypt([]byte(passphrase)); err != nil {
			return nil, fmt.Errorf("GITOPS_GPG_KEY_FILE: %s: wrong or missing GITOPS_GPG_PASSPHRASE", from)
		}
	}
	return gpgSigner{key: e}, nil
}

// sshSigner makes git's SSH signatures (gpg.format=ssh): the SSHSIG format of
// OpenSSH's PROTOCOL.sshsig, namespace "git", SHA-512.
type sshSigner struct{ s ssh.Signer }

// LoadSSHSigner reads an OpenSSH private key (GITOPS_SSH_SIGNING_KEY_FILE:
// a file, the PEM itself, or the PEM base64-encoded). Errors never quote it.
func LoadSSHSigner(value, passphrase string) (Signer, error) {
	data, from, err := secret.Key("GITOPS_SSH_SIGNING_KEY_FILE", value)
	if err != nil {
		return nil, fmt.Errorf("%w (an OpenSSH private key)", err)
	}
	var s ssh.Signer
	if passphrase != "" {
		s, err = ssh.ParsePrivateKeyWithPassphrase(data, []byte(passphrase))
	} else {
		s, err = ssh.ParsePrivateKey(data)
	}
	if err != nil {
		// Never echo the key: only where it came from and what is wrong with it.
		return nil, fmt.Errorf("GITOPS_SSH_SIGNING_KEY_FILE: %s is not an SSH private key Slipway can use (is GITOPS_SSH_KEY_PASSPHRASE right?)", from)
	}
	return sshSigner{s: s}, nil
}

func sshString(b []byte) []byte {
	return append([]byte{byte(len(b) >> 24), byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}, b...)
}

func (s sshSigner) Sign(message io.Reader) ([]byte, error) {
	h := sha512.New()
	if _, err := io.Copy(h, message); err != nil {
		return nil, err
	}
	const namespace, hashAlg = "git", "sha512"
	var signed bytes.Buffer
	signed.WriteString("SSHSIG")
	signed.Write(sshString([]byte(namespace)))
	signed.Write(sshString(nil))
	signed.Write(sshString([]byte(hashAlg)))
	signed.Write(sshString(h.Sum(nil)))

	var sig *ssh.Signature
	var err error
	if as, ok := s.s.(ssh.AlgorithmSigner); ok && s.s.PublicKey().Type() == ssh.KeyAlgoRSA {
		sig, err = as.SignWithAlgorithm(rand.Reader, signed.Bytes(), ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = s.s.Sign(rand.Reader, signed.Bytes())
	}
	if err != nil {
		return nil, fmt.Errorf("ssh sign: %w", err)
	}
	var blob bytes.Buffer
	blob.WriteString("SSHSIG")
	blob.Write([]byte{0, 0, 0, 1})
	blob.Write(sshString(s.s.PublicKey().Marshal()))
	blob.Write(sshString([]byte(namespace)))
	blob.Write(sshString(nil))
	blob.Write(sshString([]byte(hashAlg)))
	blob.Write(sshString(ssh.Marshal(sig)))

	enc := base64.StdEncoding.EncodeToString(blob.Bytes())
	var out strings.Builder
	out.WriteString("-----BEGIN SSH SIGNATURE-----\n")
	for len(enc) > 70 {
		out.WriteString(enc[:70] + "\n")
		enc = enc[70:]
	}
	out.WriteString(enc + "\n-----END SSH SIGNATURE-----\n")
	return []byte(out.String()), nil
}
