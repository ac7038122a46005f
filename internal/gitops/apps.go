package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/slipway-ci/slipway/internal/render"
)

// appIndex caches the Argo CD Applications of a tree: found once per tree
// (a deploy renders before and after, status every environment), not once
// per render.
type appIndex struct {
	mu    sync.Mutex
	tree  plumbing.Hash
	apps  []render.Application
	comps map[string][]string // component directory -> the kustomizations listing it
	err   error
}

// applications are the Argo CD Applications of the snapshot's tree, with
// the edited files' own Applications in place of theirs.
func (s *snapshot) applications(ctx context.Context, edits map[string][]byte) ([]render.Application, map[string][]string, error) {
	if s.apps == nil {
		s.apps = &appIndex{}
	}
	idx := s.apps
	idx.mu.Lock()
	if idx.tree != s.tree.Hash || (idx.err != nil && ctx.Err() == nil) {
		idx.apps, idx.comps, idx.err = s.findApplications(ctx)
		idx.tree = s.tree.Hash
	}
	apps, comps, err := idx.apps, idx.comps, idx.err
	idx.mu.Unlock()
	if err != nil || len(edits) == 0 {
		return apps, comps, err
	}
	var out []render.Application
	for _, a := range apps {
		if _, edited := edits[a.File]; !edited {
			out = append(out, a)
		}
	}
	for f, data := range edits {
		out = append(out, render.ApplicationsIn(f, data)...)
	}
	return out, comps, nil
}

// maxAppBlob bounds the blobs searched for Applications (and kustomizations
// listing components): an Application
// manifest is small; another app's multi-megabyte file is not read for it.
const maxAppBlob = 1 << 20

// findApplications lists the Argo CD Applications of the tree from its
// entries: only YAML blobs the clone holds (a partial clone's left-out large
// blobs are never fetched for this) of at most maxAppBlob bytes, never a
// chart's templates.
func (s *snapshot) findApplications(ctx context.Context) ([]render.Application, map[string][]string, error) {
	w := object.NewTreeWalker(s.tree, true, nil)
	defer w.Close()
	var out []render.Application
	kusts := map[string][]byte{}
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		name, e, err := w.Next()
		if errors.Is(err, io.EOF) {
			return out, render.ComponentUsers(kusts), nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", s.remote, err)
		}
		kust := isKustomizationFile(name)
		if !e.Mode.IsFile() || (!kust && !strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml")) {
			continue
		}
		if dir := path.Dir(name); path.Base(dir) == "templates" && s.isChartDir(path.Dir(dir)) {
			continue
		}
		var store storer.EncodedObjectStorer = s.repo.Storer
		if s.lazy != nil {
			store = s.lazy.Storage // what the clone holds: nothing is fetched
		}
		o, err := store.EncodedObject(plumbing.BlobObject, e.Hash)
		if err != nil || o.Size() > maxAppBlob {
			continue
		}
		r, err := o.Reader()
		if err != nil {
			continue
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			continue
		}
		out = append(out, render.ApplicationsIn(name, data)...)
		if kust && bytes.Contains(data, []byte("components")) {
			kusts[name] = data
		}
	}
}

// renderOptions are the options every render of this snapshot uses (the
// deploy's proof, status, promote): one way to read what an environment runs.
func (s *snapshot) renderOptions(ctx context.Context, charts render.ChartFunc, app, env string, edits map[string][]byte) (render.Options, error) {
	apps, comps, err := s.applications(ctx, edits)
	if err != nil {
		return render.Options{}, err
	}
	if comps == nil {
		comps = map[string][]string{}
	}
	opts := render.Options{Charts: charts, Release: app, Env: env, Applications: apps, Components: comps}
	if s.remote != nil {
		opts.Branch = s.remote.Branch
		if s.remote.local == "" {
			// A network URL is what Argo CD's repoURL names; a local path
			// is a clone whose public URL Slipway does not know.
			opts.RepoURL = s.remote.public
		}
	}
	return opts, nil
}

// ErrNoFile is an environment whose file is not in the GitOps repository.
var ErrNoFile = errors.New("not in the GitOps repository")

// Locate is the file a deploy of app to env would edit at the branch head,
// resolved through the layout as deploy resolves it. A file that is not
// there is ErrNoFile, naming the file and the layout; a repository that
// cannot be read is another error.
func (d *Deployer) Locate(ctx context.Context, app, env string) (string, error) {
	d.defaults()
	snap, err := d.Remote.cloneBare(ctx, 1)
	if err != nil {
		return "", err
	}
	file, _, err := snap.resolveFile(Request{App: app, Env: env}, d.Layout)
	if err != nil {
		if d.Layout == "" || d.Layout == DefaultLayout {
			return "", fmt.Errorf("%w: %w (layout %s)", ErrNoFile, err, DefaultLayout)
		}
		return "", fmt.Errorf("%w: %w", ErrNoFile, err)
	}
	return file, nil
}
