package flow

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/affected"
	"github.com/slipway-ci/slipway/internal/argocd"
	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/imagelock"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/release"
	"github.com/slipway-ci/slipway/internal/usage"
)

// stubHost is a command line that has nothing configured: it records what
// the run asks of it.
type stubHost struct {
	requireInCI []string // the variables RequireInCI was asked about
	argo        int      // ArgoCD calls
	manifests   []string // apps CheckManifests was asked about
	refuse      error    // RequireInCI's and ArgoCD's answer
}

func (h *stubHost) Policy() (*attest.Policy, error)    { return nil, nil }
func (h *stubHost) Signing() (*release.Signing, error) { return nil, nil }
func (h *stubHost) CredentialHost() (string, error)    { return "", nil }
func (h *stubHost) RequireInCI(_, _, env string) error {
	h.requireInCI = append(h.requireInCI, env)
	return h.refuse
}
func (h *stubHost) CheckManifests(apps []AppSpec) error {
	for _, a := range apps {
		h.manifests = append(h.manifests, a.Name)
	}
	return nil
}
func (h *stubHost) Deployer() (*gitops.Deployer, error) {
	return nil, errors.New("no GitOps repository")
}
func (h *stubHost) VerifyHook(*attest.Policy) func(context.Context, gitops.Request) (*gitops.Verification, error) {
	return nil
}
func (h *stubHost) ArgoCD() (*argocd.Client, error) { h.argo++; return nil, h.refuse }
func (h *stubHost) WaitFor(string, []string, []*gitops.Outcome) (func(context.Context, *gitops.Deployer, *argocd.Client) error, error) {
	return nil, errors.New("no Argo CD")
}
func (h *stubHost) Report(context.Context, *gitops.Deployer, string, string) error { return nil }

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=d", "GIT_AUTHOR_EMAIL=d@x", "GIT_COMMITTER_NAME=d", "GIT_COMMITTER_EMAIL=d@x")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func writeIn(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// shop is a monorepo of two services, orders (which imports
// internal/money) and billing, with the working directory in it; it
// returns the checkout, the image lock's bytes, a function that commits
// everything at a given time, and a run's options over both apps.
func shop(t *testing.T) (string, []byte, func(string, time.Time) string, Options, []AppSpec) {
	t.Helper()
	root := t.TempDir()
	data, err := os.ReadFile("../../ci/images.lock")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := imagelock.Parse("ci/images.lock", data)
	if err != nil {
		t.Fatal(err)
	}
	writeIn(t, root, "go.mod", "module example.com/shop\n\ngo 1.26\n")
	writeIn(t, root, "internal/money/money.go", "package money\n")
	writeIn(t, root, "services/orders/main.go", "package main\n\nimport _ \"example.com/shop/internal/money\"\n\nfunc main() {}\n")
	writeIn(t, root, "services/billing/main.go", "package main\n\nfunc main() {}\n")
	writeIn(t, root, "ci/images.lock", string(data))
	writeIn(t, root, "README.md", "# shop\n")
	writeIn(t, root, ".gitignore", "out/\n")
	gitIn(t, root, "init", "-q", "-b", "main")
	commit := func(msg string, when time.Time) string {
		gitIn(t, root, "add", "-A")
		cmd := exec.Command("git", "-C", root, "commit", "-qm", msg)
		stamp := when.Format(time.RFC3339)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=d", "GIT_AUTHOR_EMAIL=d@x", "GIT_COMMITTER_NAME=d", "GIT_COMMITTER_EMAIL=d@x",
			"GIT_AUTHOR_DATE="+stamp, "GIT_COMMITTER_DATE="+stamp)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("commit: %v %s", err, out)
		}
		return gitIn(t, root, "rev-parse", "HEAD")
	}
	t.Chdir(root)
	opts := Options{
		Out: "out", Lock: lock, Stages: DefaultStages(), Multi: true, PublishEnv: "development",
		Global: affected.Global{Dirs: []string{"ci"}}, LockPath: "ci/images.lock",
	}
	apps := []AppSpec{
		{Name: "orders", Source: ".", Main: "./services/orders", Binary: "orders", Deploy: "deploy", Port: 8080, Base: "distroless"},
		{Name: "billing", Source: ".", Main: "./services/billing", Binary: "billing", Deploy: "deploy", Port: 8080, Base: "distroless"},
	}
	return root, data, commit, opts, apps
}

// Issue 19.3: an app's image is a function of its inputs. Its version (the
// revision label, created time, version and -ldflags the build stage
// stamps) is the newest commit that changed what the affected-app analysis
// says it depends on: a commit to another app, or to its docs, leaves it
// as it was, so its digest, its stages and its deploy ("unchanged") too.
func TestImageRevisionFollowsInputs(t *testing.T) {
	root, lock, commit, opts, apps := shop(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c1 := commit("base", t0)
	inputs := func() map[string]string {
		t.Helper()
		opts.Out = t.TempDir()
		run, err := New(context.Background(), opts, &stubHost{}, apps)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, r := range run.Apps() {
			in := r.Inputs()
			got[r.Spec.Name] = in.Revision() + " " + in.CommitTime.Format(time.RFC3339) + " " + in.Version()
			if r.Version.Commit != gitIn(t, root, "rev-parse", "HEAD") {
				t.Errorf("%s: the checked-out commit is %s, not HEAD", r.Spec.Name, r.Version.Commit)
			}
		}
		return got
	}
	want := func(c string, at time.Time) string { return c + " " + at.Format(time.RFC3339) + " " + c[:12] }
	check := func(step string, orders, billing string) {
		t.Helper()
		got := inputs()
		if got["orders"] != orders || got["billing"] != billing {
			t.Errorf("%s:\n orders  %s, want %s\n billing %s, want %s", step, got["orders"], orders, got["billing"], billing)
		}
	}
	check("first commit", want(c1, t0), want(c1, t0))

	writeIn(t, root, "services/billing/main.go", "package main\n\nfunc main() { println() }\n")
	c2 := commit("billing", t0.Add(time.Hour))
	check("a billing change", want(c1, t0), want(c2, t0.Add(time.Hour)))

	// (A file directly in Source, such as README.md, is an input of every
	// app's lint and test, as .golangci.yml is, but not of a build: only
	// go.mod and go.sum of it are.)
	writeIn(t, root, "docs/guide.md", "# shop, the docs\n")
	commit("docs", t0.Add(2*time.Hour))
	check("a docs change", want(c1, t0), want(c2, t0.Add(time.Hour)))

	writeIn(t, root, "internal/money/money.go", "package money\n\nconst Cents = 100\n")
	c4 := commit("money", t0.Add(3*time.Hour))
	check("a change to a package orders imports", want(c4, t0.Add(3*time.Hour)), want(c2, t0.Add(time.Hour)))

	// Issue 19 item 3: a test-only change (a test file, test data, a package
	// only a test imports) reruns lint and test but is no input of a build:
	// both images keep their revision, and their digest.
	writeIn(t, root, "internal/money/money_test.go", "package money\n")
	writeIn(t, root, "internal/money/testdata/golden.txt", "100\n")
	writeIn(t, root, "internal/fixture/f.go", "package fixture\n")
	writeIn(t, root, "services/orders/main_test.go", "package main\n\nimport _ \"example.com/shop/internal/fixture\"\n")
	commit("tests", t0.Add(3*time.Hour+time.Minute))
	check("a test-only change", want(c4, t0.Add(3*time.Hour)), want(c2, t0.Add(time.Hour)))

	writeIn(t, root, "ci/images.lock", string(lock)+"\n")
	c5 := commit("lock", t0.Add(4*time.Hour))
	check("the image lock", want(c5, t0.Add(4*time.Hour)), want(c5, t0.Add(4*time.Hour)))

	// A modified file marks only the apps whose inputs it is.
	writeIn(t, root, "services/billing/main.go", "package main\n\nfunc main() { println(1) }\n")
	writeIn(t, root, "services/billing/new.go", "package main\n")
	check("billing modified", want(c5, t0.Add(4*time.Hour)), c5+"-dirty "+t0.Add(4*time.Hour).Format(time.RFC3339)+" "+c5[:12]+"-dirty")
}

// The run's graph, without a command line: each app's stages under its
// name and one deploy; a plain stage name means every app's, APP/STAGE one
// app's, an unknown one is a usage error; a bare run leaves the publishing
// stages out unless Publish; the scan's manifests are checked for exactly
// the apps whose scan runs.
func TestRunGraphSelectsStages(t *testing.T) {
	_, _, commit, opts, apps := shop(t)
	commit("base", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	h := &stubHost{}
	run, err := New(context.Background(), opts, h, apps)
	if err != nil {
		t.Fatal(err)
	}
	g, err := run.Graph()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"orders/lint", "orders/test", "orders/build", "orders/scan", "orders/push",
		"billing/lint", "billing/test", "billing/build", "billing/scan", "billing/push", "deploy"}
	for _, n := range want {
		if !slices.Contains(g.Names(), n) {
			t.Errorf("graph %v lacks %s", g.Names(), n)
		}
	}
	if got, _ := run.expand(g, []string{"build", "orders/scan"}); !slices.Equal(got, []string{"orders/build", "billing/build", "orders/scan"}) {
		t.Errorf("expand build orders/scan = %v", got)
	}
	for _, bad := range []string{"nope", "shipping/build"} {
		if _, err := run.expand(g, []string{bad}); !usage.Is(err) || !errors.Is(err, ErrUnknownStage) {
			t.Errorf("expand %s: %v, want a usage error (ErrUnknownStage)", bad, err)
		}
	}
	if got := run.defaultNames(); slices.Contains(got, "push") || slices.Contains(got, "deploy") || !slices.Contains(got, "scan") {
		t.Errorf("a bare run starts %v", got)
	}
	run.opts.Publish = true
	if got := run.defaultNames(); !slices.Contains(got, "push") || !slices.Contains(got, "deploy") {
		t.Errorf("a --publish run starts %v", got)
	}
	if err := run.CheckManifests([]string{"orders/build", "billing/scan"}); err != nil || !slices.Equal(h.manifests, []string{"billing"}) {
		t.Errorf("CheckManifests asked about %v (%v), want billing", h.manifests, err)
	}
}

// Before anything runs: a push with no image repository and a deploy with
// no GitOps repository ask the command line whether CI allows the local
// defaults; --wait asks for Argo CD; a modified tree is refused in CI
// (usage) and warned about elsewhere.
func TestCheckPublishTargets(t *testing.T) {
	root, _, commit, opts, apps := shop(t)
	commit("base", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	newRun := func(o Options, h Host) *Run {
		t.Helper()
		run, err := New(context.Background(), o, h, apps)
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	h := &stubHost{}
	if err := newRun(opts, h).CheckPublishTargets([]string{"orders/build", "orders/scan"}); err != nil || len(h.requireInCI) != 0 {
		t.Errorf("no publishing stage: %v, asked %v", err, h.requireInCI)
	}
	if err := newRun(opts, h).CheckPublishTargets([]string{"orders/push", "billing/push", "deploy"}); err != nil ||
		!slices.Equal(h.requireInCI, []string{"CI_IMAGE", "CI_IMAGE", "GITOPS_REPO"}) {
		t.Errorf("local defaults: %v, asked %v", err, h.requireInCI)
	}
	h = &stubHost{refuse: usage.Errorf("missing")}
	o := opts
	o.Push.Image, o.GitOpsRepo, o.Wait = "registry.example/shop", "https://git.example/gitops.git", true
	if err := newRun(o, h).CheckPublishTargets([]string{"orders/push", "deploy"}); !usage.Is(err) || len(h.requireInCI) != 0 || h.argo != 1 {
		t.Errorf("configured targets with --wait and no Argo CD: %v, asked %v, Argo CD %d", err, h.requireInCI, h.argo)
	}
	if got := newRun(o, h).Apps()[1].ImageRepo(); got != "registry.example/shop/billing" {
		t.Errorf("billing's image repository %q", got)
	}
	writeIn(t, root, "services/orders/main.go", "package main\n\nfunc main() { println() }\n")
	o.Wait = false
	if err := newRun(o, &stubHost{}).CheckPublishTargets([]string{"orders/push"}); err != nil {
		t.Errorf("a modified tree outside CI: %v, want a warning", err)
	}
	o.CI = true
	if err := newRun(o, &stubHost{}).CheckPublishTargets([]string{"orders/push"}); !usage.Is(err) || !strings.Contains(err.Error(), "uncommitted changes") {
		t.Errorf("a modified tree in CI: %v, want a usage error", err)
	}
}

// --changed-since keeps the apps a change affects; a run with none left
// writes the summary naming what it skipped and runs nothing.
func TestChangedSinceSkipsUnaffected(t *testing.T) {
	root, _, commit, opts, apps := shop(t)
	// billing is a module of its own: orders' lint and test (./... of the
	// root module) do not read it. With billing in orders' module they
	// would, and a billing change would affect orders too.
	writeIn(t, root, "services/billing/go.mod", "module example.com/billing\n\ngo 1.26\n")
	apps[1].Source, apps[1].Main, apps[1].Deploy = "services/billing", ".", "deploy"
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c1 := commit("base", t0)
	writeIn(t, root, "services/billing/main.go", "package main\n\nfunc main() { println() }\n")
	commit("billing", t0.Add(time.Hour))
	opts.ChangedSince = c1
	run, err := New(context.Background(), opts, &stubHost{}, apps)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Apps()) != 1 || run.Apps()[0].Spec.Name != "billing" || len(run.Skipped()) != 1 || run.Skipped()[0].App != "orders" || run.Base() != c1 {
		t.Fatalf("apps %v, skipped %v since %s", run.Apps(), run.Skipped(), run.Base())
	}
	opts.ChangedSince = "HEAD"
	run, err = New(context.Background(), opts, &stubHost{}, apps)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := run.Pipeline(context.Background())
	if err != nil || lines != nil {
		t.Fatalf("nothing affected: %v %v", lines, err)
	}
	summary, err := os.ReadFile(filepath.Join(opts.Out, pipeline.SummaryFile))
	if err != nil || !strings.Contains(string(summary), "- orders:") || !strings.Contains(string(summary), "- billing:") {
		t.Errorf("summary %q (%v)", summary, err)
	}
}

// A run of host stages needs no engine: the pipeline runs the configured
// custom stage for every app, records it in each app's result.json and
// prints nothing to capture; a failed one is ErrStageFailed, and its
// error is cleaned by Redact.
func TestPipelineRunsHostStages(t *testing.T) {
	_, _, commit, opts, apps := shop(t)
	commit("base", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ran := make(chan string, 4)
	opts.Stages = []StageSpec{{Name: "hello", Host: true, Run: func(_ context.Context, env dag.StageEnv) error {
		ran <- env.SourceDir
		env.Set("greeting", "hello")
		return nil
	}}}
	run, err := New(context.Background(), opts, &stubHost{}, apps)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := run.Pipeline(context.Background())
	if err != nil || len(lines) != 0 || len(ran) != 2 {
		t.Fatalf("host stages: lines %v, %v, ran %d", lines, err, len(ran))
	}
	for _, a := range []string{"orders", "billing"} {
		res, err := pipeline.LoadResult(filepath.Join(opts.Out, a))
		if err != nil || res.Stages["hello"].Status != pipeline.Passed || res.Stages["hello"].Details["greeting"] != "hello" {
			t.Errorf("%s: result.json %+v (%v)", a, res.Stages, err)
		}
	}
	opts.Stages[0].Run = func(context.Context, dag.StageEnv) error { return errors.New("token s3cr3t-value leaked") }
	opts.Redact = func(s string) string { return strings.ReplaceAll(s, "s3cr3t-value", "***") }
	run, err = New(context.Background(), opts, &stubHost{}, apps)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run.Pipeline(context.Background(), "orders/hello"); !errors.Is(err, ErrStageFailed) {
		t.Fatalf("a failed stage: %v, want ErrStageFailed", err)
	}
	res, _ := pipeline.LoadResult(filepath.Join(opts.Out, "orders"))
	if e := res.Stages["hello"].Error; strings.Contains(e, "s3cr3t") || !strings.Contains(e, "***") {
		t.Errorf("the recorded error %q is not redacted", e)
	}
}
