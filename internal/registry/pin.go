package registry

import (
	"context"
	"errors"
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

// PinError is one image whose tag could not be resolved.
type PinError struct {
	Name string
	Tag  string // repository:tag
	Err  error
}

func (e *PinError) Error() string { return fmt.Sprintf("%s (%s): %v", e.Name, e.Tag, e.Err) }
func (e *PinError) Unwrap() error { return e.Err }

// ErrTagNotFound marks a tag the registry does not have.
var ErrTagNotFound = errors.New("the registry answered 404")

// Pin resolves every image's tag to its current digest (the index digest for
// multi-platform images, which is what a pull by digest needs) and updates
// the lock in memory. Every image is tried: it returns what changed and, as a
// joined error of *PinError, every image that could not be resolved (a 404
// says which tag is missing where; a 401 names the credential variables).
// The caller decides whether to write the lock or, for --check, to fail.
func Pin(ctx context.Context, lock *imagelock.Lock, opts ...Option) ([]PinChange, error) {
	c := newConfig(opts)
	var changes []PinChange
	var errs []error
	for _, img := range lock.Images() {
		ref, err := ParseReference(img.TagRef())
		if err != nil {
			errs = append(errs, &PinError{Name: img.Name, Tag: img.TagRef(), Err: err})
			continue
		}
		desc, err := remote.Head(ref, c.remote(ctx, c.transport)...)
		if err != nil {
			repo := ref.Context()
			if isNotFound(err) {
				err = fmt.Errorf("tag %s not found in %s: %w", ref.Identifier(), repo, ErrTagNotFound)
			} else {
				err = c.explain(repo, "resolve", err)
			}
			errs = append(errs, c.scrub(&PinError{Name: img.Name, Tag: img.TagRef(), Err: err}))
			continue
		}
		if desc.Digest.String() == img.Digest {
			continue
		}
		changes = append(changes, PinChange{Name: img.Name, Tag: img.TagRef(), Old: img.Digest, New: desc.Digest.String()})
		if err := lock.SetDigest(img.Name, desc.Digest.String()); err != nil {
			return nil, err
		}
	}
	return changes, errors.Join(errs...)
}
