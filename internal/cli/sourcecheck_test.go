package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// plan --source checks what the flags name: a Main that is not package main,
// a Deploy with no manifests, a Deploy outside the repository are usage
// errors (exit 2) naming the flag, not a plan that passes.
func TestPlanSourceFlagsChecked(t *testing.T) {
	noEngineEnv(t)
	repo := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module example.com/svc\n\ngo 1.22\n"), 0o644))
	for dir, body := range map[string]string{"cmd/svc/main.go": "package main\n\nfunc main() {}\n", "internal/money/money.go": "package money\n"} {
		must(os.MkdirAll(filepath.Join(repo, filepath.Dir(dir)), 0o755))
		must(os.WriteFile(filepath.Join(repo, dir), []byte(body), 0o644))
	}
	must(os.MkdirAll(filepath.Join(repo, "deploy", "base"), 0o755))
	if out, err := exec.Command("git", "-C", repo, "init", "-q").CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	bin := Project{Name: "slipway", BinaryOnly: true, ImageLock: testProject().ImageLock}
	run := func(_ *testing.T, args ...string) (string, string, int) {
		var stdout, stderr bytes.Buffer
		code := Execute(context.Background(), bin, args, &stdout, &stderr)
		return stdout.String(), stderr.String(), code
	}
	outside := t.TempDir()
	must(os.WriteFile(filepath.Join(outside, "kustomization.yaml"), []byte("resources: []\n"), 0o644))
	rel, _ := filepath.Rel(repo, outside)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--main", "./internal/money"}, "not a main package"},
		{[]string{"--main", "./cmd/svc", "--deploy", "internal/money"}, "holds no manifests"},
		{[]string{"--main", "./cmd/svc", "--deploy", rel}, "outside the repository"},
	} {
		_, stderr, code := run(t, append([]string{"plan", "--source", repo, "--out", t.TempDir()}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, c.args[len(c.args)-2]) {
			t.Errorf("plan %v: exit %d, want 2 naming %s and %q:\n%s", c.args, code, c.args[len(c.args)-2], c.want, stderr)
		}
	}
	if _, stderr, code := run(t, "plan", "--source", repo, "--main", "./cmd/svc", "--out", t.TempDir()); code == 2 {
		t.Errorf("a good --main and deploy/base: exit 2\n%s", stderr)
	}
}
