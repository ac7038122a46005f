package manifest

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// matcher answers the one question deploy, promote and status all ask:
// which images: entry or container is this app's? An entry or container
// belongs to the app when its name is the app, when its image (name or
// newName) is a repository known for the app, or when that image's last
// path segment is the app (the usual kustomize pattern: `name: ghcr.io/acme/app`).
type matcher struct {
	app   string
	repos []string
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

// MatchImage reports whether an image reference belongs to app (the
// matcher Edit and Current use).
func MatchImage(app, ref string, repos ...string) bool {
	return newMatcher(app, repos...).image(ref)
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

func (m matcher) entry(name, newName string) bool {
	return (name != "" && name == m.app) || m.image(name) || m.image(newName)
}

func (m matcher) container(name, image string) bool {
	return (name != "" && name == m.app) || m.image(image)
}

var workloadKinds = map[string]bool{
	"Deployment": true, "StatefulSet": true, "DaemonSet": true, "Job": true, "CronJob": true,
	"Rollout": true, "ReplicaSet": true, "Pod": true,
}

// editor walks a parsed file, finds the app's fields and splices.
type editor struct {
	f        *yfile
	s        Set
	m        matcher
	readOnly bool
	res      Result
	matched  bool
	found    []string
	helm     bool // the file held Helm values (a values file, a HelmRelease, an Application)

	releases       int          // HelmReleases seen
	pendingRelease []*yaml.Node // HelmReleases not named after the app
	embeds         []*embedded  // values strings inside the manifest
	readBack       *Values      // where the written image reads back, when markers chose the fields
}

func (e *editor) run() (Result, error) {
	for _, r := range e.f.roots() {
		kind := str(mapValue(r, "kind"))
		var err error
		switch {
		case isArgoSource(e.f.name):
			err = e.argoSource(r)
		case isKustomization(e.f.name, r):
			err = e.kustomization(r)
		case workloadKinds[kind]:
			err = e.workload(r)
		case kind == "HelmRelease":
			err = e.helmRelease(r)
		case kind == "Application" && strings.HasPrefix(str(mapValue(r, "apiVersion")), "argoproj.io/"):
			err = e.application(r)
		case kind == "" && mapValue(r, "apiVersion") == nil:
			err = e.valuesFile(r)
		}
		if err != nil {
			return Result{}, err
		}
	}
	if !e.matched && e.releases == 1 && len(e.pendingRelease) == 1 {
		// The file's only HelmRelease is the app's, whatever its name.
		if err := e.helmReleaseValues(e.pendingRelease[0]); err != nil {
			return Result{}, err
		}
	}
	for _, em := range e.embeds {
		em.flush()
	}
	if !e.matched {
		if e.helm {
			return Result{}, e.helmError()
		}
		found := e.found
		if len(found) == 0 {
			found = []string{"nothing"}
		}
		img := e.s.Repo
		if img == "" && len(e.m.repos) > 0 {
			img = e.m.repos[0]
		}
		return Result{}, fmt.Errorf("%s: %w for app %q or image %s (found: %s)", e.f.name, ErrNoMatch, e.s.App, img, strings.Join(found, ", "))
	}
	return e.res, nil
}

// first records the first match as the result's target.
func (e *editor) first(kind, target, before string) bool {
	if e.matched {
		return false
	}
	e.matched = true
	e.res.Kind, e.res.Target, e.res.Before, e.res.After = kind, target, before, e.s.Ref()
	return true
}

func (e *editor) note(format string, a ...any) {
	e.res.Notes = append(e.res.Notes, fmt.Sprintf(format, a...))
}

// isKustomization: kind Kustomization or Component, or no kind at all in
// a file kustomize reads by name (kind is optional there).
func isKustomization(file string, n *yaml.Node) bool {
	kind := str(mapValue(n, "kind"))
	return kind == "Kustomization" ||
		kind == "Component" && strings.HasPrefix(str(mapValue(n, "apiVersion")), "kustomize.config.k8s.io/") ||
		(kind == "" && IsKustomizationFile(file))
}

func (e *editor) kustomization(r *yaml.Node) error {
	images := mapValue(r, "images")
	if images == nil || images.Kind != yaml.SequenceNode {
		return nil
	}
	for _, it := range images.Content {
		if it.Kind != yaml.MappingNode {
			continue
		}
		name, newName := str(mapValue(it, "name")), str(mapValue(it, "newName"))
		e.found = append(e.found, "images[name="+name+"]")
		if !e.m.entry(name, newName) {
			continue
		}
		before := firstNonEmpty(newName, name)
		if t := str(mapValue(it, "newTag")); t != "" {
			before += ":" + t
		}
		if d := str(mapValue(it, "digest")); d != "" {
			before += "@" + d
		}
		e.res.Candidates = append(e.res.Candidates, Candidate{Line: it.Line, Kind: "kustomize-images", Name: name, Ref: before})
		if !e.first("kustomize-images", name, before) || e.readOnly {
			continue
		}
		if err := e.entry(it); err != nil {
			return err
		}
	}
	return nil
}

// entry writes newName (only when name is not already the repository),
// digest, and the tag, in the entry's own style.
func (e *editor) entry(it *yaml.Node) error {
	f, flow, style := e.f, isFlow(it), styleOf(it)
	q := func(v string) string { return quoteLike(style, v, flow) }
	nameK, nameV := mapGet(it, "name")
	nnK, nnV := mapGet(it, "newName")
	dK, dV := mapGet(it, "digest")
	tK, tV := mapGet(it, "newTag")
	var ins []kv
	after := nameK
	if nnV != nil {
		if err := f.setScalar(nnV, e.s.Repo, flow); err != nil {
			return err
		}
		e.marker(nnK, nnV, "newName")
		after = nnK
	} else if str(nameV) != e.s.Repo {
		ins = append(ins, kv{key: "newName", value: q(e.s.Repo)})
	}
	if dV != nil {
		if err := f.setScalar(dV, e.s.Digest, flow); err != nil {
			return err
		}
		e.marker(dK, dV, "digest")
	} else {
		ins = append(ins, kv{key: "digest", value: q(e.s.Digest)})
	}
	if err := f.insertAfter(it, after, ins); err != nil {
		return err
	}
	if tV != nil {
		_, attr, marked := markerOf(tK, tV)
		switch {
		case e.s.Tag != "":
			if err := f.setScalar(tV, e.s.Tag, flow); err != nil {
				return err
			}
		case marked && attr == "tag":
			e.note("kept newTag %s: Flux's image automation writes it (%s marker); the digest decides what runs", str(tV), markerText(tK, tV))
		default:
			// A tag without its digest's tag would say something the digest does not.
			if err := f.deleteKey(it, tK); err != nil {
				return err
			}
		}
	}
	return nil
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}

// containersOf lists a workload's init containers and containers.
func containersOf(n *yaml.Node) []*yaml.Node {
	pod := lookup(n, "spec", "template", "spec")
	switch str(mapValue(n, "kind")) {
	case "CronJob":
		pod = lookup(n, "spec", "jobTemplate", "spec", "template", "spec")
	case "Pod":
		pod = mapValue(n, "spec")
	}
	var out []*yaml.Node
	for _, field := range []string{"initContainers", "containers"} {
		list := mapValue(pod, field)
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for _, c := range list.Content {
			if c.Kind == yaml.MappingNode {
				out = append(out, c)
			}
		}
	}
	return out
}

func (e *editor) workload(r *yaml.Node) error {
	kind, wname := str(mapValue(r, "kind")), str(lookup(r, "metadata", "name"))
	for _, c := range containersOf(r) {
		name := str(mapValue(c, "name"))
		ik, iv := mapGet(c, "image")
		image := str(iv)
		e.found = append(e.found, kind+"/"+wname+" container "+name)
		if !e.m.container(name, image) {
			continue
		}
		e.res.Candidates = append(e.res.Candidates, Candidate{Line: c.Line, Kind: kind, Name: name, Ref: image})
		e.first(kind, name, image)
		if e.readOnly {
			continue
		}
		if iv == nil {
			return fmt.Errorf("%s:%d: container %s has no image", e.f.name, c.Line, name)
		}
		if same := repoOf(image) == e.s.Repo && digestOf(image) == e.s.Digest && (e.s.Tag == "" || tagOf(image) == e.s.Tag); !same {
			if err := e.f.setScalar(iv, e.s.Ref(), isFlow(c)); err != nil {
				return err
			}
		}
		e.marker(ik, iv, "image")
	}
	return nil
}

// Flux image automation's setter markers: a line comment
// {"$imagepolicy": "NAMESPACE:POLICY[:name|:tag|:digest]"} makes Flux write
// the policy's latest image (the full reference, or its name, tag or
// digest) into the field.
var markerRE = regexp.MustCompile(`[ \t]*#\s*\{\s*"\$imagepolicy"\s*:\s*"([^"]*)"\s*\}`)

// markerOf reads a field's setter marker: the policy and the attribute
// ("" for the full reference, "name", "tag", "digest").
func markerOf(k, v *yaml.Node) (policy, attr string, ok bool) {
	for _, n := range []*yaml.Node{v, k} {
		if n == nil {
			continue
		}
		if m := markerRE.FindStringSubmatch(n.LineComment); m != nil {
			parts := strings.Split(m[1], ":")
			if len(parts) == 3 {
				return parts[0] + ":" + parts[1], parts[2], true
			}
			return m[1], "", true
		}
	}
	return "", "", false
}

func markerText(k, v *yaml.Node) string {
	p, a, _ := markerOf(k, v)
	if a != "" {
		return p + ":" + a
	}
	return p
}

// marker handles a setter marker on a field Slipway wrote as role ("image":
// the full reference; "newName"/"repository": the name; "tag"; "digest").
// A marker with which Flux would write the field back to something else
// than the digest is removed, and the result says so.
func (e *editor) marker(k, v *yaml.Node, role string) {
	policy, attr, ok := markerOf(k, v)
	if !ok {
		return
	}
	switch {
	case attr == "name" && (role == "newName" || role == "repository"):
		return // Flux writes the repository: it does not move the digest
	case attr == "tag" && role == "tag":
		return // a tag next to the digest: the digest decides
	}
	what := map[string]string{"": "the image by tag", "name": "the image name", "tag": "a tag", "digest": "its own digest"}[attr]
	e.removeMarker(v)
	e.note("%s:%d: removed Flux marker {\"$imagepolicy\": %q}: Flux's image automation would write %s of policy %s over the digest Slipway deployed", e.f.name, v.Line, markerText(k, v), what, policy)
}

// removeMarker deletes a marker comment from the value's line.
func (e *editor) removeMarker(v *yaml.Node) {
	f := e.f
	start := f.valueStart(v)
	le := f.lineEnd(start)
	line := f.body[start:le]
	loc := markerRE.FindIndex(line)
	if loc == nil {
		return
	}
	f.add(splice{start + loc[0], start + loc[1], ""})
}
