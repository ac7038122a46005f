package manifest

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// IsArgoSource reports Argo CD's parameter override file,
// .argocd-source.yaml or .argocd-source-<app>.yaml next to an app's
// sources (an edit creates it when absent).
func IsArgoSource(file string) bool { return isArgoSource(file) }

func isArgoSource(file string) bool {
	b := path.Base(file)
	return strings.HasPrefix(b, ".argocd-source") && (strings.HasSuffix(b, ".yaml") || strings.HasSuffix(b, ".yml"))
}

// source is one place Helm values live, in Argo CD's order of precedence
// when an Application has several: parameters, valuesObject, values.
type source struct {
	what   string     // for messages: "values", "spec.values", "helm.parameters", …
	f      *yfile     // the file its nodes are in (an embedded one for a values string)
	root   *yaml.Node // a mapping, or the parameters sequence
	params bool
	// defaults: the chart's own values.yaml, read for the paths it takes
	// and what it renders; never written (a value goes to the file).
	defaults bool
	outer    *embedded // set for a values string inside the manifest

	// pending are new keys per mapping, merged so that two new paths
	// under one new parent make one block.
	pending map[*yaml.Node][]kv
	order   []*yaml.Node
}

func mergeKV(list []kv, e kv) []kv {
	for i := range list {
		if list[i].key == e.key && list[i].kids != nil && e.kids != nil {
			for _, k := range e.kids {
				list[i].kids = mergeKV(list[i].kids, k)
			}
			return list
		}
	}
	return append(list, e)
}

// flush inserts the pending keys.
func (s *source) flush() error {
	for _, m := range s.order {
		if err := s.f.insertAfter(m, nil, s.pending[m]); err != nil {
			return err
		}
	}
	s.pending, s.order = nil, nil
	return nil
}

// get finds the scalar at a dotted path.
func (s *source) get(p string) *yaml.Node {
	if p == "" || s.root == nil {
		return nil
	}
	if s.params {
		for _, it := range s.root.Content {
			if str(mapValue(it, "name")) == p {
				if v := mapValue(it, "value"); v != nil && resolve(v) != nil && resolve(v).Kind == yaml.ScalarNode {
					return v
				}
			}
		}
		return nil
	}
	n := lookup(s.root, strings.Split(p, ".")...)
	if r := resolve(n); r == nil || r.Kind != yaml.ScalarNode {
		return nil
	}
	return n // a null value too: the key says the chart takes it
}

// keyOf is the key node of a mapping value at a dotted path.
func (s *source) keyOf(p string) *yaml.Node {
	keys := strings.Split(p, ".")
	m := lookup(s.root, keys[:len(keys)-1]...)
	if len(keys) == 1 {
		m = s.root
	}
	k, _ := mapGet(m, keys[len(keys)-1])
	return k
}

// put writes value at a dotted path: in place, or as new keys under the
// deepest mapping the path already has.
func (s *source) put(p, value string, style yaml.Style) error {
	if n := s.get(p); n != nil {
		if n.Tag == "!!null" && n.Value == "" && !s.params {
			// "key:" with nothing after it: the value goes after the colon.
			k := s.keyOf(p)
			if k == nil {
				return s.f.errAt(n, "cannot locate the key of an empty value")
			}
			sp, err := s.f.scalarSpan(k)
			if err != nil {
				return err
			}
			colon := bytes.IndexByte(s.f.body[sp.end:s.f.lineEnd(sp.end)], ':')
			if colon < 0 {
				return s.f.errAt(k, "cannot locate the colon after the key")
			}
			at := sp.end + colon + 1
			s.f.add(splice{at, at, " " + quoteLike(style, value, false)})
			return nil
		}
		return s.f.setScalar(n, value, false)
	}
	if s.params {
		item := []kv{{key: "name", value: quoteLike(0, p, false)}, {key: "value", value: quoteLike(style, value, false)}, {key: s.forceStringKey(), value: "true"}}
		if len(s.root.Content) == 0 && !isFlow(s.root) {
			return fmt.Errorf("%s:%d: empty %s: write [] or a list", s.f.name, s.root.Line, s.what)
		}
		return s.f.appendItem(s.root, item)
	}
	keys := strings.Split(p, ".")
	m := s.root
	i := 0
	for ; i < len(keys)-1; i++ {
		next := mapValue(m, keys[i])
		if next == nil {
			break
		}
		if next.Kind != yaml.MappingNode {
			return fmt.Errorf("%s:%d: %s: %s is not a mapping", s.f.name, next.Line, s.what, strings.Join(keys[:i+1], "."))
		}
		m = next
	}
	if _, v := mapGet(m, keys[i]); v != nil && (v.Kind != yaml.ScalarNode || v.Tag != "!!null") {
		return fmt.Errorf("%s:%d: %s: %s is not a value", s.f.name, v.Line, s.what, strings.Join(keys[:i+1], "."))
	}
	if len(m.Content) == 0 && !isFlow(m) {
		return fmt.Errorf("%s:%d: %s is empty: write {} or a mapping", s.f.name, m.Line, s.what)
	}
	if st := styleOf(m); st != 0 {
		style = st
	}
	leaf := kv{key: keys[len(keys)-1], value: quoteLike(style, value, isFlow(m))}
	for j := len(keys) - 2; j >= i; j-- {
		leaf = kv{key: keys[j], kids: []kv{leaf}}
	}
	if s.pending == nil {
		s.pending = map[*yaml.Node][]kv{}
	}
	if _, ok := s.pending[m]; !ok {
		s.order = append(s.order, m)
	}
	s.pending[m] = mergeKV(s.pending[m], leaf)
	return nil
}

// forceStringKey is how the parameters spell forceString: Argo CD reads
// the key case-insensitively, and a new parameter keeps the file's own
// spelling (forcestring in some repositories).
func (s *source) forceStringKey() string {
	for _, it := range s.root.Content {
		if it.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i < len(it.Content); i += 2 {
			if k := it.Content[i].Value; strings.EqualFold(k, "forceString") {
				return k
			}
		}
	}
	return "forceString"
}

// markers lists the fields of a source that carry a Flux setter marker.
func (s *source) markers() (out []markedField) {
	var walk func(n *yaml.Node, p string)
	walk = func(n *yaml.Node, p string) {
		if n == nil || n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			q := strings.TrimPrefix(p+"."+k.Value, ".")
			if v.Kind == yaml.ScalarNode {
				if _, attr, ok := markerOf(k, v); ok {
					out = append(out, markedField{k: k, v: v, path: q, attr: attr, src: s})
				}
			}
			walk(v, q)
		}
	}
	if !s.params {
		walk(s.root, "")
	}
	return out
}

type markedField struct {
	k, v *yaml.Node
	path string
	attr string
	src  *source
}

// paths are the value paths in force: the configured ones, or the defaults.
func (e *editor) paths() (Values, bool) {
	if e.s.Values != nil {
		return *e.s.Values, true
	}
	return DefaultValues, false
}

// helmValues writes the image into Helm values held by srcs (highest
// precedence first): at the value paths, and at every field a Flux marker
// names.
func (e *editor) helmValues(kind, where string, srcs []*source) error {
	e.helm = true
	vp, explicit := e.paths()
	if d := e.chartDefaults(); d != nil {
		srcs = append(srcs[:len(srcs):len(srcs)], d) // lowest precedence
	}
	find := func(p string) (*source, *yaml.Node) {
		if p == "" {
			return nil, nil
		}
		for _, s := range srcs {
			if n := s.get(p); n != nil {
				return s, n
			}
		}
		return nil, nil
	}
	if explicit && vp.Repository == "" && vp.Image == "" && strings.HasSuffix(vp.Digest, ".digest") {
		// --helm-value digest=image.digest alone: the repository goes
		// next to it where the values or the chart's values.yaml have one
		// (image.repository), else the image would keep its old repository.
		if sib := strings.TrimSuffix(vp.Digest, "digest") + "repository"; func() bool { _, n := find(sib); return n != nil }() {
			vp.Repository = sib
		}
	}
	var marked []markedField
	for _, s := range srcs {
		if !s.defaults {
			marked = append(marked, s.markers()...)
		}
	}
	rs, rn := find(vp.Repository)
	ts, tn := find(vp.Tag)
	ds, dn := find(vp.Digest)
	is, in := find(vp.Image)
	if rn == nil && tn == nil && dn == nil && in == nil && len(marked) == 0 && !explicit {
		e.found = append(e.found, where+": no "+strings.Join(nonEmpty(vp.Repository, vp.Tag, vp.Digest), ", "))
		return nil
	}
	repo := str(rn)
	if repo == "" && in != nil {
		repo = repoOf(str(in))
	}
	if repo == "" {
		for _, m := range marked {
			if m.attr == "" || m.attr == "name" {
				repo = repoOf(str(m.v))
			}
		}
	}
	if repo == "" && e.m.firstRepo() != "" {
		repo = e.m.firstRepo() // the chart's default repository: the file does not say
	}
	before := repo
	switch {
	case in != nil:
		before = str(in)
	case tn != nil && strings.Contains(str(tn), "@"):
		before = repo + ":" + str(tn)
	default:
		if tn != nil && str(tn) != "" {
			before += ":" + str(tn)
		}
		if dn != nil && str(dn) != "" {
			before += "@" + str(dn)
		}
	}
	target := firstNonEmpty(vp.Image, vp.Digest, vp.Tag)
	e.res.Candidates = append(e.res.Candidates, Candidate{Line: firstLine(in, dn, tn, rn), Kind: kind, Name: where, Ref: before})
	if !e.first(kind, where+" "+target, before) || e.readOnly {
		return nil
	}
	top := srcs[0]
	style := yaml.Style(0)
	if rn != nil {
		style = rn.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
	}
	done := map[*yaml.Node]bool{}
	writeStyled := func(s *source, n *yaml.Node, p, v string, style yaml.Style) error {
		if n != nil && !s.defaults {
			done[n] = true
			return s.put(p, v, style)
		}
		return top.put(p, v, style)
	}
	write := func(s *source, n *yaml.Node, p, v string) error { return writeStyled(s, n, p, v, style) }
	switch {
	case in != nil || (explicit && vp.Image != ""):
		if err := write(is, in, vp.Image, e.s.Ref()); err != nil {
			return err
		}
	case dn != nil || (explicit && vp.Digest != ""):
		if vp.Repository != "" {
			if err := write(rs, rn, vp.Repository, e.s.Repo); err != nil {
				return err
			}
		}
		if err := write(ds, dn, vp.Digest, e.s.Digest); err != nil {
			return err
		}
		if tn != nil && e.s.Tag != "" {
			if err := write(ts, tn, vp.Tag, e.s.Tag); err != nil {
				return err
			}
		}
	case tn != nil || (explicit && vp.Tag != ""):
		// A chart that only takes a tag renders REPO:TAG: the tag carries the digest.
		tag := e.s.Tag
		if tag == "" {
			tag, _, _ = strings.Cut(str(tn), "@")
			if old := str(rn); tag != "" && old != "" && old != e.s.Repo {
				// The tag is the old repository's: it says nothing of the new one.
				return fmt.Errorf("%s: %s: the chart takes only a tag, and %s %q is %s's tag, not %s's: pass the image's tag (--image %s:TAG@%s) to set %s to \"TAG@%s\"", e.f.name, where, vp.Tag, str(tn), old, e.s.Repo, e.s.Repo, e.s.Digest, vp.Tag, e.s.Digest)
			}
		}
		if tag == "" {
			return fmt.Errorf("%s: %s: the chart takes only a tag (%s) and no tag is known to write \"TAG@%s\": pass the image's tag (--image %s:TAG@%s), or --helm-value digest=PATH if the chart takes a digest", e.f.name, where, vp.Tag, e.s.Digest, e.s.Repo, e.s.Digest)
		}
		value := tag + "@" + e.s.Digest
		if !digestRefRE.MatchString(e.s.Repo + ":" + value) {
			return fmt.Errorf("%s: %s: %s:%s would not be a valid digest reference", e.f.name, where, e.s.Repo, value)
		}
		if vp.Repository != "" {
			if err := write(rs, rn, vp.Repository, e.s.Repo); err != nil {
				return err
			}
		}
		// A new tag value is quoted: "TAG@sha256:…" reads as one string
		// in every YAML parser, in flow style too.
		if err := writeStyled(ts, tn, vp.Tag, value, yaml.DoubleQuotedStyle); err != nil {
			return err
		}
		if tn != nil && !ts.defaults {
			if _, attr, ok := markerOf(nil, tn); ok && attr == "tag" {
				ts.f.removeMarkerAt(tn)
				e.note("%s:%d: removed Flux marker {\"$imagepolicy\": %q}: the chart takes only a tag, and Flux would write a tag without the digest", e.f.name, tn.Line, markerText(nil, tn))
			}
		}
		if str(tn) != value {
			e.note("%s: the chart takes only a tag: wrote %s: %q, so it renders %s:%s", where, vp.Tag, value, e.s.Repo, value)
		}
	default:
		// Markers only: they name the fields; reading back uses those paths.
		rb := Values{}
		for _, m := range marked {
			switch m.attr {
			case "":
				rb.Image = m.path
			case "name":
				rb.Repository = m.path
			case "digest":
				rb.Digest = m.path
			case "tag":
				rb.Tag = m.path
			}
		}
		e.readBack = &rb
		e.note("%s: written where Flux markers said; status and promote read it with %s", where, valueFlags(rb))
	}
	for _, s := range srcs {
		if err := s.flush(); err != nil {
			return err
		}
	}
	for _, m := range marked {
		if done[m.v] {
			if m.attr == "digest" || m.attr == "" || (m.attr == "name" && m.v.Value != e.s.Repo) {
				e.dropMarker(m)
			}
			continue
		}
		var err error
		switch m.attr {
		case "":
			err = m.src.f.setScalar(m.v, e.s.Ref(), false)
			e.dropMarker(m)
		case "name":
			err = m.src.f.setScalar(m.v, e.s.Repo, false)
			if m.v.Value != e.s.Repo {
				// Flux would write the policy's image name back.
				e.dropMarker(m)
			}
		case "tag":
			if e.s.Tag != "" {
				err = m.src.f.setScalar(m.v, e.s.Tag, false)
			}
		case "digest":
			err = m.src.f.setScalar(m.v, e.s.Digest, false)
			e.dropMarker(m)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// chartDefaults is the chart's values.yaml as a read-only source, or nil.
func (e *editor) chartDefaults() *source {
	if len(e.s.ChartValues) == 0 {
		return nil
	}
	cf, err := parseFile("values.yaml (the chart's)", e.s.ChartValues)
	if err != nil {
		return nil
	}
	roots := cf.roots()
	if len(roots) != 1 {
		return nil
	}
	return &source{what: "the chart's values.yaml", f: cf, root: roots[0], defaults: true}
}

func (e *editor) dropMarker(m markedField) {
	m.src.f.removeMarkerAt(m.v)
	what := map[string]string{"": "the image by tag", "digest": "its own digest", "name": "its image name"}[m.attr]
	e.note("%s:%d: removed Flux marker {\"$imagepolicy\": %q}: Flux's image automation would write %s over the digest Slipway deployed", e.f.name, m.v.Line, markerText(m.k, m.v), what)
}

// valueFlags spells value paths as --helm-value flags.
func valueFlags(v Values) string {
	var out []string
	for _, p := range [][2]string{{"image", v.Image}, {"repository", v.Repository}, {"tag", v.Tag}, {"digest", v.Digest}} {
		if p[1] != "" {
			out = append(out, "--helm-value "+p[0]+"="+p[1])
		}
	}
	return strings.Join(out, " ")
}

func nonEmpty(a ...string) []string {
	var out []string
	for _, s := range a {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func firstLine(ns ...*yaml.Node) int {
	for _, n := range ns {
		if n != nil {
			return n.Line
		}
	}
	return 0
}

var digestRefRE = regexp.MustCompile(`^([a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::[\w][\w.-]{0,127})?@(sha256:[0-9a-f]{64})$`)

// valuesFile: a chart's values file (values.yaml, values-<env>.yaml).
func (e *editor) valuesFile(r *yaml.Node) error {
	return e.helmValues("helm-values", "values", []*source{{what: "values", f: e.f, root: r}})
}

// helmRelease: a Flux HelmRelease's spec.values.
func (e *editor) helmRelease(r *yaml.Node) error {
	name := str(lookup(r, "metadata", "name"))
	e.releases++
	if mine := name == e.m.app || str(lookup(r, "spec", "releaseName")) == e.m.app || str(lookup(r, "spec", "chart", "spec", "chart")) == e.m.app; !mine {
		e.pendingRelease = append(e.pendingRelease, r)
		e.found = append(e.found, "HelmRelease/"+name)
		return nil
	}
	return e.helmReleaseValues(r)
}

func (e *editor) helmReleaseValues(r *yaml.Node) error {
	name := str(lookup(r, "metadata", "name"))
	spec := mapValue(r, "spec")
	values := mapValue(spec, "values")
	where := "HelmRelease/" + name + " spec.values"
	if values == nil {
		if _, explicit := e.paths(); !explicit || spec == nil || spec.Kind != yaml.MappingNode {
			e.helm = true
			e.found = append(e.found, where+": none")
			return nil
		}
		// Configured paths: a values: block is added to spec.
		s := &source{what: where, f: e.f, root: spec}
		vp, _ := e.paths()
		for _, p := range []struct{ path, v string }{{vp.Repository, e.s.Repo}, {vp.Digest, e.s.Digest}} {
			if p.path != "" && !e.readOnly {
				if err := s.put("values."+p.path, p.v, 0); err != nil {
					return err
				}
			}
		}
		if err := s.flush(); err != nil {
			return err
		}
		e.helm = true
		e.first("HelmRelease", where, "")
		return nil
	}
	if values.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: %s is not a mapping", e.f.name, values.Line, where)
	}
	return e.helmValues("HelmRelease", where, []*source{{what: where, f: e.f, root: values}})
}

// application: an Argo CD Application whose source is a Helm chart; the
// values live in helm.parameters, helm.valuesObject or the helm.values
// string (Argo CD's order of precedence).
func (e *editor) application(r *yaml.Node) error {
	name := str(lookup(r, "metadata", "name"))
	if mine := name == e.m.app || strings.HasPrefix(name, e.m.app+"-") || strings.HasSuffix(name, "-"+e.m.app); !mine {
		e.found = append(e.found, "Application/"+name)
		return nil
	}
	var helms []*yaml.Node
	if h := lookup(r, "spec", "source", "helm"); h != nil {
		helms = append(helms, h)
	}
	if ss := lookup(r, "spec", "sources"); ss != nil && ss.Kind == yaml.SequenceNode {
		for _, s := range ss.Content {
			if h := mapValue(s, "helm"); h != nil {
				helms = append(helms, h)
			}
		}
	}
	if len(helms) == 0 {
		e.found = append(e.found, "Application/"+name+": no helm source")
		return nil
	}
	srcs, err := e.helmSources(helms[0], "Application/"+name+" helm")
	if err != nil {
		return err
	}
	return e.helmValues("Application", "Application/"+name+" helm", srcs)
}

// helmSources lists a helm: block's value sources in Argo CD's precedence.
func (e *editor) helmSources(h *yaml.Node, what string) ([]*source, error) {
	var srcs []*source
	if p := mapValue(h, "parameters"); p != nil && p.Kind == yaml.SequenceNode {
		srcs = append(srcs, &source{what: what + ".parameters", f: e.f, root: p, params: true})
	}
	if v := mapValue(h, "valuesObject"); v != nil && v.Kind == yaml.MappingNode {
		srcs = append(srcs, &source{what: what + ".valuesObject", f: e.f, root: v})
	}
	if v := mapValue(h, "values"); v != nil && v.Kind == yaml.ScalarNode && strings.TrimSpace(v.Value) != "" {
		emb, err := e.f.embed(v)
		if err != nil {
			return nil, err
		}
		if emb.root != nil {
			s := &source{what: what + ".values", f: emb.inner, root: emb.root, outer: emb}
			e.embeds = append(e.embeds, emb)
			srcs = append(srcs, s)
		}
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("%s:%d: %s has no parameters, valuesObject or values to write the image into", e.f.name, h.Line, what)
	}
	return srcs, nil
}

// argoSource: Argo CD's .argocd-source-<app>.yaml override file.
func (e *editor) argoSource(r *yaml.Node) error {
	if h := mapValue(r, "helm"); h != nil {
		srcs, err := e.helmSources(h, "helm")
		if err != nil {
			return err
		}
		return e.helmValues("argocd-source", "helm", srcs)
	}
	images := lookup(r, "kustomize", "images")
	if images == nil || images.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s: want helm: or kustomize: images: (Argo CD's parameter override format)", e.f.name)
	}
	for _, it := range images.Content {
		if it.Kind != yaml.ScalarNode {
			continue
		}
		name, ref, hasName := strings.Cut(str(it), "=")
		if !hasName {
			ref, name = name, repoOf(name)
		}
		e.found = append(e.found, "kustomize.images["+str(it)+"]")
		rank := e.m.entry(name, repoOf(ref))
		if rank == rankNone {
			continue
		}
		e.res.Candidates = append(e.res.Candidates, Candidate{Line: it.Line, Kind: "argocd-source", Name: name, Ref: ref})
		if !e.take(name, "kustomize.images["+str(it)+"]", rank) {
			continue
		}
		if !e.first("argocd-source", name, ref) || e.readOnly {
			continue
		}
		want := e.s.Ref()
		if hasName && name != e.s.Repo {
			want = name + "=" + want
		}
		if repoOf(ref) == e.s.Repo && digestOf(ref) == e.s.Digest && (e.s.Tag == "" || tagOf(ref) == e.s.Tag) {
			continue
		}
		if err := e.f.setScalar(it, want, isFlow(images)); err != nil {
			return err
		}
	}
	if !e.matched && !e.readOnly {
		// No override for the app yet: add one.
		e.first("argocd-source", e.s.Repo, "")
		return e.f.appendScalar(images, quoteLike(0, e.s.Ref(), isFlow(images)))
	}
	return nil
}

// newArgoSource writes a new .argocd-source-<app>.yaml in Argo CD's own
// format: Helm parameters for a chart, else a kustomize image override.
func newArgoSource(file string, s Set) ([]byte, Result, error) {
	var b strings.Builder
	if s.Helm {
		vp := DefaultValues
		if s.Values != nil {
			vp = *s.Values
		}
		b.WriteString("helm:\n  parameters:\n")
		param := func(name, value string) {
			fmt.Fprintf(&b, "  - name: %s\n    value: %s\n    forceString: true\n", quoteLike(0, name, false), quoteLike(0, value, false))
		}
		switch {
		case vp.Image != "":
			param(vp.Image, s.Ref())
		case vp.Digest != "":
			if vp.Repository != "" {
				param(vp.Repository, s.Repo)
			}
			param(vp.Digest, s.Digest)
		case vp.Tag != "" && s.Tag != "":
			if vp.Repository != "" {
				param(vp.Repository, s.Repo)
			}
			param(vp.Tag, s.Tag+"@"+s.Digest)
		default:
			return nil, Result{}, fmt.Errorf("%s: no value path to write the digest to: --helm-value digest=PATH", file)
		}
	} else {
		fmt.Fprintf(&b, "kustomize:\n  images:\n  - %s\n", s.Ref())
	}
	out := []byte(b.String())
	f, _ := parseFile(file, out)
	res := Result{File: file, Kind: "argocd-source", Target: path.Base(file), After: s.Ref(), Changed: true}
	res.Lines = []LineChange{{Line: 1, New: splitLines(string(f.body))}}
	return out, res, nil
}

func (e *editor) helmError() error {
	vp, explicit := e.paths()
	if explicit {
		return fmt.Errorf("%s: %w for app %q at the configured Helm value paths (%s)", e.f.name, ErrHelmPaths, e.s.App, strings.Join(e.found, "; "))
	}
	paths := strings.Join(nonEmpty(vp.Repository, vp.Tag, vp.Digest), ", ")
	// What else was looked at (a HelmRelease of another app), not the
	// values that merely lack the paths: the message says that once.
	var other []string
	for _, f := range e.found {
		if !strings.HasSuffix(f, ": no "+paths) {
			other = append(other, f)
		}
	}
	where := "the values hold"
	if len(e.s.ChartValues) > 0 {
		where = "neither the values nor the chart's values.yaml hold"
	}
	also := ""
	if len(other) > 0 {
		also = " (also looked at: " + strings.Join(other, "; ") + ")"
	}
	return fmt.Errorf("%s: %w: %s no %s%s; set where the chart takes the image: --helm-value repository=PATH --helm-value digest=PATH (or --helm-value tag=PATH for a chart that only takes a tag)",
		e.f.name, ErrHelmPaths, where, paths, also)
}

// removeMarkerAt deletes the Flux marker comment on a value's line.
func (f *yfile) removeMarkerAt(v *yaml.Node) {
	start := f.valueStart(v)
	le := f.lineEnd(start)
	if loc := markerRE.FindIndex(f.body[start:le]); loc != nil {
		f.add(splice{start + loc[0], start + loc[1], ""})
	}
}

// appendScalar adds a scalar item to a sequence in its style.
func (f *yfile) appendScalar(seq *yaml.Node, value string) error {
	if err := f.shared(seq); err != nil {
		return err
	}
	if isFlow(seq) {
		if len(seq.Content) == 0 {
			start := f.valueStart(seq)
			f.add(splice{start + 1, start + 1, value})
			return nil
		}
		end, err := f.nodeEnd(seq.Content[len(seq.Content)-1])
		if err != nil {
			return err
		}
		f.add(splice{end, end, ", " + value})
		return nil
	}
	if len(seq.Content) == 0 {
		return f.errAt(seq, "empty list")
	}
	end, err := f.nodeEnd(seq.Content[len(seq.Content)-1])
	if err != nil {
		return err
	}
	dash := f.column(f.offset(seq.Line, seq.Column))
	f.insertLines(f.nextLine(end), strings.Repeat(" ", dash)+"- "+value+f.eol)
	return nil
}

// embedded is a YAML document inside a literal block scalar (Argo CD's
// helm.values string): parsed on its own, its splices mapped back into the
// manifest line by line with the block's indentation.
type embedded struct {
	inner  *yfile
	root   *yaml.Node
	outer  *yfile
	starts []int // outer offset of each inner line's first content byte
	lineAt []int // outer offset of each inner line's start
	indent int
	end    int // outer offset of the line after the block's last content line
}

func (f *yfile) embed(v *yaml.Node) (*embedded, error) {
	if v.Style&yaml.LiteralStyle == 0 {
		return nil, f.errAt(v, "helm.values is not a literal block (|): write it as values: | or valuesObject:")
	}
	start := f.valueStart(v)
	header := f.lineEnd(start)
	blockEnd := f.blockScalarEnd(v)
	em := &embedded{outer: f, indent: -1}
	var body bytes.Buffer
	for off := f.nextLine(header); off < len(f.body) && off <= blockEnd; off = f.nextLine(off) {
		le := f.lineEnd(off)
		line := f.body[off:le]
		if em.indent < 0 && len(bytes.TrimSpace(line)) > 0 {
			em.indent = len(line) - len(bytes.TrimLeft(line, " "))
		}
		ind := min(max(em.indent, 0), len(line))
		if len(bytes.TrimSpace(line[:ind])) > 0 {
			ind = 0
		}
		em.lineAt = append(em.lineAt, off)
		em.starts = append(em.starts, off+ind)
		body.Write(line[ind:])
		body.WriteString(f.eol)
		em.end = f.nextLine(off)
	}
	if em.indent < 0 {
		return em, nil
	}
	inner, err := parseFile(f.name+" (helm.values)", body.Bytes())
	if err != nil {
		return nil, err
	}
	if strings.TrimRight(string(bytes.ReplaceAll(inner.body, []byte("\r\n"), []byte("\n"))), "\n") != strings.TrimRight(v.Value, "\n") {
		return nil, f.errAt(v, "cannot locate helm.values' lines")
	}
	em.inner = inner
	if roots := inner.roots(); len(roots) == 1 {
		em.root = roots[0]
	}
	return em, nil
}

// flush maps the inner splices into the manifest.
func (em *embedded) flush() error {
	if err := em.inner.checkAnchors(); err != nil {
		return err
	}
	pad := strings.Repeat(" ", em.indent)
	for _, s := range em.inner.edits {
		k := em.inner.lineOf(s.start) - 1
		atLineStart := s.start == em.inner.lines[min(k, len(em.inner.lines)-1)] || s.start == len(em.inner.body)
		if s.start == s.end && atLineStart && strings.HasSuffix(s.text, em.outer.eol) {
			pos := em.end
			if s.start < len(em.inner.body) {
				pos = em.lineAt[k]
			}
			lines := strings.SplitAfter(strings.TrimSuffix(s.text, em.outer.eol), em.outer.eol)
			em.outer.add(splice{pos, pos, pad + strings.Join(lines, pad) + em.outer.eol})
			continue
		}
		off := func(o int) int {
			k := em.inner.lineOf(o) - 1
			return em.starts[k] + (o - em.inner.lines[k])
		}
		em.outer.add(splice{off(s.start), off(s.end), strings.ReplaceAll(s.text, em.outer.eol, em.outer.eol+pad)})
	}
	em.inner.edits = nil
	return nil
}

var valuePathRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// ParseValues reads --helm-value flags, ROLE=PATH with ROLE one of
// repository, tag, digest, image (the whole reference) and PATH a dotted
// value path (image.repository). No flags: nil (the defaults).
func ParseValues(flags []string) (*Values, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	var v Values
	for _, fl := range flags {
		role, p, ok := strings.Cut(fl, "=")
		if !ok || !valuePathRE.MatchString(p) {
			return nil, fmt.Errorf("--helm-value %q: want ROLE=PATH, e.g. digest=image.digest", fl)
		}
		var dst *string
		switch role {
		case "repository":
			dst = &v.Repository
		case "tag":
			dst = &v.Tag
		case "digest":
			dst = &v.Digest
		case "image":
			dst = &v.Image
		default:
			return nil, fmt.Errorf("--helm-value %q: role %q: want repository, tag, digest or image", fl, role)
		}
		if *dst != "" && *dst != p {
			return nil, fmt.Errorf("--helm-value %s: given twice", role)
		}
		*dst = p
	}
	return &v, v.Validate()
}

// Validate checks value paths: dotted names, and something that takes the
// digest (a digest, a whole-reference image, or a tag to carry it).
func (v Values) Validate() error {
	for _, p := range []string{v.Repository, v.Tag, v.Digest, v.Image} {
		if p != "" && !valuePathRE.MatchString(p) {
			return fmt.Errorf("helm value path %q: want dotted names, e.g. image.digest", p)
		}
	}
	if v.Digest == "" && v.Image == "" && v.Tag == "" {
		return fmt.Errorf("helm value paths: name where the digest goes (digest=PATH, or image=PATH for a whole reference, or tag=PATH for a chart that only takes a tag)")
	}
	return nil
}
