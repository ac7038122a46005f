package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/ocitar"
)

// labelledImageTar writes an image built elsewhere (random layers, as crane
// would make one) carrying an org.opencontainers.image.revision label, or
// none when label is "".
func labelledImageTar(t *testing.T, dir, label string) string {
	t.Helper()
	img, _ := random.Image(1024, 1)
	if label != "" {
		cf, _ := img.ConfigFile()
		cf.Config.Labels = map[string]string{"org.opencontainers.image.revision": label}
		var err error
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "foreign-"+strings.ReplaceAll(label, "/", "_")+".tar")
	if err := ocitar.Write(p, img, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPushOfForeignImageStatesOnlyWhatIsKnown: `push --tarball` of an image
// Slipway did not build, run inside a git checkout (this repository), signs
// a provenance that names no source commit and no lock images unless one is
// given; a deploy that assumes the checkout's HEAD then fails verification;
// a --source-commit the image's label contradicts is refused.
func TestPushOfForeignImageStatesOnlyWhatIsKnown(t *testing.T) {
	noEngineEnv(t)
	host := ggcrRegistry(t, true)
	dir, out := t.TempDir(), t.TempDir()
	pubPath, _ := useSigningKey(t, dir)
	src, shas := gitRepo(t, 2)

	// No label, no --source-commit: the provenance says "unknown".
	stdout, stderr, code := run(t, "push", "--tarball", labelledImageTar(t, dir, ""), "--image", host+"/acme/foreign", "--out", out)
	if code != 0 {
		t.Fatalf("push: exit %d\n%s", code, stderr)
	}
	ref := lastLine(stdout)
	prov, err := os.ReadFile(filepath.Join(out, "provenance.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"gitCommit", "distroless", "golang", "trivy"} {
		if strings.Contains(string(prov), bad) {
			t.Errorf("the provenance of a foreign image names %q, which Slipway does not know:\n%s", bad, prov)
		}
	}
	if !strings.Contains(string(prov), `"commit": "unknown"`) || !strings.Contains(string(prov), "buildtypes/pushed/v1") {
		t.Errorf("the provenance does not say the commit is unknown:\n%s", prov)
	}
	stdout, _, code = run(t, "verify", ref, "--verify-key", pubPath, "--verify-require", "signature,provenance", "--json")
	var rep attest.Report
	if err := json.Unmarshal([]byte(stdout), &rep); code != 0 || err != nil || rep.Provenance.SourceCommit != "" {
		t.Fatalf("verify: exit %d %v\n%s", code, err, stdout)
	}
	// A deploy of it is refused: nothing names its commit, and HEAD is never assumed.
	gitopsArgs := []string{"--out", out, "--source", "../../sample-app", "--source-repo", src}
	_, stderr, code = run(t, append([]string{"deploy", "--app", "sample-app", "--env", "development", "--image", ref, "--verify-key", pubPath, "--verify-require", "signature,provenance"}, gitopsArgs...)...)
	if code != 1 || !strings.Contains(stderr, "nothing states which commit") {
		t.Fatalf("deploy of a foreign image nothing names a commit for: exit %d, want 1\n%s", code, stderr)
	}

	// A label naming shas[1]: --source-commit shas[0] contradicts it.
	labelled := labelledImageTar(t, dir, shas[1])
	_, stderr, code = run(t, "push", "--tarball", labelled, "--image", host+"/acme/foreign", "--source-commit", shas[0], "--out", out)
	if code != 1 || !strings.Contains(stderr, shas[0]) || !strings.Contains(stderr, shas[1]) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("a contradicting --source-commit: exit %d, want 1 and one line naming both\n%s", code, stderr)
	}
	// The label's own commit is accepted and stated.
	stdout, stderr, code = run(t, "push", "--tarball", labelled, "--image", host+"/acme/foreign", "--source-commit", shas[1], "--out", out)
	if code != 0 || !strings.Contains(stderr, "provenance (commit "+shas[1][:12]) {
		t.Fatalf("push with the label's commit: exit %d\n%s", code, stderr)
	}
	ref = lastLine(stdout)
	_, stderr, code = run(t, append([]string{"deploy", "--app", "sample-app", "--env", "development", "--image", ref, "--verify-key", pubPath, "--verify-require", "signature,provenance", "--source-commit", shas[1]}, gitopsArgs...)...)
	if code != 0 {
		t.Fatalf("deploy of the stated commit: exit %d\n%s", code, stderr)
	}
	// --source-repo no longer reads a HEAD into the provenance.
	if _, stderr, code = run(t, "push", "--tarball", labelled, "--image", host+"/acme/foreign", "--source-repo", src, "--out", out); code != 2 || !strings.Contains(stderr, "--source-commit") {
		t.Fatalf("push --source-repo: exit %d, want 2\n%s", code, stderr)
	}
}

// TestDeployRefusesACommitTheImageLabelContradicts: a standalone deploy of
// an image whose revision label names another commit than --source-commit
// (or the HEAD it defaults to) is refused with one line and nothing
// committed; the label's own commit deploys.
func TestDeployRefusesACommitTheImageLabelContradicts(t *testing.T) {
	noEngineEnv(t)
	host := ggcrRegistry(t, true)
	dir, out := t.TempDir(), t.TempDir()
	useSigningKey(t, dir)
	src, shas := gitRepo(t, 2) // HEAD is shas[1]
	stdout, stderr, code := run(t, "push", "--tarball", labelledImageTar(t, dir, shas[0]), "--image", host+"/acme/sample-app", "--source-commit", shas[0], "--out", out)
	if code != 0 {
		t.Fatalf("push: exit %d\n%s", code, stderr)
	}
	ref := lastLine(stdout)
	common := []string{"--app", "sample-app", "--env", "development", "--image", ref, "--out", out, "--source", "../../sample-app", "--source-repo", src}
	gitopsRepo := filepath.Join(out, "gitops.git")
	for _, extra := range [][]string{{"--source-commit", shas[1]}} {
		_, stderr, code := run(t, append(append([]string{"deploy"}, common...), extra...)...)
		if code != 1 || !strings.Contains(stderr, "label says it was built from "+shas[0]) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Fatalf("deploy %v of an image labelled %s: exit %d, want 1 with one line\n%s", extra, shas[0][:12], code, stderr)
		}
		if _, err := os.Stat(gitopsRepo); err == nil {
			if log := gitOut(t, gitopsRepo, "log", "--format=%s", "main"); strings.Contains(log, "deploy(sample-app): development") {
				t.Fatalf("a refused deploy committed:\n%s", log)
			}
		}
	}
	if _, stderr, code := run(t, append(append([]string{"deploy"}, common...), "--source-commit", shas[0])...); code != 0 {
		t.Fatalf("deploy of the label's commit: exit %d\n%s", code, stderr)
	}
}

// clearActorEnv empties every variable Actor reads and points git at a
// global config of this test's own (no system config), so that the answer
// is this test's, whatever the shell or the machine holds.
func clearActorEnv(t *testing.T, email string) {
	t.Helper()
	for _, k := range []string{"GITHUB_TRIGGERING_ACTOR", "GITHUB_ACTOR", "BUILD_USER_ID", "GITLAB_USER_LOGIN"} {
		t.Setenv(k, "")
	}
	cfg := filepath.Join(t.TempDir(), "gitconfig")
	content := ""
	if email != "" {
		content = "[user]\n\temail = " + email + "\n"
	}
	if err := os.WriteFile(cfg, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GIT_CONFIG_GLOBAL", cfg)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("HOME", t.TempDir())
}

// TestCommandsRecordTheActor: deploy, freeze and promote commits made by
// the CLI carry who ran them (the CI variable, else git config
// user.email), and history, status and the report show it.
func TestCommandsRecordTheActor(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	src, shas := gitRepo(t, 2)
	common := []string{"--out", out, "--source", "../../sample-app"}
	withSrc := append([]string{"--source-repo", src}, common...)
	gitopsRepo := filepath.Join(out, "gitops.git")

	clearActorEnv(t, "dev@example.com")
	t.Setenv("BUILD_USER_ID", "jenkins-alice")
	if _, stderr, code := run(t, append([]string{"deploy", "--app", "sample-app", "--env", "development", "--image", dig(1), "--source-commit", shas[0]}, withSrc...)...); code != 0 {
		t.Fatalf("deploy: exit %d\n%s", code, stderr)
	}
	if msg := gitOut(t, gitopsRepo, "log", "-1", "--format=%B", "main"); !strings.Contains(msg, "Actor: jenkins-alice (Jenkins)") {
		t.Fatalf("deploy commit:\n%s", msg)
	}
	clearActorEnv(t, "dev@example.com")
	if _, stderr, code := run(t, append([]string{"deploy", "--app", "sample-app", "--env", "staging", "--image", dig(2), "--source-commit", shas[1]}, withSrc...)...); code != 0 {
		t.Fatalf("deploy: exit %d\n%s", code, stderr)
	}
	stdout, stderr, _ := run(t, append([]string{"history", "--json"}, common...)...)
	if !strings.Contains(stdout, `"actor": "jenkins-alice (Jenkins)"`) || !strings.Contains(stdout, `"actor": "dev@example.com (git config user.email)"`) {
		t.Errorf("history --json:\n%s\n%s", stdout, stderr)
	}
	stdout, stderr, _ = run(t, append([]string{"status"}, common...)...)
	if !strings.Contains(stdout, "ACTOR") || !strings.Contains(stdout, "jenkins-alice (Jenkins)") {
		t.Errorf("status:\n%s\n%s", stdout, stderr)
	}
	page := filepath.Join(t.TempDir(), "r.html")
	if _, stderr, code := run(t, append([]string{"report", "--out-file", page}, withSrc...)...); code != 0 {
		t.Fatalf("report: %s", stderr)
	}
	if html, _ := os.ReadFile(page); !strings.Contains(string(html), "dev@example.com (git config user.email)") {
		t.Error("the report does not name who deployed")
	}
	clearActorEnv(t, "")
	t.Setenv("GITHUB_ACTOR", "octocat")
	if _, stderr, code := run(t, append([]string{"freeze", "--env", "production", "--until", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "--reason", "close"}, common...)...); code != 0 {
		t.Fatalf("freeze: exit %d\n%s", code, stderr)
	}
	if f := gitOut(t, gitopsRepo, "show", "main:.slipway/freeze.yaml"); !strings.Contains(f, "by: octocat (GitHub)") {
		t.Errorf("freeze entry:\n%s", f)
	}
	clearActorEnv(t, "")
	if _, stderr, code := run(t, append([]string{"unfreeze", "--env", "production", "--reason", "done"}, common...)...); code != 0 {
		t.Fatalf("unfreeze: exit %d\n%s", code, stderr)
	}
	if msg := gitOut(t, gitopsRepo, "log", "-1", "--format=%B", "main"); !strings.Contains(msg, "Actor: unknown") {
		t.Errorf("unfreeze with nobody named:\n%s", msg)
	}
}
