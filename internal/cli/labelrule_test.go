package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// seedShopManifests writes each shop app's deploy directory (the sample
// app's manifests, renamed) untracked under root, so that the local GitOps
// repository can be seeded from them without touching the apps' inputs.
func seedShopManifests(t *testing.T, root string, proj *Project) {
	t.Helper()
	manifests, _ := filepath.Abs("../../sample-app/deploy")
	for i, a := range []string{"orders", "billing"} {
		err := filepath.WalkDir(manifests, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(manifests, p)
			writeIn(t, root, "deploy-"+a+"/"+filepath.ToSlash(rel), strings.ReplaceAll(string(b), "sample-app", a))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		proj.Apps[i].Deploy = "deploy-" + a
	}
}

// TestLabelRuleIsOneForPushAndDeploy: push --source-commit and deploy
// --source-commit give the same verdict on an image's revision label, over
// (label equal / an ancestor with an input change since / an ancestor with
// none / a diverged commit / absent) × (the app's inputs known from the Go
// configuration, as for an image the pipeline built / not known, as for the
// slipway binary and a pushed tarball), in a real git repository: an older
// label is accepted only when the app's inputs prove nothing changed, and a
// diverged commit never is.
func TestLabelRuleIsOneForPushAndDeploy(t *testing.T) {
	noEngineEnv(t)
	host := ggcrRegistry(t, true)
	root, _, commit, proj := shopRepo(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c1 := commit("base", t0)
	writeIn(t, root, "services/billing/main.go", "package main\n\nfunc main() { println() }\n")
	c2 := commit("billing only", t0.Add(time.Hour)) // orders' inputs unchanged since c1
	writeIn(t, root, "services/orders/main.go", "package main\n\nimport _ \"example.com/shop/internal/money\"\n\nfunc main() { println() }\n")
	c3 := commit("orders", t0.Add(2*time.Hour)) // orders' only file changed since c1
	gitIn(t, root, "checkout", "-q", "-b", "side", c1)
	writeIn(t, root, "services/billing/side.go", "package main\n")
	d1 := commit("side: billing only", t0.Add(3*time.Hour)) // diverged from c2, c3
	gitIn(t, root, "checkout", "-q", "main")
	seedShopManifests(t, root, &proj)
	t.Chdir(root)

	dir, out := t.TempDir(), filepath.Join(root, "out")
	gitopsRepo := filepath.Join(out, "gitops.git")
	binary := Project{Name: "slipway", BinaryOnly: true, ImageLock: proj.ImageLock, Global: proj.Global}
	exec := func(p Project, args ...string) (string, string, int) {
		var o, e strings.Builder
		code := Execute(context.Background(), p, args, &o, &e)
		return o.String(), e.String(), code
	}
	refs := map[string]string{}
	for _, l := range []string{"", c1, c2, c3, d1} {
		stdout, stderr, code := exec(proj, "push", "--tarball", labelledImageTar(t, dir, l), "--image", host+"/shop/orders", "--out", out)
		if code != 0 {
			t.Fatalf("push labelled %q: exit %d\n%s", l, code, stderr)
		}
		refs[l] = lastLine(stdout)
	}
	type kase struct {
		name, label, given string
		known, unknown     bool // accepted with the inputs known / not known
	}
	cases := []kase{
		{"equal", c3, c3, true, true},
		{"ancestor, no input change since", c1, c2, true, false},
		{"ancestor, the input changed since", c1, c3, false, false},
		{"ancestor of a diverged commit, input changed on main", c2, d1, false, false},
		{"diverged label", d1, c2, false, false},
		{"diverged label, older commit", d1, c1, false, false},
		{"absent", "", c3, true, true},
	}
	for _, known := range []bool{true, false} {
		for _, c := range cases {
			p, want, extra := proj, c.known, []string{}
			if !known {
				p, want = binary, c.unknown
				extra = []string{"--gitops-repo", gitopsRepo}
			}
			verdict := func(cmd string, code int, stderr string) bool {
				t.Helper()
				refused := code == 1 && strings.Contains(stderr, "label says it was built from "+c.label+", not "+c.given)
				if !refused && code != 0 {
					t.Fatalf("%s (%s, inputs known %v): exit %d\n%s", cmd, c.name, known, code, stderr)
				}
				if refused && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
					t.Errorf("%s (%s): the refusal is not one line:\n%s", cmd, c.name, stderr)
				}
				return !refused
			}
			_, stderr, code := exec(p, "push", "--tarball", labelledImageTar(t, dir, c.label), "--image", host+"/shop/orders", "--app", "orders", "--source-commit", c.given, "--out", out)
			pushOK := verdict("push", code, stderr)
			_, stderr, code = exec(p, append([]string{"deploy", "--app", "orders", "--env", "development", "--image", refs[c.label], "--source-commit", c.given, "--dry-run", "--out", out}, extra...)...)
			deployOK := verdict("deploy", code, stderr)
			if pushOK != deployOK {
				t.Errorf("%s (inputs known %v): push accepted %v, deploy accepted %v: one rule must give one verdict", c.name, known, pushOK, deployOK)
			}
			if pushOK != want {
				t.Errorf("%s (inputs known %v): accepted %v, want %v", c.name, known, pushOK, want)
			}
		}
	}
}

// TestDeploySourceCommitIsNeverTheWorkingDirectorysHEAD (issue 17.3): a
// standalone deploy run inside a checkout takes Source-Commit from
// --source-commit, else the image's revision label, else its verified
// provenance, and never from that checkout's HEAD. When none is known it is
// refused (exit 1, one line, nothing committed) unless
// --allow-unknown-source, which records Source-Commit: unknown.
func TestDeploySourceCommitIsNeverTheWorkingDirectorysHEAD(t *testing.T) {
	noEngineEnv(t)
	host := ggcrRegistry(t, true)
	dir, out := t.TempDir(), t.TempDir()
	pubPath, _ := useSigningKey(t, dir)
	sample, _ := filepath.Abs("../../sample-app")
	src, shas := gitRepo(t, 2) // HEAD is shas[1]
	proj := testProject()
	proj.Apps[0].Source = sample
	t.Chdir(src)
	run := func(t *testing.T, args ...string) (string, string, int) {
		var o, e strings.Builder
		code := Execute(context.Background(), proj, args, &o, &e)
		return o.String(), e.String(), code
	}
	push := func(label string, args ...string) string {
		t.Helper()
		stdout, stderr, code := run(t, append([]string{"push", "--tarball", labelledImageTar(t, dir, label), "--image", host + "/acme/sample-app", "--out", out}, args...)...)
		if code != 0 {
			t.Fatalf("push: exit %d\n%s", code, stderr)
		}
		return lastLine(stdout)
	}
	gitopsRepo := filepath.Join(out, "gitops.git")
	deploy := func(ref string, args ...string) (string, int) {
		t.Helper()
		_, stderr, code := run(t, append([]string{"deploy", "--app", "sample-app", "--env", "development", "--image", ref, "--out", out, "--source", sample}, args...)...)
		return stderr, code
	}
	lastMsg := func() string { return gitOut(t, gitopsRepo, "log", "-1", "--format=%B", "main") }

	nolabel := push("")
	stderr, code := deploy(nolabel)
	if code != 1 || !strings.Contains(stderr, "--allow-unknown-source") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("deploy of an image nothing names a commit for: exit %d, want 1 with one line\n%s", code, stderr)
	}
	if _, err := os.Stat(gitopsRepo); err == nil && strings.Contains(gitOut(t, gitopsRepo, "log", "--format=%B", "main"), "Source-Commit") {
		t.Fatal("a refused deploy committed")
	}
	if stderr, code = deploy(nolabel, "--verify-key", pubPath, "--verify-require", "signature,provenance"); code != 1 {
		t.Fatalf("deploy --verify-key of an image whose provenance says unknown: exit %d, want 1\n%s", code, stderr)
	}
	if stderr, code = deploy(nolabel, "--allow-unknown-source"); code != 0 {
		t.Fatalf("deploy --allow-unknown-source: exit %d\n%s", code, stderr)
	}
	if msg := lastMsg(); !strings.Contains(msg, "Source-Commit: unknown") || strings.Contains(msg, shas[1]) {
		t.Fatalf("the record of an unknown source:\n%s", msg)
	}
	if stderr, code = deploy(push(shas[0])); code != 0 {
		t.Fatalf("deploy of an image labelled %s: exit %d\n%s", shas[0][:12], code, stderr)
	}
	if msg := lastMsg(); !strings.Contains(msg, "Source-Commit: "+shas[0]) {
		t.Fatalf("the record of a labelled image names another commit than its label:\n%s", msg)
	}
	// No label; its signed provenance names shas[0].
	proven := push("", "--source-commit", shas[0])
	if stderr, code = deploy(proven, "--verify-key", pubPath, "--verify-require", "signature,provenance"); code != 0 {
		t.Fatalf("deploy of an image with a verified provenance: exit %d\n%s", code, stderr)
	}
	if msg := lastMsg(); !strings.Contains(msg, "Source-Commit: "+shas[0]) || !strings.Contains(msg, "Image: "+proven) {
		t.Fatalf("the record of an image with a verified provenance:\n%s", msg)
	}
}
