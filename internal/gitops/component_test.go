package gitops

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestDeployIntoAComponentLayout (issue 18): a layout that resolves to a
// kustomize Component is edited byte for byte and proven through the
// kustomizations that list the Component (a Component alone builds nothing
// the cluster runs); status reads the same. A Component no kustomization
// lists is refused, naming it, and the remote is left as it was.
func TestDeployIntoAComponentLayout(t *testing.T) {
	ctx := context.Background()
	layout := "{app}/components/{env}/kustomization.yaml"
	unused := "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n# not listed anywhere\nimages:\n  - name: shop\n    newName: ghcr.io/acme/shop\n    digest: sha256:" + strings.Repeat("4", 64) + "\n"
	dir, r := fixtureRemote(t, "components", map[string]string{"shop/components/unused/kustomization.yaml": unused})
	d := &Deployer{Remote: r, Layout: layout}
	img := imgN("ghcr.io/acme/shop", 101)
	before := fileAt(t, dir, "main", "shop/components/pin/kustomization.yaml")
	out, err := d.Deploy(ctx, Request{App: "shop", Env: "pin", Image: img, SourceCommit: fixtureSource})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(before, "sha256:"+strings.Repeat("5", 64), img.Digest, 1)
	if got := fileAt(t, dir, "main", "shop/components/pin/kustomization.yaml"); got != want {
		t.Errorf("component file:\n%s\nwant:\n%s", got, want)
	}
	if out.Rendered == nil || len(out.Rendered.Workloads) != 1 || out.Rendered.Workloads[0].Workload != "Deployment/shop container shop of kustomization shop/overlays/staging/kustomization.yaml" || out.Rendered.Workloads[0].After != img.String() {
		t.Fatalf("rendered: %+v", out.Rendered)
	}
	sts, err := Status(ctx, r, Filter{Layout: layout, App: "shop", Env: "pin"})
	if err != nil || len(sts) != 1 || sts[0].Image != img.String() || sts[0].Commit != out.Commit {
		t.Fatalf("status: %+v %v", sts, err)
	}

	head0 := head(t, dir, "main")
	_, err = d.Deploy(ctx, Request{App: "shop", Env: "unused", Image: img, SourceCommit: fixtureSource})
	if !errors.Is(err, ErrNoEffect) || !strings.Contains(err.Error(), "shop/components/unused/kustomization.yaml: refusing deploy: the edit renders no change") || !strings.Contains(err.Error(), "no kustomization of the repository lists the component") || strings.Contains(err.Error(), "\n") {
		t.Errorf("unused component: %v", err)
	}
	if head(t, dir, "main") != head0 {
		t.Errorf("the remote moved")
	}
}

// TestIndexingApplicationsFetchesNothing: finding the Argo CD Applications
// and the Components' users of a partial clone reads only the blobs the
// clone holds: another app's large file is never fetched for it.
func TestIndexingApplicationsFetchesNothing(t *testing.T) {
	ctx := context.Background()
	dir, _ := partialRepo(t, "uploadpack.allowFilter", "true", "uploadpack.allowAnySHA1InWant", "true")
	r, err := NewRemote(dir, "main", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := r.cloneBare(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	if snap.lazy == nil {
		t.Fatal("not a partial clone")
	}
	if _, err := snap.renderOptions(ctx, nil, "web", "staging", nil); err != nil || snap.lazy.fetched != 0 {
		t.Fatalf("indexing: %v, %d lazy fetches", err, snap.lazy.fetched)
	}
}
