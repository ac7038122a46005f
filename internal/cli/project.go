package cli

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/internal/affected"
	"github.com/slipway-ci/slipway/internal/flow"
	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/imagelock"
	"github.com/slipway-ci/slipway/internal/manifest"
	"github.com/slipway-ci/slipway/internal/outdir"
	"github.com/slipway-ci/slipway/internal/render"
	"github.com/slipway-ci/slipway/internal/version"
)

// Project is a pipeline configuration: what the public slipway.Config
// becomes. The zero values are Slipway's defaults.
type Project struct {
	Name       string // command name in help and messages (default "ci")
	Apps       []App
	PublishEnv string // environment --publish deploys to (default "development")
	// Wait makes --publish wait for Argo CD after the deploy (--wait);
	// WaitTimeout and ArgoCDApps default --wait-timeout and --argocd-app.
	Wait         bool
	WaitTimeout  time.Duration
	ArgoCDApps   []string
	GitOpsRepo   string // default GITOPS_REPO, else out/gitops.git outside CI
	GitOpsBranch string // default GITOPS_BRANCH, else "main"
	Layout       string // GitOps path template (default gitops.DefaultLayout)
	// Charts renders Helm charts for the deploy's render proof (nil: a
	// chart render is reported unproven); the slipway binary sets the Helm SDK's.
	Charts        render.ChartFunc
	ImageLock     []byte // the built-in image lock
	ImageLockName string // how to name it in messages ("built-in ci/images.lock")
	LockPath      string // the lock file `pin` rewrites (default "ci/images.lock")
	Severity      string // default "HIGH,CRITICAL"
	IgnoreFile    string
	IgnoreUnfixed bool
	Stages        []StageSpec // nil: the built-in stages
	Concurrency   int         // apps whose stages run at once (0: by cores, see flow.Options.Concurrency)
	Out           string      // default "out"
	Global        affected.Global
	// ConfigErr is a problem found while building the project (reported by Validate).
	ConfigErr error
	// Wrappers configure `generate github-actions` and `generate jenkinsfile`.
	Wrappers Wrappers
	// BinaryOnly is cmd/slipway: the commands that need no Go configuration.
	BinaryOnly bool
	Version    string // `version` prints it
	// given is the project before withDefaults: what the Go code set.
	given *Project
	// Verify is the verification policy deploys check (a flag may restate
	// or fill it, never contradict it: checkConfigFlags).
	Verify VerifyConfig
}

// App is one application the pipeline builds (flow.AppSpec).
type App = flow.AppSpec

// appValues is an app's Helm value paths from the Go configuration, nil
// when the app is not configured or has none.
func (p Project) appValues(name string) *manifest.Values {
	for _, a := range p.Apps {
		if a.Name == name {
			return a.Values
		}
	}
	return nil
}

// Built-in stage names.
const (
	StageLint   = flow.StageLint
	StageTest   = flow.StageTest
	StageBuild  = flow.StageBuild
	StageScan   = flow.StageScan
	StagePush   = flow.StagePush
	StageDeploy = flow.StageDeploy
)

// StageSpec is a stage of every app's graph (flow.StageSpec).
type StageSpec = flow.StageSpec

// DefaultStages are the built-in stages (flow.DefaultStages).
func DefaultStages() []StageSpec { return flow.DefaultStages() }

var appNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

// withDefaults fills the zero values (and remembers what was given, for
// checkConfigFlags).
func (p Project) withDefaults() Project {
	if p.given == nil {
		g := p
		p.given = &g
	}
	if p.Name == "" {
		p.Name = "ci"
	}
	if p.PublishEnv == "" {
		p.PublishEnv = "development"
	}
	if p.Out == "" {
		p.Out = "out"
	}
	if p.Severity == "" {
		p.Severity = "HIGH,CRITICAL"
	}
	if p.LockPath == "" {
		p.LockPath = "ci/images.lock"
	}
	if p.ImageLockName == "" {
		p.ImageLockName = "built-in ci/images.lock"
	}
	if p.Stages == nil {
		p.Stages = DefaultStages()
	}
	apps := make([]App, len(p.Apps))
	for i, a := range p.Apps {
		if a.Main == "" {
			a.Main = "."
		}
		if a.Binary == "" {
			a.Binary = a.Name
		}
		if a.Deploy == "" {
			a.Deploy = "deploy"
		}
		if a.Port == 0 {
			a.Port = 8080
		}
		if a.Base == "" {
			a.Base = "distroless"
		}
		if a.Source == "" {
			a.Source = "."
		}
		apps[i] = a
	}
	p.Apps = apps
	return p
}

// Validate checks a project before anything runs: every problem is one line
// naming the field and the fix (exit 2).
func (p Project) Validate() error {
	p = p.withDefaults()
	if p.ConfigErr != nil {
		return p.ConfigErr
	}
	if p.Wrappers.NoEnvironment && p.Wrappers.Environment != "" {
		return fmt.Errorf("Config.Wrappers.NoEnvironment with Wrappers.Environment %q: drop one", p.Wrappers.Environment)
	}
	if !p.BinaryOnly && len(p.Apps) == 0 {
		return fmt.Errorf("Config.Apps is empty: add at least one App{Name, Source}")
	}
	names := map[string]bool{}
	for i, a := range p.Apps {
		field := fmt.Sprintf("Config.Apps[%d]", i)
		if !appNameRE.MatchString(a.Name) {
			return fmt.Errorf("%s.Name %q: want a lowercase name (letters, digits, . _ -), as the GitOps directory and image name", field, a.Name)
		}
		if names[a.Name] {
			return fmt.Errorf("%s.Name %q: two apps have this name; give each app its own", field, a.Name)
		}
		names[a.Name] = true
		if a.Values != nil {
			if err := a.Values.Validate(); err != nil {
				return fmt.Errorf("%s.Helm (app %s): %w", field, a.Name, err)
			}
		}
		if a.Port < 0 || a.Port > 65535 {
			return fmt.Errorf("%s.Port %d: want 1-65535", field, a.Port)
		}
	}
	if err := gitops.ValidateLayout(p.Layout); err != nil {
		return fmt.Errorf("Config.GitOps.Layout: %w", err)
	}
	if p.WaitTimeout < 0 {
		return fmt.Errorf("Config.Publish.WaitTimeout %s: want a positive duration (or 0 for 10 minutes)", p.WaitTimeout)
	}
	for i, a := range p.ArgoCDApps {
		if a == "" || strings.Count(a, "/") > 1 || strings.ContainsAny(a, " \t?#") {
			return fmt.Errorf("Config.Publish.ArgoCDApps[%d] %q: want an Argo CD Application name (or namespace/name)", i, a)
		}
	}
	if err := p.Verify.validate(); err != nil {
		return err
	}
	if _, err := orderStages(p.Stages); err != nil {
		return err
	}
	if len(p.ImageLock) > 0 {
		lock, err := imagelock.Parse(p.ImageLockName, p.ImageLock)
		if err != nil {
			return fmt.Errorf("Config.Images: %w", err)
		}
		for _, a := range p.Apps {
			if _, ok := lock.Get(a.Base); !ok {
				return fmt.Errorf("app %s: base image %q is not in the image lock (names: %s)", a.Name, a.Base, strings.Join(lockNames(lock), ", "))
			}
		}
	}
	return nil
}

func lockNames(l *imagelock.Lock) []string {
	var out []string
	for _, i := range l.Images() {
		out = append(out, i.Name)
	}
	return out
}

// CheckSource checks, before anything runs, what the commands that read an
// app's source need of it: Source inside a Go module, a Go package at Main,
// and, with manifests (plan, the scan stage, seeding the local GitOps
// repository), the Deploy directory. field names a field of the app as the user set
// it ("Config.Apps[0].Main", or "--main" for `plan --source`); errors are
// one line naming the field and the fix.
// Commands that do not read the source (deploy of a given image, history,
// status, rollback, …) never call it: they work from any directory.
func CheckSource(field func(string) string, a App, manifests bool) error {
	if !flow.HasGoMod(a.Source) {
		return fmt.Errorf("%s %q (app %s): no go.mod there or above it; point Source at the app's Go module (or a directory inside one)", field("Source"), a.Source, a.Name)
	}
	main := filepath.Join(a.Source, orDot(a.Main))
	if !hasGoFiles(main) {
		return fmt.Errorf("%s %q (app %s): no Go package in %s; set Main to the main package's directory, relative to Source (e.g. \"./cmd/%s\")", field("Main"), a.Main, a.Name, main, a.Name)
	}
	if pkg := goPackage(main); pkg != "" && pkg != "main" {
		return fmt.Errorf("%s %q (app %s): %s is package %s, not a main package; set Main to the directory of the program's package main (e.g. \"./cmd/%s\")", field("Main"), a.Main, a.Name, main, pkg, a.Name)
	}
	deploy := filepath.Join(a.Source, orDot(a.Deploy))
	if st, err := os.Stat(deploy); manifests && (err != nil || !st.IsDir()) {
		return fmt.Errorf("%s %q (app %s): no directory %s; put the app's kustomize base/ and overlays/ENV/ there, or set Deploy to where they are (relative to Source)", field("Deploy"), a.Deploy, a.Name, deploy)
	}
	if root := version.Root(a.Source); manifests && root != "" && !outdir.Within(root, realOr(deploy)) {
		return fmt.Errorf("%s %q (app %s): %s is outside the repository %s; keep the manifests in the repository (relative to Source)", field("Deploy"), a.Deploy, a.Name, deploy, root)
	}
	if manifests && !hasManifests(deploy) {
		return fmt.Errorf("%s %q (app %s): %s holds no manifests (no kustomization.yaml, base/, overlays/ or values*.yaml); put the app's kustomize base/ and overlays/ENV/ there, or set Deploy to where they are (relative to Source)", field("Deploy"), a.Deploy, a.Name, deploy)
	}
	return nil
}

// realOr is p with its symbolic links resolved (as git's top level is), or
// its absolute form.
func realOr(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	abs, _ := filepath.Abs(p)
	return abs
}

// goPackage is the package name of dir's non-test Go files ("" when none
// parses).
func goPackage(dir string) string {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, n), nil, parser.PackageClauseOnly)
		if err == nil {
			return f.Name.Name
		}
	}
	return ""
}

// hasManifests reports whether dir holds what deploy reads: a kustomization,
// a base/ or overlays/ directory, or Helm values files.
func hasManifests(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		n := strings.ToLower(e.Name())
		switch {
		case e.IsDir() && (n == "base" || n == "overlays" || n == "charts"):
			return true
		case !e.IsDir() && (n == "kustomization.yaml" || n == "kustomization.yml" || n == "kustomization" || n == "chart.yaml" ||
			(strings.HasPrefix(n, "values") && (strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")))):
			return true
		}
	}
	return false
}

func orDot(s string) string {
	if s == "" {
		return "."
	}
	return s
}

// hasGoFiles reports whether dir holds a Go file other than a test.
func hasGoFiles(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			return true
		}
	}
	return false
}

// orderStages is flow.OrderStages.
func orderStages(specs []StageSpec) ([]StageSpec, error) { return flow.OrderStages(specs) }
