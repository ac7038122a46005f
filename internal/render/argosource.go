package render

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigyaml "sigs.k8s.io/yaml"
)

// argoImages lists the kustomize images of Argo CD's parameter override
// files in dir (.argocd-source.yaml, then .argocd-source-<app>.yaml), in
// the order Argo CD applies them, each with the file that sets it.
func argoImages(fsys *readFS, dir string) ([][2]string, error) {
	names := []string{".argocd-source.yaml"}
	if es, err := fs.ReadDir(fsys, dir); err == nil {
		var apps []string
		for _, e := range es {
			if n := e.Name(); strings.HasPrefix(n, ".argocd-source-") && strings.HasSuffix(n, ".yaml") && !e.IsDir() {
				apps = append(apps, n)
			}
		}
		sort.Strings(apps)
		names = append(names, apps...)
	}
	var out [][2]string
	for _, n := range names {
		f := path.Join(dir, n)
		if !exists(fsys, f) {
			continue
		}
		data, err := fsys.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		var ov struct {
			Kustomize struct {
				Images []string `json:"images"`
			} `json:"kustomize"`
		}
		if err := sigyaml.Unmarshal(stripDirectives(data), &ov); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, img := range ov.Kustomize.Images {
			out = append(out, [2]string{img, f})
		}
	}
	return out, nil
}

// kustomizeEdits are an Argo CD Application's kustomize settings, applied
// to the kustomization of its path as Argo CD applies them (`kustomize edit
// set image`, `set nameprefix`, `set namesuffix`, `set namespace`, `add
// component`, and its patches appended). Labels, annotations and replicas
// change no image and are not applied.
type kustomizeEdits struct {
	images                            []string
	imageFrom                         []string // per image, the file setting it ("": from[kustomize.images])
	namePrefix, nameSuffix, namespace string
	components                        []string
	patches                           []any
	from                              map[string]string // field -> the file that set it
}

func (e *kustomizeEdits) empty() bool {
	return len(e.images) == 0 && e.namePrefix == "" && e.nameSuffix == "" && e.namespace == "" && len(e.components) == 0 && len(e.patches) == 0
}

func (e *kustomizeEdits) apply(data []byte) ([]byte, error) {
	var err error
	for i, img := range e.images {
		if data, err = setImage(data, img); err != nil {
			f := e.from["kustomize.images"]
			if i < len(e.imageFrom) {
				f = e.imageFrom[i]
			}
			return nil, fmt.Errorf("%s: kustomize.images %s: %w", f, img, err)
		}
	}
	if e.namePrefix == "" && e.nameSuffix == "" && e.namespace == "" && len(e.components) == 0 && len(e.patches) == 0 {
		return data, nil
	}
	doc, err := yaml.Parse(string(stripDirectives(data)))
	if err != nil {
		return nil, err
	}
	for _, f := range [][2]string{{"namePrefix", e.namePrefix}, {"nameSuffix", e.nameSuffix}, {"namespace", e.namespace}} {
		if f[1] != "" {
			if err := doc.PipeE(yaml.SetField(f[0], yaml.NewStringRNode(f[1]))); err != nil {
				return nil, fmt.Errorf("%s: kustomize.%s: %w", e.from["kustomize."+f[0]], f[0], err)
			}
		}
	}
	if len(e.components) > 0 {
		list, err := doc.Pipe(yaml.LookupCreate(yaml.SequenceNode, "components"))
		if err != nil {
			return nil, err
		}
		have := map[string]bool{}
		elems, _ := list.Elements()
		for _, c := range elems {
			have[strings.TrimSpace(c.YNode().Value)] = true
		}
		for _, c := range e.components {
			if !have[c] {
				list.YNode().Content = append(list.YNode().Content, yaml.NewStringRNode(c).YNode())
			}
		}
	}
	if len(e.patches) > 0 {
		list, err := doc.Pipe(yaml.LookupCreate(yaml.SequenceNode, "patches"))
		if err != nil {
			return nil, err
		}
		for _, p := range e.patches {
			pm, ok := p.(map[string]any)
			if !ok {
				continue
			}
			n, err := yaml.FromMap(pm)
			if err != nil {
				return nil, fmt.Errorf("%s: kustomize.patches: %w", e.from["kustomize.patches"], err)
			}
			list.YNode().Content = append(list.YNode().Content, n.YNode())
		}
	}
	s, err := doc.String()
	return []byte(s), err
}

// setImage applies `kustomize edit set image SPEC` to a kustomization, as
// Argo CD does for its kustomize.images overrides: the entry named by SPEC
// is replaced whole (dropping its newName, newTag, digest) or appended.
func setImage(data []byte, spec string) ([]byte, error) {
	name, ref, renamed := strings.Cut(spec, "=")
	if !renamed {
		ref = spec
	}
	repo, dig, _ := strings.Cut(ref, "@")
	tag := ""
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	entry := map[string]string{"name": repo}
	if renamed {
		entry["name"] = name
		entry["newName"] = repo
	}
	if tag != "" {
		entry["newTag"] = tag
	}
	if dig != "" {
		entry["digest"] = dig
	}
	doc, err := yaml.Parse(string(stripDirectives(data)))
	if err != nil {
		return nil, err
	}
	list, err := doc.Pipe(yaml.LookupCreate(yaml.SequenceNode, "images"))
	if err != nil {
		return nil, err
	}
	n := yaml.NewMapRNode(nil)
	for _, k := range []string{"name", "newName", "newTag", "digest"} {
		if v, ok := entry[k]; ok {
			if err := n.PipeE(yaml.SetField(k, yaml.NewStringRNode(v))); err != nil {
				return nil, err
			}
		}
	}
	elems, _ := list.Elements()
	replaced := false
	for i, e := range elems {
		if scalar(e, "name") == entry["name"] {
			list.YNode().Content[i] = n.YNode()
			replaced = true
			break
		}
	}
	if !replaced {
		list.YNode().Content = append(list.YNode().Content, n.YNode())
	}
	s, err := doc.String()
	return []byte(s), err
}
