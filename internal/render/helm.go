package render

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigyaml "sigs.k8s.io/yaml"
)

// chart renders the chart in dir with valueFiles (repository paths, merged
// in order over the chart's own values.yaml) and then extra on top. It
// returns why it could not render, or the objects.
func chart(ctx context.Context, fsys fs.FS, dir string, valueFiles []string, extra map[string]any, opts Options, res *Result) ([]*yaml.RNode, error) {
	objs, why, err := renderChart(ctx, fsys, dir, valueFiles, extra, opts.Release, "", opts)
	if err != nil {
		return nil, err
	}
	if why != "" {
		res.Opaque = append(res.Opaque, Opaque{ID: "chart " + dir, Reason: why, Content: valuesDigest(fsys, valueFiles, extra)})
	}
	return objs, nil
}

func renderChart(ctx context.Context, fsys fs.FS, dir string, valueFiles []string, extra map[string]any, release, namespace string, opts Options) ([]*yaml.RNode, string, error) {
	if opts.Charts == nil {
		return nil, "no Helm chart renderer in this program (the slipway binary has one; a Go pipeline sets Config.GitOps.Charts)", nil
	}
	meta, err := fs.ReadFile(fsys, path.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path.Join(dir, "Chart.yaml"), err)
	}
	var cm struct {
		Name string `json:"name"`
	}
	if err := sigyaml.Unmarshal(meta, &cm); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path.Join(dir, "Chart.yaml"), err)
	}
	values := map[string]any{}
	for _, f := range valueFiles {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, "", fmt.Errorf("values file %s: %w", f, err)
		}
		var v map[string]any
		if err := sigyaml.Unmarshal(data, &v); err != nil {
			return nil, "", fmt.Errorf("values file %s: %w", f, err)
		}
		values = merge(values, v)
	}
	values = merge(values, extra)
	if release == "" {
		release = firstNonEmpty(opts.Release, cm.Name)
	}
	if namespace == "" {
		namespace = "default"
	}
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return nil, "", err
	}
	out, err := opts.Charts(ctx, sub, values, release, namespace)
	if err != nil {
		return nil, "", fmt.Errorf("helm template %s: %w", dir, err)
	}
	objs, err := parse("helm template "+dir, out)
	return objs, "", err
}

func valuesDigest(fsys fs.FS, files []string, extra map[string]any) string {
	var b strings.Builder
	for _, f := range files {
		data, _ := fs.ReadFile(fsys, f)
		b.Write(data)
	}
	e, _ := sigyaml.Marshal(extra)
	b.Write(e)
	return b.String()
}

// helmRelease renders a Flux HelmRelease whose chart is a path of this
// repository (sourceRef GitRepository), with spec.values.
func helmRelease(ctx context.Context, fsys fs.FS, o *yaml.RNode, opts Options, res *Result) ([]*yaml.RNode, string, error) {
	m, err := o.Map()
	if err != nil {
		return nil, "", err
	}
	spec, _ := m["spec"].(map[string]any)
	if _, ok := spec["chartRef"]; ok {
		return nil, "its chart comes from spec.chartRef, not from this repository", nil
	}
	cs := dig(spec, "chart", "spec")
	chartName, _ := cs["chart"].(string)
	ref, _ := cs["sourceRef"].(map[string]any)
	kind, _ := ref["kind"].(string)
	name, _ := ref["name"].(string)
	dir := path.Clean(strings.TrimPrefix(chartName, "./"))
	if kind != "GitRepository" || !exists(fsys, path.Join(dir, "Chart.yaml")) {
		return nil, fmt.Sprintf("its chart %s comes from %s %s, not from this repository", chartName, kind, name), nil
	}
	if _, ok := spec["valuesFrom"]; ok {
		return nil, "its values come partly from ConfigMaps or Secrets (valuesFrom)", nil
	}
	values, _ := spec["values"].(map[string]any)
	var files []string
	if vf, ok := cs["valuesFiles"].([]any); ok {
		for _, f := range vf {
			if s, ok := f.(string); ok {
				files = append(files, path.Clean(strings.TrimPrefix(s, "./")))
			}
		}
	}
	ns := firstNonEmpty(str(spec["targetNamespace"]), o.GetNamespace())
	rel := str(spec["releaseName"])
	if rel == "" {
		rel = o.GetName()
		if t := str(spec["targetNamespace"]); t != "" {
			rel = t + "-" + o.GetName()
		}
	}
	objs, why, err := renderChart(ctx, fsys, dir, files, values, rel, ns, opts)
	return objs, why, err
}

// application renders an Argo CD Application found in what is rendered
// (root names the file or directory it came from): each of its sources
// that is a path of this repository, as Argo CD renders it (see renderView).
func application(ctx context.Context, fsys fs.FS, o *yaml.RNode, opts Options, res *Result) ([]*yaml.RNode, string, error) {
	a, ok := applicationOf(res.Root, o)
	if !ok || len(a.Sources) == 0 {
		return nil, "it has no source", nil
	}
	rf, ok := fsys.(*readFS)
	if !ok {
		rf = &readFS{FS: fsys}
	}
	var all []*yaml.RNode
	var whys []string
	for _, s := range a.Sources {
		objs, why, err := renderView(ctx, rf, view{app: a, src: s}, opts, res)
		if err != nil {
			return nil, "", err
		}
		if why != "" {
			whys = append(whys, why)
			continue
		}
		all = append(all, objs...)
	}
	if len(all) == 0 && len(whys) > 0 {
		return nil, strings.Join(whys, "; "), nil
	}
	return all, "", nil
}

// argoSourceChart renders the chart next to an Argo CD override file with
// the file's helm section (valueFiles, values, valuesObject, parameters).
func argoSourceChart(ctx context.Context, fsys fs.FS, file string, opts Options, res *Result) ([]*yaml.RNode, error) {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var ov map[string]any
	if err := sigyaml.Unmarshal(data, &ov); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	dir := path.Dir(file)
	helm := dig(ov, "helm")
	var files []string
	if vf, ok := helm["valueFiles"].([]any); ok {
		for _, f := range vf {
			files = append(files, path.Clean(path.Join(dir, str(f))))
		}
	}
	values := map[string]any{}
	if s := str(helm["values"]); s != "" {
		if err := sigyaml.Unmarshal([]byte(s), &values); err != nil {
			return nil, fmt.Errorf("%s helm.values: %w", file, err)
		}
	}
	if vo, ok := helm["valuesObject"].(map[string]any); ok {
		values = merge(values, vo)
	}
	for _, p := range asList(helm["parameters"]) {
		pm, _ := p.(map[string]any)
		setPath(values, str(pm["name"]), str(pm["value"]))
	}
	return chart(ctx, fsys, dir, files, values, opts, res)
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// setPath sets a Helm --set style dotted path (a\.b escapes a dot).
func setPath(values map[string]any, name string, value any) {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(name); i++ {
		switch {
		case name[i] == '\\' && i+1 < len(name):
			i++
			cur.WriteByte(name[i])
		case name[i] == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(name[i])
		}
	}
	parts = append(parts, cur.String())
	m := values
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = value
}

// merge lays src over dst, maps merged key by key (Helm's values order).
func merge(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = merge(dm, sm)
				continue
			}
			dst[k] = merge(map[string]any{}, sm)
			continue
		}
		dst[k] = v
	}
	return dst
}

func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, _ := m[k].(map[string]any)
		if next == nil {
			return nil
		}
		m = next
	}
	return m
}

func str(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case nil:
		return ""
	default:
		return fmt.Sprint(s)
	}
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}
