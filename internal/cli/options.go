package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/imagelock"
	"github.com/slipway-ci/slipway/internal/redact"
	"github.com/slipway-ci/slipway/internal/safetext"
)

// options are the shared flags; each falls back to its environment variable.
type options struct {
	stdout, stderr io.Writer
	proj           Project
	// secrets are the secret values this run read; nothing it prints or
	// records holds a piece of one (nil in unit tests: nothing redacted).
	secrets *redact.Set

	out           string
	source        string
	gitopsRepo    string
	gitopsBranch  string
	layout        string
	images        string
	engineTimeout time.Duration
	local         bool
	// The one app of the slipway binary's plan, given by flags.
	appName, appMain, appDeploy string

	signOnceState
}

func (o *options) bind(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&o.out, "out", o.proj.Out, "directory for artifacts (image.tar, trivy.json, result.json, summary.md; out/APP/ for each app when there are several)")
	f.StringVar(&o.source, "source", "", "the application's source directory, instead of the configured one (a one-app pipeline)")
	f.StringVar(&o.gitopsRepo, "gitops-repo", "", "GitOps repository URL or path (env GITOPS_REPO; default: a local bare repo out/gitops.git)")
	f.StringVar(&o.gitopsBranch, "gitops-branch", "", "GitOps branch (env GITOPS_BRANCH; default main)")
	f.StringVar(&o.layout, "layout", "", "where an app's environment lives in the GitOps repository, as a path template with {app} and {env} (default {app}/overlays/{env}/kustomization.yaml, or the Go configuration's GitOps.Layout); every GitOps command reads it")
	f.StringVar(&o.images, "images", "", "image lock to use instead of the built-in ci/images.lock (env SLIPWAY_IMAGES)")
	f.DurationVar(&o.engineTimeout, "engine-timeout", 5*time.Minute, "how long to wait for a Dagger session before giving up")
	positive(f, "engine-timeout")
	f.BoolVar(&o.local, "local", false, "in CI (CI is set), still use the embedded registry and out/gitops.git when CI_IMAGE or GITOPS_REPO is empty")
}

// ciVariables say "this is a CI run": CI (GitHub Actions, GitLab, most
// others), and what Jenkins and a few others set instead.
var ciVariables = []string{"CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "BUILDKITE", "TF_BUILD"}

// inCI reports whether this is a CI run.
func inCI() bool {
	for _, k := range ciVariables {
		if v := strings.ToLower(os.Getenv(k)); v != "" && v != "false" && v != "0" {
			return true
		}
	}
	return false
}

// requireInCI refuses an empty target in CI: there, an empty GITOPS_REPO or
// CI_IMAGE is a missing secret, not a wish for the throwaway local default.
func (o *options) requireInCI(what, flag, env string) error {
	if !inCI() || o.local {
		return nil
	}
	return usageErr("%s is empty and CI is set: is the %s secret missing? Set %s (or %s), or pass --local to use Slipway's throwaway local %s on purpose", env, env, env, flag, what)
}

func envDefault(flag, env, def string) string {
	if flag != "" {
		return flag
	}
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

// GitOpsRepo is the configured repository, or "" for the embedded default.
func (o *options) GitOpsRepo() string {
	return envDefault(o.gitopsRepo, "GITOPS_REPO", o.proj.GitOpsRepo)
}

// Layout is the GitOps layout: --layout, else the configuration's.
func (o *options) Layout() (string, error) {
	if o.layout == "" {
		return o.proj.Layout, nil
	}
	if err := gitops.ValidateLayout(o.layout); err != nil {
		return "", usageErr("--layout: %v", err)
	}
	return o.layout, nil
}

// GitOpsBranch is the configured branch.
func (o *options) GitOpsBranch() string {
	def := o.proj.GitOpsBranch
	if def == "" {
		def = "main"
	}
	return envDefault(o.gitopsBranch, "GITOPS_BRANCH", def)
}

// apps are the project's apps, with --source replacing a single app's source.
func (o *options) apps() ([]App, error) {
	apps := append([]App(nil), o.proj.Apps...)
	if o.source != "" {
		switch len(apps) {
		case 0:
			a := App{Name: filepath.Base(mustAbs(o.source)), Source: o.source, Main: ".", Deploy: "deploy", Port: 8080, Base: "distroless"}
			if o.appName != "" {
				a.Name = o.appName
			}
			if o.appMain != "" {
				a.Main = o.appMain
			}
			if o.appDeploy != "" {
				a.Deploy = o.appDeploy
			}
			a.Binary = a.Name
			if !appNameRE.MatchString(a.Name) {
				return nil, usageErr("app name %q (from --name or the directory): want a lowercase name; pass --name", a.Name)
			}
			apps = []App{a}
		case 1:
			apps[0].Source = o.source
		default:
			return nil, usageErr("--source applies to a one-app pipeline; this one has %d apps (select them with --app)", len(apps))
		}
	}
	return apps, nil
}

// checkSources checks the source of the apps a command reads (CheckSource),
// naming each field as the user set it.
func (o *options) checkSources(apps []App, manifests bool) error {
	for _, a := range apps {
		field := func(f string) string { return "--" + strings.ToLower(f) }
		for i, c := range o.proj.Apps {
			if c.Name == a.Name {
				field = func(f string) string {
					if f == "Source" && o.source != "" {
						return "--source"
					}
					return fmt.Sprintf("Config.Apps[%d].%s", i, f)
				}
			}
		}
		if err := CheckSource(field, a, manifests); err != nil {
			return usageErr("configuration: %v", err)
		}
	}
	return nil
}

// firstApp is the app commands such as deploy use to seed the local GitOps
// repository and to name the default source directory.
func (o *options) seedApps() []gitops.SeedApp {
	apps, _ := o.apps()
	var out []gitops.SeedApp
	for _, a := range apps {
		out = append(out, gitops.SeedApp{Name: a.Name, DeployDir: filepath.Join(a.Source, a.Deploy)})
	}
	return out
}

func mustAbs(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return abs
}

// lock loads the image lock: --images, SLIPWAY_IMAGES, else the built-in one.
func (o *options) lock() (*imagelock.Lock, error) {
	path := envDefault(o.images, "SLIPWAY_IMAGES", "")
	if path == "" {
		l, err := imagelock.Parse(o.proj.ImageLockName, o.proj.ImageLock)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		return l, nil
	}
	l, err := imagelock.Load(path)
	if err != nil {
		return nil, usageErr("%v (fix the file or drop --images/SLIPWAY_IMAGES)", err)
	}
	return l, nil
}

// invocation is how a user runs this program: "slipway", or "go run ./ci".
func (o *options) invocation() string {
	if o.proj.BinaryOnly {
		return "slipway"
	}
	return "go run ./ci"
}

func (o *options) outPath(name string) string { return filepath.Join(o.out, name) }

// logf prints one line on stderr. Its arguments are printed escaped (safetext): a value from outside (a
// registry's answer, a record, an error) cannot pose as a line of its own.
func (o *options) logf(format string, a ...any) {
	fmt.Fprint(o.stderr, safetext.Sprintf(format+"\n", a...))
}

// layoutOrConfig is Layout for output that cannot fail (a bad --layout is
// refused by the commands that use it).
func (o *options) layoutOrConfig() string {
	if l, err := o.Layout(); err == nil {
		return l
	}
	return o.proj.Layout
}
