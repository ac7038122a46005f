package attest

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/provenance"
)

const commit = "0123456789abcdef0123456789abcdef01234567"

// newRegistry starts go-containerregistry's registry, with or without the
// OCI 1.1 referrers API, and pushes a random image to it.
func newRegistry(t testing.TB, referrers bool) name.Digest {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.WithReferrersSupport(referrers), registry.Logger(nilLogger())))
	t.Cleanup(s.Close)
	return pushRandom(t, strings.TrimPrefix(s.URL, "http://")+"/acme/payments")
}

func pushRandom(t testing.TB, repo string) name.Digest {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(repo+":v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return ref.Context().Digest(d.String())
}

func testKey(t testing.TB) (*Key, crypto.PublicKey) {
	t.Helper()
	priv, pub, err := GenerateKeyPair([]byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePrivateKey(priv, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, p
}

func sbomPredicate() json.RawMessage {
	return json.RawMessage(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"name":"golang.org/x/text","version":"v0.3.7","type":"library"},{"name":"app","type":"application"}]}`)
}

func provenancePredicate(t testing.TB, img name.Digest, sourceCommit string) json.RawMessage {
	t.Helper()
	st, err := provenance.Statement(provenance.Input{
		Repository: img.Context().String(), Digest: img.DigestStr(),
		SourceRepo: "https://github.com/acme/payments", SourceRef: "main", SourceCommit: sourceCommit,
		BuilderID: "https://github.com/acme/payments/.github/workflows/ci.yml@refs/heads/main",
		Started:   time.Now().Add(-time.Minute), Finished: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := provenance.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var whole struct {
		Predicate json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(data, &whole); err != nil {
		t.Fatal(err)
	}
	return whole.Predicate
}

// attachAll signs and attaches the three statements Slipway attaches.
func attachAll(t testing.TB, s Signer, img name.Digest, sourceCommit string) []Attachment {
	t.Helper()
	ctx := context.Background()
	var out []Attachment
	for _, x := range []struct {
		pt   string
		pred json.RawMessage
	}{{SignaturePredicate, nil}, {SBOMPredicate, sbomPredicate()}, {ProvenancePredicate, provenancePredicate(t, img, sourceCommit)}} {
		st, err := Statement(img.Context().String(), img.DigestStr(), x.pt, x.pred)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Sign(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		a, err := Attach(ctx, img, b, x.pt, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func TestSignAttachVerify(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		name := "referrers-api"
		if !referrers {
			name = "referrers-tag-fallback"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			img := newRegistry(t, referrers)
			key, pub := testKey(t)
			before, err := remote.Head(img)
			if err != nil {
				t.Fatal(err)
			}
			as := attachAll(t, KeySigner{key}, img, commit)

			// Attaching never changes the image.
			after, err := remote.Head(img)
			if err != nil {
				t.Fatal(err)
			}
			if before.Digest != after.Digest || before.Size != after.Size {
				t.Fatalf("attaching changed the image: %v -> %v", before.Digest, after.Digest)
			}
			tags, err := remote.List(img.Context())
			if err != nil {
				t.Fatal(err)
			}
			fallback := "sha256-" + strings.TrimPrefix(img.DigestStr(), "sha256:")
			if got := strings.Join(tags, ","); referrers && got != "v1" || !referrers && got != fallback+",v1" {
				t.Fatalf("tags after attaching: %v", tags)
			}

			if !referrers {
				// The referrers tag's entries carry the bundle artifactType
				// (Kyverno's SigstoreBundle verifier filters on it, kyverno#16664).
				idx, err := remote.Index(img.Context().Tag(fallback))
				if err != nil {
					t.Fatal(err)
				}
				im, _ := idx.IndexManifest()
				if len(im.Manifests) != 3 {
					t.Fatalf("referrers tag lists %d entries", len(im.Manifests))
				}
				for _, d := range im.Manifests {
					if d.ArtifactType != BundleMediaType || d.Annotations[annPredicateType] == "" {
						t.Fatalf("referrers tag entry: %+v", d)
					}
				}
			}
			rep, err := Verify(ctx, img, Policy{Key: pub, SourceCommit: commit})
			if err != nil {
				t.Fatal(err)
			}
			if err := rep.Err(); err != nil {
				t.Fatal(err)
			}
			if rep.Signature.Bundle != as[0].Bundle || rep.SBOM.Components != 2 || rep.Provenance.SourceCommit != commit ||
				!strings.HasSuffix(rep.Provenance.Builder, "ci.yml@refs/heads/main") || rep.Signature.Signer != "key "+key.Fingerprint() {
				t.Fatalf("report: %+v sig %+v sbom %+v prov %+v", rep, rep.Signature, rep.SBOM, rep.Provenance)
			}
			if rep.Attached["signature"] != 1 || rep.Attached["sbom"] != 1 || rep.Attached["provenance"] != 1 {
				t.Fatalf("attached: %v", rep.Attached)
			}
		})
	}
}

func refusal(t *testing.T, img name.Digest, p Policy) string {
	t.Helper()
	rep, err := Verify(context.Background(), img, p)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Err() == nil {
		t.Fatalf("verified, want a refusal: %+v", rep)
	}
	msg := rep.Err().Error()
	if !strings.Contains(msg, img.DigestStr()) {
		t.Fatalf("the refusal does not name the digest: %s", msg)
	}
	return msg
}

func TestVerifyRefuses(t *testing.T) {
	ctx := context.Background()
	key, pub := testKey(t)
	_, otherPub := testKey(t)

	t.Run("nothing attached", func(t *testing.T) {
		img := newRegistry(t, true)
		msg := refusal(t, img, Policy{Key: pub})
		for _, k := range []string{"no signature attached", "no sbom attached", "no provenance attached"} {
			if !strings.Contains(msg, k) {
				t.Fatalf("%q not in %s", k, msg)
			}
		}
	})
	t.Run("signed by someone else", func(t *testing.T) {
		img := newRegistry(t, false)
		attachAll(t, KeySigner{key}, img, commit)
		msg := refusal(t, img, Policy{Key: otherPub})
		if !strings.Contains(msg, "signed by another key") {
			t.Fatal(msg)
		}
	})
	t.Run("provenance for another commit", func(t *testing.T) {
		img := newRegistry(t, true)
		attachAll(t, KeySigner{key}, img, strings.Repeat("f", 40))
		msg := refusal(t, img, Policy{Key: pub, SourceCommit: commit})
		if !strings.Contains(msg, "built from commit ffffffff") || strings.Contains(msg, "signature") {
			t.Fatal(msg)
		}
	})
	t.Run("tampered SBOM", func(t *testing.T) {
		img := newRegistry(t, true)
		st, _ := Statement(img.Context().String(), img.DigestStr(), SBOMPredicate, sbomPredicate())
		b, err := KeySigner{key}.Sign(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		// Rewrite the signed payload: one more component.
		var bj map[string]any
		_ = json.Unmarshal(b, &bj)
		env := bj["dsseEnvelope"].(map[string]any)
		forged, _ := Statement(img.Context().String(), img.DigestStr(), SBOMPredicate,
			json.RawMessage(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}`))
		env["payload"] = forged
		tampered, _ := json.Marshal(bj)
		if _, err := Attach(ctx, img, tampered, SBOMPredicate, time.Now()); err != nil {
			t.Fatal(err)
		}
		msg := refusal(t, img, Policy{Key: pub, Require: []string{"sbom"}})
		if !strings.Contains(msg, "altered after signing") {
			t.Fatal(msg)
		}
	})
	t.Run("SBOM older than CycloneDX 1.5", func(t *testing.T) {
		img := newRegistry(t, true)
		st, _ := Statement(img.Context().String(), img.DigestStr(), SBOMPredicate, json.RawMessage(`{"bomFormat":"CycloneDX","specVersion":"1.4","components":[]}`))
		b, _ := KeySigner{key}.Sign(ctx, st)
		if _, err := Attach(ctx, img, b, SBOMPredicate, time.Now()); err != nil {
			t.Fatal(err)
		}
		if msg := refusal(t, img, Policy{Key: pub, Require: []string{"sbom"}}); !strings.Contains(msg, "want 1.5 or newer") {
			t.Fatal(msg)
		}
	})
	t.Run("statement about another digest", func(t *testing.T) {
		img := newRegistry(t, true)
		other := strings.Repeat("a", 64)
		st, _ := Statement(img.Context().String(), "sha256:"+other, SignaturePredicate, nil)
		b, _ := KeySigner{key}.Sign(ctx, st)
		if _, err := Attach(ctx, img, b, SignaturePredicate, time.Now()); err != nil {
			t.Fatal(err)
		}
		msg := refusal(t, img, Policy{Key: pub, Require: []string{"signature"}})
		if !strings.Contains(msg, "about another digest") {
			t.Fatal(msg)
		}
	})
	t.Run("a good one beside a bad one verifies", func(t *testing.T) {
		img := newRegistry(t, true)
		other, _ := testKey(t)
		attachAll(t, KeySigner{other}, img, commit)
		attachAll(t, KeySigner{key}, img, commit)
		rep, err := Verify(ctx, img, Policy{Key: pub, SourceCommit: commit})
		if err != nil || rep.Err() != nil {
			t.Fatal(err, rep.Err())
		}
		if rep.Attached["signature"] != 2 {
			t.Fatalf("attached: %v", rep.Attached)
		}
	})
}

func TestKeys(t *testing.T) {
	priv, pub, err := GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(priv, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")) || !bytes.HasPrefix(pub, []byte("-----BEGIN PUBLIC KEY-----")) {
		t.Fatalf("key formats:\n%s\n%s", priv, pub)
	}
	if _, err := ParsePrivateKey(priv, []byte("wrong")); !errors.Is(err, ErrPassword) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := ParsePrivateKey(priv, nil); !errors.Is(err, ErrPassword) || !strings.Contains(err.Error(), "no password") {
		t.Fatalf("no password: %v", err)
	}
	if _, err := ParsePrivateKey(pub, nil); err == nil {
		t.Fatal("a public key parsed as a private key")
	}
	k, err := ParsePrivateKey(priv, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ParsePublicKey(pub)
	if k.Fingerprint() != Fingerprint(p) {
		t.Fatal("the key pair does not match")
	}
}

func nilLogger() *log.Logger { return log.New(io.Discard, "", 0) }
