package manifest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

const aliasDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

// TestEditAliases: an images: entry or a container reached through an
// alias is the app's, edited in place (never a second entry appended); an
// anchor whose other users the edit would change is refused, naming it.
func TestEditAliases(t *testing.T) {
	set := Set{App: "web", Repo: "reg.example.com/acme/web", Digest: aliasDigest}
	for _, c := range []struct {
		name, file, in, want, refuse string
	}{
		{"entry name is an alias (adv18 #10)", "kustomization.yaml",
			"x-img: &img ghcr.io/acme/web\nresources:\n- ../../base\nimages:\n- name: *img\n  newTag: \"1.0\"\n",
			"x-img: &img ghcr.io/acme/web\nresources:\n- ../../base\nimages:\n- name: *img\n  newName: reg.example.com/acme/web\n  digest: " + aliasDigest + "\n", ""},
		{"entry name is an alias of the deployed repository", "kustomization.yaml",
			"x-img: &img reg.example.com/acme/web\nimages:\n- name: *img\n  digest: sha256:" + strings.Repeat("0", 64) + "\n",
			"x-img: &img reg.example.com/acme/web\nimages:\n- name: *img\n  digest: " + aliasDigest + "\n", ""},
		{"newName is an alias: replaced in this entry only", "kustomization.yaml",
			"x-reg: &reg old.example.com/acme/web\nimages:\n- name: ghcr.io/acme/web\n  newName: *reg # moved\n",
			"x-reg: &reg old.example.com/acme/web\nimages:\n- name: ghcr.io/acme/web\n  newName: reg.example.com/acme/web # moved\n  digest: " + aliasDigest + "\n", ""},
		{"anchored newName another entry uses", "kustomization.yaml",
			"images:\n- name: ghcr.io/acme/web\n  newName: &reg old.example.com/acme/shared\n- name: ghcr.io/acme/api\n  newName: *reg\n",
			"", "anchor &reg"},
		{"anchored newName another entry uses, unchanged", "kustomization.yaml",
			"images:\n- name: ghcr.io/acme/web\n  newName: &reg reg.example.com/acme/web\n- name: ghcr.io/acme/api\n  newName: *reg\n",
			"images:\n- name: ghcr.io/acme/web\n  newName: &reg reg.example.com/acme/web\n  digest: " + aliasDigest + "\n- name: ghcr.io/acme/api\n  newName: *reg\n", ""},
		{"merge key brings the name", "kustomization.yaml",
			"x-base: &base {name: ghcr.io/acme/web}\nimages:\n- <<: *base\n  newTag: \"1.0\"\n",
			"x-base: &base {name: ghcr.io/acme/web}\nimages:\n- <<: *base\n  newName: reg.example.com/acme/web\n  digest: " + aliasDigest + "\n", ""},
		{"merge key brings the tag", "kustomization.yaml",
			"x-base: &base {name: ghcr.io/acme/web, newTag: \"1.0\"}\nimages:\n- <<: *base\n  newName: reg.example.com/acme/web\n",
			"", "anchor &base"},
		{"containers share an anchored image", "deploy.yaml",
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: &img ghcr.io/acme/web:1.0\n      - name: worker\n        image: *img\n",
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: &img reg.example.com/acme/web@" + aliasDigest + "\n      - name: worker\n        image: *img\n", ""},
		{"an anchored image a ConfigMap also uses", "all.yaml",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: &img ghcr.io/acme/web:1.0\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: *img\n",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: &img ghcr.io/acme/web:1.0\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: reg.example.com/acme/web@" + aliasDigest + "\n", ""},
		{"a container image anchored, a ConfigMap alias", "all.yaml",
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: &img ghcr.io/acme/web:1.0\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: *img\n",
			"", "anchor &img"},
		{"Helm values: repository is an alias", "values-prod.yaml",
			"registry: &repo ghcr.io/acme/web\nimage:\n  repository: *repo\n  digest: \"\"\n",
			"registry: &repo ghcr.io/acme/web\nimage:\n  repository: reg.example.com/acme/web\n  digest: \"" + aliasDigest + "\"\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := Edit(c.file, []byte(c.in), set)
			if c.refuse != "" {
				if err == nil || !strings.Contains(err.Error(), c.refuse) {
					t.Fatalf("want a refusal naming %q, got %v\n%s", c.refuse, err, out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != c.want {
				t.Fatalf("got:\n%s\nwant:\n%s", out, c.want)
			}
		})
	}
}

// TestEditPropertyAliasesNeverDuplicate: over generated kustomizations
// whose images: entries use anchors, aliases and merge keys, an edit either
// refuses naming an anchor or leaves exactly the entries there were, one of
// them the app's holding the new reference (never a second one appended).
func TestEditPropertyAliasesNeverDuplicate(t *testing.T) {
	for seed := uint64(0); seed < 400; seed++ {
		r := rand.New(rand.NewPCG(seed, 99))
		in := genAliased(r)
		repo := []string{"reg.example.com/acme/web", "ghcr.io/acme/web"}[r.IntN(2)]
		s := Set{App: "web", Repo: repo, Digest: aliasDigest}
		out, _, err := Edit("kustomization.yaml", []byte(in), s)
		if err != nil {
			if strings.Contains(err.Error(), "anchor &") {
				continue
			}
			t.Fatalf("seed %d: %v\n%s", seed, err, in)
		}
		before, after := entries(t, in), entries(t, string(out))
		if len(after) != len(before) {
			t.Fatalf("seed %d: %d entries became %d\n%s\n---\n%s", seed, len(before), len(after), in, out)
		}
		var mine []map[string]any
		for _, e := range after {
			if n := fmt.Sprint(e["name"]); strings.HasSuffix(n, "/web") {
				mine = append(mine, e)
			}
		}
		if len(mine) != 1 {
			t.Fatalf("seed %d: %d entries for the app\n%s", seed, len(mine), out)
		}
		got := fmt.Sprint(firstNonEmpty(fmt.Sprint(orEmpty(mine[0]["newName"])), fmt.Sprint(mine[0]["name"])))
		if got != repo || mine[0]["digest"] != aliasDigest || mine[0]["newTag"] != nil {
			t.Fatalf("seed %d: the app's entry is %v\n%s\n---\n%s", seed, mine[0], in, out)
		}
	}
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

// entries reads images: as Go values: aliases and merge keys resolved.
func entries(t *testing.T, s string) []map[string]any {
	t.Helper()
	var k struct {
		Images []map[string]any `yaml:"images"`
	}
	if err := yaml.Unmarshal([]byte(s), &k); err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	return k.Images
}

// genAliased writes a kustomization whose app entry reaches its name, its
// newName or its tag through an anchor, an alias or a merge key, next to
// another app's entry that may share an anchor.
func genAliased(r *rand.Rand) string {
	var b strings.Builder
	var entry []string
	name := "ghcr.io/acme/web"
	switch r.IntN(5) {
	case 0: // the name is an alias of a top-level anchor
		b.WriteString("x-img: &img " + name + "\n")
		entry = append(entry, "name: *img")
	case 1: // a merge key brings the name
		b.WriteString("x-base: &base {name: " + name + "}\n")
		entry = append(entry, "<<: *base")
	case 2: // the whole entry is an alias
		b.WriteString("x-entry: &entry\n  name: " + name + "\n  newTag: \"1.0\"\n")
	case 3: // the name carries an anchor the other entry uses
		entry = append(entry, "name: &img "+name)
	default:
		entry = append(entry, "name: "+name)
	}
	if r.IntN(2) == 0 && len(entry) > 0 {
		if r.IntN(2) == 0 {
			b.WriteString("x-reg: &reg old.example.com/acme/shared\n")
			entry = append(entry, "newName: *reg")
		} else {
			entry = append(entry, "newName: &reg old.example.com/acme/shared")
		}
	}
	if r.IntN(2) == 0 && len(entry) > 0 {
		entry = append(entry, "newTag: \"1.0\"")
	}
	b.WriteString("resources:\n- ../../base\nimages:\n")
	if len(entry) == 0 {
		b.WriteString("- *entry\n")
	} else {
		b.WriteString("- " + strings.Join(entry, "\n  ") + "\n")
	}
	other := "- name: ghcr.io/acme/api\n  newTag: \"2.0\"\n"
	if strings.Contains(b.String(), "&reg") && r.IntN(2) == 0 {
		other = "- name: ghcr.io/acme/api\n  newName: *reg\n"
	}
	if r.IntN(2) == 0 {
		b.WriteString(other)
	}
	return b.String()
}

// TestEditAliasesInAValuesString: an Argo CD helm.values string is its own
// YAML document: an anchor shared there is refused the same way.
func TestEditAliasesInAValuesString(t *testing.T) {
	in := "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web\nspec:\n  source:\n    helm:\n      values: |\n        image:\n          repository: &r ghcr.io/acme/web\n          digest: \"\"\n        sidecar:\n          repository: *r\n"
	_, _, err := Edit("app.yaml", []byte(in), Set{App: "web", Repo: "reg.example.com/acme/web", Digest: aliasDigest})
	if err == nil || !strings.Contains(err.Error(), "anchor &r") {
		t.Fatalf("want a refusal naming &r, got %v", err)
	}
}
