package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/storage/memory"
)

// lazyBlobLimit: a partial clone leaves out blobs of this size and more
// (another team's multi-megabyte manifest, a vendored chart archive); they
// are fetched the first time a deploy reads one. Smaller blobs come with
// the clone: an environment reads several small files, and a lazy fetch is
// one round trip each.
const lazyBlobLimit = 256 << 10

// lazyStorage is a partial clone's object store: commits, trees and small
// blobs from the clone; a blob the clone left out is fetched from the
// remote when something reads it (a promisor remote, as git's partial clone
// has). Only blob reads fetch: a missing commit is the edge of a shallow
// clone, which the history walk must see as such.
type lazyStorage struct {
	*memory.Storage
	remote *Remote
	ctx    context.Context // the clone's: a lazy fetch ends with the command

	mu      sync.Mutex
	tip     plumbing.Hash // the branch head fetched, for a server that will not send one blob
	whole   plumbing.Hash // the head whose whole tree was fetched (then a missing blob is not there)
	fetched int           // lazy fetches, for tests
}

func (s *lazyStorage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	o, err := s.Storage.EncodedObject(t, h)
	if !errors.Is(err, plumbing.ErrObjectNotFound) || t != plumbing.BlobObject {
		return o, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, err := s.Storage.EncodedObject(t, h); err == nil {
		return o, nil
	}
	if ferr := s.fetchBlob(h); errors.Is(ferr, plumbing.ErrObjectNotFound) {
		return nil, plumbing.ErrObjectNotFound
	} else if ferr != nil {
		return nil, s.remote.scrub(fmt.Errorf("fetch %s from %s: %w", h, s.remote, ferr))
	}
	o, err = s.Storage.EncodedObject(t, h)
	if err == nil {
		s.fetched++
	}
	return o, err
}

// fetchBlob fetches one blob: by its id where the server allows it
// (allow-reachable-sha1-in-want: git's uploadpack.allowAnySHA1InWant or
// allowReachableSHA1InWant, what partial clones use), else the
// branch head's whole tree once (depth 1, no filter).
func (s *lazyStorage) fetchBlob(h plumbing.Hash) error {
	sess, ar, err := s.remote.uploadPack(s.ctx)
	if err != nil {
		return err
	}
	defer sess.Close()
	if !ar.Capabilities.Supports(capability.AllowReachableSHA1InWant) {
		return s.fetchTree()
	}
	req := packp.NewUploadPackRequestFromCapabilities(ar.Capabilities)
	noThin(req)
	req.Wants = []plumbing.Hash{h}
	if _, err = receive(s.ctx, sess, req, s.Storage); err != nil {
		if strings.Contains(err.Error(), "not our ref") {
			return plumbing.ErrObjectNotFound // the server has no such object
		}
		if s.ctx.Err() != nil {
			return err
		}
		// A server refusing a want answers "not our ref" and hangs up, and
		// the hang-up can reach us first (a broken pipe while the request
		// is still being written): then the head's whole tree settles it,
		// once.
		return s.fetchTree()
	}
	return nil
}

// fetchTree fetches the branch head's whole tree once (depth 1, no
// filter); a blob that is not in it is not found.
func (s *lazyStorage) fetchTree() error {
	if s.whole == s.tip {
		return plumbing.ErrObjectNotFound
	}
	sess, ar, err := s.remote.uploadPack(s.ctx)
	if err != nil {
		return err
	}
	defer sess.Close()
	req := packp.NewUploadPackRequestFromCapabilities(ar.Capabilities)
	noThin(req)
	req.Wants = []plumbing.Hash{s.tip}
	req.Depth = packp.DepthCommits(1)
	if err := req.Capabilities.Set(capability.Shallow); err != nil {
		return err
	}
	if _, err := receive(s.ctx, sess, req, s.Storage); err != nil {
		return err
	}
	s.whole = s.tip
	return nil
}

// noThin asks for a self-contained pack: our haves may lack the blobs a
// thin pack would delta against (the ones the partial clone left out).
func noThin(req *packp.UploadPackRequest) {
	req.Capabilities.Delete(capability.ThinPack)
}

// uploadPack opens an upload-pack session and reads the advertised refs.
func (r *Remote) uploadPack(ctx context.Context) (transport.UploadPackSession, *packp.AdvRefs, error) {
	ep, err := transport.NewEndpoint(r.URL)
	if err != nil {
		return nil, nil, r.scrub(err)
	}
	c, err := client.NewClient(ep)
	if err != nil {
		return nil, nil, err
	}
	sess, err := c.NewUploadPackSession(ep, r.Auth)
	if err != nil {
		return nil, nil, err
	}
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		sess.Close()
		return nil, nil, err
	}
	return sess, ar, nil
}

// receive sends req and stores the pack the server answers with; it
// returns the server's shallow commits.
func receive(ctx context.Context, sess transport.UploadPackSession, req *packp.UploadPackRequest, st *memory.Storage) ([]plumbing.Hash, error) {
	if ar := req.Capabilities; ar.Supports(capability.NoProgress) {
		_ = ar.Set(capability.NoProgress)
	}
	resp, err := sess.UploadPack(ctx, req)
	if err != nil {
		if errors.Is(err, transport.ErrEmptyUploadPackRequest) {
			return nil, nil
		}
		return nil, err
	}
	defer resp.Close()
	var rd io.Reader = resp
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		rd = sideband.NewDemuxer(sideband.Sideband64k, resp)
	case req.Capabilities.Supports(capability.Sideband):
		rd = sideband.NewDemuxer(sideband.Sideband, resp)
	}
	if err := packfile.UpdateObjectStorage(st, rd); err != nil {
		return nil, err
	}
	return resp.Shallows, nil
}

// partialClone fetches the branch into a lazyStorage with a blob size
// filter, where the server advertises filters (git's uploadpack.allowFilter,
// what partial clones need): a deploy then never transfers, inflates or
// holds the large files of other apps. ok is false when the server has no filter
// (or anything in the handshake fails): the caller clones as before and
// reports its errors.
func (r *Remote) partialClone(ctx context.Context, depth int) (snap *snapshot, ok bool, err error) {
	if r.noFilter != nil && r.noFilter.Load() {
		return nil, false, nil
	}
	sess, ar, err := r.uploadPack(ctx)
	if err != nil {
		return nil, false, nil
	}
	defer sess.Close()
	if !ar.Capabilities.Supports(capability.Filter) {
		if r.noFilter != nil {
			r.noFilter.Store(true)
		}
		return nil, false, nil
	}
	refs, err := ar.AllReferences()
	if err != nil {
		return nil, false, nil
	}
	name := plumbing.NewBranchReferenceName(r.Branch)
	ref, found := refs[name]
	if !found {
		return nil, false, nil
	}
	st := &lazyStorage{Storage: memory.NewStorage(), remote: r, ctx: ctx, tip: ref.Hash()}
	req := packp.NewUploadPackRequestFromCapabilities(ar.Capabilities)
	noThin(req)
	if err := req.Capabilities.Set(capability.Filter); err != nil {
		return nil, false, err
	}
	req.Filter = packp.FilterBlobLimit(lazyBlobLimit, packp.BlobLimitPrefixNone)
	if depth > 0 {
		req.Depth = packp.DepthCommits(depth)
		if err := req.Capabilities.Set(capability.Shallow); err != nil {
			return nil, false, err
		}
	}
	req.Wants = []plumbing.Hash{ref.Hash()}
	shallows, err := receive(ctx, sess, req, st.Storage)
	if err != nil {
		return nil, false, r.explain("clone", err)
	}
	if depth > 0 && len(shallows) > 0 {
		if err := st.SetShallow(shallows); err != nil {
			return nil, false, err
		}
	}
	if err := st.SetReference(plumbing.NewHashReference(name, ref.Hash())); err != nil {
		return nil, false, err
	}
	if err := st.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, name)); err != nil {
		return nil, false, err
	}
	repo, err := git.Open(st, nil)
	if err != nil {
		return nil, false, err
	}
	head, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, false, fmt.Errorf("clone %s: %w", r, err)
	}
	tree, err := head.Tree()
	if err != nil {
		return nil, false, fmt.Errorf("clone %s: %w", r, err)
	}
	return &snapshot{repo: repo, head: head, tree: tree, depth: depth, remote: r, lazy: st}, true, nil
}

// refreshPartial brings a partial clone to the branch's current head:
// only the new objects, with the same filter, the old head as a have.
func (s *snapshot) refreshPartial(ctx context.Context) error {
	r := s.remote
	sess, ar, err := r.uploadPack(ctx)
	if err != nil {
		return r.explain("fetch", err)
	}
	defer sess.Close()
	refs, err := ar.AllReferences()
	if err != nil {
		return r.explain("fetch", err)
	}
	name := plumbing.NewBranchReferenceName(r.Branch)
	ref, found := refs[name]
	if !found {
		return r.explain("fetch", plumbing.ErrReferenceNotFound)
	}
	if ref.Hash() != s.head.Hash {
		req := packp.NewUploadPackRequestFromCapabilities(ar.Capabilities)
		noThin(req)
		if err := req.Capabilities.Set(capability.Filter); err != nil {
			return err
		}
		req.Filter = packp.FilterBlobLimit(lazyBlobLimit, packp.BlobLimitPrefixNone)
		req.Wants = []plumbing.Hash{ref.Hash()}
		req.Haves = []plumbing.Hash{s.head.Hash}
		if _, err := receive(ctx, sess, req, s.lazy.Storage); err != nil {
			return r.explain("fetch", err)
		}
		if err := s.lazy.SetReference(plumbing.NewHashReference(name, ref.Hash())); err != nil {
			return err
		}
	}
	head, err := s.repo.CommitObject(ref.Hash())
	if err != nil {
		return fmt.Errorf("fetch %s: %w", r, err)
	}
	tree, err := head.Tree()
	if err != nil {
		return fmt.Errorf("fetch %s: %w", r, err)
	}
	s.lazy.mu.Lock()
	s.lazy.tip = ref.Hash()
	s.lazy.mu.Unlock()
	s.head, s.tree, s.tip = head, tree, plumbing.ZeroHash
	return nil
}
