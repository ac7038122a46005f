package slipway_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway"
)

// Issue 17.8: every Needs is honoured (a stage that needs deploy runs after
// it), and push waits for every non-publish stage of its app unless the stage
// is Advisory.
func TestCustomStageNeedsAndPublishGate(t *testing.T) {
	stages := append(slipway.DefaultStages(),
		slipway.Stage{Name: "integration", Needs: []string{"test"}, Host: true, Run: noop},
		slipway.Stage{Name: "notify", Needs: []string{"deploy"}, Host: true, Run: noop},
		slipway.Stage{Name: "bench", Host: true, Advisory: true, Run: noop},
	)
	for _, apps := range [][]slipway.App{
		{{Name: "sample-app", Source: "sample-app"}},
		{{Name: "sample-app", Source: "sample-app"}, {Name: "ledger", Source: "ledger"}},
	} {
		var out, errb strings.Builder
		if code := slipway.Run(context.Background(), slipway.Config{Apps: apps, Stages: stages}, []string{"plan", "--json"}, &out, &errb); code != 0 {
			t.Fatalf("plan: exit %d %s", code, errb.String())
		}
		var plan struct {
			Waves  [][]string
			Stages []struct {
				Name  string
				Needs []string
			}
		}
		if err := json.Unmarshal([]byte(out.String()), &plan); err != nil {
			t.Fatal(err)
		}
		wave, needs := map[string]int{}, map[string][]string{}
		for i, w := range plan.Waves {
			for _, n := range w {
				wave[n] = i
			}
		}
		for _, s := range plan.Stages {
			needs[s.Name] = s.Needs
		}
		for _, a := range apps {
			p := ""
			if len(apps) > 1 {
				p = a.Name + "/"
			}
			if got := strings.Join(needs[p+"notify"], ","); got != "deploy" || wave[p+"notify"] <= wave["deploy"] {
				t.Errorf("%d apps: %snotify needs %q in wave %d, deploy in wave %d (waves %v)", len(apps), p, got, wave[p+"notify"], wave["deploy"], plan.Waves)
			}
			push := "," + strings.Join(needs[p+"push"], ",") + ","
			for _, n := range []string{"lint", "test", "scan", "build", "integration"} {
				if !strings.Contains(push, ","+p+n+",") || wave[p+"push"] <= wave[p+n] {
					t.Errorf("%d apps: %spush does not wait for %s: needs %s, waves %v", len(apps), p, n, push, plan.Waves)
				}
			}
			if strings.Contains(push, "bench") || strings.Contains(push, "notify") {
				t.Errorf("%d apps: %spush waits for an advisory or later stage: %s", len(apps), p, push)
			}
		}
	}

	// A failing integration test holds back publishing.
	t.Setenv("CI", "")
	fail := append(slipway.DefaultStages(), slipway.Stage{Name: "integration", Needs: []string{"test"}, Host: true,
		Run: func(context.Context, *slipway.StageContext) error { return errors.New("integration failed") }})
	var out, errb strings.Builder
	cfg := slipway.Config{Apps: []slipway.App{{Name: "sample-app", Source: "sample-app"}}, Stages: fail}
	code := slipway.Run(context.Background(), cfg, []string{"run", "integration", "push", "--out", t.TempDir()}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "not started: needs integration") {
		t.Fatalf("push after a failed integration stage: exit %d\n%s", code, errb.String())
	}
}

// Issue 17.9: in a repository whose .gitignore does not list out/, a stage's
// output neither makes the next CI push refuse the tree as dirty nor tags
// local builds -dirty: Slipway writes out/.gitignore ("*") when it creates
// out/, and never counts its output directory as a change even without it.
func TestOwnOutputIsNotADirtyTree(t *testing.T) {
	repo := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=d", "GIT_AUTHOR_EMAIL=d@x", "GIT_COMMITTER_NAME=d", "GIT_COMMITTER_EMAIL=d@x")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for name, body := range map[string]string{"go.mod": "module example.com/svc\n\ngo 1.22\n", "main.go": "package main\n\nfunc main() {}\n", ".gitignore": "*.tmp\n", "deploy/base/kustomization.yaml": "resources: []\n"} {
		os.MkdirAll(filepath.Dir(filepath.Join(repo, name)), 0o755)
		if err := os.WriteFile(filepath.Join(repo, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-qm", "init")
	t.Chdir(repo)
	cfg := slipway.Config{Apps: []slipway.App{{Name: "svc", Source: "."}}, Stages: append(slipway.DefaultStages(),
		slipway.Stage{Name: "notes", Host: true, Run: func(_ context.Context, sc *slipway.StageContext) error {
			return os.WriteFile(filepath.Join(sc.Out, "notes.txt"), []byte("x\n"), 0o644)
		}})}
	run := func(args ...string) (string, string, int) {
		var out, errb strings.Builder
		code := slipway.Run(context.Background(), cfg, args, &out, &errb)
		return out.String(), errb.String(), code
	}
	tags := func() string {
		out, stderr, code := run("plan", "--json")
		var plan struct{ Push struct{ Tags []string } }
		if code != 0 || json.Unmarshal([]byte(out), &plan) != nil {
			t.Fatalf("plan: exit %d %s", code, stderr)
		}
		return strings.Join(plan.Push.Tags, " ")
	}
	if _, stderr, code := run("run", "notes"); code != 0 {
		t.Fatalf("run notes: exit %d %s", code, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(repo, "out", ".gitignore")); err != nil || !strings.Contains(string(b), "\n*\n") {
		t.Fatalf("out/.gitignore: %q %v", b, err)
	}
	if st := git("status", "--porcelain"); st != "" {
		t.Errorf("git sees Slipway's output as a change:\n%s", st)
	}
	if got := tags(); strings.Contains(got, "-dirty") {
		t.Errorf("a local build after a stage is tagged %s", got)
	}
	t.Setenv("CI", "true")
	if _, stderr, code := run("run", "push", "--image", "127.0.0.1:1/acme/svc"); code == 2 || strings.Contains(stderr, "uncommitted") {
		t.Errorf("CI push after a stage refused as dirty: exit %d %s", code, stderr)
	}
	t.Setenv("CI", "")
	// An out/ made before (by hand, by an older Slipway) has no .gitignore:
	// still not a change. A change elsewhere still is.
	os.Remove(filepath.Join(repo, "out", ".gitignore"))
	if got := tags(); strings.Contains(got, "-dirty") {
		t.Errorf("out/ without its .gitignore: tagged %s", got)
	}
	os.WriteFile(filepath.Join(repo, "out file.go"), []byte("package main\n"), 0o644)
	if got := tags(); !strings.Contains(got, "-dirty") {
		t.Errorf("an untracked source file: tagged %s, want -dirty", got)
	}
}
