package attest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipway-ci/slipway/internal/regtest"
)

func benchRegistries(b *testing.B) map[string]func() name.Digest {
	return map[string]func() name.Digest{
		"referrers-api": func() name.Digest { return newRegistry(b, true) },
		"referrers-tag": func() name.Digest { return newRegistry(b, false) },
		"docker-registry": func() name.Digest {
			return pushRandom(b, regtest.Distribution(b)+"/acme/payments")
		},
	}
}

// BenchmarkAttachAndVerify is the supply-chain overhead of one push on
// loopback: sign the three statements (signature, SBOM, provenance), attach
// them as referrers, read them back and verify them.
func BenchmarkAttachAndVerify(b *testing.B) {
	ctx := context.Background()
	key, pub := testKey(b)
	for regName, start := range benchRegistries(b) {
		b.Run(regName, func(b *testing.B) {
			first := start()
			repo := first.Context().String()
			sbom, prov := sbomPredicate(), provenancePredicate(b, first, commit)
			for b.Loop() {
				b.StopTimer()
				img := pushRandom(b, repo)
				b.StartTimer()
				var bundles []Bundle
				for _, x := range []struct {
					pt   string
					pred []byte
				}{{SignaturePredicate, nil}, {SBOMPredicate, sbom}, {ProvenancePredicate, prov}} {
					st, err := Statement(repo, img.DigestStr(), x.pt, x.pred)
					if err != nil {
						b.Fatal(err)
					}
					data, err := KeySigner{key}.Sign(ctx, st)
					if err != nil {
						b.Fatal(err)
					}
					bundles = append(bundles, Bundle{x.pt, data})
				}
				if _, err := AttachAll(ctx, img, bundles, time.Now()); err != nil {
					b.Fatal(err)
				}
				rep, err := Verify(ctx, img, Policy{Key: pub, Require: []string{"signature", "sbom"}})
				if err != nil || rep.Err() != nil {
					b.Fatal(err, rep.Err())
				}
			}
		})
	}
}

// BenchmarkVerify is `verify` (and the check before each deploy) of one
// digest with its three attachments, warm: list, fetch, verify.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	key, pub := testKey(b)
	for regName, start := range benchRegistries(b) {
		b.Run(regName, func(b *testing.B) {
			img := start()
			attachAll(b, KeySigner{key}, img, commit)
			p := Policy{Key: pub, SourceCommit: commit}
			for b.Loop() {
				rep, err := Verify(ctx, img, p)
				if err != nil || rep.Err() != nil {
					b.Fatal(err, rep.Err())
				}
			}
		})
	}
}
