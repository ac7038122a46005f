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
