package gitops

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestStatusListsExactlyTheDeployedPairs (finding 6): for generated layouts
// whose placeholders share one path segment through a separator, and
// generated app and environment names holding '-', '_' and '.', status lists
// exactly the (app, env) pairs deployed — never the split a path suggests
// (apps/{app}-{env}.yaml holding my-api-staging-eu.yaml is my-api in
// staging-eu, not my-api-staging in eu) — and a layout without {app} lists no
// app the file does not hold.
func TestStatusListsExactlyTheDeployedPairs(t *testing.T) {
	rng := rand.New(rand.NewSource(18))
	word := func() string {
		parts := []string{"my", "api", "staging", "eu", "web", "prod", "a", "x1"}
		seps := []string{"-", "_", "."}
		w := parts[rng.Intn(len(parts))]
		for n := rng.Intn(3); n > 0; n-- {
			w += seps[rng.Intn(len(seps))] + parts[rng.Intn(len(parts))]
		}
		return w
	}
	layouts := []string{
		"apps/{app}-{env}.yaml",
		"apps/{app}_{env}.yaml",
		"apps/{app}.{env}.yaml",
		"{env}-{app}/deploy.yaml",
		"fleet/{app}--{env}/kustomization.yaml",
		"clusters/{env}/{app}.yaml",
	}
	_, shas := sourceRepo(t, 1)
	for i := 0; i < 12; i++ {
		layout := layouts[i%len(layouts)]
		type pair struct{ app, env string }
		want := map[pair]bool{}
		files := map[string]string{}
		for len(want) < 3 {
			p := pair{word(), word()}
			f := LayoutPath(layout, p.app, p.env)
			if _, dup := files[f]; dup {
				continue
			}
			files[f] = p.app
			want[p] = true
		}
		dir, r := localGitOps(t)
		wt := workClone(t, dir)
		for f, app := range files {
			body := fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      containers:\n        - name: %s\n          image: ghcr.io/acme/%s:1.0\n", app, app, app)
			if strings.HasSuffix(f, "kustomization.yaml") {
				os.MkdirAll(filepath.Join(wt, filepath.Dir(f)), 0o755)
				os.WriteFile(filepath.Join(wt, filepath.Dir(f), "deployment.yaml"), []byte(body), 0o644)
				body = fmt.Sprintf("resources:\n  - deployment.yaml\nimages:\n  - name: ghcr.io/acme/%s\n    newTag: \"1.0\"\n", app)
			}
			if err := os.MkdirAll(filepath.Join(wt, filepath.Dir(f)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(wt, f), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		gitCLI(t, wt, "add", ".")
		gitCLI(t, wt, "commit", "-qm", "layout")
		gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
		d := &Deployer{Remote: r, Layout: layout}
		n := 0
		for p := range want {
			n++
			img := Image{Repo: "ghcr.io/acme/" + p.app, Digest: fmt.Sprintf("sha256:%064x", n)}
			if _, err := d.Deploy(context.Background(), Request{App: p.app, Env: p.env, Image: img, SourceCommit: shas[0]}); err != nil {
				t.Fatalf("layout %s: deploy %s/%s: %v", layout, p.app, p.env, err)
			}
		}
		sts, err := Status(context.Background(), r, Filter{Layout: layout})
		if err != nil {
			t.Fatalf("layout %s: %v", layout, err)
		}
		var got, exp []string
		for _, s := range sts {
			if strings.HasPrefix(s.File, "sample-app/") && s.App == "sample-app" {
				continue // the seed's own app, in its own layout
			}
			got = append(got, s.App+"@"+s.Env)
			if s.Image == "" {
				t.Errorf("layout %s: %s@%s shows no image (%s)", layout, s.App, s.Env, s.Note)
			}
		}
		for p := range want {
			exp = append(exp, p.app+"@"+p.env)
		}
		sort.Strings(got)
		sort.Strings(exp)
		if strings.Join(got, " ") != strings.Join(exp, " ") {
			t.Errorf("layout %s: status lists %v, deployed %v", layout, got, exp)
		}
		for p := range want {
			sts, err := Status(context.Background(), r, Filter{Layout: layout, App: p.app})
			if err != nil || len(sts) == 0 {
				t.Errorf("layout %s: status --app %s: %v %v", layout, p.app, sts, err)
			}
			for _, s := range sts {
				if s.App != p.app {
					t.Errorf("layout %s: status --app %s lists %s", layout, p.app, s.App)
				}
			}
		}
	}
}

// TestStatusSharedFileListsOnlyItsApps (finding 6): with a layout without
// {app} (envs/{env}/web.yaml), a record of another app deployed elsewhere in
// the same environment is not listed against web.yaml.
func TestStatusSharedFileListsOnlyItsApps(t *testing.T) {
	dir, r := localGitOps(t)
	wt := workClone(t, dir)
	for _, f := range []string{"envs/dev/web.yaml", "envs/dev/api.yaml"} {
		app := strings.TrimSuffix(filepath.Base(f), ".yaml")
		os.MkdirAll(filepath.Join(wt, "envs/dev"), 0o755)
		body := fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      containers:\n        - name: %s\n          image: ghcr.io/acme/%s:1.0\n", app, app, app)
		os.WriteFile(filepath.Join(wt, f), []byte(body), 0o644)
	}
	gitCLI(t, wt, "add", ".")
	gitCLI(t, wt, "commit", "-qm", "envs")
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
	_, shas := sourceRepo(t, 1)
	ctx := context.Background()
	if _, err := (&Deployer{Remote: r, Layout: "envs/{env}/api.yaml"}).Deploy(ctx, Request{App: "api", Env: "dev", Image: Image{Repo: "ghcr.io/acme/api", Digest: digest(1).Digest}, SourceCommit: shas[0]}); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Deployer{Remote: r, Layout: "envs/{env}/web.yaml"}).Deploy(ctx, Request{App: "web", Env: "dev", Image: Image{Repo: "ghcr.io/acme/web", Digest: digest(2).Digest}, SourceCommit: shas[0]}); err != nil {
		t.Fatal(err)
	}
	sts, err := Status(ctx, r, Filter{Layout: "envs/{env}/web.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts {
		if s.App == "api" {
			t.Errorf("status over envs/{env}/web.yaml lists api (%s: %s)", s.File, s.Note)
		}
	}
}
