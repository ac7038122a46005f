package render

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"
	"time"
)

// TestRenderHonoursCancellation: a cancelled render returns the context's
// error at once.
func TestRenderHonoursCancellation(t *testing.T) {
	fsys := fstest.MapFS{
		"app/kustomization.yaml": {Data: []byte("resources:\n  - d.yaml\n")},
		"app/d.yaml":             {Data: []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: a:1\n")},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	_, err := Render(ctx, fsys, "app/kustomization.yaml", Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("render: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

// TestRenderRefusesRemoteResources: every way a kustomization names the
// network is ErrRemote, before anything is fetched; local look-alikes are not.
func TestRenderRefusesRemoteResources(t *testing.T) {
	pod := []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: a:1\n")
	for _, k := range []string{
		"resources:\n  - https://example.invalid/x.yaml\n",
		"resources:\n  - d.yaml\npatches:\n  - path: http://example.invalid/p.yaml\n",
		"resources:\n  - github.com/acme/x//base?ref=v1\n",
		"components:\n  - git@github.com:acme/x.git//c\n",
		"bases:\n  - ssh://git@example.invalid/acme/x.git\n",
		"resources:\n  - d.yaml\nconfigMapGenerator:\n  - name: c\n    files:\n      - https://example.invalid/f\n",
	} {
		fsys := fstest.MapFS{"app/kustomization.yaml": {Data: []byte(k)}, "app/d.yaml": {Data: pod}}
		if _, err := Render(context.Background(), fsys, "app/kustomization.yaml", Options{}); !errors.Is(err, ErrRemote) {
			t.Errorf("%q: %v, want ErrRemote", k, err)
		}
	}
	ok := "resources:\n  - d.yaml\ncommonAnnotations:\n  link: https://example.invalid/doc\n"
	fsys := fstest.MapFS{"app/kustomization.yaml": {Data: []byte(ok)}, "app/d.yaml": {Data: pod}}
	if _, err := Render(context.Background(), fsys, "app/kustomization.yaml", Options{}); err != nil {
		t.Errorf("an annotation holding a URL: %v", err)
	}
}

// TestStripDirectives: directives become comments (line numbers kept), at
// the start of every document only; other files are returned unchanged.
func TestStripDirectives(t *testing.T) {
	for in, want := range map[string]string{
		"%YAML 1.2\n---\na: 1\n":                  "#%YAML 1.2\n---\na: 1\n",
		"\ufeff%YAML 1.2\r\n---\r\na: 1\r\n":      "\ufeff#%YAML 1.2\r\n---\r\na: 1\r\n",
		"# c\n%TAG ! tag:x,2000:\n---\na: 1\n":    "# c\n#%TAG ! tag:x,2000:\n---\na: 1\n",
		"a: 1\n...\n%YAML 1.2\n---\nb: |\n  %x\n": "a: 1\n...\n#%YAML 1.2\n---\nb: |\n  %x\n",
		"a: \"50%\"\nb: |\n%not a directive\n":    "a: \"50%\"\nb: |\n%not a directive\n",
		"kind: Pod\n":                             "kind: Pod\n",
	} {
		if got := string(stripDirectives([]byte(in))); got != want {
			t.Errorf("stripDirectives(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSetImageReplacesTheWholeEntry: Argo CD's kustomize.images override
// is `kustomize edit set image`: the entry is replaced, newName and digest
// dropped; old=new renames.
func TestSetImageReplacesTheWholeEntry(t *testing.T) {
	k := "images:\n  - name: ghcr.io/acme/web\n    newName: r.example/acme/web\n    digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\n"
	for spec, want := range map[string]string{
		"ghcr.io/acme/web:1.0":               "images:\n- name: ghcr.io/acme/web\n  newTag: \"1.0\"\n",
		"ghcr.io/acme/web=x.io/w:2@sha256:2": "images:\n- name: ghcr.io/acme/web\n  newName: x.io/w\n  newTag: \"2\"\n  digest: sha256:2\n",
		"other:3":                            "images:\n- name: ghcr.io/acme/web\n  newName: r.example/acme/web\n  digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\n- name: other\n  newTag: \"3\"\n",
	} {
		got, err := setImage([]byte(k), spec)
		if err != nil || string(got) != want {
			t.Errorf("setImage(%q) = %q, %v; want %q", spec, got, err, want)
		}
	}
}
