package gitops

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/slipway-ci/slipway/internal/manifest"
	"github.com/slipway-ci/slipway/internal/render"
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
// keeping the rest of the file byte for byte (manifest.AddImage).
func (s *snapshot) addImageEntry(ctx context.Context, file string, data []byte, req Request) ([]byte, Change, error) {
	var found []string
	seen := map[string]bool{}
	originals := map[string]candidate{} // image name -> full reference seen
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
		var nodes []*yaml.Node
		if err := unmarshalAll(kfile, kdata, &nodes); err != nil {
			return err
		}
		for _, n := range nodes {
			for _, field := range []string{"resources", "bases", "components"} {
				list := yamlField(n, field)
				if list == nil || list.Kind != yaml.SequenceNode {
					continue
				}
				for _, e := range list.Content {
					res := strings.TrimSpace(e.Value)
					if res == "" || strings.Contains(res, "://") || strings.HasPrefix(res, "github.com/") {
						continue // remote resources are not in this repository
					}
					p := path.Clean(path.Join(path.Dir(kfile), res))
					if strings.HasPrefix(p, "..") {
						continue
					}
					if rdata, ok := s.readFile(p); ok {
						if err := collectContainers(p, rdata, req, originals, &found); err != nil {
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
	// Only the strongest candidates count, whatever their order.
	best := 0
	for _, o := range originals {
		best = max(best, o.rank)
	}
	for n, o := range originals {
		if o.rank < best {
			delete(originals, n)
		}
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
	// A Component (or a base's own images: entry) may rename the image
	// before this kustomization's images: transformer sees it: the entry
	// must be named as the image arrives here, which the kustomization's
	// build before the edit shows.
	if got := s.arrivingName(ctx, file, originals[name]); got != "" && got != name {
		name = got
	}
	out, ch, err := manifest.AddImage(file, data, name, manifest.Set{App: req.App, Repo: req.Image.Repo, Digest: req.Image.Digest, ImageName: req.ImageName})
	ch.Before = originals[name].ref
	return out, ch, err
}

// collectContainers records the images of containers in a resource file that
// belong to the app.
func collectContainers(file string, data []byte, req Request, originals map[string]candidate, found *[]string) error {
	cs, err := manifest.Containers(file, data)
	if err != nil {
		return err
	}
	m := manifest.NewMatcher(req.App, req.ImageName, req.Image.Repo)
	for _, c := range cs {
		*found = append(*found, c.Kind+"/"+c.Workload+" container "+c.Name+" ("+c.Image+")")
		if r := m.Container(c.Name, c.Image); r > 0 && r >= originals[repoOf(c.Image)].rank {
			originals[repoOf(c.Image)] = candidate{c.Image, r, c.Kind + "/" + c.Workload + "/" + c.Name}
		}
	}
	return nil
}

// candidate is an image the app's container may use, and its match rank.
type candidate struct {
	ref  string
	rank int
	id   string // KIND/WORKLOAD/CONTAINER
}

// arrivingName is the image name the app's container has when the
// kustomization's own transformers run: its resources and components
// built, without the kustomization's images: (none of which is the
// app's). "" when the build cannot tell.
func (s *snapshot) arrivingName(ctx context.Context, file string, c candidate) string {
	res, err := render.Render(ctx, s.fs(nil), file, render.Options{})
	if err != nil {
		return ""
	}
	for _, rc := range res.Containers {
		if rc.Kind+"/"+rc.Name+"/"+rc.Container == c.id {
			return repoOf(rc.Image)
		}
	}
	return ""
}

// unmarshalAll parses every document of a YAML file.
func unmarshalAll(file string, data []byte, out *[]*yaml.Node) error {
	docs, err := manifest.Documents(file, data)
	*out = docs
	return err
}

// yamlField is a mapping's value for key.
func yamlField(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// repoOf strips the tag and digest from an image reference.
func repoOf(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}
