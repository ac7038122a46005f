package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/slipway-ci/slipway/internal/strictjson"
	"golang.org/x/crypto/ssh"
)

// The Sigstore bundle (protobuf-specs bundle.v1.Bundle) in its JSON form,
// as plain structs: what a key signs and verifies needs no protobuf runtime
// and no Sigstore client. Field names are the protobuf JSON names
// (lowerCamelCase); bytes are standard base64, as protojson writes them.
type bundleJSON struct {
	MediaType            string                `json:"mediaType"`
	VerificationMaterial *verificationMaterial `json:"verificationMaterial,omitempty"`
	DSSEEnvelope         *dsseEnvelope         `json:"dsseEnvelope,omitempty"`
	MessageSignature     json.RawMessage       `json:"messageSignature,omitempty"`
}

type verificationMaterial struct {
	PublicKey            *publicKeyIdentifier `json:"publicKey,omitempty"`
	Certificate          json.RawMessage      `json:"certificate,omitempty"`
	X509CertificateChain json.RawMessage      `json:"x509CertificateChain,omitempty"`
	// Key-signed bundles are verified without a log or a timestamp (as
	// sigstore-go's WithNoObserverTimestamps): what these hold is read
	// only for the bundle's well-formedness.
	TlogEntries               []tlogEntry     `json:"tlogEntries,omitempty"`
	TimestampVerificationData json.RawMessage `json:"timestampVerificationData,omitempty"`
}

type publicKeyIdentifier struct {
	Hint string `json:"hint,omitempty"`
}

// tlogEntry is only looked at for what bundle v0.2+ requires of an entry
// (an inclusion proof); a key policy does not verify it.
type tlogEntry struct {
	InclusionProof   json.RawMessage `json:"inclusionProof,omitempty"`
	InclusionPromise json.RawMessage `json:"inclusionPromise,omitempty"`
	Other            map[string]json.RawMessage
}

func (t *tlogEntry) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	if m == nil {
		return errors.New("a transparency log entry is null")
	}
	t.InclusionProof, t.InclusionPromise = nonNull(m["inclusionProof"]), nonNull(m["inclusionPromise"])
	delete(m, "inclusionProof")
	delete(m, "inclusionPromise")
	t.Other = m
	return nil
}

func (t tlogEntry) MarshalJSON() ([]byte, error) {
	m := map[string]json.RawMessage{}
	for k, v := range t.Other {
		m[k] = v
	}
	if t.InclusionProof != nil {
		m["inclusionProof"] = t.InclusionProof
	}
	if t.InclusionPromise != nil {
		m["inclusionPromise"] = t.InclusionPromise
	}
	return json.Marshal(m)
}

func nonNull(r json.RawMessage) json.RawMessage {
	if bytes.Equal(bytes.TrimSpace(r), []byte("null")) {
		return nil
	}
	return r
}

type dsseEnvelope struct {
	Payload     []byte          `json:"payload"`
	PayloadType string          `json:"payloadType"`
	Signatures  []dsseSignature `json:"signatures"`
}

type dsseSignature struct {
	Sig   []byte `json:"sig"`
	KeyID string `json:"keyid,omitempty"`
}

// Bundle media types: v0.3 is what Slipway and cosign v3 write; v0.1 and
// v0.2 (and the older spelling of each) are what sigstore-go reads too.
var bundleVersions = map[string]string{
	"application/vnd.dev.sigstore.bundle.v0.3+json":        "v0.3",
	"application/vnd.dev.sigstore.bundle+json;version=0.3": "v0.3",
	"application/vnd.dev.sigstore.bundle.v0.2+json":        "v0.2",
	"application/vnd.dev.sigstore.bundle+json;version=0.2": "v0.2",
	"application/vnd.dev.sigstore.bundle.v0.1+json":        "v0.1",
	"application/vnd.dev.sigstore.bundle+json;version=0.1": "v0.1",
}

// pae is DSSE's pre-authentication encoding: what is signed.
func pae(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// keyBundle is a key-signed bundle v0.3 of an in-toto statement: a DSSE
// envelope with one signature over PAE, and the key's hint.
func keyBundle(k *Key, statement []byte) ([]byte, error) {
	sig, _, err := k.sign(pae(InTotoPayloadType, statement))
	if err != nil {
		return nil, err
	}
	return json.Marshal(bundleJSON{
		MediaType:            BundleMediaType,
		VerificationMaterial: &verificationMaterial{PublicKey: &publicKeyIdentifier{Hint: string(k.GetHint())}},
		DSSEEnvelope:         &dsseEnvelope{Payload: statement, PayloadType: InTotoPayloadType, Signatures: []dsseSignature{{Sig: sig}}},
	})
}

// parseBundle reads a bundle's JSON strictly: one JSON object, no unknown or
// repeated fields, a media type sigstore-go reads, content and verification
// material each of exactly one kind, and the inclusion proofs bundle v0.2+
// requires of log entries.
func parseBundle(data []byte) (*bundleJSON, error) {
	if err := checkJSON(data); err != nil {
		return nil, err
	}
	if err := bundleFields(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b bundleJSON
	if err := dec.Decode(&b); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the bundle")
	}
	version, ok := bundleVersions[b.MediaType]
	if !ok {
		return nil, fmt.Errorf("media type %q is not a Sigstore bundle v0.1 to v0.3", b.MediaType)
	}
	b.MessageSignature = nonNull(b.MessageSignature)
	switch {
	case b.DSSEEnvelope != nil && b.MessageSignature != nil:
		return nil, errors.New("the bundle holds both a DSSE envelope and a message signature")
	case b.DSSEEnvelope == nil && b.MessageSignature == nil:
		return nil, errors.New("the bundle holds no content (no DSSE envelope, no message signature)")
	}
	vm := b.VerificationMaterial
	if vm == nil {
		return nil, errors.New("the bundle holds no verification material")
	}
	vm.Certificate, vm.X509CertificateChain = nonNull(vm.Certificate), nonNull(vm.X509CertificateChain)
	kinds := 0
	for _, present := range []bool{vm.PublicKey != nil, vm.Certificate != nil, vm.X509CertificateChain != nil} {
		if present {
			kinds++
		}
	}
	if kinds != 1 {
		return nil, errors.New("the bundle's verification material must be one public key, certificate or certificate chain")
	}
	if version == "v0.3" && vm.X509CertificateChain != nil {
		return nil, errors.New("verification material cannot be X.509 certificate chain (for bundle v0.3)")
	}
	for _, e := range vm.TlogEntries {
		if version == "v0.1" && e.InclusionPromise == nil {
			return nil, errors.New("inclusion promises missing in bundle (required for bundle v0.1)")
		}
		if version != "v0.1" && e.InclusionProof == nil {
			return nil, fmt.Errorf("inclusion proof missing in bundle (required for bundle %s)", version)
		}
	}
	return &b, nil
}

// checkJSON refuses JSON that protobuf's JSON reader (what sigstore-go
// reads bundles and statements with) refuses and encoding/json would read
// anyway, or read differently: invalid UTF-8, an unpaired UTF-16 surrogate
// escape (encoding/json turns both into U+FFFD), an object key given twice
// (encoding/json keeps the last), a number out of float64's range. Two
// readers of one bundle must never see two different bundles.
func checkJSON(data []byte) error {
	if !utf8.Valid(data) {
		return errors.New("invalid UTF-8")
	}
	if !json.Valid(data) {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		return errors.New("not JSON")
	}
	if err := strictjson.Surrogates(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if n, ok := tok.(json.Number); ok {
			if _, err := strconv.ParseFloat(string(n), 64); err != nil {
				return fmt.Errorf("the number %s is out of range", n)
			}
			return nil
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return nil
		}
		switch d {
		case '{':
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				if seen[key] {
					return fmt.Errorf("the field %q appears twice", key)
				}
				seen[key] = true
				if err := walk(); err != nil {
					return err
				}
			}
		case '[':
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
		}
		_, err = dec.Token() // the closing delimiter
		return err
	}
	return walk()
}

// fields checks that raw (a JSON object, or null) names only the given
// fields, spelled exactly: encoding/json would match "MediaType" or
// "PAYLOAD" to a field too, protobuf's JSON reader refuses them.
func fields(raw json.RawMessage, what string, names ...string) (map[string]json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	for k := range m {
		if !slices.Contains(names, k) {
			return nil, fmt.Errorf("%s: unknown field %q", what, k)
		}
	}
	return m, nil
}

func isNull(raw json.RawMessage) bool {
	r := bytes.TrimSpace(raw)
	return len(r) == 0 || bytes.Equal(r, []byte("null"))
}

// elements is a JSON array's elements, none of them null (protobuf's JSON
// reader refuses a null element of a repeated field).
func elements(raw json.RawMessage, what string) ([]json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	var es []json.RawMessage
	if err := json.Unmarshal(raw, &es); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	for _, e := range es {
		if isNull(e) {
			return nil, fmt.Errorf("%s: a null element", what)
		}
	}
	return es, nil
}

// bundleFields checks the field names of the bundle's parts that Slipway
// reads.
func bundleFields(data []byte) error {
	top, err := fields(data, "the bundle", "mediaType", "verificationMaterial", "dsseEnvelope", "messageSignature")
	if err != nil {
		return err
	}
	vm, err := fields(top["verificationMaterial"], "its verificationMaterial", "publicKey", "certificate", "x509CertificateChain", "tlogEntries", "timestampVerificationData")
	if err != nil {
		return err
	}
	if _, err := fields(vm["publicKey"], "its publicKey", "hint"); err != nil {
		return err
	}
	if _, err := elements(vm["tlogEntries"], "its tlogEntries"); err != nil {
		return err
	}
	env, err := fields(top["dsseEnvelope"], "its dsseEnvelope", "payload", "payloadType", "signatures")
	if err != nil {
		return err
	}
	sigs, err := elements(env["signatures"], "its DSSE signatures")
	if err != nil {
		return err
	}
	for _, sig := range sigs {
		if _, err := fields(sig, "its DSSE signature", "sig", "keyid"); err != nil {
			return err
		}
	}
	return nil
}

// statementFields checks the field names of a statement and its subjects,
// that each subject digest is a string and that annotations are an object.
func statementFields(payload []byte) error {
	top, err := fields(payload, "its statement", "_type", "subject", "predicateType", "predicate")
	if err != nil {
		return err
	}
	subjects, err := elements(top["subject"], "its statement's subject")
	if err != nil {
		return err
	}
	for _, raw := range subjects {
		s, err := fields(raw, "its statement's subject", "name", "uri", "digest", "content", "downloadLocation", "mediaType", "annotations")
		if err != nil {
			return err
		}
		if !isNull(s["digest"]) {
			var digests map[string]json.RawMessage
			if err := json.Unmarshal(s["digest"], &digests); err != nil {
				return fmt.Errorf("its statement's subject digest: %w", err)
			}
			for alg, d := range digests {
				if d = bytes.TrimSpace(d); len(d) == 0 || d[0] != '"' {
					return fmt.Errorf("its statement's %s subject digest is not a string", alg)
				}
			}
		}
		if a := bytes.TrimSpace(s["annotations"]); !isNull(a) && a[0] != '{' {
			return errors.New("its statement's subject annotations are not a JSON object")
		}
	}
	return nil
}

// Limits on a statement's subjects, as sigstore-go's verifier sets them.
const (
	maxSubjects       = 1024
	maxSubjectDigests = 32
)

// inTotoStatement is an in-toto Statement (v1, or v0.1 as older cosign
// wrote), read strictly: its fields are those of in-toto's protobuf
// Statement and ResourceDescriptor.
type inTotoStatement struct {
	Type          string          `json:"_type"`
	Subject       []subjectJSON   `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

type subjectJSON struct {
	Name             string            `json:"name"`
	URI              string            `json:"uri"`
	Digest           map[string]string `json:"digest"`
	Content          []byte            `json:"content"`
	DownloadLocation string            `json:"downloadLocation"`
	MediaType        string            `json:"mediaType"`
	Annotations      json.RawMessage   `json:"annotations"`
}

// parseStatement reads a DSSE payload as an in-toto statement.
func parseStatement(payload []byte) (*inTotoStatement, error) {
	if err := checkJSON(payload); err != nil {
		return nil, fmt.Errorf("its statement: %w", err)
	}
	if err := statementFields(payload); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var st inTotoStatement
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("its statement is not an in-toto statement: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("its statement is not an in-toto statement: data after it")
	}
	switch st.Type {
	case "https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1":
	default:
		return nil, fmt.Errorf("its statement's _type %q is not an in-toto statement", st.Type)
	}
	switch p := bytes.TrimSpace(st.Predicate); {
	case len(p) == 0 || bytes.Equal(p, []byte("null")):
		st.Predicate = json.RawMessage(`{}`)
	case p[0] != '{':
		return nil, errors.New("its statement's predicate is not a JSON object")
	}
	if len(st.Subject) > maxSubjects {
		return nil, fmt.Errorf("too many subjects: %d > %d", len(st.Subject), maxSubjects)
	}
	for _, s := range st.Subject {
		if len(s.Digest) > maxSubjectDigests {
			return nil, fmt.Errorf("too many digests: %d > %d", len(s.Digest), maxSubjectDigests)
		}
	}
	return &st, nil
}

// about reports whether the statement names the sha256 digest (raw bytes)
// among its subjects. Every subject digest must be hex, as sigstore-go
// requires.
func (st *inTotoStatement) about(digest []byte) error {
	var found, any bool
	for _, s := range st.Subject {
		for alg, h := range s.Digest {
			raw, err := hex.DecodeString(h)
			if err != nil {
				return fmt.Errorf("its statement's %s subject digest is not hex", alg)
			}
			if alg == "sha256" {
				any = true
				found = found || bytes.Equal(raw, digest)
			}
		}
	}
	if !any || !found {
		return errors.New("its statement is about another digest")
	}
	return nil
}

// verifyKeyBundle checks a bundle against a public key, as sigstore-go's
// verifier with WithKey, WithArtifactDigest(sha256, digest) and
// WithNoObserverTimestamps does: the bundle is key-signed (no certificate),
// its DSSE envelope holds exactly one signature, which verifies over PAE
// with the key, and its in-toto statement names the digest. It returns the
// statement and its raw payload.
func verifyKeyBundle(pub crypto.PublicKey, data, digest []byte) (*inTotoStatement, []byte, error) {
	b, err := parseBundle(data)
	if err != nil {
		return nil, nil, fmt.Errorf("not a Sigstore bundle: %w", err)
	}
	if b.VerificationMaterial.PublicKey == nil {
		return nil, nil, errors.New("signed with a certificate, not a key")
	}
	env := b.DSSEEnvelope
	if env == nil {
		return nil, nil, errors.New("the bundle holds no in-toto statement")
	}
	if len(env.Signatures) != 1 {
		return nil, nil, fmt.Errorf("its DSSE envelope holds %d signatures, want exactly 1", len(env.Signatures))
	}
	if env.PayloadType != InTotoPayloadType {
		return nil, nil, fmt.Errorf("its DSSE payload type is %q, want %s", env.PayloadType, InTotoPayloadType)
	}
	s := env.Signatures[0]
	if s.KeyID != "" {
		// A DSSE verifier skips a signature whose key ID names another key.
		if sp, err := ssh.NewPublicKey(pub); err == nil && ssh.FingerprintSHA256(sp) != s.KeyID {
			return nil, nil, errors.New("signed by another key (its DSSE key ID names another)")
		}
	}
	if err := verifySignature(pub, pae(env.PayloadType, env.Payload), s.Sig); err != nil {
		return nil, nil, err
	}
	st, err := parseStatement(env.Payload)
	if err != nil {
		return nil, nil, err
	}
	if err := st.about(digest); err != nil {
		return nil, nil, err
	}
	return st, env.Payload, nil
}

// errSignature is a signature that does not verify with the policy's key.
var errSignature = errors.New("the signature does not verify")

// verifySignature checks sig over msg with pub as sigstore's
// signature.LoadVerifier(pub, hash) does for cosign's key types: ECDSA
// (ASN.1, SHA-256 for P-256, SHA-384 for P-384, SHA-512 for P-521), RSA
// PKCS #1 v1.5 with SHA-256, Ed25519.
func verifySignature(pub crypto.PublicKey, msg, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		h := crypto.SHA256
		switch k.Curve {
		case elliptic.P384():
			h = crypto.SHA384
		case elliptic.P521():
			h = crypto.SHA512
		}
		d := h.New()
		d.Write(msg)
		if !ecdsa.VerifyASN1(k, d.Sum(nil), sig) {
			return errSignature
		}
	case *rsa.PublicKey:
		d := crypto.SHA256.New()
		d.Write(msg)
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, d.Sum(nil), sig) != nil {
			return errSignature
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(k, msg, sig) {
			return errSignature
		}
	default:
		return fmt.Errorf("a %T public key: Slipway verifies ECDSA, RSA and Ed25519 keys", pub)
	}
	return nil
}
