package flow

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/affected"
)

// TestStageInputsFollowWhatGoReads (issue 19 items 3 and 5, adv19 findings
// 1, 2, 3, 8, 9) is a property test over generated one-module monorepos
// (orders and billing, both Source "."): library packages imported by one
// app, by one app's test only, or by nobody, with tests, testdata/,
// embedded assets (some gitignored), a cgo include directory, vendored
// packages imported by an app or a library, a second main, gitignored
// generated files, documentation. For every file, an edit (sometimes of a
// file marked assume-unchanged) changes the fingerprint of exactly the
// stages that read it (build and scan: the main package's non-test import
// graph; lint and test: ./... of the module and what it imports), and the
// apps Detect calls affected are exactly those with a changed stage.
func TestStageInputsFollowWhatGoReads(t *testing.T) {
	for seed := int64(1); seed <= 2; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { stageInputsProperty(t, seed) })
	}
}

func stageInputsProperty(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	root, _, commit, opts, apps := shop(t)
	opts.Out = filepath.Join(root, "out")
	everyone := []string{"orders/build", "billing/build", "orders/check", "billing/check"}
	checks := []string{"orders/check", "billing/check"}
	readers := map[string][]string{} // file -> app/kind that read it
	imports := map[string][]string{"services/orders": {"example.com/shop/internal/money"}}
	prodOf := map[string][]string{"internal/money": {"orders"}} // package -> apps whose build reads it
	ignore := []string{"out/", "*_gen.go"}
	readers["internal/money/money.go"] = append([]string{"orders/build"}, checks...)
	readers["README.md"] = checks // a file at the top of Source: lint and test run there; the build reads only go.mod and go.sum of it
	readers["docs/guide.md"] = nil
	readers["cmd/tool/main.go"] = checks
	var testImports []string
	for i := 0; i < 2+rng.Intn(3); i++ {
		pkg := fmt.Sprintf("pkg/l%d", i)
		ip := "example.com/shop/" + pkg
		var build []string
		switch rng.Intn(4) {
		case 0:
			imports["services/orders"] = append(imports["services/orders"], ip)
			build = []string{"orders/build"}
		case 1:
			imports["services/billing"] = append(imports["services/billing"], ip)
			build = []string{"billing/build"}
		case 2:
			testImports = append(testImports, ip) // orders' test only
		}
		prodOf[pkg] = nil
		for _, b := range build {
			prodOf[pkg] = append(prodOf[pkg], strings.TrimSuffix(b, "/build"))
		}
		body := fmt.Sprintf("package l%d\n", i)
		readers[pkg+"/l.go"] = append(append([]string{}, build...), checks...)
		readers[pkg+"/l_test.go"] = checks
		readers[pkg+"/testdata/golden.txt"] = checks
		if rng.Intn(2) == 0 {
			body += "\n//go:embed assets\nvar assets string\n"
			readers[pkg+"/assets/page.html"] = append(append([]string{}, build...), checks...)
			if rng.Intn(2) == 0 {
				ignore = append(ignore, pkg+"/assets/")
			}
		}
		if rng.Intn(3) == 0 {
			writeIn(t, root, pkg+"/c.go", fmt.Sprintf("package l%d\n\n// #cgo CFLAGS: -I${SRCDIR}/../../include\nimport \"C\"\n", i))
			readers[pkg+"/c.go"] = append(append([]string{}, build...), checks...)
			readers["include/x.h"] = union(readers["include/x.h"], append(append([]string{}, build...), checks...))
		}
		writeIn(t, root, pkg+"/l.go", body)
		writeIn(t, root, pkg+"/l_test.go", fmt.Sprintf("package l%d\n", i))
		writeIn(t, root, pkg+"/testdata/golden.txt", "golden\n")
		writeIn(t, root, pkg+"/assets/page.html", "<p>\n")
	}
	writeIn(t, root, "include/x.h", "#define X 1\n")
	readers["include/x.h"] = union(readers["include/x.h"], checks)
	// Vendored packages: imported by an app's main or by a library.
	var modulesTxt strings.Builder
	for k := 0; k < 1+rng.Intn(2); k++ {
		ip := fmt.Sprintf("example.com/ext/v%d", k)
		fmt.Fprintf(&modulesTxt, "# %s v1.0.0\n## explicit\n%s\n", ip, ip)
		file := "vendor/" + ip + "/v.go"
		writeIn(t, root, file, fmt.Sprintf("package v%d\n", k))
		importer := []string{"services/orders", "services/billing", "pkg/l0"}[rng.Intn(3)]
		imports[importer] = append(imports[importer], ip)
		var build []string
		switch importer {
		case "services/orders", "services/billing":
			build = []string{strings.TrimPrefix(importer, "services/") + "/build"}
		default:
			for _, a := range prodOf[importer] {
				build = append(build, a+"/build")
			}
			if !strings.Contains(readFileIn(t, root, "pkg/l0/l.go"), ip) {
				writeIn(t, root, "pkg/l0/v.go", fmt.Sprintf("package l0\n\nimport _ %q\n", ip))
				readers["pkg/l0/v.go"] = append(append([]string{}, build...), checks...)
			}
		}
		readers[file] = append(build, checks...)
	}
	writeIn(t, root, "vendor/modules.txt", modulesTxt.String())
	readers["vendor/modules.txt"] = everyone
	for _, app := range []string{"orders", "billing"} {
		dir := "services/" + app
		var b strings.Builder
		b.WriteString("package main\n\n")
		for _, ip := range imports[dir] {
			fmt.Fprintf(&b, "import _ %q\n", ip)
		}
		b.WriteString("\nfunc main() {}\n")
		writeIn(t, root, dir+"/main.go", b.String())
		test := "package main\n"
		if app == "orders" {
			for _, ip := range testImports {
				test += fmt.Sprintf("\nimport _ %q\n", ip)
			}
		}
		writeIn(t, root, dir+"/main_test.go", test)
		writeIn(t, root, dir+"/x_gen.go", "package main\n") // gitignored, generated
		readers[dir+"/main.go"] = append([]string{app + "/build"}, checks...)
		readers[dir+"/main_test.go"] = checks
		readers[dir+"/x_gen.go"] = append([]string{app + "/build"}, checks...)
	}
	writeIn(t, root, "cmd/tool/main.go", "package main\n\nfunc main() {}\n")
	writeIn(t, root, "docs/guide.md", "guide\n")
	writeIn(t, root, ".gitignore", strings.Join(ignore, "\n")+"\n")
	commit("base", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))

	fingerprints := func() map[string]string {
		t.Helper()
		run, err := New(context.Background(), opts, &stubHost{}, apps)
		if err != nil {
			t.Fatal(err)
		}
		fp := map[string]string{}
		for _, a := range run.Apps() {
			for _, st := range []string{"lint", "test", "build", "scan"} {
				fp[a.Spec.Name+"/"+st] = a.Fingerprint(st)
			}
		}
		return fp
	}
	base := fingerprints()
	files := make([]string, 0, len(readers))
	for f := range readers {
		files = append(files, f)
	}
	sort.Strings(files)
	global := affected.Global{Dirs: []string{"ci"}, Files: []string{"ci/images.lock"}}
	var aapps []affected.App
	for _, a := range apps {
		aapps = append(aapps, affected.App{Name: a.Name, Source: a.Source, Main: a.Main, Deploy: a.Deploy})
	}
	for _, f := range files {
		old := readFileIn(t, root, f)
		hidden := rng.Intn(3) == 0 && gitIn(t, root, "ls-files", f) != ""
		if hidden {
			gitIn(t, root, "update-index", "--assume-unchanged", f)
		}
		writeIn(t, root, f, old+"\n// edited\n")
		got := fingerprints()
		changed := map[string]bool{}
		for k, v := range got {
			kind := "check"
			if strings.HasSuffix(k, "/build") || strings.HasSuffix(k, "/scan") {
				kind = "build"
			}
			app := k[:strings.Index(k, "/")]
			want := false
			for _, r := range readers[f] {
				want = want || r == app+"/"+kind
			}
			if (v != base[k]) != want {
				t.Errorf("seed %d: edit of %s (assume-unchanged %v): %s fingerprint changed %v, want %v (read by %v)", seed, f, hidden, k, v != base[k], want, readers[f])
			}
			if v != base[k] {
				changed[app] = true
			}
		}
		res, err := affected.Detect(root, aapps, []string{f}, global)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Affected != changed[r.App] {
				t.Errorf("seed %d: edit of %s: Detect says %s affected %v (%s); a stage's inputs changed: %v", seed, f, r.App, r.Affected, r.Reason, changed[r.App])
			}
		}
		writeIn(t, root, f, old)
		if hidden {
			gitIn(t, root, "update-index", "--no-assume-unchanged", f)
		}
	}
}

func readFileIn(t *testing.T, root, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
