// Package gitops delivers image digests through a GitOps repository: it edits
// manifests with kyaml (comments, key order and formatting survive), commits
// with deployment trailers, pushes with retry on concurrent updates, refuses
// silent rollbacks, promotes between environments and reads the history back.
package gitops

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Image is a digest-pinned image reference.
type Image struct {
	Repo   string // registry.example.com/team/app
	Digest string // sha256:<64 hex>
}

// String is REPO@sha256:….
func (i Image) String() string { return i.Repo + "@" + i.Digest }

// Short is the first 12 hex of the digest, for commit subjects and branches.
func (i Image) Short() string { return strings.TrimPrefix(i.Digest, "sha256:")[:12] }

var digestRefRE = regexp.MustCompile(`^([a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::[\w][\w.-]{0,127})?@(sha256:[0-9a-f]{64})$`)

// ErrNotDigest marks an image given by tag only.
var ErrNotDigest = fmt.Errorf("not a digest reference")

// ParseImage accepts REPO@sha256:<64 hex> (a tag before the digest is dropped:
// the digest is what deploys). A tag-only reference is refused.
func ParseImage(s string) (Image, error) {
	m := digestRefRE.FindStringSubmatch(s)
	if m == nil {
		if !strings.Contains(s, "@sha256:") {
			return Image{}, fmt.Errorf("image %q: %w: Slipway deploys digests only; pass REPO@sha256:<64 hex> (the last line of `ci push`)", s, ErrNotDigest)
		}
		return Image{}, fmt.Errorf("image %q: want REPO@sha256:<64 hex>", s)
	}
	return Image{Repo: m[1], Digest: m[2]}, nil
}

// Change is the result of an edit: what the file held and holds now.
type Change struct {
	File    string `json:"file"`
	Kind    string `json:"kind"`    // "kustomize-images" or the workload kind
	Target  string `json:"target"`  // images[].name or container name
	Before  string `json:"before"`  // previous reference or digest, "" if none
	After   string `json:"after"`   // REPO@sha256:…
	Changed bool   `json:"changed"` // false: the file already held the digest
}

// ErrNoMatch means the file has no entry for the app or image.
var ErrNoMatch = fmt.Errorf("no matching image entry")

// matcher answers the one question deploy, promote and status all ask:
// which images: entry or container is this app's? An entry or container
// belongs to the app when its name is the app, when its image (name or
// newName) is the image repository being deployed or deployed before, or
// when that image's last path segment is the app (the usual kustomize
// pattern: `name: ghcr.io/acme/app`).
type matcher struct {
	app   string
	repos []string // image repositories known for the app (the new one, the recorded one)
}

func newMatcher(app string, repos ...string) matcher {
	m := matcher{app: app}
	for _, r := range repos {
		if r != "" {
			m.repos = append(m.repos, r)
		}
	}
	return m
}

func (m matcher) image(ref string) bool {
	repo := repoOf(ref)
	if repo == "" {
		return false
	}
	for _, r := range m.repos {
		if repo == r {
			return true
		}
	}
	return repo == m.app || path.Base(repo) == m.app
}

// entry matches a kustomization images: entry.
func (m matcher) entry(name, newName string) bool {
	return name == m.app || m.image(name) || m.image(newName)
}

// container matches a workload container.
func (m matcher) container(name, image string) bool {
	return name == m.app || m.image(image)
}

// Edit rewrites the image for app in a manifest: a kustomization's images:
// entry, or the containers of workloads (Deployment, StatefulSet, DaemonSet,
// Job, CronJob, Argo Rollout). The output keeps comments and formatting, a
// byte-order mark and CRLF line ends included.
func Edit(file string, data []byte, app string, img Image) ([]byte, Change, error) {
	return edit(file, data, newMatcher(app, img.Repo), img)
}

const bom = "\ufeff"

func edit(file string, data []byte, m matcher, img Image) ([]byte, Change, error) {
	text, restore := normalizeText(data)
	var out bytes.Buffer
	rw := &kio.ByteReadWriter{
		Reader:            strings.NewReader(text),
		Writer:            &out,
		PreserveSeqIndent: true,
	}
	nodes, err := rw.Read()
	if err != nil {
		return nil, Change{}, fmt.Errorf("%s: not valid YAML: %w", file, err)
	}
	if len(nodes) == 0 {
		return nil, Change{}, fmt.Errorf("%s: empty file", file)
	}
	var ch Change
	var found []string
	matched := false
	for _, n := range nodes {
		var c Change
		var ok bool
		var names []string
		switch kind := n.GetKind(); {
		case isKustomization(file, n):
			c, ok, names, err = editKustomization(n, m, img)
		case workloadKinds[kind]:
			c, ok, names, err = editWorkload(n, m, img)
		default:
			continue
		}
		if err != nil {
			return nil, Change{}, fmt.Errorf("%s: %w", file, err)
		}
		found = append(found, names...)
		if ok {
			if matched {
				ch.Changed = ch.Changed || c.Changed
				continue
			}
			matched, ch = true, c
		}
	}
	if !matched {
		if len(found) == 0 {
			found = []string{"nothing"}
		}
		return nil, Change{}, fmt.Errorf("%s: %w for app %q or image %s (found: %s)", file, ErrNoMatch, m.app, img.Repo, strings.Join(found, ", "))
	}
	ch.File = file
	if !ch.Changed {
		return data, ch, nil
	}
	if err := rw.Write(nodes); err != nil {
		return nil, Change{}, fmt.Errorf("%s: write: %w", file, err)
	}
	return restore(out.String()), ch, nil
}

// normalizeText strips a byte-order mark and CRLF line ends for the YAML
// parser, and returns how to put them back.
func normalizeText(data []byte) (string, func(string) []byte) {
	text := string(data)
	hasBOM := strings.HasPrefix(text, bom)
	text = strings.TrimPrefix(text, bom)
	crlf := strings.Contains(text, "\r\n")
	if crlf {
		text = strings.ReplaceAll(text, "\r\n", "\n")
	}
	return text, func(s string) []byte {
		if crlf {
			s = strings.ReplaceAll(s, "\n", "\r\n")
		}
		if hasBOM {
			s = bom + s
		}
		return []byte(s)
	}
}

// isKustomization: kind Kustomization, or no kind at all in a file kustomize
// reads by name (kind is optional there).
func isKustomization(file string, n *yaml.RNode) bool {
	kind := n.GetKind()
	return kind == "Kustomization" || (kind == "" && isKustomizationFile(file))
}

var workloadKinds = map[string]bool{
	"Deployment": true, "StatefulSet": true, "DaemonSet": true, "Job": true, "CronJob": true, "Rollout": true,
}

func editKustomization(n *yaml.RNode, m matcher, img Image) (Change, bool, []string, error) {
	images, err := n.Pipe(yaml.Lookup("images"))
	if err != nil || images == nil {
		return Change{}, false, nil, nil
	}
	elems, err := images.Elements()
	if err != nil {
		return Change{}, false, nil, fmt.Errorf("images: %w", err)
	}
	var names []string
	for _, e := range elems {
		name := fieldString(e, "name")
		newName := fieldString(e, "newName")
		names = append(names, "images[name="+name+"]")
		if !m.entry(name, newName) {
			continue
		}
		before := fieldString(e, "digest")
		if nt := fieldString(e, "newTag"); nt != "" && before == "" {
			before = firstNonEmpty(newName, name) + ":" + nt
		} else if before != "" {
			before = firstNonEmpty(newName, name) + "@" + before
		}
		c := Change{Kind: "kustomize-images", Target: name, Before: before, After: img.String()}
		if newName == img.Repo && fieldString(e, "digest") == img.Digest && fieldString(e, "newTag") == "" {
			return c, true, names, nil
		}
		if err := setScalar(e, "newName", img.Repo); err != nil {
			return Change{}, false, nil, err
		}
		if err := setScalar(e, "digest", img.Digest); err != nil {
			return Change{}, false, nil, err
		}
		if err := e.PipeE(yaml.Clear("newTag")); err != nil {
			return Change{}, false, nil, err
		}
		c.Changed = true
		return c, true, names, nil
	}
	return Change{}, false, names, nil
}

func editWorkload(n *yaml.RNode, m matcher, img Image) (Change, bool, []string, error) {
	var names []string
	var result Change
	matched := false
	for _, c := range containersOf(n) {
		name := fieldString(c, "name")
		image := fieldString(c, "image")
		names = append(names, n.GetKind()+"/"+n.GetName()+" container "+name)
		if !m.container(name, image) {
			continue
		}
		ch := Change{Kind: n.GetKind(), Target: name, Before: image, After: img.String()}
		if image != img.String() {
			if err := setScalar(c, "image", img.String()); err != nil {
				return Change{}, false, nil, err
			}
			ch.Changed = true
		}
		if !matched {
			result, matched = ch, true
		} else {
			result.Changed = result.Changed || ch.Changed
		}
	}
	return result, matched, names, nil
}

// repoOf strips the tag and digest from an image reference.
func repoOf(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

func fieldString(n *yaml.RNode, field string) string {
	v, err := n.Pipe(yaml.Lookup(field))
	if err != nil || v == nil {
		return ""
	}
	return strings.TrimSpace(v.YNode().Value)
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}

// setScalar sets a string field, changing an existing scalar in place so its
// comments stay with it.
func setScalar(n *yaml.RNode, field, value string) error {
	if v, err := n.Pipe(yaml.Lookup(field)); err == nil && v != nil && v.YNode().Kind == yaml.ScalarNode {
		v.YNode().Value = value
		v.YNode().Tag = yaml.NodeTagString
		v.YNode().Style = 0
		return nil
	}
	return n.PipeE(yaml.SetField(field, yaml.NewStringRNode(value)))
}
