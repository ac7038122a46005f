package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Issue 17 (round 2) item 3: a URL-ish value the Go configuration also
// sets, restated with a credential, is the same repository (no conflict);
// one that does conflict is quoted with its credential masked, whichever
// side holds it.
func TestConflictMessagesMaskURLCredentials(t *testing.T) {
	p := fullyConfigured()
	const tok = "S3cr3tT0k3n-ABCDEF0123456789xyzQ"
	for _, tc := range []struct {
		flag     string
		conflict bool
	}{
		{"https://alice:" + tok + "@git.acme.io/team/gitops.git", false},
		{"https://" + tok + "@git.acme.io/team/gitops.git", false},
		{"https://alice:" + tok + "@git.acme.io/team/other.git", true},
		{"https://alice:p@ss/w" + tok + "@git.acme.io/team/other.git", true},
	} {
		o, cmd := tree(p, "ci deploy")
		if err := cmd.ParseFlags([]string{"--gitops-repo", tc.flag}); err != nil {
			t.Fatal(err)
		}
		err := o.checkConfigFlags(cmd)
		if (err != nil) != tc.conflict {
			t.Errorf("--gitops-repo %s: got %v, want conflict %v", tc.flag, err, tc.conflict)
			continue
		}
		if err != nil && (strings.Contains(err.Error(), tok[4:20]) || !strings.Contains(err.Error(), "https://***@git.acme.io/team/other.git")) {
			t.Errorf("--gitops-repo %s: %v", tc.flag, err)
		}
	}
	// The configuration itself may hold the credential.
	p.GitOpsRepo = "https://ci:" + tok + "@git.acme.io/team/gitops.git"
	t.Setenv("GITOPS_REPO", "")
	o, cmd := tree(p, "ci deploy")
	cmd.ParseFlags([]string{"--gitops-repo", "https://git.acme.io/team/elsewhere.git"})
	if err := o.checkConfigFlags(cmd); err == nil || strings.Contains(err.Error(), tok[4:20]) {
		t.Errorf("got %v", err)
	}
}

// Issue 17 (round 2) item 4: deploy --image of another repository than
// App.Image, and an --app the Go configuration does not have, are usage
// errors (exit 2) naming both, before any registry or git access (the
// image's host does not exist: a request would fail otherwise). Before the
// fix, deploy of a foreign repository exited 0.
func TestDeployImageAndAppMustBeConfigured(t *testing.T) {
	noEngineEnv(t)
	for _, k := range []string{"GITOPS_REPO", "CI_IMAGE"} {
		t.Setenv(k, "")
	}
	p := testProject()
	p.Apps[0].Image = "registry.invalid/acme/payments"
	p.Apps = append(p.Apps, App{Name: "ledger", Source: "../../ledger", Image: "registry.invalid/acme/ledger"})
	digest := "@sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"deploy", "--app", "sample-app", "--env", "development", "--image", "registry.invalid/acme/foreign" + digest}, 2, []string{"registry.invalid/acme/foreign", "App.Image (app sample-app)", "registry.invalid/acme/payments"}},
		{[]string{"deploy", "--app", "sample-app", "--env", "development", "--image", "registry.invalid/acme/payments:v1" + digest, "--source-commit", strings.Repeat("a", 40), "--allow-unknown-source", "--out", t.TempDir()}, -1, nil},
		{[]string{"deploy", "--app", "payment", "--env", "development", "--image", "registry.invalid/acme/payments" + digest}, 2, []string{"--app payment", "sample-app, ledger"}},
		{[]string{"rollback", "--app", "paymnts", "--env", "development"}, 2, []string{"--app paymnts", "sample-app, ledger"}},
		{[]string{"rollback", "--app", "sample-app", "--env", "development", "--to", "registry.invalid/acme/foreign" + digest}, 2, []string{"--to", "registry.invalid/acme/foreign", "App.Image (app sample-app)"}},
		{[]string{"deploy", "--app", "../x", "--env", "development", "--image", "registry.invalid/acme/payments" + digest}, 2, []string{"--app", `"../x"`}},
		{[]string{"deploy", "--app", "sample-app", "--env", "Prod/../x", "--image", "registry.invalid/acme/payments" + digest}, 2, []string{"--env", "Prod/../x"}},
		{[]string{"history", "--app", "retired-app", "--out", t.TempDir()}, -1, nil},
	} {
		var stdout, stderr bytes.Buffer
		code := Execute(context.Background(), p, tc.args, &stdout, &stderr)
		if tc.code < 0 {
			if code == 2 && strings.Contains(stderr.String(), "conflicts with") || strings.Contains(stderr.String(), "no such app") {
				t.Errorf("%v: refused: %s", tc.args, stderr.String())
			}
			continue
		}
		if code != tc.code || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
			t.Errorf("%v: exit %d, want %d, one line:\n%s", tc.args, code, tc.code, stderr.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%v: %q does not name %q", tc.args, stderr.String(), w)
			}
		}
	}
	// The slipway binary (no Go configuration) checks names too.
	var stdout, stderr bytes.Buffer
	if code := Execute(context.Background(), Project{BinaryOnly: true}, []string{"deploy", "--app", "../x", "--env", "development", "--image", "registry.invalid/acme/payments" + digest}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `"../x"`) {
		t.Errorf("slipway deploy --app ../x: exit %d: %s", code, stderr.String())
	}
}

// Issue 17 (round 2) item 5: a record whose Source-Commit is unknown shows
// "unknown" in history's table and JSON, never an empty field.
func TestHistoryShowsUnknownSource(t *testing.T) {
	noEngineEnv(t)
	t.Setenv("GITOPS_REPO", "")
	out := t.TempDir()
	common := []string{"--out", out, "--source", "../../sample-app"}
	if stdout, stderr, code := run(t, append([]string{"deploy", "--app", "sample-app", "--env", "development", "--image", dig(7), "--allow-unknown-source"}, common...)...); code != 0 {
		t.Fatalf("deploy: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code := run(t, append([]string{"history", "--json"}, common...)...)
	if code != 0 || !strings.Contains(stdout, `"source_commit": "unknown"`) {
		t.Errorf("history --json: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, _, _ = run(t, append([]string{"history"}, common...)...)
	lines := strings.Split(stdout, "\n")
	if len(lines) < 2 || !strings.Contains(lines[1], " unknown ") {
		t.Errorf("history:\n%s", stdout)
	}
}

// Issue 17 (round 2) item 5: verify on a registry that refuses the
// credentials gives push's hint (one wording for registry auth errors),
// on one line. Before the fix, the referrers read printed the registry's
// UNAUTHORIZED text alone.
func TestVerifyRegistryAuthHint(t *testing.T) {
	noEngineEnv(t)
	host := basicAuthRegistry(t)
	dir, out := t.TempDir(), t.TempDir()
	pubPath, _ := useSigningKey(t, dir)
	_, shas := gitRepo(t, 1)
	t.Setenv("REGISTRY_HOST", host)
	t.Setenv("REGISTRY_USERNAME", "bot")
	t.Setenv("REGISTRY_PASSWORD", regPass)
	stdout, stderr, code := run(t, "push", "--tarball", imageTar(t, dir), "--image", host+"/acme/sample-app", "--source-commit", shas[0], "--out", out)
	if code != 0 {
		t.Fatalf("push: %s", stderr)
	}
	ref := lastLine(stdout)
	t.Setenv("REGISTRY_PASSWORD", "wrong-password-0123456789")
	_, stderr, code = run(t, "verify", ref, "--verify-key", pubPath, "--out", out)
	if code != 1 || !strings.Contains(stderr, "registry authentication failed") || !strings.Contains(stderr, "REGISTRY_USERNAME") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("verify with a refused password: exit %d:\n%s", code, stderr)
	}
}

// Issue 17 (round 2) item 4 for the images a command does not take from a
// flag: promote copying, and rollback restoring, an image of another
// repository than App.Image is exit 2 naming both, before any commit.
func TestPromoteAndRollbackHoldImagesToAppImage(t *testing.T) {
	noEngineEnv(t)
	t.Setenv("GITOPS_REPO", "")
	out := t.TempDir()
	src, shas := gitRepo(t, 1)
	common := []string{"--out", out, "--source", "../../sample-app", "--source-repo", src}
	free, bound := testProject(), testProject()
	bound.Apps[0].Image = "ghcr.io/acme/sample-app"
	foreign := "ghcr.io/acme/foreign@sha256:" + strings.Repeat("f", 64)
	exec := func(p Project, args ...string) (string, int) {
		var so, se bytes.Buffer
		code := Execute(context.Background(), p, append(args, common...), &so, &se)
		return se.String(), code
	}
	for _, img := range []string{foreign, dig(1)} {
		if stderr, code := exec(free, "deploy", "--app", "sample-app", "--env", "development", "--image", img, "--source-commit", shas[0]); code != 0 {
			t.Fatalf("deploy %s: exit %d %s", img, code, stderr)
		}
	}
	if stderr, code := exec(free, "deploy", "--app", "sample-app", "--env", "staging", "--image", foreign, "--source-commit", shas[0]); code != 0 {
		t.Fatalf("deploy: exit %d %s", code, stderr)
	}
	for _, args := range [][]string{
		{"promote", "--app", "sample-app", "--from", "staging", "--to", "production", "--source-repo", src},
		{"rollback", "--app", "sample-app", "--env", "development", "--reason", "test"},
	} {
		name := args[0]
		common = common[:4] // --out and --source
		stderr, code := exec(bound, args...)
		if code != 2 || !strings.Contains(stderr, "ghcr.io/acme/foreign") || !strings.Contains(stderr, "App.Image (app sample-app)") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%s of a foreign image: exit %d:\n%s", name, code, stderr)
		}
	}
}
