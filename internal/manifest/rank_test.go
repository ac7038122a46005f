package manifest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestMatcherRanksNeverOrder (finding 4): over generated images: lists and
// container sets with decoys (vendor images sharing the app's last path
// segment, other apps, in any order), the edited entry is always the
// strongest candidate, an explicit image name is authoritative, and a tie
// between different weak candidates is refused naming them.
func TestMatcherRanksNeverOrder(t *testing.T) {
	const app, repo = "web", "reg.example.com/acme/web"
	type item struct {
		name, newName string // kustomize entry; for a container: name, image
		rank          int
	}
	// Candidates by rank (kustomize entries, containers).
	entries := map[int][]item{
		rankExact:   {{"reg.example.com/acme/web", "", rankExact}, {"ghcr.io/acme/web-server", "reg.example.com/acme/web", rankExact}},
		rankName:    {{"web", "", rankName}},
		rankSegment: {{"docker.io/vendor/web", "", rankSegment}, {"quay.io/other/web", "", rankSegment}},
		rankNone:    {{"docker.io/library/redis", "", rankNone}, {"ghcr.io/acme/api", "", rankNone}},
	}
	containers := map[int][]item{
		rankExact:   {{"server", "reg.example.com/acme/web:1.0", rankExact}},
		rankName:    {{"web", "ghcr.io/acme/web-server:1.0", rankName}},
		rankSegment: {{"ui", "docker.io/vendor/web:1.5", rankSegment}, {"proxy", "quay.io/other/web:2", rankSegment}},
		rankNone:    {{"redis", "docker.io/library/redis:7", rankNone}},
	}
	for seed := uint64(0); seed < 400; seed++ {
		r := rand.New(rand.NewPCG(seed, 99))
		kust := seed%2 == 0
		pool := containers
		if kust {
			pool = entries
		}
		best := []int{rankExact, rankName, rankSegment}[r.IntN(3)]
		want := pool[best][r.IntN(len(pool[best]))]
		items := []item{want}
		for i := r.IntN(4); i > 0; i-- {
			rk := []int{rankNone, rankSegment, rankName}[r.IntN(3)]
			if rk >= best {
				rk = rankNone
			}
			c := pool[rk][r.IntN(len(pool[rk]))]
			if c.name != want.name {
				items = append(items, c)
			}
		}
		r.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
		var b strings.Builder
		if kust {
			b.WriteString("kind: Kustomization\nimages:\n")
			for _, it := range items {
				fmt.Fprintf(&b, "- name: %s\n", it.name)
				if it.newName != "" {
					fmt.Fprintf(&b, "  newName: %s\n", it.newName)
				}
				b.WriteString("  newTag: \"1.0\"\n")
			}
		} else {
			b.WriteString("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n")
			for _, it := range items {
				fmt.Fprintf(&b, "      - name: %s\n        image: %s\n", it.name, it.newName)
			}
		}
		file := "deployment.yaml"
		if kust {
			file = "kustomization.yaml"
		}
		in := b.String()
		s := Set{App: app, Repo: repo, Digest: dig1}
		_, res, err := Edit(file, []byte(in), s)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, in)
		}
		if res.Target != want.name {
			t.Fatalf("seed %d: edited %s, want the strongest candidate %s\n%s", seed, res.Target, want.name, in)
		}
		cur, err := Current(file, []byte(in), app, repo)
		if err != nil || (kust && !strings.HasPrefix(cur, firstNonEmpty(want.newName, want.name))) || (!kust && cur != want.newName) {
			t.Fatalf("seed %d: Current %q %v, want the strongest candidate %s\n%s", seed, cur, err, want.name, in)
		}
		// An explicit image name is authoritative: name a weaker one.
		for _, it := range items {
			img := it.name
			if !kust {
				img = repoOf(it.newName)
			}
			if img == repo || (kust && it.newName == repo) {
				continue
			}
			s.ImageName = img
			_, res, err := Edit(file, []byte(in), s)
			if err != nil {
				t.Fatalf("seed %d: --image-name %s: %v\n%s", seed, img, err, in)
			}
			if res.Target != it.name {
				t.Fatalf("seed %d: --image-name %s edited %s\n%s", seed, img, res.Target, in)
			}
			break
		}
	}
}

// TestMatcherRefusesAWeakTie: two vendor-like images sharing the app's last
// path segment, nothing stronger: refused, naming both.
func TestMatcherRefusesAWeakTie(t *testing.T) {
	in := "kind: Kustomization\nimages:\n- name: docker.io/vendor/web\n  newTag: \"2.0\"\n- name: ghcr.io/acme/web\n  newTag: \"1.0\"\n"
	_, _, err := Edit("kustomization.yaml", []byte(in), Set{App: "web", Repo: "reg.example.com/acme/web", Digest: dig1})
	if !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), "docker.io/vendor/web") || !strings.Contains(err.Error(), "ghcr.io/acme/web") || !strings.Contains(err.Error(), "--image-name") {
		t.Fatalf("err %v", err)
	}
	out, res, err := Edit("kustomization.yaml", []byte(in), Set{App: "web", Repo: "reg.example.com/acme/web", Digest: dig1, ImageName: "ghcr.io/acme/web"})
	if err != nil || res.Target != "ghcr.io/acme/web" || !strings.Contains(string(out), "- name: docker.io/vendor/web\n  newTag: \"2.0\"\n") {
		t.Fatalf("%v %+v\n%s", err, res, out)
	}
}
