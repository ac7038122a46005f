// Package manifest writes an app's image into GitOps manifests, byte for
// byte: a YAML parser locates the node (an images: entry of a kustomization
// or Component, a workload's container, a Helm value in a values file, a
// Flux HelmRelease or an Argo CD Application, a Flux setter marker), and
// the new value is spliced in at the node's position. Nothing else in the
// file changes: comments, blank lines, document markers and directives,
// multi-document files, quoting, flow style, list indentation, key order,
// CRLF line ends and a byte-order mark all survive. A key or entry that
// must be added is written in the file's own style (indentation, sequence
// indentation, quoting) with a fixed key order (name, newName, digest).
//
// The API is plain data in, data out:
//
//	out, res, err := manifest.Edit("apps/staging/kustomization.yaml", data, manifest.Set{
//		App: "podinfo", Repo: "ghcr.io/acme/podinfo", Digest: "sha256:…",
//	})
//
// res lists exactly what changed (file, line, old → new) or nothing
// (res.Changed false: the file already holds the digest, out is data), and
// every entry that belongs to the app (res.Candidates), so a caller can
// refuse an edit that another entry shadows. Current reads back the image
// an app runs with the same matcher: deploy, promote and status ask one
// question with one answer.
package manifest

import (
	"errors"
	"fmt"
	"path"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Set is what an edit writes.
type Set struct {
	// App is the app's name: an images: entry or container named so is the app's.
	App string
	// Repo is the image repository to write (registry.example.com/team/app).
	Repo string
	// Digest is sha256:<64 hex>.
	Digest string
	// Tag, optional, is written next to the digest where the file keeps a
	// tag (a kustomize newTag, a Flux :tag field, a Helm chart that only
	// takes a tag: "<tag>@sha256:…"). Without it a stale newTag is removed.
	Tag string
	// Repos are other repositories known for the app (the one deployed
	// before), for matching only.
	Repos []string
	// ImageName, when set, is the image name (an images: entry's name or
	// newName, a container's image repository) that is the app's: it is
	// authoritative, other images never match.
	ImageName string
	// Values are the Helm value paths of the image (nil: the defaults
	// image.repository, image.tag, image.digest, used where the file has them).
	Values *Values
	// Helm says the file feeds a Helm chart, for a new Argo CD
	// .argocd-source-<app>.yaml (Helm parameters instead of kustomize images).
	Helm bool
	// ChartValues, optional, is the chart's own values.yaml (the chart the
	// file's values feed, in the repository): where the file holds no image
	// value at the paths, the chart's defaults say which paths it takes and
	// what it renders now. Read only: what is written goes into the file.
	ChartValues []byte
	// Line, when set, picks the images: entry starting at that line among
	// several that match the app equally (Result.Alternatives): the one a
	// render proves.
	Line int
}

// Values are the dotted paths of a Helm chart's image values. An empty path
// is not written. Set explicitly, the paths are written even where the file
// does not have them yet.
type Values struct {
	Repository string // e.g. image.repository
	Tag        string // e.g. image.tag
	Digest     string // e.g. image.digest
	// Image is a value that holds the whole reference (REPO@sha256:…), for
	// charts that take one string; it replaces the three above.
	Image string
}

// DefaultValues are the usual chart conventions.
var DefaultValues = Values{Repository: "image.repository", Tag: "image.tag", Digest: "image.digest"}

// Ref is the reference the edit writes: REPO[:TAG]@DIGEST.
func (s Set) Ref() string {
	if s.Tag != "" {
		return s.Repo + ":" + s.Tag + "@" + s.Digest
	}
	return s.Repo + "@" + s.Digest
}

// Result is what an edit did.
type Result struct {
	File    string `json:"file"`
	Kind    string `json:"kind"`    // "kustomize-images", "helm-values", the workload or resource kind
	Target  string `json:"target"`  // images[].name, container name, or value path
	Before  string `json:"before"`  // the reference the file held, "" if none
	After   string `json:"after"`   // REPO@sha256:…
	Changed bool   `json:"changed"` // false: the file already held the digest
	// Lines are the changed lines, in file order.
	Lines []LineChange `json:"lines,omitempty"`
	// Candidates are every entry or container in the file that belongs to
	// the app; more than one kustomize images: entry means one shadows the
	// other.
	Candidates []Candidate `json:"candidates,omitempty"`
	// Notes say what else was done: a Flux marker removed or kept, and why.
	Notes []string `json:"notes,omitempty"`
	// Alternatives are the lines of the app's images: entries when several
	// match it equally (the strongest rank present): which one kustomize
	// applies depends on the resources and on other entries (one renames
	// the image before another could match), so the caller proves each by
	// render and edits the one that changes what runs (Set.Line).
	Alternatives []int `json:"-"`
}

// LineChange is one changed region: Old lines became New lines, from Line
// (1-based, in the original file). An insertion has no Old lines, a
// deletion no New ones.
type LineChange struct {
	Line int      `json:"line"`
	Old  []string `json:"old,omitempty"`
	New  []string `json:"new,omitempty"`
}

// Candidate is an entry or container that belongs to the app.
type Candidate struct {
	Line int    `json:"line"`
	Kind string `json:"kind"` // "kustomize-images", a workload kind, "helm-values"
	Name string `json:"name"` // images: name, container name, value path
	Ref  string `json:"ref"`  // the image it references now
}

// ErrNoMatch means the file has no entry for the app or image.
var ErrNoMatch = errors.New("no matching image entry")

// ErrAmbiguous means several different images match the app equally
// weakly (by the container name or the image's last path segment).
var ErrAmbiguous = errors.New("ambiguous image")

// ErrHelmPaths means a Helm values document holds no image value at the
// configured (or default) paths.
var ErrHelmPaths = errors.New("no image value")

// Edit writes s into a manifest and returns the new bytes and what changed.
// Unchanged, it returns data itself.
func Edit(file string, data []byte, s Set) ([]byte, Result, error) {
	if isArgoSource(file) && len(strings.TrimSpace(string(data))) == 0 {
		return newArgoSource(file, s)
	}
	f, err := parseFile(file, data)
	if err != nil {
		return nil, Result{}, err
	}
	if len(f.docs) == 0 {
		return nil, Result{}, fmt.Errorf("%s: empty file", file)
	}
	m, err := settle(f, s, newMatcher(s.App, s.ImageName, s.Repo, s.Repos...))
	if err != nil {
		return nil, Result{}, err
	}
	e := &editor{f: f, s: s, m: m}
	res, err := e.run()
	if err != nil {
		return nil, Result{}, err
	}
	res.File = file
	if len(res.Alternatives) < 2 {
		res.Alternatives = nil
	}
	if len(f.edits) == 0 {
		res.Changed = false
		return data, res, nil
	}
	out, err := f.apply()
	if err != nil {
		return nil, Result{}, err
	}
	res.Changed = true
	res.Lines = f.lineChanges()
	// The edit must read back: the file parses and holds the new reference.
	back := s
	if e.readBack != nil {
		back.Values = e.readBack
	}
	rb, err := current(file, out, back)
	if err != nil {
		return nil, Result{}, fmt.Errorf("%s: the edited file does not read back (%w); nothing was written", file, err)
	}
	got := rb.Before
	for _, c := range rb.Candidates {
		// The entry an explicit image name chose, beside one that already
		// held the deployed repository.
		if repoOf(c.Ref) == s.Repo && digestOf(c.Ref) == s.Digest && s.ImageName != "" {
			got = c.Ref
		}
	}
	if repoOf(got) != s.Repo || digestOf(got) != s.Digest {
		return nil, Result{}, fmt.Errorf("%s: the edited file reads back %s, not %s; nothing was written", file, got, s.Ref())
	}
	return out, res, nil
}

// Current is the reference an app's entry or container holds
// (REPO[:TAG]@DIGEST, or a tag reference), found with the matcher Edit uses.
func Current(file string, data []byte, app string, repos ...string) (string, error) {
	return CurrentSet(file, data, Set{App: app, Repos: repos})
}

// CurrentSet is Current for what a Set names: the app, its repositories
// (Repo and Repos) and Helm value paths; Digest and Tag are ignored.
func CurrentSet(file string, data []byte, s Set) (string, error) {
	res, err := current(file, data, s)
	return res.Before, err
}

func current(file string, data []byte, s Set) (Result, error) {
	f, err := parseFile(file, data)
	if err != nil {
		return Result{}, err
	}
	m, err := settle(f, s, newMatcher(s.App, s.ImageName, s.Repo, s.Repos...))
	if err != nil {
		return Result{}, err
	}
	e := &editor{f: f, s: Set{App: s.App, Values: s.Values, Line: s.Line}, m: m, readOnly: true}
	return e.run()
}

// Documents parses a YAML file (a byte-order mark, CRLF, a %YAML 1.2
// directive and several documents allowed) and returns each document's
// top-level node.
func Documents(file string, data []byte) ([]*yaml.Node, error) {
	f, err := parseFile(file, data)
	if err != nil {
		return nil, err
	}
	var out []*yaml.Node
	for _, d := range f.docs {
		if len(d.Content) == 1 {
			out = append(out, d.Content[0])
		}
	}
	return out, nil
}

// Container is a workload's container, as Containers lists them.
type Container struct {
	Kind     string // Deployment, …
	Workload string // metadata.name
	Name     string
	Image    string
}

// Containers lists the containers of the workloads in a file.
func Containers(file string, data []byte) ([]Container, error) {
	f, err := parseFile(file, data)
	if err != nil {
		return nil, err
	}
	var out []Container
	for _, r := range f.roots() {
		kind := str(mapValue(r, "kind"))
		if !workloadKinds[kind] {
			continue
		}
		for _, c := range containersOf(r) {
			out = append(out, Container{Kind: kind, Workload: str(lookup(r, "metadata", "name")), Name: str(mapValue(c, "name")), Image: str(mapValue(c, "image"))})
		}
	}
	return out, nil
}

// AddImage adds an images: entry for an image name the resources use
// (what `kustomize edit set image` does) to a kustomization that has no
// entry for the app: to its images: list, or a new images: list at the
// end of the document, in the file's own style.
func AddImage(file string, data []byte, name string, s Set) ([]byte, Result, error) {
	f, err := parseFile(file, data)
	if err != nil {
		return nil, Result{}, err
	}
	roots := f.roots()
	if len(roots) != 1 {
		return nil, Result{}, fmt.Errorf("%s: want one YAML document to add an images: entry to", file)
	}
	root := roots[0]
	e := &editor{f: f, s: s}
	entry := e.newEntry(name, styleOf(root))
	if images := mapValue(root, "images"); images != nil && images.Kind == yaml.SequenceNode && (len(images.Content) > 0 || isFlow(images)) {
		if err := f.appendItem(images, entry); err != nil {
			return nil, Result{}, err
		}
	} else if images != nil && (images.Kind != yaml.ScalarNode || images.Tag != "!!null") {
		return nil, Result{}, fmt.Errorf("%s:%d: images: is not a list", file, images.Line)
	} else {
		k, _ := mapGet(root, "images")
		if k != nil {
			if err := f.deleteKey(root, k); err != nil {
				return nil, Result{}, err
			}
		}
		if isFlow(root) {
			return nil, Result{}, fmt.Errorf("%s: a flow-style kustomization: add the images: entry by hand", file)
		}
		dash, after := f.seqStyle()
		last := root.Content[len(root.Content)-1]
		end, err := f.nodeEnd(last)
		if err != nil {
			return nil, Result{}, err
		}
		indent := f.column(f.offset(root.Content[0].Line, root.Content[0].Column))
		text := strings.Repeat(" ", indent) + "images:" + f.eol + f.seqItem(entry, indent+dash, after)
		pos := f.nextLine(end)
		if len(f.docs) == 1 {
			pos = len(f.body) // after the document's trailing comments
		}
		f.insertLines(pos, text)
	}
	out, err := f.apply()
	if err != nil {
		return nil, Result{}, err
	}
	res := Result{File: file, Kind: "kustomize-images", Target: name, After: s.Ref(), Changed: true, Lines: f.lineChanges()}
	if _, err := Current(file, out, s.App, s.Repo); err != nil {
		return nil, Result{}, fmt.Errorf("%s: the edited file does not read back (%w); nothing was written", file, err)
	}
	return out, res, nil
}

// newEntry is an images: entry in the fixed key order name, newName,
// digest; newName only when it differs from name.
func (e *editor) newEntry(name string, style yaml.Style) []kv {
	q := func(v string) string { return quoteLike(style, v, false) }
	entry := []kv{{key: "name", value: q(name)}}
	if name != e.s.Repo {
		entry = append(entry, kv{key: "newName", value: q(e.s.Repo)})
	}
	if e.s.Tag != "" {
		entry = append(entry, kv{key: "newTag", value: q(e.s.Tag)})
	}
	return append(entry, kv{key: "digest", value: q(e.s.Digest)})
}

// IsKustomizationFile reports the file names kustomize reads in a
// directory: kustomization.yaml, kustomization.yml or Kustomization.
func IsKustomizationFile(p string) bool {
	switch path.Base(p) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

// repoOf strips the tag and digest from an image reference.
func repoOf(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

func digestOf(ref string) string {
	_, d, _ := strings.Cut(ref, "@")
	return d
}

// tagOf is a reference's tag, "" if none.
func tagOf(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return ""
}

// lineChanges groups the splices into changed line regions: whole lines
// of the original and what replaced them.
func (f *yfile) lineChanges() []LineChange {
	edits := append([]splice(nil), f.edits...)
	sortSplices(edits)
	type region struct {
		a, b  int
		edits []splice
	}
	var regions []region
	for _, e := range edits {
		a := f.lines[f.lineOf(e.start)-1]
		var b int
		switch {
		case e.start == e.end && e.start == a && strings.HasSuffix(e.text, "\n"):
			b = a // whole lines inserted
		case e.end > e.start && (e.end == len(f.body) || f.body[e.end-1] == '\n') && e.start == a:
			b = e.end // whole lines replaced
		default:
			b = f.nextLine(max(e.end, e.start))
			if e.end > e.start && f.body[e.end-1] == '\n' {
				b = e.end
			}
		}
		if n := len(regions); n > 0 && a <= regions[n-1].b {
			regions[n-1].b = max(regions[n-1].b, b)
			regions[n-1].edits = append(regions[n-1].edits, e)
			continue
		}
		regions = append(regions, region{a, b, []splice{e}})
	}
	var res []LineChange
	for _, r := range regions {
		var nb strings.Builder
		prev := r.a
		for _, e := range r.edits {
			nb.Write(f.body[prev:e.start])
			nb.WriteString(e.text)
			prev = e.end
		}
		nb.Write(f.body[prev:max(prev, r.b)])
		res = append(res, LineChange{Line: f.lineOf(r.a), Old: splitLines(string(f.body[r.a:r.b])), New: splitLines(nb.String())})
	}
	return res
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	s = strings.TrimSuffix(s, "\n")
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], "\r")
	}
	return lines
}
