package manifest

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// matcher answers the one question deploy, promote and status all ask:
// which images: entry or container is this app's? Candidates are ranked,
// and only the strongest rank present in the file counts (order never
// does):
//
//   - rankChosen: the explicit image name (--image-name);
//   - rankExact: the image (an entry's name or newName, a container's image)
//     is the repository being deployed;
//   - rankKnown: a repository known for the app (deployed before);
//   - rankName: the container (or the image) is named exactly as the app;
//   - rankSegment: the image's last path segment is the app (the usual
//     kustomize pattern `name: ghcr.io/acme/app`, and also a vendor's
//     docker.io/vendor/app: the weakest evidence).
//
// An explicit image name (--image-name) is authoritative: only that image
// matches, or, where the file no longer has it (a container deployed
// before), the repository being deployed or a known one.
type matcher struct {
	app       string
	imageName string   // explicit: authoritative
	repo      string   // the repository being deployed
	known     []string // repositories known for the app
	min       int      // the weakest rank that counts (the file's best)
}

// Match ranks, weakest to strongest; rankNone is no match.
const (
	rankNone = iota
	rankSegment
	rankName
	rankKnown
	rankExact
	rankChosen // the explicit image name
)

func newMatcher(app, imageName, repo string, known ...string) matcher {
	m := matcher{app: app, imageName: repoOf(imageName), repo: repo, min: rankSegment}
	for _, r := range known {
		if r != "" && r != repo {
			m.known = append(m.known, r)
		}
	}
	return m
}

// MatchImage reports whether an image reference belongs to app, at any
// rank (use Matcher to rank several candidates).
func MatchImage(app, ref string, repos ...string) bool {
	return newMatcher(app, "", "", repos...).image(ref) > rankNone
}

// Matcher ranks containers for an app the way Edit and Current do: callers
// that look at several containers (rendered workloads, the resources a
// kustomization builds) keep only those with the best rank present.
type Matcher struct{ m matcher }

// NewMatcher is the matcher for app: imageName, when set, is authoritative;
// repo is the repository being deployed; known are other repositories of
// the app.
func NewMatcher(app, imageName, repo string, known ...string) Matcher {
	return Matcher{newMatcher(app, imageName, repo, known...)}
}

// Container ranks a container (0: not the app's; higher is stronger).
func (m Matcher) Container(name, image string) int { return m.m.container(name, image) }

// Weak reports whether a rank is too weak to tell two candidates apart
// (the container name or the last path segment of the image).
func Weak(rank int) bool { return rank > rankNone && rank < rankKnown }

func (m matcher) image(ref string) int {
	repo := repoOf(ref)
	if repo == "" {
		return rankNone
	}
	switch {
	case m.imageName != "" && repo == m.imageName:
		return rankChosen
	case repo == m.repo:
		return rankExact
	case contains(m.known, repo):
		return rankKnown
	case m.imageName != "":
		return rankNone // the explicit name is authoritative
	case repo == m.app:
		return rankName
	case path.Base(repo) == m.app:
		return rankSegment
	}
	return rankNone
}

func (m matcher) entry(name, newName string) int {
	r := m.image(name)
	if newName != "" {
		r = max(r, m.image(newName))
	}
	return r
}

func (m matcher) container(name, image string) int {
	r := m.image(image)
	if m.imageName == "" && name != "" && name == m.app {
		r = max(r, rankName)
	}
	return r
}

// firstRepo is the repository an error or a default names.
func (m matcher) firstRepo() string {
	switch {
	case m.repo != "":
		return m.repo
	case len(m.known) > 0:
		return m.known[0]
	}
	return m.imageName
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// candidate is a ranked match found by a scan.
type ranked struct {
	id   string // what tells candidates apart: an entry's name, a container's image repository
	what string // how an error names it
	rank int
}

// take records a candidate and says whether it counts.
func (e *editor) take(id, what string, rank int) bool {
	if rank == rankNone {
		return false
	}
	e.ranked = append(e.ranked, ranked{id, what, rank})
	return rank >= e.m.min
}

// settle scans the file once and raises the matcher's minimum to the best
// rank present, so a weaker candidate never wins over a stronger one,
// whatever their order. A tie between different weak candidates is refused.
func settle(f *yfile, s Set, m matcher) (matcher, error) {
	scan := &editor{f: f, s: Set{App: s.App, Values: s.Values}, m: m, readOnly: true}
	_, _ = scan.run()
	best := rankNone
	for _, c := range scan.ranked {
		best = max(best, c.rank)
	}
	if best == rankNone {
		return m, nil
	}
	m.min = best
	if Weak(best) {
		seen := map[string]bool{}
		var names []string
		for _, c := range scan.ranked {
			if c.rank == best && !seen[c.id] {
				seen[c.id] = true
				names = append(names, c.what)
			}
		}
		if len(names) > 1 {
			return m, fmt.Errorf("%s: %w: app %q matches several images equally weakly (%s); pass --image-name with the one to edit", f.name, ErrAmbiguous, s.App, strings.Join(names, ", "))
		}
	}
	return m, nil
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
	ranked   []ranked // every candidate and its rank
	helm     bool     // the file held Helm values (a values file, a HelmRelease, an Application)

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
		if err := em.flush(); err != nil {
			return Result{}, err
		}
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
		if img == "" {
			img = e.m.firstRepo()
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
		it = resolve(it) // an alias of an entry: the anchor's (a write refuses if shared)
		if it == nil || it.Kind != yaml.MappingNode {
			continue
		}
		name, newName := str(mapValue(it, "name")), str(mapValue(it, "newName"))
		e.found = append(e.found, "images[name="+name+"]")
		rank := e.m.entry(name, newName)
		if rank == rankNone {
			continue
		}
		e.f.appUse(mapValue(it, "name"), mapValue(it, "newName"), mapValue(it, "newTag"), mapValue(it, "digest"))
		before := firstNonEmpty(newName, name)
		if t := str(mapValue(it, "newTag")); t != "" {
			before += ":" + t
		}
		if d := str(mapValue(it, "digest")); d != "" {
			before += "@" + d
		}
		e.res.Candidates = append(e.res.Candidates, Candidate{Line: it.Line, Kind: "kustomize-images", Name: name, Ref: before})
		if !e.take(name, "images[name="+name+"]", rank) {
			continue
		}
		e.res.Alternatives = append(e.res.Alternatives, it.Line)
		if e.s.Line != 0 && it.Line != e.s.Line {
			continue
		}
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
			if c = resolve(c); c != nil && c.Kind == yaml.MappingNode {
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
		rank := e.m.container(name, image)
		if rank == rankNone {
			continue
		}
		e.f.appUse(iv)
		e.res.Candidates = append(e.res.Candidates, Candidate{Line: c.Line, Kind: kind, Name: name, Ref: image})
		if !e.take(repoOf(image), kind+"/"+wname+" container "+name+" ("+image+")", rank) {
			continue
		}
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
	case attr == "name" && (role == "newName" || role == "repository") && v.Value == e.s.Repo:
		return // Flux writes the same repository back: it does not move the digest
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
