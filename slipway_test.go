package slipway_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway"
)

func noop(context.Context, *slipway.StageContext) error { return nil }

// Bad configuration fails before anything runs: exit 2, one line naming the
// field and the fix.
func TestBadConfigExit2(t *testing.T) {
	noGoMod := t.TempDir()
	cases := []struct {
		name string
		cfg  slipway.Config
		want string
	}{
		{"no apps", slipway.Config{}, "Config.Apps is empty"},
		{"duplicate name", slipway.Config{Apps: []slipway.App{{Name: "a", Source: "sample-app"}, {Name: "a", Source: "ledger"}}}, `Config.Apps[1].Name "a": two apps`},
		{"bad name", slipway.Config{Apps: []slipway.App{{Name: "Payments API", Source: "sample-app"}}}, `Config.Apps[0].Name "Payments API"`},
		{"no go.mod", slipway.Config{Apps: []slipway.App{{Name: "a", Source: noGoMod}}}, "Config.Apps[0].Source"},
		{"unknown need", slipway.Config{Apps: []slipway.App{{Name: "a", Source: "sample-app"}},
			Stages: append(slipway.DefaultStages(), slipway.Stage{Name: "it", Needs: []string{"biuld"}, Run: noop})}, `Needs: unknown stage "biuld"`},
		{"cycle", slipway.Config{Apps: []slipway.App{{Name: "a", Source: "sample-app"}},
			Stages: []slipway.Stage{{Name: "x", Needs: []string{"y"}, Run: noop}, {Name: "y", Needs: []string{"x"}, Run: noop}}}, "cycle x -> y -> x"},
		{"duplicate stage", slipway.Config{Apps: []slipway.App{{Name: "a", Source: "sample-app"}},
			Stages: append(slipway.DefaultStages(), slipway.Lint())}, `"lint": two stages`},
		{"no run", slipway.Config{Apps: []slipway.App{{Name: "a", Source: "sample-app"}},
			Stages: append(slipway.DefaultStages(), slipway.Stage{Name: "it"})}, "no Run function"},
		{"bad layout", slipway.Config{Apps: []slipway.App{{Name: "a", Source: "sample-app"}}, GitOps: slipway.GitOps{Layout: "../{app}.yaml"}}, "Config.GitOps.Layout"},
		{"missing lock", slipway.Config{Apps: []slipway.App{{Name: "a", Source: "sample-app"}}, Images: "nope.lock"}, `Config.Images "nope.lock"`},
		{"unknown base", slipway.Config{Apps: []slipway.App{{Name: "a", Source: "sample-app", Base: "alpine"}}}, `base image "alpine"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb strings.Builder
			code := slipway.Run(context.Background(), c.cfg, []string{"plan"}, &out, &errb)
			lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], c.want) || out.Len() != 0 {
				t.Errorf("exit %d, stderr %q, want one line with %q", code, errb.String(), c.want)
			}
		})
	}
}

// Custom stages are stages like the others: plan, one-stage runs, needs.
func TestCustomStageInPlan(t *testing.T) {
	cfg := slipway.Config{
		Apps: []slipway.App{{Name: "sample-app", Source: "sample-app"}},
		Stages: append(slipway.DefaultStages(),
			slipway.Stage{Name: "migration-lint", Host: true, Needs: []string{"lint"}, Secrets: []string{"DB_URL"}, Run: func(_ context.Context, sc *slipway.StageContext) error {
				sc.Set("checked", "3 migrations")
				return os.WriteFile(filepath.Join(sc.Out, "migrations.txt"), []byte("ok\n"), 0o644)
			}}),
	}
	var out, errb strings.Builder
	if code := slipway.Run(context.Background(), cfg, []string{"plan"}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	if !strings.Contains(out.String(), "2. scan ∥ migration-lint") || !strings.Contains(out.String(), "DB_URL (names only") {
		t.Errorf("plan:\n%s", out.String())
	}
	// A host stage runs alone without an engine; its secret must be set.
	dir := t.TempDir()
	t.Setenv("DB_URL", "")
	errb.Reset()
	if code := slipway.Run(context.Background(), cfg, []string{"run", "migration-lint", "--out", dir}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "secret DB_URL is empty") {
		t.Fatalf("empty secret: exit %d %s", code, errb.String())
	}
	t.Setenv("DB_URL", "postgres://u:p@db/x")
	errb.Reset()
	if code := slipway.Run(context.Background(), cfg, []string{"run", "migration-lint", "--out", dir}, &out, &errb); code != 0 {
		t.Fatalf("host stage: exit %d %s", code, errb.String())
	}
	res, _ := os.ReadFile(filepath.Join(dir, "result.json"))
	if !strings.Contains(string(res), `"migration-lint"`) || !strings.Contains(string(res), "3 migrations") || strings.Contains(string(res), "u:p@db") {
		t.Errorf("result.json:\n%s", res)
	}
	if _, err := os.Stat(filepath.Join(dir, "migrations.txt")); err != nil {
		t.Error("the stage's artifact is missing")
	}
}

// The slipway binary: the commands that need no Go configuration.
func TestBinary(t *testing.T) {
	var out, errb strings.Builder
	if code := slipway.RunBinary(context.Background(), []string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "slipway ") {
		t.Errorf("version: %d %q", code, out.String())
	}
	out.Reset()
	if code := slipway.RunBinary(context.Background(), []string{"plan", "--source", "sample-app"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "1. lint ∥ test ∥ build") {
		t.Errorf("plan --source: %d %s", code, errb.String())
	}
	out.Reset()
	if code := slipway.RunBinary(context.Background(), []string{"plan", "--json", "--source", "examples/monorepo", "--name", "orders", "--main", "./services/orders", "--deploy", "services/orders/deploy"}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), `"main": "./services/orders"`) || !strings.Contains(out.String(), "orders/overlays/development/kustomization.yaml") {
		t.Errorf("plan given by flags: %d %s\n%s", code, errb.String(), out.String())
	}
	errb.Reset()
	if code := slipway.RunBinary(context.Background(), []string{"plan"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--source DIR") {
		t.Errorf("plan without --source: %d %s", code, errb.String())
	}
	errb.Reset()
	if code := slipway.RunBinary(context.Background(), []string{"scan", "--report", "internal/scan/testdata/reports/image.json", "--severity", "LOW"}, &out, &errb); code != 1 {
		t.Errorf("scan --report: exit %d %s", code, errb.String())
	}
	errb.Reset()
	if code := slipway.RunBinary(context.Background(), []string{"lint"}, &out, &errb); code != 2 {
		t.Errorf("a pipeline stage in the binary: exit %d", code)
	}
}

// No internal/ type appears in the public API: no exported declaration
// (type, struct field, function or method signature, variable) of the
// package names a type from an internal/ package. Read from the source: an
// internal type can only be named through an internal import.
func TestPublicAPIExposesNoInternalType(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*ast.File{}
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files[n] = f
	}
	exported := 0
	for _, p := range []map[string]*ast.File{files} {
		for name, f := range p {
			internal := map[string]bool{}
			for _, imp := range f.Imports {
				path := strings.Trim(imp.Path.Value, `"`)
				if strings.Contains(path, "/internal/") {
					n := path[strings.LastIndex(path, "/")+1:]
					if imp.Name != nil {
						n = imp.Name.Name
					}
					internal[n] = true
				}
			}
			leak := func(where string, n ast.Node) {
				ast.Inspect(n, func(n ast.Node) bool {
					if sel, ok := n.(*ast.SelectorExpr); ok {
						if id, ok := sel.X.(*ast.Ident); ok && internal[id.Name] {
							t.Errorf("%s: %s exposes %s.%s", name, where, id.Name, sel.Sel.Name)
						}
					}
					return true
				})
			}
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if d.Name.IsExported() && (d.Recv == nil || exportedRecv(d.Recv)) {
						exported++
						leak(d.Name.Name, d.Type)
					}
				case *ast.GenDecl:
					for _, spec := range d.Specs {
						switch s := spec.(type) {
						case *ast.TypeSpec:
							if !s.Name.IsExported() {
								continue
							}
							exported++
							if st, ok := s.Type.(*ast.StructType); ok {
								for _, fld := range st.Fields.List {
									for _, fn := range fld.Names {
										if fn.IsExported() {
											leak(s.Name.Name+"."+fn.Name, fld.Type)
										}
									}
								}
								continue
							}
							leak(s.Name.Name, s.Type)
						case *ast.ValueSpec:
							for _, n := range s.Names {
								if n.IsExported() {
									exported++
									if s.Type != nil {
										leak(n.Name, s.Type)
									}
								}
							}
						}
					}
				}
			}
		}
	}
	if exported < 10 {
		t.Fatalf("only %d exported names found", exported)
	}
}

func exportedRecv(fl *ast.FieldList) bool {
	t := fl.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	id, ok := t.(*ast.Ident)
	return ok && id.IsExported()
}
