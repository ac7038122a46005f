package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrTagMoved is returned when a tag this push wrote names another digest
// when read back: a concurrent push moved it. OCI registries have no
// compare-and-swap on tags, so Slipway can narrow this race and report it,
// not close it; the registry's own tag immutability closes it.
var ErrTagMoved = errors.New("tag moved by a concurrent push")

// tagSettle is the least a push waits after writing its tags before reading
// them back: a concurrent push that checked the tag before this one wrote it
// writes within a round trip of its check, so its write shows by then. A
// loaded registry (or machine) makes that round trip longer for every push
// alike, so the wait is also at least settleRoundTrips times the slowest
// round trip this push saw while checking and writing its tags, up to
// maxTagSettle.
const (
	tagSettle        = 200 * time.Millisecond
	settleRoundTrips = 4
	maxTagSettle     = 10 * time.Second
)

// settleFor is how long to wait before the read-back, given the slowest
// round trip of the check and the write.
func settleFor(slowest time.Duration) time.Duration {
	return min(max(tagSettle, settleRoundTrips*slowest), maxTagSettle)
}

// applyTags writes the tags (each checked again right before it is written,
// for signing and attaching take time in which another push may have
// tagged), then, after tagSettle, reads every tag of the result back: a tag
// naming another digest fails the push with ErrTagMoved. The wait is
// settleFor the slowest round trip of the check and the write.
func (c *config) applyTags(ctx context.Context, repo name.Repository, d v1.Hash, taggable remote.Taggable, toTag []name.Tag, res *Result, ropts []remote.Option) error {
	all := append([]string(nil), res.Tags...)
	var slowest time.Duration
	timed := func(start time.Time) { slowest = max(slowest, time.Since(start)) }
	for _, tag := range toTag {
		if !c.allowTagMove {
			start := time.Now()
			desc, err := remote.Head(tag, ropts...)
			timed(start)
			switch {
			case isNotFound(err):
			case err != nil:
				return c.explain(repo, "check tag "+tag.TagStr(), err)
			case desc.Digest != d:
				return fmt.Errorf("%w: %s now points at %s, not %s: another push tagged it while this one was pushing; tags are immutable (push under a new tag, or pass --allow-tag-move)", ErrTagMove, tag, desc.Digest, d)
			}
		}
		start := time.Now()
		err := remote.Tag(tag, taggable, ropts...)
		timed(start)
		if err != nil {
			return c.explain(repo, "tag "+tag.String(), err)
		}
		all = append(all, tag.TagStr())
	}
	if len(toTag) > 0 {
		if err := sleepCtx(ctx, settleFor(slowest)); err != nil {
			return err
		}
	}
	for _, t := range all {
		tag := repo.Tag(t)
		desc, err := remote.Head(tag, ropts...)
		if err != nil {
			return c.explain(repo, "read back tag "+t, err)
		}
		if desc.Digest != d {
			return fmt.Errorf("%w: %s names %s, not %s, when read back after this push wrote it; this push failed, %s is not tagged %s (the registry's own tag immutability prevents this race)", ErrTagMoved, tag, desc.Digest, d, d, t)
		}
	}
	res.Tags = all
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
