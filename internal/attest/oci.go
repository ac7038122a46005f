package attest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/slipway-ci/slipway/internal/registry"
)

// Annotations of a bundle referrer (cosign's BUNDLE_SPEC).
const (
	annContent       = "dev.sigstore.bundle.content"
	annPredicateType = "dev.sigstore.bundle.predicateType"
	annCreated       = "org.opencontainers.image.created"
	annTitle         = "org.opencontainers.image.title"
	emptyMediaType   = "application/vnd.oci.empty.v1+json"
)

// maxBundle bounds what a referrer's blob may weigh (an SBOM of a large image
// is a few MB).
const maxBundle = 64 << 20

// Attachment is one bundle attached to an image.
type Attachment struct {
	// Manifest is the referrer manifest's digest.
	Manifest string `json:"manifest"`
	// Bundle is the digest of the bundle blob (the Sigstore bundle JSON).
	Bundle        string    `json:"bundle"`
	PredicateType string    `json:"predicate_type"`
	Created       time.Time `json:"created"`
	// Data is the bundle JSON (filled by Fetch).
	Data []byte `json:"-"`
	// Err is why Fetch could not read this one.
	Err error `json:"-"`
}

// Bundle is one signed bundle to attach, with its statement's predicate type.
type Bundle struct {
	PredicateType string
	Data          []byte
}

// Attach uploads a bundle and a referrer manifest whose subject is the image:
// the registry's referrers API lists it, or, where a registry has none, the
// referrers tag (sha256-<hex>) is updated (go-containerregistry does both).
// The image itself is never touched: its digest stays what was pushed.
func Attach(ctx context.Context, image name.Digest, bundle []byte, predicateType string, created time.Time, opts ...remote.Option) (Attachment, error) {
	as, err := AttachAll(ctx, image, []Bundle{{predicateType, bundle}}, created, opts...)
	if err != nil {
		return Attachment{}, err
	}
	return as[0], nil
}

// AttachAll attaches several bundles: the subject is read once, the blobs
// upload concurrently, and the referrer manifests are put one at a time (the
// referrers tag is a read-modify-write: one writer at a time).
func AttachAll(ctx context.Context, image name.Digest, bundles []Bundle, created time.Time, opts ...remote.Option) ([]Attachment, error) {
	opts = append(opts, remote.WithContext(ctx))
	subj, err := remote.Head(image, opts...)
	if err != nil {
		return nil, registry.Explain(image.RegistryStr(), "attach to "+image.DigestStr()+": read the image", err)
	}
	repo := image.Context()
	config := static.NewLayer([]byte("{}"), emptyMediaType)
	layers := []v1.Layer{config}
	for _, b := range bundles {
		layers = append(layers, static.NewLayer(b.Data, types.MediaType(BundleMediaType)))
	}
	var g errgroup.Group
	for i, l := range layers {
		g.Go(func() error {
			if err := remote.WriteLayer(repo, l, opts...); err != nil {
				what := "config"
				if i > 0 {
					what = Kind(bundles[i-1].PredicateType)
				}
				return fmt.Errorf("attach %s: upload: %w", what, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	cd, _ := config.Digest()
	out := make([]Attachment, 0, len(bundles))
	manifests := map[string]rawManifest{}
	for i, b := range bundles {
		bd, _ := layers[i+1].Digest()
		m := v1.Manifest{
			SchemaVersion: 2,
			MediaType:     types.OCIManifestSchema1,
			ArtifactType:  BundleMediaType,
			Config:        v1.Descriptor{MediaType: emptyMediaType, Digest: cd, Size: 2},
			Layers: []v1.Descriptor{{
				MediaType: BundleMediaType, Digest: bd, Size: int64(len(b.Data)),
				Annotations: map[string]string{annTitle: bd.Algorithm + "-" + bd.Hex + ".sigstore.json"},
			}},
			Subject: &v1.Descriptor{MediaType: subj.MediaType, Digest: subj.Digest, Size: subj.Size},
			Annotations: map[string]string{
				annContent:       "dsse-envelope",
				annPredicateType: b.PredicateType,
				annCreated:       created.UTC().Format(time.RFC3339),
			},
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(raw)
		md := "sha256:" + hex.EncodeToString(sum[:])
		rm := rawManifest{raw, types.OCIManifestSchema1}
		if err := remote.Put(repo.Digest(md), rm, opts...); err != nil {
			return nil, fmt.Errorf("attach %s: %w", Kind(b.PredicateType), err)
		}
		manifests[md] = rm
		out = append(out, Attachment{Manifest: md, Bundle: bd.String(), PredicateType: b.PredicateType, Created: created.UTC().Truncate(time.Second)})
	}
	if err := ensureListed(ctx, image, manifests, opts); err != nil {
		return nil, err
	}
	return out, nil
}

// ensureListed reads the referrers back until every manifest put is listed.
// Without the referrers API the referrers tag is a read-modify-write with no
// compare-and-swap, so a pipeline attaching to the same digest at the same
// moment can drop another's entry: a missing one is put again (the tag
// update adds what is absent), with jittered backoff. This narrows the
// window, it cannot close it (registries offer no conditional manifest
// write): a stale write landing after this read still drops the entry, and
// the verify before a deploy then refuses the digest until it is attached
// again. It fails closed.
func ensureListed(ctx context.Context, image name.Digest, manifests map[string]rawManifest, opts []remote.Option) error {
	const attempts = 10
	for attempt := 1; ; attempt++ {
		listed, err := List(ctx, image, opts...)
		if err != nil {
			return fmt.Errorf("attach: read back: %w", err)
		}
		seen := map[string]bool{}
		for _, a := range listed {
			seen[a.Manifest] = true
		}
		var missing []string
		for md := range manifests {
			if !seen[md] {
				missing = append(missing, md)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if attempt == attempts {
			sort.Strings(missing)
			return fmt.Errorf("attach: %s still not listed among the referrers of %s after %d tries (concurrent writers of the referrers tag?)", strings.Join(missing, ", "), image.DigestStr(), attempts)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(20*time.Millisecond)))): //nolint:gosec // jitter, not a secret
		}
		for _, md := range missing {
			if err := remote.Put(image.Context().Digest(md), manifests[md], opts...); err != nil {
				return fmt.Errorf("attach: %w", err)
			}
		}
	}
}

type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// List reads the bundles attached to an image, newest first, without their
// data: the referrers API, or the referrers tag where the registry has none.
func List(ctx context.Context, image name.Digest, opts ...remote.Option) ([]Attachment, error) {
	opts = append(opts, remote.WithContext(ctx))
	idx, err := remote.Referrers(image, opts...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == 404 {
			return nil, nil
		}
		return nil, registry.Explain(image.RegistryStr(), "referrers of "+image.DigestStr(), err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []Attachment
	for _, d := range im.Manifests {
		// go-containerregistry's own registry lists the config media type
		// as the artifactType; the bundle annotations still tell.
		if d.ArtifactType != BundleMediaType && d.Annotations[annContent] == "" {
			continue
		}
		a := Attachment{Manifest: d.Digest.String(), PredicateType: d.Annotations[annPredicateType]}
		a.Created, _ = time.Parse(time.RFC3339, d.Annotations[annCreated])
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Fetch reads attachments' manifests and bundles (concurrently), checking
// that each manifest refers to image and that each blob is what its
// manifest names; what cannot be read gets its Err.
func Fetch(ctx context.Context, image name.Digest, as []Attachment, opts ...remote.Option) {
	opts = append(opts, remote.WithContext(ctx))
	repo := image.Context()
	var g errgroup.Group
	g.SetLimit(8)
	for i := range as {
		a := &as[i]
		g.Go(func() error {
			a.Err = fetchOne(repo, image, a, opts)
			return nil
		})
	}
	_ = g.Wait()
}

func fetchOne(repo name.Repository, image name.Digest, a *Attachment, opts []remote.Option) error {
	desc, err := remote.Get(repo.Digest(a.Manifest), opts...)
	if err != nil {
		return registry.Explain(repo.RegistryStr(), "referrer "+a.Manifest, err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return fmt.Errorf("referrer %s: not an OCI manifest: %w", a.Manifest, err)
	}
	if m.Subject == nil || m.Subject.Digest.String() != image.DigestStr() {
		return fmt.Errorf("referrer %s does not refer to %s", a.Manifest, image.DigestStr())
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != BundleMediaType {
		return fmt.Errorf("referrer %s: want one %s layer", a.Manifest, BundleMediaType)
	}
	if pt := m.Annotations[annPredicateType]; pt != "" {
		a.PredicateType = pt
	}
	ld := m.Layers[0]
	if ld.Size > maxBundle {
		return fmt.Errorf("referrer %s: a %d-byte bundle is too large", a.Manifest, ld.Size)
	}
	l, err := remote.Layer(repo.Digest(ld.Digest.String()), opts...)
	if err != nil {
		return fmt.Errorf("referrer %s: %w", a.Manifest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("referrer %s: bundle %s: %w", a.Manifest, ld.Digest, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxBundle+1))
	if err != nil {
		return fmt.Errorf("referrer %s: bundle %s: %w", a.Manifest, ld.Digest, err)
	}
	sum := sha256.Sum256(data)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != ld.Digest.String() {
		return fmt.Errorf("referrer %s: bundle blob is %s, its manifest names %s", a.Manifest, got, ld.Digest)
	}
	a.Bundle, a.Data = ld.Digest.String(), bytes.Clone(data)
	return nil
}

// ShortDigest is sha256:<12 hex>, for messages.
func ShortDigest(d string) string {
	if h, ok := strings.CutPrefix(d, "sha256:"); ok && len(h) > 12 {
		return "sha256:" + h[:12]
	}
	return d
}
