package gitops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/manifest"
)

// filesRemote is a bare repository holding files (path -> content).
func filesRemote(t *testing.T, files map[string]string) (string, *Remote) {
	t.Helper()
	wt := t.TempDir()
	for p, c := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(wt, p)), 0o755)
		if err := os.WriteFile(filepath.Join(wt, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bare := filepath.Join(t.TempDir(), "gitops.git")
	gitCLI(t, wt, "init", "-q", "-b", "main")
	gitCLI(t, wt, "add", "-A")
	gitCLI(t, wt, "commit", "-qm", "fixture")
	gitCLI(t, filepath.Dir(bare), "clone", "-q", "--bare", wt, bare)
	r, err := NewRemote(bare, "main", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	return bare, r
}

const webBase = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: ghcr.io/acme/web:1.0\n"

// TestDeployEditsTheEntryThatRenders: when several images: entries match
// the app equally, each is edited and proven by render; the one whose edit
// makes the app run the digest is committed (adv18 #11, fixture n1: the
// second entry renames the base's image, the first never applies), none
// or several are refused naming them, and a Component's rename is
// honoured when an entry is added (named as the image arrives).
func TestDeployEditsTheEntryThatRenders(t *testing.T) {
	ctx := context.Background()
	img := imgN("reg.example.com/acme/web", 1)
	base := map[string]string{"web/base/deployment.yaml": webBase, "web/base/kustomization.yaml": "resources:\n- deployment.yaml\n"}
	for _, c := range []struct {
		name    string
		overlay string
		extra   map[string]string
		want    string // the overlay after the deploy
		refuse  []string
	}{
		{name: "the second entry renders (n1)",
			overlay: "resources:\n- ../../base\nimages:\n- name: reg.example.com/acme/web\n  newTag: \"1.0\"\n- name: ghcr.io/acme/web\n  newName: reg.example.com/acme/web\n",
			want:    "resources:\n- ../../base\nimages:\n- name: reg.example.com/acme/web\n  newTag: \"1.0\"\n- name: ghcr.io/acme/web\n  newName: reg.example.com/acme/web\n  digest: " + img.Digest + "\n"},
		{name: "both entries render: refused naming them",
			overlay: "resources:\n- ../../base\nimages:\n- name: ghcr.io/acme/web\n  newName: reg.example.com/acme/web\n  newTag: \"1.0\"\n- name: reg.example.com/acme/web\n",
			refuse:  []string{"kustomization.yaml: refusing deploy: ambiguous image", "lines 4, 7"}},
		{name: "a Component renames the image: the new entry is named as it arrives",
			overlay: "resources:\n- ../../base\ncomponents:\n- ../../components/rename\n",
			extra:   map[string]string{"web/components/rename/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nimages:\n- name: ghcr.io/acme/web\n  newName: reg.example.com/acme/web\n"},
			want:    "resources:\n- ../../base\ncomponents:\n- ../../components/rename\nimages:\n- name: reg.example.com/acme/web\n  digest: " + img.Digest + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{"web/overlays/staging/kustomization.yaml": c.overlay}
			for k, v := range base {
				files[k] = v
			}
			for k, v := range c.extra {
				files[k] = v
			}
			dir, r := filesRemote(t, files)
			before := head(t, dir, "main")
			d := &Deployer{Remote: r}
			out, err := d.Deploy(ctx, Request{App: "web", Env: "staging", Image: img, SourceCommit: fixtureSource, AllowUnknownSource: true})
			if c.refuse != nil {
				if err == nil {
					t.Fatal("deployed")
				}
				for _, w := range c.refuse {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q: %v", w, err)
					}
				}
				if !errors.Is(err, manifest.ErrAmbiguous) || head(t, dir, "main") != before {
					t.Fatalf("%v; remote moved: %v", err, head(t, dir, "main") != before)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Rendered == nil || out.Rendered.Unproven != "" || len(out.Rendered.Workloads) != 1 || out.Rendered.Workloads[0].After != img.String() {
				t.Fatalf("render: %+v", out.Rendered)
			}
			if got := fileAt(t, dir, "main", "web/overlays/staging/kustomization.yaml"); got != c.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}
