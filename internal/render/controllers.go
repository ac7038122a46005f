package render

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// The controller objects, besides Argo CD Applications, that tell a GitOps
// controller how to render a path of the repository: an Argo CD
// ApplicationSet (its list generators expanded into Applications; any other
// generator is not expanded and its Applications are not proven), a Flux
// Kustomization (spec.images, spec.patches and spec.components laid over the
// kustomization at spec.path) and a Flux HelmRelease (spec.values over a
// chart of the repository; valuesFrom is not proven).

// controllerKinds are the kinds ApplicationsIn reads.
var controllerKinds = []string{"Application", "ApplicationSet", "Kustomization", "HelmRelease"}

// controllerObject turns one document into the Applications it stands for.
func controllerObject(file string, o *yaml.RNode) []Application {
	api, kind := o.GetApiVersion(), o.GetKind()
	switch {
	case kind == "Application" && strings.HasPrefix(api, "argoproj.io/"):
		if a, ok := applicationOf(file, o); ok {
			return []Application{a}
		}
	case kind == "ApplicationSet" && strings.HasPrefix(api, "argoproj.io/"):
		return applicationSetOf(file, o)
	case kind == "Kustomization" && strings.HasPrefix(api, "kustomize.toolkit.fluxcd.io/"):
		if a, ok := fluxKustomizationOf(file, o); ok {
			return []Application{a}
		}
	case kind == "HelmRelease" && strings.HasPrefix(api, "helm.toolkit.fluxcd.io/"):
		if a, ok := helmReleaseOf(file, o); ok {
			return []Application{a}
		}
	}
	return nil
}

// placeholder is an ApplicationSet template parameter: {{env}}, {{ .env }},
// {{path.basename}}.
var placeholder = regexp.MustCompile(`\{\{-?\s*\.?([A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*-?\}\}`)

// applicationSetOf expands an ApplicationSet's list generators into the
// Applications Argo CD generates; the other generators' Applications are
// one Application whose template paths match any value, not proven.
func applicationSetOf(file string, o *yaml.RNode) []Application {
	m, err := o.Map()
	if err != nil {
		return nil
	}
	spec := dig(m, "spec")
	tmpl := dig(spec, "template")
	id := "ApplicationSet " + o.GetName()
	var out []Application
	var others []string
	for _, g := range asList(spec["generators"]) {
		gm, _ := g.(map[string]any)
		var keys []string
		for k := range gm {
			if k != "selector" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		list, isList := gm["list"].(map[string]any)
		if !isList || len(keys) != 1 || list["elementsYaml"] != nil {
			others = append(others, strings.Join(keys, "+"))
			continue
		}
		for _, e := range asList(list["elements"]) {
			params := map[string]string{}
			flatParams("", e, params)
			t := substitute(deepCopy(tmpl), params, false).(map[string]any)
			if md := dig(t, "metadata"); true {
				a := appFromSpec(file, str(md["name"]), dig(t, "spec"))
				a.Kind = "Application"
				a.Owner = id
				out = append(out, a)
			}
		}
	}
	if len(others) > 0 {
		t := substitute(deepCopy(tmpl), nil, true).(map[string]any)
		a := appFromSpec(file, o.GetName(), dig(t, "spec"))
		a.Kind = "ApplicationSet"
		a.Pattern = true
		a.Unproven = fmt.Sprintf("ApplicationSet %s (%s) generates its Applications with a %s generator, which Slipway does not expand: not proven", o.GetName(), file, strings.Join(others, ", "))
		out = append(out, a)
	}
	return out
}

// flatParams are an element's parameters: nested maps as dotted keys.
func flatParams(prefix string, v any, out map[string]string) {
	if m, ok := v.(map[string]any); ok {
		for k, vv := range m {
			flatParams(strings.TrimPrefix(prefix+"."+k, "."), vv, out)
		}
		return
	}
	if prefix != "" {
		out[prefix] = str(v)
	}
}

// substitute replaces the template's parameters in every string. pattern:
// each parameter becomes a marker matching any path segment (tracksPath).
func substitute(v any, params map[string]string, pattern bool) any {
	switch t := v.(type) {
	case map[string]any:
		for k, vv := range t {
			t[k] = substitute(vv, params, pattern)
		}
		return t
	case []any:
		for i, vv := range t {
			t[i] = substitute(vv, params, pattern)
		}
		return t
	case string:
		return placeholder.ReplaceAllStringFunc(t, func(s string) string {
			if pattern {
				return patternMark
			}
			k := placeholder.FindStringSubmatch(s)[1]
			if p, ok := params[k]; ok {
				return p
			}
			return s
		})
	}
	return v
}

// patternMark stands for a parameter in a not-expanded template path.
const patternMark = "\x00"

// appFromSpec is the Application an Application spec describes.
func appFromSpec(file, name string, spec map[string]any) Application {
	a := Application{File: file, Name: name, Namespace: str(dig(spec, "destination")["namespace"])}
	if src, ok := spec["source"].(map[string]any); ok {
		a.Sources = []map[string]any{src}
	} else if srcs, ok := spec["sources"].([]any); ok {
		a.Multi = true
		for _, s := range srcs {
			if sm, ok := s.(map[string]any); ok {
				a.Sources = append(a.Sources, sm)
			}
		}
	}
	return a
}

// fluxKustomizationOf is a Flux Kustomization as the Application it
// amounts to: its path built with its images, patches and components.
func fluxKustomizationOf(file string, o *yaml.RNode) (Application, bool) {
	m, err := o.Map()
	if err != nil {
		return Application{}, false
	}
	spec := dig(m, "spec")
	if k := str(dig(spec, "sourceRef")["kind"]); k != "" && k != "GitRepository" {
		return Application{}, false // an OCI artifact or bucket: not this repository
	}
	p := str(spec["path"])
	if p == "" {
		p = "."
	}
	ks := map[string]any{}
	var images []any
	for _, i := range asList(spec["images"]) {
		im, _ := i.(map[string]any)
		if s := fluxImage(im); s != "" {
			images = append(images, s)
		}
	}
	if len(images) > 0 {
		ks["images"] = images
	}
	if ps := asList(spec["patches"]); len(ps) > 0 {
		ks["patches"] = ps
	}
	if cs := asList(spec["components"]); len(cs) > 0 {
		ks["components"] = cs
	}
	src := map[string]any{"path": p, "kustomize": ks}
	a := Application{File: file, Name: o.GetName(), Kind: "Kustomization", Namespace: str(spec["targetNamespace"]), Sources: []map[string]any{src}}
	if _, ok := spec["postBuild"]; ok {
		a.Unproven = fmt.Sprintf("Flux Kustomization %s (%s) substitutes variables after the build (spec.postBuild), which Slipway does not: not proven", o.GetName(), file)
	}
	return a, true
}

// fluxImage writes a Flux image override as `kustomize edit set image`
// does: NAME=NEWNAME:TAG@DIGEST, or NAME:TAG@DIGEST.
func fluxImage(im map[string]any) string {
	name := str(im["name"])
	if name == "" {
		return ""
	}
	ref := name
	s := ""
	if n := str(im["newName"]); n != "" {
		s, ref = name+"=", n
	}
	if t := str(im["newTag"]); t != "" {
		ref += ":" + t
	}
	if d := str(im["digest"]); d != "" {
		ref += "@" + d
	}
	return s + ref
}

// helmReleaseOf is a Flux HelmRelease whose chart is a path of a Git
// source as the Application it amounts to: its values over the chart.
func helmReleaseOf(file string, o *yaml.RNode) (Application, bool) {
	m, err := o.Map()
	if err != nil {
		return Application{}, false
	}
	spec := dig(m, "spec")
	cs := dig(dig(spec, "chart"), "spec")
	helm := map[string]any{}
	if v, ok := spec["values"].(map[string]any); ok {
		helm["valuesObject"] = v
	}
	rel := str(spec["releaseName"])
	if rel == "" {
		rel = o.GetName()
		if ns := str(spec["targetNamespace"]); ns != "" {
			rel = ns + "-" + rel
		}
	}
	helm["releaseName"] = rel
	src := map[string]any{"helm": helm}
	a := Application{File: file, Name: o.GetName(), Kind: "HelmRelease", Namespace: firstNonEmpty(str(spec["targetNamespace"]), o.GetNamespace())}
	switch ref := dig(cs, "sourceRef"); {
	case str(cs["chart"]) == "":
		return Application{}, false // spec.chartRef: an OCI artifact or HelmChart
	case str(ref["kind"]) == "GitRepository":
		src["path"] = path.Clean(strings.TrimPrefix(str(cs["chart"]), "./"))
	default:
		src["chart"] = str(cs["chart"])
		src["repoURL"] = str(ref["kind"]) + " " + str(ref["name"])
	}
	if dir := str(src["path"]); dir != "" {
		// valuesFiles are paths of the source, not of the chart.
		var files []any
		for _, f := range asList(cs["valuesFiles"]) {
			if r, err := filepath.Rel(dir, path.Clean(strings.TrimPrefix(str(f), "./"))); err == nil {
				files = append(files, filepath.ToSlash(r))
			}
		}
		if len(files) > 0 {
			helm["valueFiles"] = files
		}
	}
	if _, ok := spec["valuesFrom"]; ok {
		a.Unproven = fmt.Sprintf("Flux HelmRelease %s (%s) reads values from ConfigMaps or Secrets (spec.valuesFrom), which Slipway cannot: not proven", o.GetName(), file)
	}
	a.Sources = []map[string]any{src}
	return a, true
}

// tracksPath: an Application source path (a pattern for a not-expanded
// ApplicationSet) names dir.
func tracksPath(a Application, p, dir string) bool {
	p = path.Clean(strings.TrimPrefix(p, "./"))
	if !a.Pattern || !strings.Contains(p, patternMark) {
		return p == dir
	}
	parts := strings.Split(regexp.QuoteMeta(p), patternMark)
	re, err := regexp.Compile("^" + strings.Join(parts, "[^/]+") + "$")
	return err == nil && re.MatchString(dir)
}
