package registry

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-ci/slipway/internal/imagelock"
)

// PinChange is one image whose tag now resolves to another digest.
type PinChange struct {
	Name string
	Tag  string // repository:tag
	Old  string
	New  string
}

// Pin resolves every image's tag to its current digest (the index digest for
// multi-platform images, which is what a pull by digest needs) and updates
// the lock in memory. It returns what changed; the caller decides whether to
// write the lock or, for --check, to fail.
func Pin(ctx context.Context, lock *imagelock.Lock, opts ...Option) ([]PinChange, error) {
	c := newConfig(opts)
	var changes []PinChange
	for _, img := range lock.Images() {
		ref, err := ParseReference(img.TagRef())
		if err != nil {
			return nil, err
		}
		desc, err := remote.Head(ref, c.remote(ctx, c.transport)...)
		if err != nil {
			return nil, c.scrub(fmt.Errorf("resolve %s (%s): %w", img.Name, img.TagRef(), err))
		}
		if desc.Digest.String() == img.Digest {
			continue
		}
		changes = append(changes, PinChange{Name: img.Name, Tag: img.TagRef(), Old: img.Digest, New: desc.Digest.String()})
		if err := lock.SetDigest(img.Name, desc.Digest.String()); err != nil {
			return nil, err
		}
	}
	return changes, nil
}
