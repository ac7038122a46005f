package render

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigyaml "sigs.k8s.io/yaml"
)

// Application is an Argo CD Application found in the repository: the file
// holding it and what Argo CD renders from it.
type Application struct {
	File      string // the repository file holding it
	Name      string // metadata.name
	Namespace string // spec.destination.namespace
	// Sources are spec.source, or the entries of spec.sources.
	Sources []map[string]any
	// Multi: the Application lists spec.sources.
	Multi bool
	// Kind is the object holding it: "" or Application (an Argo CD
	// Application, or one an ApplicationSet's list generator makes),
	// ApplicationSet (one not expanded), Kustomization or HelmRelease (Flux).
	Kind string
	// Owner names the ApplicationSet that generates it.
	Owner string
	// Pattern: the source paths hold not-expanded template parameters.
	Pattern bool
	// Unproven says why what it renders cannot be rendered here.
	Unproven string
}

// ID names the Application for people: Application web-staging (argocd/web-staging.yaml).
func (a Application) ID() string {
	kind := a.Kind
	switch kind {
	case "", "Application":
		kind = "Application"
	case "Kustomization", "HelmRelease":
		kind = "Flux " + kind
	}
	if a.Owner != "" {
		return kind + " " + a.Name + " (" + a.Owner + ", " + a.File + ")"
	}
	return kind + " " + a.Name + " (" + a.File + ")"
}

// flux: a Flux object, whose source is a GitRepository Slipway does not
// resolve and which reads no Argo CD override file.
func (a Application) flux() bool { return a.Kind == "Kustomization" || a.Kind == "HelmRelease" }

// maxAppFile bounds the files searched for Applications: an Application
// manifest is small, and a multi-megabyte file elsewhere in the repository
// is not read for it.
const maxAppFile = 1 << 20

// FindApplications lists the Argo CD Applications of the repository: every
// YAML file (at most 1 MiB) holding an argoproj.io Application. Charts'
// templates are skipped (they are not manifests until rendered).
func FindApplications(ctx context.Context, fsys fs.FS) ([]Application, error) {
	var out []Application
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable directory holds nothing we can use
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (strings.HasPrefix(d.Name(), ".git") || (d.Name() == "templates" && exists(fsys, path.Join(path.Dir(p), "Chart.yaml")))) {
				return fs.SkipDir
			}
			return nil
		}
		if n := d.Name(); !strings.HasSuffix(n, ".yaml") && !strings.HasSuffix(n, ".yml") {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > maxAppFile {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil
		}
		out = append(out, ApplicationsIn(p, data)...)
		return nil
	})
	return out, err
}

// ApplicationsIn lists the Applications in one file's documents: Argo CD
// Applications, the Applications of an ApplicationSet's list generators (or
// one not proven for its other generators), Flux Kustomizations and
// HelmReleases (see controllerObject).
func ApplicationsIn(file string, data []byte) []Application {
	if !bytes.Contains(data, []byte("argoproj.io")) && !bytes.Contains(data, []byte("toolkit.fluxcd.io")) {
		return nil
	}
	any := false
	for _, k := range controllerKinds {
		any = any || bytes.Contains(data, []byte(k))
	}
	if !any {
		return nil
	}
	objs, err := parse(file, data)
	if err != nil {
		return nil
	}
	var out []Application
	for _, o := range objs {
		out = append(out, controllerObject(file, o)...)
	}
	return out
}

func applicationOf(file string, o *yaml.RNode) (Application, bool) {
	m, err := o.Map()
	if err != nil {
		return Application{}, false
	}
	spec, _ := m["spec"].(map[string]any)
	return appFromSpec(file, o.GetName(), spec), true
}

// SameRepo reports whether two repository URLs name the same repository
// (https://github.com/acme/gitops.git, git@github.com:acme/gitops and
// ssh://git@github.com/acme/gitops are one).
func SameRepo(a, b string) bool { return normRepo(a) == normRepo(b) }

func normRepo(u string) string {
	u = strings.TrimSpace(strings.ToLower(u))
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	} else if at := strings.Index(u, "@"); at >= 0 && strings.Contains(u[at:], ":") {
		// scp-like: git@host:org/repo
		u = u[at+1:]
		u = strings.Replace(u, ":", "/", 1)
	}
	if at := strings.Index(u, "@"); at >= 0 && at < strings.Index(u+"/", "/") {
		u = u[at+1:]
	}
	host, rest, _ := strings.Cut(u, "/")
	if h, port, ok := strings.Cut(host, ":"); ok && port != "" {
		host = h
	}
	u = host + "/" + rest
	u = strings.TrimRight(u, "/")
	return strings.TrimSuffix(u, ".git")
}

// tracks reports whether an Application source renders dir of this
// repository at the branch deployed to.
func (o Options) tracks(a Application, src map[string]any, dir string) bool {
	if str(src["chart"]) != "" || str(src["path"]) == "" {
		return false
	}
	if !tracksPath(a, str(src["path"]), dir) {
		return false
	}
	if a.flux() {
		return true // its GitRepository source is taken to be this repository
	}
	if o.RepoURL != "" && !SameRepo(str(src["repoURL"]), o.RepoURL) {
		return false
	}
	rev := str(src["targetRevision"])
	return rev == "" || rev == "HEAD" || o.Branch == "" || rev == o.Branch || rev == "refs/heads/"+o.Branch
}

// view is one way the environment is rendered: an Application's source
// (with its overrides) tracking the rendered path.
type view struct {
	app Application
	src map[string]any
}

// views are the Applications that render dir, filtered by what root is:
// a values file counts only for the Applications that use it, an override
// file only for the Application it names. Without Applications, a chart's
// .argocd-source-<name>.yaml files stand for the Applications named so.
func (o Options) views(fsys fs.FS, how, dir, root string) []view {
	var out []view
	for _, a := range o.Applications {
		for _, s := range a.Sources {
			if o.tracks(a, s, dir) {
				out = append(out, view{app: a, src: s})
			}
		}
	}
	if how != "helm" {
		return out
	}
	if len(out) == 0 {
		// No Application in the repository: Argo CD's override files next
		// to the chart are what it applies, one Application each.
		out = overrideViews(fsys, dir, root, o.Env)
	}
	base := path.Base(root)
	var keep []view
	for _, v := range out {
		switch {
		case isArgoSource(root) && base != ".argocd-source.yaml":
			if base != ".argocd-source-"+v.app.Name+".yaml" && base != ".argocd-source-"+v.app.Name+".yml" {
				continue
			}
		case isValuesFile(root) && base != "values.yaml":
			if !usesValues(fsys, v, dir, root) {
				continue
			}
		}
		keep = append(keep, v)
	}
	return keep
}

// overrideViews stand for the Applications Argo CD's override files in a
// chart's directory name (none: only .argocd-source.yaml, if present).
func overrideViews(fsys fs.FS, dir, root, env string) []view {
	src := map[string]any{"path": dir}
	if isValuesFile(root) && path.Base(root) != "values.yaml" {
		src["helm"] = map[string]any{"valueFiles": []any{path.Base(root)}}
	}
	var out []view
	es, _ := fs.ReadDir(fsys, dir)
	for _, e := range es {
		n := e.Name()
		if e.IsDir() || !strings.HasPrefix(n, ".argocd-source-") || !isArgoSource(n) {
			continue
		}
		name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(n, ".argocd-source-"), ".yaml"), ".yml")
		out = append(out, view{app: Application{File: path.Join(dir, n), Name: name}, src: src})
	}
	// The environment's own override files, when their names say which.
	var mine []view
	// Argo CD Applications are usually named APP-ENV: a name ending in the
	// environment first, else one holding it as a word.
	words := strings.NewReplacer("_", "-", ".", "-")
	e := "-" + words.Replace(env)
	for _, pick := range []func(string) bool{
		func(n string) bool { return strings.HasSuffix(n, e) },
		func(n string) bool { return strings.Contains(n+"-", e+"-") },
	} {
		for _, v := range out {
			if env != "" && pick("-"+words.Replace(v.app.Name)) {
				mine = append(mine, v)
			}
		}
		if len(mine) > 0 {
			break
		}
	}
	if len(mine) > 0 {
		out = mine
	}
	if len(out) == 0 && exists(fsys, path.Join(dir, ".argocd-source.yaml")) {
		out = append(out, view{app: Application{File: path.Join(dir, ".argocd-source.yaml")}, src: src})
	}
	return out
}

// usesValues: the view's Helm valueFiles (after Argo CD's overrides) name root.
func usesValues(fsys fs.FS, v view, dir, root string) bool {
	src, _, err := mergeOverrides(fsys, v.src, dir, v.app)
	if err != nil {
		return true // the render reports the error
	}
	for _, f := range asList(dig(src, "helm")["valueFiles"]) {
		if p, ok := valuesPath(str(f), dir, v.app); ok && p == root {
			return true
		}
	}
	return false
}

// valuesPath resolves a Helm valueFiles entry to a repository path: relative
// to the chart, or $ref/path through the Application's ref source when that
// source is this repository.
func valuesPath(f, dir string, app Application) (string, bool) {
	if strings.Contains(f, "://") {
		return "", false
	}
	if strings.HasPrefix(f, "$") {
		ref, rest, _ := strings.Cut(f[1:], "/")
		for _, s := range app.Sources {
			if str(s["ref"]) == ref {
				return path.Clean(rest), true
			}
		}
		return "", false
	}
	return path.Clean(path.Join(dir, f)), true
}

// Override is a setting of an Argo CD Application or override file that a
// render applied: the refusal of an edit it shadows names it.
type Override struct {
	File  string `json:"file"`  // argocd/web-staging.yaml
	Field string `json:"field"` // spec.source.kustomize.images
	Value string `json:"value"` // ghcr.io/acme/web:1.0
}

// String names the override for people.
func (o Override) String() string {
	return o.Field + " " + o.Value + " in " + o.File
}

// origins name, for each override field (kustomize.images,
// helm.parameters), the file and field that set it last.
type origins map[string]Override

// set is the override of field with value.
func (o origins) set(field, value string) Override {
	ov, ok := o[field]
	if !ok {
		ov = Override{Field: field}
	}
	ov.Value = value
	return ov
}

// mergeOverrides lays Argo CD's override files in dir (.argocd-source.yaml,
// then .argocd-source-<app>.yaml) over an Application source with a JSON
// merge patch, as Argo CD does (lists are replaced whole; path, repoURL,
// chart and targetRevision are kept). from names, for each top-level
// override field, the file that set it last.
func mergeOverrides(fsys fs.FS, src map[string]any, dir string, app Application) (map[string]any, origins, error) {
	merged := deepCopy(src)
	from := origins{}
	field := "spec.source."
	if app.Multi {
		field = "spec.sources[]."
	}
	if app.Owner != "" {
		field = "spec.template." + field // an ApplicationSet's template
	}
	if isArgoSource(app.File) {
		field = "" // an override file standing for its Application
	}
	for _, k := range []string{"kustomize", "helm"} {
		if m, ok := src[k].(map[string]any); ok {
			for f := range m {
				from[k+"."+f] = Override{File: app.File, Field: field + k + "." + f}
				if app.flux() {
					ff := "spec." + f // spec.images, spec.patches
					if f == "valuesObject" {
						ff = "spec.values"
					}
					from[k+"."+f] = Override{File: app.File, Field: ff}
				}
			}
		}
	}
	if app.flux() {
		return deepCopy(src), from, nil // Flux reads no Argo CD override file
	}
	names := []string{".argocd-source.yaml"}
	if app.Name != "" {
		names = append(names, ".argocd-source-"+app.Name+".yaml")
	}
	for _, n := range names {
		f := path.Join(dir, n)
		if !exists(fsys, f) {
			continue
		}
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f, err)
		}
		var patch map[string]any
		if err := sigyaml.Unmarshal(stripDirectives(data), &patch); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f, err)
		}
		merged = mergePatch(merged, patch)
		for _, k := range []string{"kustomize", "helm"} {
			if m, ok := patch[k].(map[string]any); ok {
				for fk := range m {
					from[k+"."+fk] = Override{File: f, Field: k + "." + fk}
				}
			}
		}
	}
	for _, k := range []string{"path", "repoURL", "chart", "targetRevision"} {
		if v, ok := src[k]; ok {
			merged[k] = v
		} else {
			delete(merged, k)
		}
	}
	return merged, from, nil
}

// mergePatch is RFC 7396: maps merge key by key, null deletes, anything
// else (lists included) replaces.
func mergePatch(dst, patch map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			dm, _ := dst[k].(map[string]any)
			dst[k] = mergePatch(deepCopy(dm), pv)
		default:
			dst[k] = v
		}
	}
	return dst
}

func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	data, err := json.Marshal(m)
	if err != nil {
		return m
	}
	var out map[string]any
	if json.Unmarshal(data, &out) != nil {
		return m
	}
	return out
}

// renderView renders one Application source the way Argo CD does: its
// override files merged in, then a kustomization with the source's
// kustomize settings applied as `kustomize edit` would, or a chart with
// valueFiles, values (or valuesObject, which replaces it) and parameters.
// why is set (and no objects) when it cannot be rendered here.
func renderView(ctx context.Context, fsys *readFS, v view, opts Options, res *Result) ([]*yaml.RNode, string, error) {
	app, src := v.app, v.src
	if app.Unproven != "" {
		return nil, app.Unproven, nil
	}
	if c := str(src["chart"]); c != "" {
		return nil, fmt.Sprintf("its chart %s comes from the Helm repository %s", c, str(src["repoURL"])), nil
	}
	if str(src["path"]) == "" {
		return nil, "", nil // a ref source: values for another source
	}
	if !app.flux() && opts.RepoURL != "" && !SameRepo(str(src["repoURL"]), opts.RepoURL) {
		return nil, fmt.Sprintf("its source %s is another repository", str(src["repoURL"])), nil
	}
	dir := path.Clean(strings.TrimPrefix(str(src["path"]), "./"))
	merged, from, err := mergeOverrides(fsys, src, dir, app)
	if err != nil {
		return nil, "", err
	}
	if kustomizationIn(fsys, dir) != "" {
		ks := dig(merged, "kustomize")
		edits := kustomizeEdits{from: map[string]string{}}
		for k, o := range from {
			edits.from[k] = o.File
		}
		for _, img := range asList(ks["images"]) {
			edits.images = append(edits.images, str(img))
			res.Overrides = append(res.Overrides, from.set("kustomize.images", str(img)))
		}
		edits.namePrefix, edits.nameSuffix, edits.namespace = str(ks["namePrefix"]), str(ks["nameSuffix"]), str(ks["namespace"])
		for _, c := range asList(ks["components"]) {
			edits.components = append(edits.components, str(c))
		}
		edits.patches = asList(ks["patches"])
		objs, err := kustomize(ctx, fsys, dir, &edits)
		return objs, "", err
	}
	if !exists(fsys, path.Join(dir, "Chart.yaml")) {
		return nil, fmt.Sprintf("its path %s holds neither a chart nor a kustomization in this repository", dir), nil
	}
	helm := dig(merged, "helm")
	var files []string
	for _, f := range asList(helm["valueFiles"]) {
		p, ok := valuesPath(str(f), dir, app)
		if !ok {
			return nil, fmt.Sprintf("its values file %s is not in this repository", str(f)), nil
		}
		if !exists(fsys, p) {
			if b, _ := helm["ignoreMissingValueFiles"].(bool); b {
				continue
			}
			return nil, "", fmt.Errorf("%s: values file %s: %w", app.ID(), p, fs.ErrNotExist)
		}
		files = append(files, p)
	}
	values := map[string]any{}
	// valuesObject replaces values (Argo CD's ValuesYAML).
	if vo, ok := helm["valuesObject"].(map[string]any); ok {
		values = merge(values, vo)
		res.Overrides = append(res.Overrides, from.set("helm.valuesObject", flat(vo)))
	} else if s := str(helm["values"]); s != "" {
		if err := sigyaml.Unmarshal([]byte(s), &values); err != nil {
			return nil, "", fmt.Errorf("helm.values of %s: %w", app.ID(), err)
		}
		res.Overrides = append(res.Overrides, from.set("helm.values", flat(values)))
	} else if vm, ok := helm["values"].(map[string]any); ok {
		values = merge(values, vm)
		res.Overrides = append(res.Overrides, from.set("helm.values", flat(vm)))
	}
	for _, p := range asList(helm["parameters"]) {
		pm, _ := p.(map[string]any)
		force, _ := pm["forceString"].(bool)
		if f, ok := pm["forcestring"].(bool); ok {
			force = f
		}
		setPath(values, str(pm["name"]), typed(str(pm["value"]), force))
		res.Overrides = append(res.Overrides, from.set("helm.parameters", str(pm["name"])+"="+str(pm["value"])))
	}
	rel := firstNonEmpty(str(helm["releaseName"]), app.Name)
	ns := firstNonEmpty(str(helm["namespace"]), app.Namespace)
	objs, why, err := renderChart(ctx, fsys, dir, files, values, rel, ns, opts)
	if why != "" && objs == nil {
		res.Opaque = append(res.Opaque, Opaque{ID: "chart " + dir + " of " + app.ID(), Reason: why, Content: valuesDigest(fsys, files, values)})
		return nil, "", err
	}
	return objs, why, err
}

// typed is Helm's --set reading of a value (--set-string keeps it a string).
func typed(v string, force bool) any {
	if force {
		return v
	}
	switch strings.ToLower(v) {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if v == "0" {
		return int64(0)
	}
	if v != "" && v[0] != '0' {
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			return i
		}
	}
	return v
}

// flat writes values as one sorted line of dotted paths, for attribution.
func flat(m map[string]any) string {
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if mm, ok := v.(map[string]any); ok {
			for k, vv := range mm {
				walk(strings.TrimPrefix(prefix+"."+k, "."), vv)
			}
			return
		}
		out = append(out, prefix+"="+str(v))
	}
	walk("", m)
	sort.Strings(out)
	return strings.Join(out, " ")
}

// renderViews renders the environment as each Application in vs renders
// it: their workloads (Via the Application) are what runs.
func renderViews(ctx context.Context, rf *readFS, root, how string, vs []view, opts Options) (*Result, error) {
	res := &Result{Root: root, How: how}
	for _, v := range vs {
		objs, why, err := renderView(ctx, rf, v, opts, res)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.app.ID(), err)
		}
		if why != "" {
			// Kept with the values it reads, to tell whether an edit changed it.
			res.Opaque = append(res.Opaque, Opaque{ID: v.app.ID(), Reason: why, Content: flat(v.src) + valuesContent(rf, v) + dirContent(rf, v, path.Dir(root))})
			continue
		}
		n := len(res.Containers)
		if err := res.add(ctx, rf, objs, opts); err != nil {
			return nil, err
		}
		for i := n; i < len(res.Containers); i++ {
			res.Containers[i].Via = v.app.ID()
		}
	}
	res.Read = rf.read
	return res, nil
}

// valuesViews are the Application sources whose Helm valueFiles name root
// (relative to their path, or $ref/… through a ref source).
func (o Options) valuesViews(root string) []view {
	var out []view
	for _, a := range o.Applications {
		for _, s := range a.Sources {
			if o.RepoURL != "" && str(s["chart"]) == "" && !SameRepo(str(s["repoURL"]), o.RepoURL) {
				continue
			}
			dir := path.Clean(strings.TrimPrefix(str(s["path"]), "./"))
			for _, f := range asList(dig(s, "helm")["valueFiles"]) {
				if strings.HasPrefix(str(f), "$") && o.RepoURL != "" && !refIsRepo(a, str(f), o.RepoURL) {
					continue
				}
				if p, ok := valuesPath(str(f), dir, a); ok && p == root {
					out = append(out, view{app: a, src: s})
					break
				}
			}
		}
	}
	return out
}

// refIsRepo: the ref source a $ref/… values file names is this repository.
func refIsRepo(a Application, f, repoURL string) bool {
	ref, _, _ := strings.Cut(strings.TrimPrefix(f, "$"), "/")
	for _, s := range a.Sources {
		if str(s["ref"]) == ref {
			return SameRepo(str(s["repoURL"]), repoURL)
		}
	}
	return false
}

// valuesContent is the content of the values files a view reads from this
// repository.
func valuesContent(fsys fs.FS, v view) string {
	var b strings.Builder
	dir := path.Clean(strings.TrimPrefix(str(v.src["path"]), "./"))
	for _, f := range asList(dig(v.src, "helm")["valueFiles"]) {
		if p, ok := valuesPath(str(f), dir, v.app); ok {
			if data, err := fs.ReadFile(fsys, p); err == nil {
				b.Write(data)
			}
		}
	}
	return b.String()
}

// dirContent is the kustomization or chart values a view renders, as they
// stand: an edit to them changes what a view that cannot be rendered here
// renders. A not-expanded ApplicationSet's is the rendered directory's.
func dirContent(fsys fs.FS, v view, rendered string) string {
	dir := path.Clean(strings.TrimPrefix(str(v.src["path"]), "./"))
	if strings.Contains(dir, patternMark) {
		dir = rendered
	}
	f := kustomizationIn(fsys, dir)
	if f == "" {
		f = path.Join(dir, "values.yaml")
	}
	if data, err := fs.ReadFile(fsys, f); err == nil {
		return string(data)
	}
	return ""
}
