// Package attest signs what Slipway pushes and proves it before a deploy:
// Sigstore bundles (v0.3) of in-toto statements (the image signature, the
// SBOM, the SLSA provenance), attached to the image as OCI 1.1 referrers the
// way cosign v3 attaches them, read back and verified against a policy (a
// public key, or a certificate identity and OIDC issuer).
//
// Keys use cosign's formats, so a team's existing cosign key pair works and a
// Slipway key works with cosign: an "ENCRYPTED SIGSTORE PRIVATE KEY" PEM
// (scrypt + secretbox; cosign's passwordless key is one with an empty
// password), or an unencrypted PKCS#8 / SEC 1 PEM, and a PKIX public key
// PEM. A P-384 key signs with SHA-384 (the Sigstore registry's
// PKIX_ECDSA_P384_SHA_384, as cosign sign does); cosign 3.1.3's verify --key
// hashes with SHA-256 unless given --signature-digest-algorithm sha384
// (TestCosignP384).
package attest

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// PEM block types, as cosign writes them.
const (
	encryptedKeyType       = "ENCRYPTED SIGSTORE PRIVATE KEY"
	legacyEncryptedKeyType = "ENCRYPTED COSIGN PRIVATE KEY"
	publicKeyType          = "PUBLIC KEY"
)

// ErrPassword is a private key that does not open with the password given.
var ErrPassword = errors.New("the password does not open the key")

// GenerateKeyPair makes an ECDSA P-256 key pair: the private key encrypted
// with password (cosign's format), the public key as a PKIX PEM.
func GenerateKeyPair(password []byte) (privPEM, pubPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	enc, err := encrypted.Encrypt(der, password)
	if err != nil {
		return nil, nil, err
	}
	pubPEM, err = MarshalPublicKey(key.Public())
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: encryptedKeyType, Bytes: enc}), pubPEM, nil
}

// MarshalPublicKey renders a public key as a PKIX PEM.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: publicKeyType, Bytes: der}), nil
}

// Key is a signing key: an ECDSA P-256 (SHA-256) or P-384 (SHA-384)
// private key. Its methods are the ones a Sigstore keypair needs
// (internal/keyless adapts it to sigstore-go's sign.Keypair).
type Key struct {
	priv *ecdsa.PrivateKey
	hint []byte
	hash crypto.Hash
}

// ParsePrivateKey reads a private key PEM: cosign's encrypted format (opened
// with password), or an unencrypted PKCS#8 or SEC 1 EC key. Errors never
// quote the key or the password.
func ParsePrivateKey(data, password []byte) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM private key")
	}
	var parsed any
	var err error
	switch block.Type {
	case encryptedKeyType, legacyEncryptedKeyType:
		der, derr := encrypted.Decrypt(block.Bytes, password)
		if derr != nil {
			if len(password) == 0 {
				return nil, fmt.Errorf("%w: the key is encrypted and no password was given", ErrPassword)
			}
			return nil, ErrPassword
		}
		parsed, err = x509.ParsePKCS8PrivateKey(der)
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("a %q PEM block (PKCS #8 encrypted, as openssl writes it) is not a private key Slipway reads: decrypt it (openssl pkcs8 -in FILE -out plain.pem), then cosign import-key-pair --key plain.pem writes cosign's %q", block.Type, encryptedKeyType)
	default:
		return nil, fmt.Errorf("a %q PEM block is not a private key Slipway reads (want %q, PRIVATE KEY or EC PRIVATE KEY)", block.Type, encryptedKeyType)
	}
	if err != nil {
		return nil, fmt.Errorf("private key: %w", errors.Unwrap(err))
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("an %s key: Slipway signs with ECDSA P-256 or P-384 keys (cosign generate-key-pair, slipway keygen)", KeyKind(parsed))
	}
	return NewKey(priv)
}

// KeyKind names a key's type in words ("ECDSA P-256", "RSA 2048",
// "Ed25519"), for messages; a public or a private key.
func KeyKind(key any) string {
	if s, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = s.Public()
	}
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == nil {
			return "ECDSA"
		}
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	case *ecdh.PublicKey:
		return "ECDH (X25519 or a NIST curve)"
	case nil:
		return "unknown"
	}
	return "unsupported (" + strings.TrimPrefix(fmt.Sprintf("%T", key), "*") + ")"
}

// NewKey wraps an ECDSA P-256 or P-384 private key.
func NewKey(priv *ecdsa.PrivateKey) (*Key, error) {
	k := &Key{priv: priv}
	switch priv.Curve {
	case elliptic.P256():
		k.hash = crypto.SHA256
	case elliptic.P384():
		k.hash = crypto.SHA384
	default:
		return nil, fmt.Errorf("an %s key: Slipway signs with ECDSA P-256 or P-384 keys (cosign generate-key-pair, slipway keygen)", KeyKind(priv))
	}
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	k.hint = []byte(base64.StdEncoding.EncodeToString(sum[:]))
	return k, nil
}

// GenerateEphemeral makes a one-use key (keyless signing: the certificate
// names the identity, the key is thrown away).
func GenerateEphemeral() (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return NewKey(priv)
}

// Hash is the digest the key signs: SHA-256 for P-256, SHA-384 for P-384.
func (k *Key) Hash() crypto.Hash { return k.hash }

// GetHint is the bundle's public key hint: base64(sha256(PKIX public key)),
// as cosign and sigstore-go write it.
func (k *Key) GetHint() []byte { return k.hint }

// GetKeyAlgorithm names the key type.
func (k *Key) GetKeyAlgorithm() string { return "ECDSA" }

// GetPublicKey is the public key.
func (k *Key) GetPublicKey() crypto.PublicKey { return k.priv.Public() }

// GetPublicKeyPem is the public key as a PKIX PEM.
func (k *Key) GetPublicKeyPem() (string, error) {
	p, err := MarshalPublicKey(k.priv.Public())
	return string(p), err
}

// SignData signs data (hashed with Hash): the ASN.1 ECDSA signature and the
// digest signed.
func (k *Key) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	return k.sign(data)
}

func (k *Key) sign(data []byte) ([]byte, []byte, error) {
	h := k.hash.New()
	h.Write(data)
	digest := h.Sum(nil)
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest)
	return sig, digest, err
}

// Fingerprint names the key in logs and trailers: sha256 of the PKIX public key.
func (k *Key) Fingerprint() string { return Fingerprint(k.priv.Public()) }

// Fingerprint is "sha256:<hex>" of a public key's PKIX encoding.
func Fingerprint(pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "unknown"
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ParsePublicKey reads a PKIX public key PEM (cosign.pub, slipway keygen's .pub).
func ParsePublicKey(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || !strings.Contains(block.Type, "PUBLIC KEY") {
		return nil, errors.New("not a PEM public key (want -----BEGIN PUBLIC KEY-----)")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	switch pub.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
		return pub, nil
	case ed25519.PublicKey:
		// cosign signs with an Ed25519 key as Ed25519ph, which neither cosign
		// verify nor sigstore-go's default verifier accepts: a policy with
		// such a key could only ever refuse.
		return nil, errors.New("an Ed25519 public key: Slipway verifies signatures by ECDSA (P-256, P-384, P-521) and RSA keys; sign with an ECDSA P-256 key (cosign generate-key-pair, slipway keygen)")
	}
	return nil, fmt.Errorf("an %s public key: Slipway verifies signatures by ECDSA (P-256, P-384, P-521) and RSA keys", KeyKind(pub))
}

// MarshalUnencrypted renders the key as an unencrypted PKCS#8 PEM and its
// public key as a PKIX PEM (development keys, kept 0600 under out/).
func (k *Key) MarshalUnencrypted() (privPEM, pubPEM []byte, err error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return nil, nil, err
	}
	pubPEM, err = MarshalPublicKey(k.priv.Public())
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), pubPEM, nil
}
