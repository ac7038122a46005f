// Package render builds an environment of a GitOps repository the way Argo
// CD and Flux would — kustomize in-process (krusty), a Helm chart through a
// chart renderer the caller supplies, or plain manifests — and lists the
// images its workloads run. Deploys use it to prove that an edit changes what
// the cluster will run before anything is pushed.
//
// The repository is an fs.FS (a git tree with the edited files on top): a
// render reads only the files the environment references, so its cost does
// not grow with the rest of the repository.
package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigyaml "sigs.k8s.io/yaml"
)

// ChartFunc renders a Helm chart (its files, rooted at the chart's
// directory) with user values, as `helm template RELEASE --namespace
// NAMESPACE` does, and returns the manifests. The Helm SDK one
// (github.com/slipway-ci/slipway/helm.Render) lives in its own package so
// that programs that never render a chart do not compile it.
type ChartFunc func(ctx context.Context, chart fs.FS, values map[string]any, release, namespace string) ([]byte, error)

// Options configure a render.
type Options struct {
	// Charts renders Helm charts; nil: a chart makes the render Opaque.
	Charts ChartFunc
	// Release is the release name for a chart rendered from a values file
	// (default: the chart's name).
	Release string
	// Env is the environment rendered: with no Application in the
	// repository, a chart's .argocd-source-NAME.yaml files whose NAME
	// holds it as a word (guestbook-staging for staging) stand for its
	// Application; when none does, all of them do. "": all.
	Env string
	// Applications are the repository's Argo CD Applications
	// (FindApplications). A kustomization or chart directory that one of
	// them tracks is rendered as each such Application renders it (its
	// kustomize images and settings, its Helm values and parameters, its
	// .argocd-source files): that is what Argo CD runs. nil: the directory
	// is rendered as it stands (with the override files next to it).
	Applications []Application
	// RepoURL is the GitOps repository's URL: an Application tracks a
	// directory only when its repoURL names this repository. "": any
	// repoURL (the repository's public URL is not known).
	RepoURL string
	// Branch is the branch rendered: an Application pinned to another
	// targetRevision does not track it. "": any.
	Branch string
	// Components maps a kustomize Component's directory to the
	// kustomization files of the repository that list it in components:
	// (ComponentUsers). A Component rendered as the root is rendered
	// through each of them (a Component alone builds nothing the cluster
	// runs); none is ErrUnusedComponent. nil: a Component is built alone.
	Components map[string][]string

	depth int // components rendered through their users, nested
}

// ErrRejected marks a kustomization kustomize itself rejects (an unknown
// field, a missing resource, a patch that matches nothing): the controller
// rejects it too, unlike what cannot be rendered here (ErrRemote).
var ErrRejected = errors.New("kustomize rejects the kustomization")

type rejected struct{ error }

func (r rejected) Is(target error) bool { return target == ErrRejected }
func (r rejected) Unwrap() error        { return r.error }

// ErrUnusedComponent is a kustomize Component rendered as an environment
// that no kustomization of the repository includes: nothing renders it.
var ErrUnusedComponent = errors.New("no kustomization of the repository lists the component in its components")

// ComponentUsers indexes, for the kustomization files given (path ->
// content), the directories their components: entries name (relative
// entries inside the repository) -> the kustomization files naming them.
func ComponentUsers(files map[string][]byte) map[string][]string {
	out := map[string][]string{}
	for f, data := range files {
		var k struct {
			Components []string `json:"components"`
		}
		if sigyaml.Unmarshal(stripDirectives(bytes.TrimPrefix(data, []byte("\ufeff"))), &k) != nil {
			continue
		}
		for _, c := range k.Components {
			if c == "" || path.IsAbs(c) || strings.Contains(c, "://") {
				continue
			}
			d := path.Join(path.Dir(f), c)
			if strings.HasPrefix(d, "..") {
				continue
			}
			out[d] = append(out[d], f)
		}
	}
	for d := range out {
		sort.Strings(out[d])
	}
	return out
}

// isComponent: the kustomization file is a kind: Component.
func isComponent(fsys fs.FS, file string) bool {
	data, err := fs.ReadFile(fsys, file)
	if err != nil || !bytes.Contains(data, []byte("Component")) {
		return false
	}
	var k struct {
		Kind string `json:"kind"`
	}
	return sigyaml.Unmarshal(stripDirectives(bytes.TrimPrefix(data, []byte("\ufeff"))), &k) == nil && k.Kind == "Component"
}

// throughUsers renders a Component's directory through the kustomizations
// that include it: what the cluster runs of it.
func throughUsers(ctx context.Context, fsys fs.FS, root, dir string, opts Options) (*Result, error) {
	users := opts.Components[dir]
	if opts.depth > 8 {
		return nil, fmt.Errorf("component %s: components include each other in a cycle", dir)
	}
	opts.depth++
	if len(users) == 0 {
		return nil, fmt.Errorf("component %s: %w", dir, ErrUnusedComponent)
	}
	res := &Result{Root: root, How: "kustomize"}
	for _, u := range users {
		if u == root {
			continue
		}
		sub, err := Render(ctx, fsys, u, opts)
		if err != nil {
			return nil, fmt.Errorf("component %s through %s: %w", dir, u, err)
		}
		for _, c := range sub.Containers {
			via := "kustomization " + u
			if c.Via != "" {
				via = c.Via + " via " + via
			}
			c.Via = via
			res.Containers = append(res.Containers, c)
		}
		res.Opaque = append(res.Opaque, sub.Opaque...)
		res.Overrides = append(res.Overrides, sub.Overrides...)
		res.Read = append(res.Read, sub.Read...)
	}
	return res, nil
}

// Container is one container of a rendered workload.
type Container struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Container string `json:"container"`
	Init      bool   `json:"init,omitempty"`
	Image     string `json:"image"`
	// Via names the Argo CD Application (or override file) whose render
	// holds the container, when the rendered directory is one that
	// Applications track: Application web-staging (argocd/web-staging.yaml).
	Via string `json:"via,omitempty"`
}

// ID names the container for people: Deployment/web container app (of
// Application web-staging (argocd/web-staging.yaml)).
func (c Container) ID() string {
	s := c.Kind + "/" + c.Name + " container " + c.Container
	if c.Init {
		s = c.Kind + "/" + c.Name + " init container " + c.Container
	}
	if c.Via != "" {
		s += " of " + c.Via
	}
	return s
}

// Opaque is a rendered object whose workloads cannot be rendered here (a
// HelmRelease or Argo CD Application whose chart is not in the repository,
// or no chart renderer): its content is kept to tell whether an edit changed it.
type Opaque struct {
	ID      string `json:"id"`     // HelmRelease podinfo/podinfo
	Reason  string `json:"reason"` // why it was not rendered
	Content string `json:"-"`
}

// Result is a rendered environment.
type Result struct {
	Root       string      `json:"root"` // the file or directory rendered
	How        string      `json:"how"`  // kustomize, helm, manifests
	Containers []Container `json:"containers"`
	Opaque     []Opaque    `json:"opaque,omitempty"`
	// Overrides are the Argo CD settings the render applied (an
	// Application's kustomize images or Helm values and parameters, an
	// .argocd-source file's).
	Overrides []Override `json:"overrides,omitempty"`
	// Read lists the files the render read, in order.
	Read []string `json:"-"`
}

// KustomizationNames are the file names kustomize reads, in its order.
var KustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// IsKustomization reports whether a path names a kustomization file.
func IsKustomization(p string) bool {
	base := path.Base(p)
	for _, n := range KustomizationNames {
		if base == n {
			return true
		}
	}
	return false
}

// Render builds what the cluster runs from root, a path in fsys:
//   - a kustomization file (or a directory holding one): kustomize build of
//     its directory; Flux HelmReleases in the output whose chart is in the
//     repository are rendered with their values;
//   - a values file next to a Chart.yaml: the chart with values.yaml and it;
//   - a manifest: its HelmReleases and Argo CD Applications rendered, or,
//     when its directory holds a kustomization, that kustomization (what
//     Argo CD builds from the directory); else the file's objects.
//
// A kustomization or chart directory that Argo CD Applications of
// opts.Applications track is rendered as each of them renders it (a values
// file outside any chart, as those whose valueFiles name it); a kustomize
// Component, through the kustomizations of opts.Components that list it.
func Render(ctx context.Context, fsys fs.FS, root string, opts Options) (*Result, error) {
	rf := &readFS{FS: fsys}
	root = path.Clean(root)
	res := &Result{Root: root}
	var objs []*yaml.RNode
	var err error
	dir := path.Dir(root)
	// What Argo CD would render, and from which directory.
	how, src := "", ""
	switch {
	case IsKustomization(root):
		how, src = "kustomize", dir
	case isDir(rf, root):
		if k := kustomizationIn(rf, root); k != "" {
			how, src, res.Root = "kustomize", root, k
		} else if exists(rf, path.Join(root, "Chart.yaml")) {
			how, src = "helm", root
		} else {
			return nil, fmt.Errorf("%s: neither a kustomization nor a chart", root)
		}
	case (isValuesFile(root) || isArgoSource(root)) && exists(rf, path.Join(dir, "Chart.yaml")):
		how, src = "helm", dir
	default:
		// What Argo CD does with the directory: a kustomization there wins.
		if k := kustomizationIn(rf, dir); k != "" {
			how, src, res.Root = "kustomize", dir, k
		}
	}
	if how == "kustomize" && opts.Components != nil && isComponent(rf, res.Root) {
		// A Component builds nothing alone: what runs is what the
		// kustomizations including it build.
		return throughUsers(ctx, fsys, res.Root, src, opts)
	}
	if how == "" {
		// A values file outside any chart: the Applications whose Helm
		// valueFiles name it (a chart from a Helm repository, values from
		// this one through a ref source) are what renders it.
		if vs := opts.valuesViews(root); len(vs) > 0 {
			return renderViews(ctx, rf, root, "helm", vs, opts)
		}
	}
	if how != "" {
		if vs := opts.views(rf, how, src, root); len(vs) > 0 {
			// The Applications tracking the directory: what each renders,
			// with its own overrides, is what runs.
			return renderViews(ctx, rf, res.Root, how, vs, opts)
		}
	}
	switch {
	case how == "kustomize":
		res.How = how
		objs, err = kustomize(ctx, rf, src, nil)
	case how == "helm" && isArgoSource(root):
		// Argo CD's override file next to a chart: the chart with its helm section.
		res.How = how
		objs, err = argoSourceChart(ctx, rf, root, opts, res)
	case how == "helm":
		res.How = how
		var files []string
		if root != src && path.Base(root) != "values.yaml" {
			files = []string{root}
		}
		objs, err = chart(ctx, rf, src, files, nil, opts, res)
	default:
		data, rerr := rf.ReadFile(root)
		if rerr != nil {
			return nil, fmt.Errorf("%s: %w", root, rerr)
		}
		res.How = "manifests"
		objs, err = parse(root, data)
	}
	if err != nil {
		return nil, err
	}
	if err := res.add(ctx, rf, objs, opts); err != nil {
		return nil, err
	}
	res.Read = rf.read
	return res, nil
}

// isArgoSource: Argo CD's parameter override file (.argocd-source.yaml,
// .argocd-source-<app>.yaml).
func isArgoSource(p string) bool {
	b := path.Base(p)
	return strings.HasPrefix(b, ".argocd-source") && (strings.HasSuffix(b, ".yaml") || strings.HasSuffix(b, ".yml"))
}

func isValuesFile(p string) bool {
	b := path.Base(p)
	return strings.HasPrefix(b, "values") && (strings.HasSuffix(b, ".yaml") || strings.HasSuffix(b, ".yml"))
}

// add collects the containers of objs, rendering HelmReleases and
// Applications whose charts are in the repository.
func (r *Result) add(ctx context.Context, fsys fs.FS, objs []*yaml.RNode, opts Options) error {
	for _, o := range objs {
		kind := o.GetKind()
		switch {
		case kind == "HelmRelease" && strings.HasPrefix(o.GetApiVersion(), "helm.toolkit.fluxcd.io/"):
			sub, why, err := helmRelease(ctx, fsys, o, opts, r)
			if err != nil {
				return err
			}
			if why != "" {
				r.opaque(o, why)
				continue
			}
			if err := r.add(ctx, fsys, sub, opts); err != nil {
				return err
			}
		case kind == "Application" && strings.HasPrefix(o.GetApiVersion(), "argoproj.io/"):
			sub, why, err := application(ctx, fsys, o, opts, r)
			if err != nil {
				return err
			}
			if why != "" {
				r.opaque(o, why)
				continue
			}
			if err := r.add(ctx, fsys, sub, opts); err != nil {
				return err
			}
		default:
			r.Containers = append(r.Containers, containers(o)...)
		}
	}
	return nil
}

func (r *Result) opaque(o *yaml.RNode, why string) {
	s, _ := o.String()
	r.Opaque = append(r.Opaque, Opaque{ID: objectID(o), Reason: why, Content: s})
}

func objectID(o *yaml.RNode) string {
	id := o.GetKind() + " " + o.GetName()
	if ns := o.GetNamespace(); ns != "" {
		id = o.GetKind() + " " + ns + "/" + o.GetName()
	}
	return id
}

// kustomize runs kustomize build over dir with the default options (no
// plugins, no Helm inflation, no remote exec): what Argo CD and Flux's
// kustomize-controller run by default.
// A kustomization naming a remote resource is not built (ErrRemote): the
// render is offline. The build returns when ctx is done.
func kustomize(ctx context.Context, fsys *readFS, dir string, edits *kustomizeEdits) ([]*yaml.RNode, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type built struct {
		out []byte
		err error
	}
	kf := &kfs{fsys: fsys}
	if edits == nil {
		// No Application known: Argo CD's override files in the built
		// directory, their kustomize images applied as `kustomize edit set
		// image` would.
		over, err := argoImages(fsys, dir)
		if err != nil {
			return nil, err
		}
		edits = &kustomizeEdits{from: map[string]string{}}
		for _, o := range over {
			edits.images = append(edits.images, o[0])
			edits.imageFrom = append(edits.imageFrom, o[1])
		}
	}
	if k := kustomizationIn(fsys, dir); k != "" && !edits.empty() {
		data, err := fsys.ReadFile(k)
		if err != nil {
			return nil, err
		}
		if data, err = edits.apply(data); err != nil {
			return nil, err
		}
		kf.over = map[string][]byte{k: data}
	}
	done := make(chan built, 1)
	go func() {
		k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
		m, err := k.Run(kf, "/"+strings.TrimPrefix(dir, "."))
		if err != nil {
			done <- built{err: err}
			return
		}
		out, err := m.AsYaml()
		done <- built{out: out, err: err}
	}()
	var b built
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case b = <-done:
	}
	if kf.remote != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, kf.remote)
	}
	if b.err != nil {
		if strings.Contains(strings.ToLower(b.err.Error()), "helm") {
			// A helmCharts generator needs a helm binary and a chart
			// repository: what Slipway cannot run, not what kustomize rejects.
			return nil, fmt.Errorf("kustomize build %s: %w", dir, b.err)
		}
		return nil, rejected{fmt.Errorf("kustomize build %s: %w", dir, b.err)}
	}
	return parse(dir, b.out)
}

func kustomizationIn(fsys fs.FS, dir string) string {
	for _, n := range KustomizationNames {
		if p := path.Join(dir, n); exists(fsys, p) {
			return p
		}
	}
	return ""
}

// parse reads the objects of a YAML stream.
func parse(name string, data []byte) ([]*yaml.RNode, error) {
	data = bytes.TrimPrefix(stripDirectives(data), []byte("\ufeff"))
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(data), OmitReaderAnnotations: true}).Read()
	if err != nil {
		return nil, fmt.Errorf("%s: not valid YAML: %w", name, err)
	}
	return nodes, nil
}

// podSpecPath is where each workload kind holds its pod spec.
var podSpecPath = map[string][]string{
	"Pod":         {"spec"},
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
	"Rollout":     {"spec", "template", "spec"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "spec"},
}

// containers lists a workload's init containers and containers.
func containers(o *yaml.RNode) []Container {
	p, ok := podSpecPath[o.GetKind()]
	if !ok {
		return nil
	}
	var out []Container
	for _, field := range []string{"initContainers", "containers"} {
		list, err := o.Pipe(yaml.Lookup(append(append([]string{}, p...), field)...))
		if err != nil || list == nil {
			continue
		}
		elems, _ := list.Elements()
		for _, e := range elems {
			out = append(out, Container{
				Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName(),
				Container: scalar(e, "name"), Init: field == "initContainers", Image: scalar(e, "image"),
			})
		}
	}
	return out
}

func scalar(n *yaml.RNode, field string) string {
	v, err := n.Pipe(yaml.Lookup(field))
	if err != nil || v == nil {
		return ""
	}
	return strings.TrimSpace(v.YNode().Value)
}

// Diff pairs the containers of two renders of one environment.
type Diff struct {
	Container
	Before string `json:"before"` // "" when the container is new
}

// Compare lists after's containers with the image each ran before.
func Compare(before, after *Result) []Diff {
	prev := map[string]string{}
	if before != nil {
		for _, c := range before.Containers {
			prev[c.Namespace+"|"+c.ID()] = c.Image
		}
	}
	out := make([]Diff, 0, len(after.Containers))
	for _, c := range after.Containers {
		out = append(out, Diff{Container: c, Before: prev[c.Namespace+"|"+c.ID()]})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

// ErrNotFound wraps a missing file.
var ErrNotFound = fs.ErrNotExist

func exists(fsys fs.FS, p string) bool {
	st, err := fs.Stat(fsys, p)
	return err == nil && !st.IsDir()
}

func isDir(fsys fs.FS, p string) bool {
	if p == "." {
		return true
	}
	st, err := fs.Stat(fsys, p)
	return err == nil && st.IsDir()
}

// readFS records the files read through it.
type readFS struct {
	fs.FS
	read []string
}

func (r *readFS) Open(name string) (fs.File, error) {
	f, err := r.FS.Open(name)
	if err == nil {
		if st, serr := f.Stat(); serr == nil && !st.IsDir() {
			r.read = append(r.read, name)
		}
	}
	return f, err
}

func (r *readFS) ReadFile(name string) ([]byte, error) {
	data, err := fs.ReadFile(r.FS, name)
	if err == nil {
		r.read = append(r.read, name)
	}
	return data, err
}

func (r *readFS) Stat(name string) (fs.FileInfo, error) { return fs.Stat(r.FS, name) }

func (r *readFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(r.FS, name) }

var errReadOnly = errors.New("the repository is read-only while rendering")
