package gitops

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// addImageEntry handles a kustomization with no images: entry for the app
// (what `kustomize edit set image` does): it finds the app's container among
// the resources the kustomization builds, by container name = app, by
// req.ImageName (the image name the resources use), or by the image
// repository, and adds
//
//	images:
//	- name: <the resources' image name>
//	  newName: <repository>
//	  digest: sha256:…
//
// keeping the rest of the file byte for byte.
func (s *snapshot) addImageEntry(file string, data []byte, req Request) ([]byte, Change, error) {
	text, restore := normalizeText(data)
	m := newMatcher(req.App, req.Image.Repo)
	var found []string
	seen := map[string]bool{}
	originals := map[string]string{} // image name -> full reference seen
	var walk func(kfile string, depth int) error
	walk = func(kfile string, depth int) error {
		if depth > 10 || seen[kfile] {
			return nil
		}
		seen[kfile] = true
		kdata, ok := s.readFile(kfile)
		if !ok {
			return nil
		}
		ktext, _ := normalizeText(kdata)
		nodes, err := (&kio.ByteReader{Reader: strings.NewReader(ktext), OmitReaderAnnotations: true}).Read()
		if err != nil {
			return fmt.Errorf("%s: not valid YAML: %w", kfile, err)
		}
		for _, n := range nodes {
			for _, field := range []string{"resources", "bases"} {
				list, _ := n.Pipe(yaml.Lookup(field))
				if list == nil {
					continue
				}
				elems, _ := list.Elements()
				for _, e := range elems {
					res := strings.TrimSpace(e.YNode().Value)
					if res == "" || strings.Contains(res, "://") || strings.HasPrefix(res, "github.com/") {
						continue // remote resources are not in this repository
					}
					p := path.Clean(path.Join(path.Dir(kfile), res))
					if strings.HasPrefix(p, "..") {
						continue
					}
					if rdata, ok := s.readFile(p); ok {
						if err := collectContainers(p, rdata, req, m, originals, &found); err != nil {
							return err
						}
						continue
					}
					if sub, _, ok := s.kustomizationIn(p); ok {
						if err := walk(sub, depth+1); err != nil {
							return err
						}
					}
				}
			}
		}
		return nil
	}
	if err := walk(file, 0); err != nil {
		return nil, Change{}, err
	}
	if len(originals) == 0 {
		if len(found) == 0 {
			found = []string{"no containers"}
		}
		hint := "pass --image-name with the image name the resources use"
		return nil, Change{}, fmt.Errorf("%s: %w for app %q: no images: entry, and no container named %q or using %s in the resources it builds (found: %s); %s",
			file, ErrNoMatch, req.App, req.App, orNone([]string{req.ImageName, req.Image.Repo}), strings.Join(found, ", "), hint)
	}
	if len(originals) > 1 {
		names := make([]string, 0, len(originals))
		for n := range originals {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, Change{}, fmt.Errorf("%s: app %q matches several images in its resources (%s); pass --image-name to pick one", file, req.App, strings.Join(names, ", "))
	}
	var name string
	for n := range originals {
		name = n
	}
	ch := Change{File: file, Kind: "kustomize-images", Target: name, Before: originals[name], After: req.Image.String(), Changed: true}
	nodes, err := (&kio.ByteReader{Reader: strings.NewReader(text), OmitReaderAnnotations: true}).Read()
	if err != nil || len(nodes) != 1 {
		return nil, Change{}, fmt.Errorf("%s: want one YAML document to add an images: entry to", file)
	}
	if images, _ := nodes[0].Pipe(yaml.Lookup("images")); images != nil {
		// An images: list without our entry: add one through kyaml.
		entry := yaml.NewMapRNode(&map[string]string{"name": name, "newName": req.Image.Repo, "digest": req.Image.Digest})
		if err := images.PipeE(yaml.Append(entry.YNode())); err != nil {
			return nil, Change{}, fmt.Errorf("%s: add images entry: %w", file, err)
		}
		var out strings.Builder
		if err := (&kio.ByteWriter{Writer: &out}).Write(nodes); err != nil {
			return nil, Change{}, err
		}
		return restore(out.String()), ch, nil
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	text += fmt.Sprintf("images:\n- name: %s\n  newName: %s\n  digest: %s\n", name, req.Image.Repo, req.Image.Digest)
	return restore(text), ch, nil
}

// collectContainers records the images of containers in a resource file that
// belong to the app.
func collectContainers(file string, data []byte, req Request, m matcher, originals map[string]string, found *[]string) error {
	text, _ := normalizeText(data)
	nodes, err := (&kio.ByteReader{Reader: strings.NewReader(text), OmitReaderAnnotations: true}).Read()
	if err != nil {
		return fmt.Errorf("%s: not valid YAML: %w", file, err)
	}
	for _, n := range nodes {
		if !workloadKinds[n.GetKind()] {
			continue
		}
		for _, c := range containersOf(n) {
			name, image := fieldString(c, "name"), fieldString(c, "image")
			*found = append(*found, n.GetKind()+"/"+n.GetName()+" container "+name+" ("+image+")")
			if name == req.App || (req.ImageName != "" && repoOf(image) == req.ImageName) || (req.ImageName == "" && m.image(image)) {
				originals[repoOf(image)] = image
			}
		}
	}
	return nil
}

// containersOf lists a workload's init containers and containers.
func containersOf(n *yaml.RNode) []*yaml.RNode {
	podPath := []string{"spec", "template", "spec"}
	if n.GetKind() == "CronJob" {
		podPath = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	}
	var out []*yaml.RNode
	for _, field := range []string{"initContainers", "containers"} {
		list, err := n.Pipe(yaml.Lookup(append(podPath, field)...))
		if err != nil || list == nil {
			continue
		}
		elems, _ := list.Elements()
		out = append(out, elems...)
	}
	return out
}
