package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/storage/memory"
	yaml "go.yaml.in/yaml/v3"

	"github.com/slipway-ci/slipway/internal/manifest"
	"github.com/slipway-ci/slipway/internal/usage"
)

// snapshot is a branch head in an in-memory bare clone. Deploys work on git
// objects directly: read one blob, write one blob, the trees on its path and
// a commit, and push exactly those objects. No worktree, no status scan, no
// history walk to decide what to send: the cost does not grow with the
// number of files or commits in the repository.
type snapshot struct {
	repo   *git.Repository
	head   *object.Commit // the branch head fetched: the compare-and-swap's old value
	tree   *object.Tree   // the working tree: head's, then each chained commit's
	tip    plumbing.Hash  // the last chained commit (zero: none yet); the next commit's parent
	depth  int
	remote *Remote
	lazy   *lazyStorage // a partial clone's store (nil: a whole clone)
	apps   *appIndex    // the tree's Argo CD Applications, found once
}

// cloneBare fetches the branch without a checkout; depth 0 is the whole history.
func (r *Remote) cloneBare(ctx context.Context, depth int) (*snapshot, error) {
	if snap, ok, err := r.partialClone(ctx, depth); ok || err != nil {
		return snap, err
	}
	repo, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{
		URL:           r.URL,
		Auth:          r.Auth,
		ReferenceName: plumbing.NewBranchReferenceName(r.Branch),
		SingleBranch:  true,
		NoCheckout:    true,
		Depth:         depth,
		Tags:          git.NoTags,
	})
	if err != nil {
		return nil, r.explain("clone", err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(r.Branch), true)
	if err != nil {
		return nil, r.explain("clone", err)
	}
	head, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", r, err)
	}
	tree, err := head.Tree()
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", r, err)
	}
	return &snapshot{repo: repo, head: head, tree: tree, depth: depth, remote: r}, nil
}

// readFile returns a file's content at the head, or ok=false.
func (s *snapshot) readFile(p string) ([]byte, bool) {
	f, err := s.tree.File(p)
	if err != nil {
		return nil, false
	}
	c, err := f.Contents()
	if err != nil {
		return nil, false
	}
	return []byte(c), true
}

// dirs lists the directories under p at the head ("." for the root).
func (s *snapshot) dirs(p string) []string {
	t := s.tree
	if p != "." {
		sub, err := s.tree.Tree(p)
		if err != nil {
			return nil
		}
		t = sub
	}
	var out []string
	for _, e := range t.Entries {
		if e.Mode == filemode.Dir && !strings.HasPrefix(e.Name, ".") {
			out = append(out, e.Name)
		}
	}
	sort.Strings(out)
	return out
}

// writeFile stores new content for p and the trees on its path, returning
// the new root tree and every object written.
func (s *snapshot) writeFile(p string, content []byte) (plumbing.Hash, []plumbing.Hash, error) {
	st := s.repo.Storer
	blob := st.NewEncodedObject()
	blob.SetType(plumbing.BlobObject)
	w, err := blob.Writer()
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	if _, err := w.Write(content); err != nil {
		return plumbing.ZeroHash, nil, err
	}
	w.Close()
	blobHash, err := st.SetEncodedObject(blob)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	written := []plumbing.Hash{blobHash}
	root, err := replaceEntry(st, s.tree, strings.Split(path.Clean(p), "/"), blobHash, &written)
	return root, written, err
}

func replaceEntry(st storer.EncodedObjectStorer, t *object.Tree, parts []string, blob plumbing.Hash, written *[]plumbing.Hash) (plumbing.Hash, error) {
	entries := append([]object.TreeEntry(nil), t.Entries...)
	i := -1
	for j, e := range entries {
		if e.Name == parts[0] {
			i = j
			break
		}
	}
	if i < 0 {
		// A new file (a freeze file on first use), and new directories on its way.
		mode := filemode.Regular
		if len(parts) > 1 {
			mode = filemode.Dir
		}
		entries = append(entries, object.TreeEntry{Name: parts[0], Mode: mode})
		sort.Slice(entries, func(a, b int) bool { return gitTreeName(entries[a]) < gitTreeName(entries[b]) })
		for j, e := range entries {
			if e.Name == parts[0] {
				i = j
			}
		}
		if len(parts) > 1 {
			h, err := replaceEntry(st, &object.Tree{}, parts[1:], blob, written)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			entries[i].Hash = h
			return writeTree(st, entries, written)
		}
	}
	if len(parts) == 1 {
		if entries[i].Mode == filemode.Dir {
			return plumbing.ZeroHash, fmt.Errorf("%s is a directory", parts[0])
		}
		entries[i].Hash = blob
	} else {
		sub, err := t.Tree(parts[0])
		if err != nil {
			return plumbing.ZeroHash, err
		}
		h, err := replaceEntry(st, sub, parts[1:], blob, written)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries[i].Hash = h
	}
	return writeTree(st, entries, written)
}

// gitTreeName is the name git sorts tree entries by: directories as "name/".
func gitTreeName(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}

func writeTree(st storer.EncodedObjectStorer, entries []object.TreeEntry, written *[]plumbing.Hash) (plumbing.Hash, error) {
	obj := st.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	*written = append(*written, h)
	return h, nil
}

// commit writes a commit of tree on top of the head (or of the last chained
// commit), signed when a signer is set, and makes it the working state: the
// next commit of a multi-app deploy goes on top of it.
func (s *snapshot) commit(tree plumbing.Hash, msg string, sig object.Signature, signer Signer) (plumbing.Hash, error) {
	parent := s.head.Hash
	if !s.tip.IsZero() {
		parent = s.tip
	}
	c := &object.Commit{
		Author: sig, Committer: sig, Message: msg, TreeHash: tree,
		ParentHashes: []plumbing.Hash{parent},
	}
	if signer != nil {
		unsigned := &plumbing.MemoryObject{}
		if err := c.EncodeWithoutSignature(unsigned); err != nil {
			return plumbing.ZeroHash, err
		}
		r, err := unsigned.Reader()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		armored, err := signer.Sign(r)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("sign commit: %w", err)
		}
		c.PGPSignature = string(armored) // git keeps SSH signatures in the same gpgsig header
	}
	obj := s.repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := s.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	t, err := s.repo.TreeObject(tree)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	s.tree, s.tip = t, h
	return h, nil
}

// reset drops chained commits: the working state is the head again.
func (s *snapshot) reset() error {
	t, err := s.head.Tree()
	if err != nil {
		return err
	}
	s.tree, s.tip = t, plumbing.ZeroHash
	return nil
}

// push sends exactly objs and moves branch from old to newHash in one
// receive-pack request. The server updates the ref only if it still points at
// old (a compare-and-swap; ZeroHash: only if the branch does not exist), so a
// concurrent pipeline's commit is never overwritten: the push fails and the
// caller retries on the new head. What the server says (a protected branch,
// a hook's reason) is kept in the error.
func (s *snapshot) push(ctx context.Context, objs []plumbing.Hash, branch string, old plumbing.Hash, newHash plumbing.Hash) error {
	return s.remote.pushRef(ctx, s.repo, objs, plumbing.NewBranchReferenceName(branch), old, newHash)
}

// pushRef sends exactly objs (from repo's storage) and moves ref name from
// old to newHash, a compare-and-swap (see push).
func (r *Remote) pushRef(ctx context.Context, repo *git.Repository, objs []plumbing.Hash, name plumbing.ReferenceName, old plumbing.Hash, newHash plumbing.Hash) error {
	sess, ar, err := r.receivePack(ctx)
	if err != nil {
		return err
	}
	defer sess.Close()
	current := plumbing.ZeroHash
	if refs, err := ar.AllReferences(); err == nil {
		if ref, ok := refs[name]; ok {
			current = ref.Hash()
		}
	}
	if current != old {
		return &conflictError{fmt.Errorf("push %s: %s moved to %s since the clone (non-fast-forward)", r, name.Short(), short(current.String()))}
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(ar.Capabilities)
	if ar.Capabilities.Supports(capability.ReportStatus) {
		if err := req.Capabilities.Set(capability.ReportStatus); err != nil {
			return err
		}
	}
	// Side-band carries the server's own words (hooks, branch protection).
	var serverSaid bytes.Buffer
	switch {
	case ar.Capabilities.Supports(capability.Sideband64k):
		_ = req.Capabilities.Set(capability.Sideband64k)
		req.Progress = &serverSaid
	case ar.Capabilities.Supports(capability.Sideband):
		_ = req.Capabilities.Set(capability.Sideband)
		req.Progress = &serverSaid
	}
	req.Commands = []*packp.Command{{Name: name, Old: old, New: newHash}}
	rd, wr := io.Pipe()
	req.Packfile = rd
	done := make(chan error, 1)
	go func() {
		_, err := packfile.NewEncoder(wr, repo.Storer, false).Encode(objs, 10)
		if err != nil {
			done <- wr.CloseWithError(err)
			return
		}
		done <- wr.Close()
	}()
	rs, err := sess.ReceivePack(ctx, req)
	if err == nil && rs != nil {
		err = rs.Error()
	}
	if err != nil {
		_ = rd.Close()
		<-done
		return classifyPush(r.explain("push", withServerMessage(err, serverSaid.String())))
	}
	if err := <-done; err != nil {
		return fmt.Errorf("push %s: pack: %w", r, err)
	}
	return nil
}

// withServerMessage appends what the server printed to a push error.
func withServerMessage(err error, said string) error {
	var lines []string
	for _, l := range strings.Split(said, "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "remote:"))
		if l != "" && !strings.HasPrefix(l, "Resolving deltas") && !strings.HasPrefix(l, "error: failed to push") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return err
	}
	return fmt.Errorf("%w; the server said: %s", err, strings.Join(lines, " / "))
}

// receivePack opens a receive-pack session and reads the advertised refs.
func (r *Remote) receivePack(ctx context.Context) (transport.ReceivePackSession, *packp.AdvRefs, error) {
	ep, err := transport.NewEndpoint(r.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("push %s: %w", r, r.scrub(err))
	}
	c, err := client.NewClient(ep)
	if err != nil {
		return nil, nil, fmt.Errorf("push %s: %w", r, err)
	}
	sess, err := c.NewReceivePackSession(ep, r.Auth)
	if err != nil {
		return nil, nil, r.refusedPush(ctx, c, ep, err)
	}
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		sess.Close()
		return nil, nil, r.refusedPush(ctx, c, ep, err)
	}
	return sess, ar, nil
}

// refusedPush explains a receive-pack failure. Servers that will not take a
// push often answer as if the repository did not exist (a git daemon
// without --enable=receive-pack says "access denied", which go-git reports
// as "repository not found"; so do hosts for a read-only token). When the
// same repository can be read, that answer is not the truth: the server
// refuses pushes.
func (r *Remote) refusedPush(ctx context.Context, c transport.Transport, ep *transport.Endpoint, err error) error {
	if !errors.Is(err, transport.ErrRepositoryNotFound) {
		return r.explain("push", err)
	}
	up, uerr := c.NewUploadPackSession(ep, r.Auth)
	if uerr != nil {
		return r.explain("push", err)
	}
	defer up.Close()
	if _, uerr := up.AdvertisedReferencesContext(ctx); uerr != nil {
		return r.explain("push", err)
	}
	return r.scrub(fmt.Errorf("push %s: the server refuses pushes to this repository (it serves it for reading): a git daemon needs --enable=receive-pack; a hosted repository needs a token or deploy key with write access (GITOPS_TOKEN, GITOPS_SSH_KEY_FILE)", r))
}

// remoteBranch reports whether branch exists on the remote, and its head.
func (s *snapshot) remoteBranch(ctx context.Context, branch string) (plumbing.Hash, bool, error) {
	sess, ar, err := s.remote.receivePack(ctx)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	defer sess.Close()
	refs, err := ar.AllReferences()
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("list branches of %s: %w", s.remote, err)
	}
	ref, ok := refs[plumbing.NewBranchReferenceName(branch)]
	if !ok {
		return plumbing.ZeroHash, false, nil
	}
	return ref.Hash(), true, nil
}

// refresh brings the snapshot to the branch's current head, fetching only
// the objects it lacks (the server gets our head as a "have"). A retry after
// a lost race costs one small fetch, not a new clone.
func (s *snapshot) refresh(ctx context.Context) error {
	r := s.remote
	if s.lazy != nil {
		if err := s.refreshPartial(ctx); err != nil {
			// Anything odd: start over.
			next, cerr := r.cloneBare(ctx, s.depth)
			if cerr != nil {
				return cerr
			}
			*s = *next
		}
		return nil
	}
	spec := config.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/heads/%s", r.Branch, r.Branch))
	err := s.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin", RefSpecs: []config.RefSpec{spec}, Auth: r.Auth, Tags: git.NoTags, Force: true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		// Anything odd (a shallow edge the server will not extend): start over.
		next, cerr := r.cloneBare(ctx, s.depth)
		if cerr != nil {
			return cerr
		}
		*s = *next
		return nil
	}
	ref, err := s.repo.Reference(plumbing.NewBranchReferenceName(r.Branch), true)
	if err != nil {
		return r.explain("fetch", err)
	}
	head, err := s.repo.CommitObject(ref.Hash())
	if err != nil {
		return fmt.Errorf("fetch %s: %w", r, err)
	}
	tree, err := head.Tree()
	if err != nil {
		return fmt.Errorf("fetch %s: %w", r, err)
	}
	s.head, s.tree, s.tip = head, tree, plumbing.ZeroHash
	return nil
}

// kustomizationNames are the file names kustomize accepts, in its order.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

func isKustomizationFile(p string) bool {
	base := path.Base(p)
	for _, n := range kustomizationNames {
		if base == n {
			return true
		}
	}
	return false
}

// isChartDir: a Helm chart lives in dir (its Chart.yaml).
func (s *snapshot) isChartDir(dir string) bool {
	_, ok := s.readFile(path.Join(dir, "Chart.yaml"))
	return ok
}

// chartValues is the values.yaml of the chart a file's Helm values feed,
// when the chart is in the repository: a values file or Argo CD override
// next to its Chart.yaml, an Argo CD Application whose source path is the
// chart, a Flux HelmRelease whose chart is a path in the repository. Its
// defaults say which value paths the chart takes (manifest.Set.ChartValues).
// A HelmRelease without a chart (a kustomize patch of one, Flux's
// apps/prod/podinfo-values.yaml) feeds the chart of the HelmRelease of its
// name elsewhere in the repository (apps/base/podinfo/release.yaml).
func (s *snapshot) chartValues(ctx context.Context, file string, data []byte, app string) []byte {
	valuesIn := func(dir string) []byte {
		dir = path.Clean(strings.TrimPrefix(dir, "./"))
		if !s.isChartDir(dir) || path.Join(dir, "values.yaml") == path.Clean(file) {
			return nil
		}
		v, _ := s.readFile(path.Join(dir, "values.yaml"))
		return v
	}
	if v := valuesIn(path.Dir(file)); v != nil {
		return v
	}
	docs, err := manifest.Documents(file, data)
	if err != nil {
		return nil
	}
	var first []byte
	for _, d := range docs {
		kind, name := yamlStr(yamlField(d, "kind")), yamlStr(yamlField(yamlField(d, "metadata"), "name"))
		var dirs []string
		switch {
		case kind == "Application" && strings.HasPrefix(yamlStr(yamlField(d, "apiVersion")), "argoproj.io/"):
			spec := yamlField(d, "spec")
			dirs = append(dirs, yamlStr(yamlField(yamlField(spec, "source"), "path")))
			if ss := yamlField(spec, "sources"); ss != nil {
				for _, src := range ss.Content {
					dirs = append(dirs, yamlStr(yamlField(src, "path")))
				}
			}
		case kind == "HelmRelease" && strings.HasPrefix(yamlStr(yamlField(d, "apiVersion")), "helm.toolkit.fluxcd.io/"):
			cs := yamlField(yamlField(yamlField(yamlField(d, "spec"), "chart"), "spec"), "chart")
			dirs = append(dirs, yamlStr(cs))
			if yamlStr(cs) == "" {
				dirs = append(dirs, s.releaseCharts(ctx, name)...)
			}
		}
		for _, dir := range dirs {
			if dir == "" || path.IsAbs(dir) || strings.HasPrefix(path.Clean(dir), "..") {
				continue
			}
			v := valuesIn(dir)
			if v == nil {
				continue
			}
			if name == app || strings.HasPrefix(name, app+"-") || strings.HasSuffix(name, "-"+app) {
				return v
			}
			if first == nil {
				first = v
			}
		}
	}
	return first
}

func yamlStr(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return strings.TrimSpace(n.Value)
}

// resolveFile finds the file a request edits: req.Path, the layout's file
// for the app and environment, or by default the environment's overlay; a
// kustomization under any of kustomize's file names.
func (s *snapshot) resolveFile(req Request, layout string) (string, []byte, error) {
	if req.Path != "" {
		file := path.Clean(req.Path)
		if data, ok := s.readFile(file); ok {
			return file, data, nil
		}
		if manifest.IsArgoSource(file) {
			return file, nil, nil // Argo CD's override file: the edit creates it
		}
		return "", nil, usage.Errorf("%s in %s: file not found (--path)", file, s.remote)
	}
	if layout != "" && layout != DefaultLayout {
		file := LayoutPath(layout, req.App, req.Env)
		if data, ok := s.readFile(file); ok {
			return file, data, nil
		}
		if isKustomizationFile(file) {
			if f, data, ok := s.kustomizationIn(path.Dir(file)); ok {
				return f, data, nil
			}
		}
		return "", nil, usage.Errorf("%s in %s: file not found (layout %s, app %q, environment %q; %s)", file, s.remote, layout, req.App, req.Env, s.layoutHas(layout, req.App))
	}
	dir := path.Dir(DefaultPath(req.App, req.Env))
	if file, data, ok := s.kustomizationIn(dir); ok {
		return file, data, nil
	}
	d := &Deployer{Remote: s.remote}
	return "", nil, d.missing(s, req, DefaultPath(req.App, req.Env))
}

// kustomizationIn reads dir's kustomization file, whatever kustomize name it has.
func (s *snapshot) kustomizationIn(dir string) (string, []byte, bool) {
	for _, n := range kustomizationNames {
		file := path.Join(dir, n)
		if data, ok := s.readFile(file); ok {
			return file, data, true
		}
	}
	return "", nil, false
}

// envs lists the environments of an app: overlays that hold a kustomization.
func (s *snapshot) envs(app string) []string {
	var out []string
	for _, e := range s.dirs(path.Join(app, "overlays")) {
		if _, _, ok := s.kustomizationIn(path.Join(app, "overlays", e)); ok {
			out = append(out, e)
		}
	}
	return out
}

// releaseCharts are the chart paths of the repository's HelmReleases named
// name that take their chart from a Git source.
func (s *snapshot) releaseCharts(ctx context.Context, name string) []string {
	apps, _, err := s.applications(ctx, nil)
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range apps {
		if a.Kind == "HelmRelease" && a.Name == name {
			for _, src := range a.Sources {
				if p, ok := src["path"].(string); ok && p != "" {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// layoutHas says what the layout finds, for a missing app or environment:
// the app's environments, else the apps.
func (s *snapshot) layoutHas(layout, app string) string {
	var envs, apps []string
	for _, e := range s.layoutFiles(layout) {
		if e.App == app && e.Env != "" && !slices.Contains(envs, e.Env) {
			envs = append(envs, e.Env)
		}
		if e.App != "" && !slices.Contains(apps, e.App) {
			apps = append(apps, e.App)
		}
	}
	if len(envs) > 0 {
		return "its environments: " + strings.Join(envs, ", ")
	}
	return "apps: " + orNone(apps)
}
