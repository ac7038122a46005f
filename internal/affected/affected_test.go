package affected

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func write(t testing.TB, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func git(t testing.TB, root string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", root}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=d", "GIT_AUTHOR_EMAIL=d@x", "GIT_COMMITTER_NAME=d", "GIT_COMMITTER_EMAIL=d@x")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// monorepo: one module with two services sharing internal/shared, and a
// third service in its own module that replaces a library module.
func monorepo(t testing.TB) string {
	root := t.TempDir()
	write(t, root, "go.mod", "module example.com/mono\n\ngo 1.26\n")
	write(t, root, "go.sum", "")
	write(t, root, "internal/shared/shared.go", "package shared\n\nconst Name = \"x\"\n")
	write(t, root, "internal/other/other.go", "package other\n")
	write(t, root, "services/a/main.go", "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/mono/internal/shared\"\n)\n\nfunc main() { fmt.Println(shared.Name) }\n")
	write(t, root, "services/b/main.go", "package main\n\nimport _ \"example.com/mono/internal/other\"\n\nfunc main() {}\n")
	write(t, root, "libs/x/go.mod", "module example.com/libs/x\n\ngo 1.26\n")
	write(t, root, "libs/x/x.go", "package x\n")
	write(t, root, "services/c/go.mod", "module example.com/c\n\ngo 1.26\n\nrequire example.com/libs/x v0.0.0\n\nreplace example.com/libs/x => ../../libs/x\n")
	write(t, root, "services/c/main.go", "package main\n\nimport _ \"example.com/libs/x\"\n\nfunc main() {}\n")
	write(t, root, "ci/images.lock", "go: golang:1@sha256:"+strings.Repeat("0", 64)+"\n")
	write(t, root, "README.md", "# mono\n")
	git(t, root, "init", "-q", "-b", "main")
	git(t, root, "add", ".")
	git(t, root, "commit", "-qm", "base")
	return root
}

var apps = []App{
	{Name: "a", Source: ".", Main: "./services/a"},
	{Name: "b", Source: "services/b", Main: "."},
	{Name: "c", Source: "services/c", Main: "."},
}

func TestDetect(t *testing.T) {
	root := monorepo(t)
	global := Global{Files: []string{"ci/images.lock"}, Dirs: []string{"ci"}}
	cases := []struct {
		changed []string
		want    string // affected apps
	}{
		{[]string{"services/b/main.go"}, "b"},
		{[]string{"internal/shared/shared.go"}, "a"},
		{[]string{"internal/other/other.go"}, "b"},
		{[]string{"libs/x/x.go"}, "c"},
		{[]string{"libs/x/go.mod"}, "c"},
		{[]string{"services/c/go.sum"}, "c"},
		{[]string{"go.sum"}, "a,b"},
		{[]string{"ci/images.lock"}, "a,b,c"},
		{[]string{"ci/main.go"}, "a,b,c"},
		{[]string{"README.md"}, ""},
		{nil, ""},
	}
	// The same with app a as a main package of the root module (Source ".").
	for _, c := range cases {
		res, err := Detect(root, apps, c.changed, global)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res {
			if r.Affected {
				got = append(got, r.App)
			}
		}
		want := c.want
		switch {
		case len(c.changed) == 1 && c.changed[0] == "README.md":
			want = "a" // a file of a's Source (the root) itself
		case len(c.changed) == 1 && (c.changed[0] == "services/b/main.go" || c.changed[0] == "internal/other/other.go"):
			want = "a,b" // a's lint and test run over ./... of the root module: b's main and what it imports are in it
		}
		if strings.Join(got, ",") != want {
			t.Errorf("root-module app, changed %v: affected %v, want %q", c.changed, got, want)
		}
	}
	narrow := append([]App{{Name: "a", Source: "services/a", Main: "."}}, apps[1:]...)
	for _, c := range cases {
		res, err := Detect(root, narrow, c.changed, global)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res {
			if r.Affected {
				got = append(got, r.App)
			}
			if r.Reason == "" {
				t.Errorf("%v: no reason for %s", c.changed, r.App)
			}
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("changed %v: affected %v, want %q (%+v)", c.changed, got, c.want, res)
		}
	}
	// A root-level app is affected by any change in the repository.
	res, _ := Detect(root, apps[:1], []string{"README.md"}, global)
	if !res[0].Affected {
		t.Error("an app whose source is the root ignored a change inside it")
	}
}

func TestChangedSince(t *testing.T) {
	root := monorepo(t)
	git(t, root, "checkout", "-q", "-b", "feature")
	write(t, root, "services/b/util.go", "package main\n")
	git(t, root, "add", ".")
	git(t, root, "commit", "-qm", "b only")
	git(t, root, "checkout", "-q", "main")
	write(t, root, "internal/shared/shared.go", "package shared\n\nconst Name = \"y\"\n")
	git(t, root, "commit", "-qam", "main moved on")
	git(t, root, "checkout", "-q", "feature")
	// The merge base, not main's tip: main's own change is not the PR's.
	_, files, err := ChangedSince(context.Background(), root, "main")
	if err != nil || strings.Join(files, ",") != "services/b/util.go" {
		t.Fatalf("changed since main: %v %v", files, err)
	}
	res, _ := Detect(root, []App{{Name: "a", Source: "services/a", Main: "."}, {Name: "b", Source: "services/b", Main: "."}}, files, Global{})
	if res[0].Affected || !res[1].Affected {
		t.Errorf("%+v", res)
	}
	if _, _, err := ChangedSince(context.Background(), root, "no-such-ref"); err == nil {
		t.Error("unknown ref accepted")
	}
	if DefaultBase(func(k string) string { return map[string]string{"GITHUB_BASE_REF": "main"}[k] }) != "origin/main" {
		t.Error("GITHUB_BASE_REF")
	}
}

// BenchmarkAffected200Services: 200 services sharing 20 packages, a history
// of 5,000 commits; one change to one service, measured end to end (merge
// base, diff, import graph, decision).
func BenchmarkAffected200Services(b *testing.B) {
	root := b.TempDir()
	var stream strings.Builder
	blob := func(s string) string { return fmt.Sprintf("data %d\n%s\n", len(s), s) }
	fmt.Fprintf(&stream, "commit refs/heads/main\ncommitter d <d@x> 1700000000 +0000\n%sM 100644 inline go.mod\n%s", blob("seed"), blob("module example.com/mono\n\ngo 1.26\n"))
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&stream, "M 100644 inline internal/lib%02d/lib.go\n%s", i, blob(fmt.Sprintf("package lib%02d\n", i)))
	}
	var bapps []App
	for i := 0; i < 200; i++ {
		src := fmt.Sprintf("package main\n\nimport (\n\t_ \"example.com/mono/internal/lib%02d\"\n\t_ \"example.com/mono/internal/lib%02d\"\n)\n\nfunc main() {}\n", i%20, (i+7)%20)
		fmt.Fprintf(&stream, "M 100644 inline services/svc%03d/main.go\n%s", i, blob(src))
		bapps = append(bapps, App{Name: fmt.Sprintf("svc%03d", i), Source: fmt.Sprintf("services/svc%03d", i), Main: "."})
	}
	for c := 1; c < 5000; c++ {
		fmt.Fprintf(&stream, "commit refs/heads/main\ncommitter d <d@x> %d +0000\n%sM 100644 inline services/svc%03d/v.txt\n%s", 1700000000+c, blob(fmt.Sprint("c", c)), c%200, blob(fmt.Sprint(c)))
	}
	git(b, root, "init", "-q", "-b", "main")
	cmd := exec.Command("git", "-C", root, "fast-import", "--quiet")
	cmd.Stdin = strings.NewReader(stream.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("fast-import: %v %s", err, out)
	}
	git(b, root, "checkout", "-q", "-f", "main")
	git(b, root, "checkout", "-q", "-b", "feature")
	write(b, root, "services/svc042/handler.go", "package main\n")
	git(b, root, "add", ".")
	git(b, root, "commit", "-qm", "svc042")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, files, err := ChangedSince(context.Background(), root, "main")
		if err != nil {
			b.Fatal(err)
		}
		res, err := Detect(root, bapps, files, Global{Files: []string{"ci/images.lock"}})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, r := range res {
			if r.Affected {
				n++
			}
		}
		if n != 1 {
			b.Fatalf("%d affected, want 1", n)
		}
	}
}

// TestChangedSinceOddNames: file names git would quote (non-ASCII, spaces,
// quotes, a backslash, a newline) come back as they are, under a user's
// diff.relative and core.quotepath, so the app they belong to is affected.
func TestChangedSinceOddNames(t *testing.T) {
	for _, name := range []string{"café.go", "with space.go", `quote".go`, `back\slash.go`, "new\nline.go", "日本.go"} {
		root := monorepo(t)
		git(t, root, "config", "diff.relative", "true")
		git(t, root, "config", "core.quotepath", "true")
		git(t, root, "checkout", "-q", "-b", "feature")
		write(t, root, "services/b/"+name, "package main\n")
		git(t, root, "add", ".")
		git(t, root, "commit", "-qm", "odd name")
		write(t, root, "services/a/untracked "+name, "package main\n")
		_, files, err := ChangedSince(context.Background(), root, "main")
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"services/a/untracked " + name, "services/b/" + name}
		slices.Sort(files)
		if !slices.Equal(files, want) {
			t.Fatalf("%q: changed %q, want %q", name, files, want)
		}
		res, _ := Detect(root, []App{{Name: "a", Source: "services/a", Main: "."}, {Name: "b", Source: "services/b", Main: "."}}, files, Global{})
		if !res[0].Affected || !res[1].Affected {
			t.Errorf("%q: %+v", name, res)
		}
	}
}
