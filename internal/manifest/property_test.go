package manifest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// gen writes a random manifest in one of the styles teams write by hand:
// indentation 2 or 4, sequences flush or indented, 1 or 3 spaces after a
// dash, comments and blank lines everywhere, leading documents, multi-docs,
// flow style, quoting, CRLF, a byte-order mark, a %YAML directive.
type gen struct {
	r      *rand.Rand
	step   int
	dash   int
	after  int
	quote  func(string) string
	lines  []string
	oldRef string // what the app's entry references before the edit
}

func newGen(seed uint64) *gen {
	r := rand.New(rand.NewPCG(seed, seed*7+1))
	g := &gen{r: r, step: []int{2, 4}[r.IntN(2)], dash: []int{0, 2}[r.IntN(2)], after: []int{1, 1, 3}[r.IntN(3)]}
	switch r.IntN(3) {
	case 0:
		g.quote = func(s string) string { return s }
	case 1:
		g.quote = func(s string) string { return `"` + s + `"` }
	default:
		g.quote = func(s string) string { return "'" + s + "'" }
	}
	return g
}

func (g *gen) maybe(p float64) bool { return g.r.Float64() < p }

func (g *gen) noise(indent int) {
	if g.maybe(0.3) {
		g.lines = append(g.lines, "")
	}
	if g.maybe(0.3) {
		g.lines = append(g.lines, strings.Repeat(" ", indent)+"# "+[]string{"note", "TODO: tidy", "- name: commented-out", "image: old/ref:v0"}[g.r.IntN(4)])
	}
}

func (g *gen) comment() string {
	if g.maybe(0.3) {
		return " # " + []string{"pinned", "see docs", "keep"}[g.r.IntN(3)]
	}
	return ""
}

func (g *gen) sp(n int) string { return strings.Repeat(" ", n) }

// item writes one block sequence item of key: value pairs at indent.
func (g *gen) item(indent int, kvs [][2]string) {
	for i, p := range kvs {
		prefix := g.sp(indent + g.dash + 1 + g.after)
		if i == 0 {
			prefix = g.sp(indent+g.dash) + "-" + g.sp(g.after)
		}
		g.lines = append(g.lines, prefix+p[0]+": "+p[1]+g.comment())
		if i < len(kvs)-1 && g.maybe(0.15) {
			g.lines = append(g.lines, g.sp(indent+g.dash+1+g.after)+"# between keys")
		}
	}
}

func (g *gen) kustomization(app string) {
	g.lines = append(g.lines, "apiVersion: kustomize.config.k8s.io/v1beta1"+g.comment())
	kind := "Kustomization"
	if g.maybe(0.2) {
		g.lines[len(g.lines)-1] = "apiVersion: kustomize.config.k8s.io/v1alpha1"
		kind = "Component"
	}
	g.lines = append(g.lines, "kind: "+kind)
	g.noise(0)
	g.lines = append(g.lines, "resources:")
	for _, r := range []string{"../../base", "configmap.yaml"}[:1+g.r.IntN(2)] {
		g.lines = append(g.lines, g.sp(g.dash)+"-"+g.sp(g.after)+r+g.comment())
	}
	g.noise(0)
	repo := "ghcr.io/acme/" + app
	name := []string{app, repo}[g.r.IntN(2)]
	entry := [][2]string{{"name", g.quote(name)}}
	switch g.r.IntN(4) {
	case 0:
		entry = append(entry, [2]string{"newTag", g.quote("v1.2.3")})
		g.oldRef = name + ":v1.2.3"
	case 1:
		entry = append(entry, [2]string{"newName", g.quote("registry.old/" + app)}, [2]string{"newTag", g.quote("1.0")})
		g.oldRef = "registry.old/" + app + ":1.0"
	case 2:
		entry = append(entry, [2]string{"newName", g.quote(repo)}, [2]string{"digest", g.quote(dig0)})
		g.oldRef = repo + "@" + dig0
	default:
		entry = append(entry, [2]string{"digest", g.quote(dig0)})
		g.oldRef = name + "@" + dig0
	}
	if g.maybe(0.2) {
		// Flow style.
		parts := make([]string, len(entry))
		for i, p := range entry {
			parts[i] = p[0] + ": " + p[1]
		}
		g.lines = append(g.lines, "images: [{name: other, newTag: \"2\"}, {"+strings.Join(parts, ", ")+"}]"+g.comment())
		return
	}
	g.lines = append(g.lines, "images:"+g.comment())
	if g.maybe(0.5) {
		g.item(0, [][2]string{{"name", "other"}, {"newTag", `"2.0"`}})
		g.noise(g.dash)
	}
	g.item(0, entry)
	if g.maybe(0.3) {
		g.noise(0)
		g.lines = append(g.lines, "namePrefix: staging-")
	}
}

func (g *gen) deployment(app string) {
	g.lines = append(g.lines, "apiVersion: apps/v1", "kind: Deployment", "metadata:", g.sp(g.step)+"name: "+app)
	g.noise(0)
	s := g.step
	g.lines = append(g.lines, "spec:", g.sp(s)+"replicas: 2", g.sp(s)+"template:", g.sp(2*s)+"spec:")
	g.noise(2 * s)
	g.lines = append(g.lines, g.sp(3*s)+"containers:")
	ci := 3 * s
	image := []string{"ghcr.io/acme/" + app + ":v1", "ghcr.io/acme/" + app + "@" + dig0, app}[g.r.IntN(3)]
	g.oldRef = image
	g.item(ci, [][2]string{{"name", app}, {"image", g.quote(image)}})
	// Mixed indentation below: each list picks its own style.
	keyIndent := ci + g.dash + 1 + g.after
	for _, list := range []string{"args", "ports", "env"} {
		if !g.maybe(0.7) {
			continue
		}
		g.lines = append(g.lines, g.sp(keyIndent)+list+":")
		d := []int{0, 2, 4}[g.r.IntN(3)]
		switch list {
		case "args":
			g.lines = append(g.lines, g.sp(keyIndent+d)+"- --port=8080", g.sp(keyIndent+d)+"# - --debug", g.sp(keyIndent+d)+"-   --log=json")
		case "ports":
			g.lines = append(g.lines, g.sp(keyIndent+d)+"- containerPort: 8080"+g.comment())
		default:
			g.lines = append(g.lines, g.sp(keyIndent+d)+"-   name: A", g.sp(keyIndent+d+4)+`value: "1"`)
		}
		g.noise(keyIndent)
	}
	if g.maybe(0.3) {
		g.item(ci, [][2]string{{"name", "sidecar"}, {"image", "envoyproxy/envoy:v1.30"}})
	}
}

// manifest builds a whole file; it returns the text and the app.
func (g *gen) manifest() (string, string, string) {
	app := []string{"payments", "podinfo", "web-api"}[g.r.IntN(3)]
	var docs []string
	file := "kustomization.yaml"
	if g.maybe(0.15) {
		g.lines = append(g.lines, "%YAML 1.2")
	}
	if g.maybe(0.3) {
		g.lines = append(g.lines, "# generated by hand", "---")
	} else if g.maybe(0.2) {
		g.lines = append(g.lines, "---")
	}
	if g.maybe(0.2) {
		g.lines = append(g.lines, "")
	}
	if g.maybe(0.5) {
		g.kustomization(app)
	} else {
		file = "deployment.yaml"
		if g.maybe(0.4) {
			g.lines = append(g.lines, "apiVersion: v1", "kind: Service", "metadata:", g.sp(g.step)+"name: "+app, "---")
		}
		g.deployment(app)
		if g.maybe(0.3) {
			g.lines = append(g.lines, "---", "# a ConfigMap", "apiVersion: v1", "kind: ConfigMap", "data: {a: b}")
		}
	}
	g.noise(0)
	docs = append(docs, strings.Join(g.lines, "\n"))
	text := strings.Join(docs, "\n")
	if !g.maybe(0.1) {
		text += "\n"
	}
	if g.maybe(0.2) {
		text = strings.ReplaceAll(text, "\n", "\r\n")
	}
	if g.maybe(0.1) {
		text = bom + text
	}
	return file, app, text
}

// TestEditPropertyOnlyImageLinesChange: over generated manifests, a deploy
// changes only lines that hold the image reference, the file parses to the
// same data except the image fields, and it reads back the new digest.
func TestEditPropertyOnlyImageLinesChange(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		g := newGen(seed)
		file, app, text := g.manifest()
		s := Set{App: app, Repo: "ghcr.io/acme/" + app, Digest: dig1}
		checkEdit(t, fmt.Sprintf("seed %d", seed), file, []byte(text), s)
	}
}

// helmLineRE: a Helm values line that holds the image (or a key above it,
// or a parameter entry).
var helmLineRE = regexp.MustCompile(`(^|[\s{,\-])(repository|tag|digest|image|name|value|forceString|values)\s*:|\$imagepolicy|^\s*-?\s*[\w.-]+:\s*$`)

// imageLineRE: a line that holds an image reference (or a key of the entry
// that does).
var imageLineRE = regexp.MustCompile(`(^|[\s{,\-])(newName|digest|newTag|image|images)\s*:`)

func checkEdit(t *testing.T, label, file string, in []byte, s Set) {
	t.Helper()
	out, res, err := Edit(file, in, s)
	if err != nil {
		t.Fatalf("%s: %v\n%s", label, err, in)
	}
	got, err := Current(file, out, s.App, s.Repo)
	if err != nil || repoOf(got) != s.Repo || digestOf(got) != s.Digest {
		t.Fatalf("%s: reads back %q %v\n%s", label, got, err, out)
	}
	if !res.Changed {
		if string(out) != string(in) {
			t.Fatalf("%s: unchanged but bytes differ", label)
		}
		return
	}
	// An independent line diff: every changed line holds the image reference.
	for _, d := range lineDiff(splitLines(string(in)), splitLines(string(out))) {
		if !imageLineRE.MatchString(d) {
			t.Fatalf("%s: changed a line that holds no image reference: %q\nbefore:\n%s\nafter:\n%s", label, d, in, out)
		}
	}
	// The same data, but for the image fields.
	if a, b := stripImages(t, in), stripImages(t, out); !reflect.DeepEqual(a, b) {
		t.Fatalf("%s: data changed beyond the image:\n%v\n%v\nbefore:\n%s\nafter:\n%s", label, a, b, in, out)
	}
	again, res2, err := Edit(file, out, s)
	if err != nil || res2.Changed || string(again) != string(out) {
		t.Fatalf("%s: the same digest again changed the file (err %v)\n%s", label, err, again)
	}
}

// lineDiff returns the lines only one side has (LCS).
func lineDiff(a, b []string) []string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, a[i])
			i++
		default:
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// stripImages decodes every document and drops the image fields, so two
// files compare equal when they differ only there.
func stripImages(t *testing.T, data []byte) []any {
	t.Helper()
	docs, err := Documents("x.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	var out []any
	for _, d := range docs {
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, strip(v))
	}
	return out
}

func strip(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			switch k {
			case "newName", "digest", "newTag", "image":
				continue
			}
			m[k] = strip(e)
		}
		return m
	case []any:
		var l []any
		for _, e := range x {
			l = append(l, strip(e))
		}
		return l
	}
	return v
}

// corpus: real-world files in the styles of Argo CD's example apps, Flux's
// flux2-kustomize-helm-example, podinfo and kustomize's own examples.
var corpus = []struct{ file, app, repo string }{
	{"argocd-guestbook-kustomization.yaml", "guestbook-ui", "gcr.io/heptio-images/ks-guestbook-demo"},
	{"argocd-guestbook-ui-deployment.yaml", "guestbook-ui", "gcr.io/heptio-images/ks-guestbook-demo"},
	{"flux-apps-staging-kustomization.yaml", "podinfo", "ghcr.io/stefanprodan/podinfo"},
	{"podinfo-deployment.yaml", "podinfo", "ghcr.io/stefanprodan/podinfo"},
	{"kustomize-helloworld-kustomization.yaml", "the-deployment", "monopole/hello"},
	{"kustomize-helloworld-deployment.yaml", "the-deployment", "monopole/hello"},
	{"mixed-indentation-deployment.yaml", "api", "registry.example.com/team/api"},
	{"multi-doc-crlf.yaml", "worker", "registry.example.com/team/worker"},
	{"component-kustomization.yaml", "web", "ghcr.io/acme/web"},
	{"directive-flow-kustomization.yaml", "cart", "ghcr.io/acme/cart"},
}

func TestEditCorpus(t *testing.T) {
	for _, c := range corpus {
		data, err := os.ReadFile(filepath.Join("testdata", "corpus", c.file))
		if err != nil {
			t.Fatal(err)
		}
		file := c.file
		if strings.Contains(file, "kustomization") {
			file = "kustomization.yaml"
		}
		checkEdit(t, c.file, file, data, Set{App: c.app, Repo: c.repo, Digest: dig1})
	}
}

// FuzzEdit: whatever the input, an edit either fails or leaves a file that
// parses, reads back the digest, and differs only in image lines.
func FuzzEdit(f *testing.F) {
	for seed := uint64(1); seed <= 20; seed++ {
		_, _, text := newGen(seed).manifest()
		f.Add([]byte(text))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := Set{App: "payments", Repo: "ghcr.io/acme/payments", Digest: dig1}
		for _, file := range []string{"kustomization.yaml", "deployment.yaml", ".argocd-source-payments.yaml"} {
			out, res, err := Edit(file, data, s)
			if err != nil || !res.Changed {
				continue
			}
			got, err := Current(file, out, s.App, s.Repo)
			if err != nil || digestOf(got) != dig1 {
				t.Fatalf("edit does not read back: %q %v\n%q", got, err, out)
			}
			if len(data) < 4000 && strings.TrimSpace(string(data)) != "" {
				for _, d := range lineDiff(splitLines(string(data)), splitLines(string(out))) {
					if !imageLineRE.MatchString(d) && !helmLineRE.MatchString(d) && !strings.Contains(d, s.Repo) && !strings.Contains(d, "sha256:") {
						t.Fatalf("changed a line that holds no image reference: %q\n%q\n%q", d, data, out)
					}
				}
			}
			var v any
			if yaml.Unmarshal(out, &v) != nil && yaml.Unmarshal(data, &v) == nil {
				t.Fatalf("edit broke the YAML:\n%q", out)
			}
		}
	})
}

// values writes a random Helm values document: the image block at the
// default paths (with or without a digest value), comments, blank lines,
// quoting, Flux markers, sometimes inside an Argo CD Application's values
// string or a HelmRelease.
func (g *gen) values(app string) (file, text string) {
	s := g.step
	var v []string
	v = append(v, "# values for "+app, "replicaCount: 2")
	if g.maybe(0.3) {
		v = append(v, "")
	}
	v = append(v, "image:"+g.comment())
	v = append(v, g.sp(s)+"repository: "+g.quote("ghcr.io/acme/"+app)+[]string{"", ` # {"$imagepolicy": "flux-system:` + app + `:name"}`}[g.r.IntN(2)])
	if g.maybe(0.2) {
		v = append(v, g.sp(s)+"# the tag below is moved by CI")
	}
	v = append(v, g.sp(s)+"tag: "+g.quote("1.2.3")+[]string{"", ` # {"$imagepolicy": "flux-system:` + app + `:tag"}`}[g.r.IntN(2)])
	if g.maybe(0.6) {
		v = append(v, g.sp(s)+"digest: "+[]string{`""`, dig0, "~", ""}[g.r.IntN(4)]+g.comment())
	}
	v = append(v, g.sp(s)+"pullPolicy: IfNotPresent")
	if g.maybe(0.5) {
		v = append(v, "", "service:", g.sp(s)+"type: ClusterIP", g.sp(s)+"port: 80")
	}
	switch g.r.IntN(3) {
	case 0:
		return "values-staging.yaml", strings.Join(v, "\n") + "\n"
	case 1:
		out := []string{"apiVersion: helm.toolkit.fluxcd.io/v2", "kind: HelmRelease", "metadata:", g.sp(s) + "name: " + app, "spec:", g.sp(s) + "interval: 5m", g.sp(s) + "values:"}
		for _, l := range v {
			if l == "" {
				out = append(out, "")
				continue
			}
			out = append(out, g.sp(2*s)+l)
		}
		return "release.yaml", strings.Join(out, "\n") + "\n"
	default:
		out := []string{"apiVersion: argoproj.io/v1alpha1", "kind: Application", "metadata:", g.sp(s) + "name: " + app, "spec:", g.sp(s) + "source:", g.sp(2*s) + "path: charts/" + app, g.sp(2*s) + "helm:", g.sp(3*s) + "values: |"}
		for _, l := range v {
			if l == "" {
				out = append(out, "")
				continue
			}
			out = append(out, g.sp(4*s)+l)
		}
		out = append(out, g.sp(s)+"destination:", g.sp(2*s)+"namespace: "+app)
		return "application.yaml", strings.Join(out, "\n") + "\n"
	}
}

// TestEditPropertyHelmOnlyImageLinesChange: the same property over Helm
// values files, HelmReleases and Applications.
func TestEditPropertyHelmOnlyImageLinesChange(t *testing.T) {
	n := 1500
	if testing.Short() {
		n = 150
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		g := newGen(seed)
		app := []string{"payments", "podinfo"}[g.r.IntN(2)]
		file, text := g.values(app)
		if g.maybe(0.15) {
			text = strings.ReplaceAll(text, "\n", "\r\n")
		}
		s := Set{App: app, Repo: "ghcr.io/acme/" + app, Digest: dig1}
		out, res, err := Edit(file, []byte(text), s)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, text)
		}
		got, err := Current(file, out, s.App, s.Repo)
		if err != nil || digestOf(got) != dig1 {
			t.Fatalf("seed %d: reads back %q %v\n%s", seed, got, err, out)
		}
		for _, d := range lineDiff(splitLines(text), splitLines(string(out))) {
			if !regexp.MustCompile(`^\s*(tag|digest|repository)\s*:`).MatchString(d) {
				t.Fatalf("seed %d: changed a line that holds no image value: %q\nbefore:\n%s\nafter:\n%s", seed, d, text, out)
			}
		}
		if again, res2, err := Edit(file, out, s); err != nil || res2.Changed || string(again) != string(out) {
			t.Fatalf("seed %d: the same digest again changed the file (%v)\n%s", seed, err, again)
		}
		_ = res
	}
}
