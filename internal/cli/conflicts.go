package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/manifest"
	"github.com/slipway-ci/slipway/internal/redact"
)

// The Go configuration and the command line say one thing. A flag may
// restate a configuration field or fill one the configuration leaves
// empty; a flag that contradicts a field the configuration sets is a usage
// error naming both (exit 2), never silently one of them (`run push --image
// X` used to push to App.Image and say nothing). configFlags lists every
// flag with a configuration counterpart; TestConfigFlagConflicts walks the
// whole command tree, so each such flag on any command is checked.

// configured is one configuration value a flag must agree with.
type configured struct {
	field string // as the user writes it: Config.GitOps.Repo, App.Image (app api)
	value string // spelled as the flag would be
	want  string // what the flag makes of the field, when not its value (--image REPO with several apps: REPO/NAME)
}

// configFlag is a flag with a counterpart in the Go configuration.
type configFlag struct {
	flag string
	// values are the configuration's values the flag given as v must equal,
	// for the command cmd; none when the configuration leaves it to flags.
	values func(o *options, cmd *cobra.Command, v string) []configured
	// same compares a flag value with a configured one (default: equal).
	same func(flag, conf string) bool
	// env is the flag's environment variable, held to the same rule when
	// the flag is not given.
	env string
}

// configFlags are the flag/field pairs. Fields with no flag (Concurrency,
// Stages, Wrappers, App.Port …) are listed in TestEveryConfigFieldIsClassified;
// so is --source, whose whole point is to replace a one-app pipeline's
// App.Source (it says so: "instead of the configured one").
var configFlags = []configFlag{
	{flag: "image", values: imageValues, same: sameRepository},
	{flag: "to", values: rollbackToValues, same: sameRepository},
	{flag: "out", values: field("Config.Out", func(p Project) string { return p.Out }), same: samePath},
	{flag: "gitops-repo", values: field("Config.GitOps.Repo", func(p Project) string { return p.GitOpsRepo }), same: sameURL, env: "GITOPS_REPO"},
	{flag: "gitops-branch", values: field("Config.GitOps.Branch", func(p Project) string { return p.GitOpsBranch }), env: "GITOPS_BRANCH"},
	{flag: "layout", values: field("Config.GitOps.Layout", func(p Project) string { return p.Layout })},
	{flag: "images", values: field("Config.Images", func(p Project) string { return p.LockPath }), same: samePath, env: "SLIPWAY_IMAGES"},
	{flag: "severity", values: field("Config.Gate.Severity", func(p Project) string { return p.Severity }), same: sameSet(strings.ToUpper)},
	{flag: "ignore-unfixed", values: field("Config.Gate.IgnoreUnfixed", func(p Project) string { return boolField(p.IgnoreUnfixed) })},
	{flag: "ignorefile", values: field("Config.Gate.IgnoreFile", func(p Project) string { return p.IgnoreFile }), same: samePath},
	{flag: "wait", values: field("Config.Publish.Wait", func(p Project) string { return boolField(p.Wait) })},
	{flag: "wait-timeout", values: field("Config.Publish.WaitTimeout", func(p Project) string { return durationField(p.WaitTimeout) }), same: sameDuration},
	{flag: "argocd-app", values: field("Config.Publish.ArgoCDApps", func(p Project) string { return strings.Join(p.ArgoCDApps, ",") }), same: sameSet(nil)},
	{flag: "verify-key", values: policyField("Config.Verify.Key", func(v VerifyConfig) string { return v.Key }), same: samePath, env: envVerifyKey},
	{flag: "certificate-identity", values: policyField("Config.Verify.Identity", func(v VerifyConfig) string { return v.Identity })},
	{flag: "certificate-identity-regexp", values: policyField("Config.Verify.IdentityRegexp", func(v VerifyConfig) string { return v.IdentityRE })},
	{flag: "certificate-oidc-issuer", values: policyField("Config.Verify.Issuer", func(v VerifyConfig) string { return v.Issuer })},
	{flag: "certificate-oidc-issuer-regexp", values: policyField("Config.Verify.IssuerRegexp", func(v VerifyConfig) string { return v.IssuerRE })},
	{flag: "trusted-root", values: field("Config.Verify.TrustedRoot", func(p Project) string { return p.Verify.TrustedRoot }), same: samePath},
	{flag: "verify-require", values: field("Config.Verify.Require", func(p Project) string { return strings.Join(p.Verify.Require, ",") }), same: sameSet(strings.ToLower)},
	{flag: "helm-value", values: helmValueValues, same: sameHelmValues},
}

// given is the configuration as the Go code set it, before defaults.
func (o *options) given() Project {
	if o.proj.given != nil {
		return *o.proj.given
	}
	return o.proj
}

// checkConfigFlags refuses a flag (or its environment variable) that
// contradicts the Go configuration.
func (o *options) checkConfigFlags(cmd *cobra.Command) error {
	for _, cf := range configFlags {
		f := cmd.Flags().Lookup(cf.flag)
		if f == nil {
			continue
		}
		v, given := flagValue(f), "--"+cf.flag+" "
		if !f.Changed {
			if cf.env == "" || os.Getenv(cf.env) == "" {
				continue
			}
			v, given = os.Getenv(cf.env), cf.env+"="
		}
		same := cf.same
		if same == nil {
			same = func(a, b string) bool { return a == b }
		}
		for _, c := range cf.values(o, cmd, v) {
			eff := v // what the flag makes of the field
			if c.want != "" {
				eff = c.want
			}
			if !same(eff, c.value) {
				// A value may be a URL with a credential in it: the
				// message quotes it with the credential masked.
				shown := fmt.Sprintf("%q", maskUserinfo(v))
				if c.want != "" {
					shown = fmt.Sprintf("%q (%s)", maskUserinfo(v), maskUserinfo(c.want))
				}
				return usageErr("%s%s conflicts with %s %q in the Go configuration: drop one", given, shown, c.field, maskUserinfo(c.value))
			}
		}
	}
	return nil
}

// flagValue is f's value; a list's items joined by commas.
func flagValue(f *pflag.Flag) string {
	if s, ok := f.Value.(pflag.SliceValue); ok {
		return strings.Join(s.GetSlice(), ",")
	}
	return f.Value.String()
}

// field is a Config field the configuration sets when it is not empty.
func field(name string, get func(Project) string) func(*options, *cobra.Command, string) []configured {
	return func(o *options, _ *cobra.Command, _ string) []configured {
		if v := get(o.given()); v != "" {
			return []configured{{field: name, value: v}}
		}
		return nil
	}
}

// policyField is a field of the verification policy: once the
// configuration has a policy (a key or an identity), every policy flag must
// restate it, an empty field included, or a flag would swap the policy.
func policyField(name string, get func(VerifyConfig) string) func(*options, *cobra.Command, string) []configured {
	return func(o *options, _ *cobra.Command, _ string) []configured {
		v := o.given().Verify
		if v.Key == "" && v.Identity == "" && v.IdentityRE == "" {
			return nil
		}
		return []configured{{field: name, value: get(v)}}
	}
}

func boolField(b bool) string {
	if b {
		return "true"
	}
	return ""
}

func durationField(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// selectedApps are the configured apps a command concerns: those --app
// names, else every app; the push command's --image concerns only an app
// its --app names.
func selectedApps(o *options, cmd *cobra.Command) []App {
	apps := o.given().Apps
	f := cmd.Flags().Lookup("app")
	if f == nil || !f.Changed {
		if cmd.Name() == "push" || cmd.Name() == "deploy" || cmd.Name() == "promote" {
			return nil
		}
		return apps
	}
	names := map[string]bool{}
	for _, n := range strings.Split(flagValue(f), ",") {
		names[strings.TrimSpace(n)] = true
	}
	var out []App
	for _, a := range apps {
		if names[a.Name] {
			out = append(out, a)
		}
	}
	return out
}

// imageValues: --image is the image repository of the apps a run pushes
// (REPO, or REPO/NAME with several apps); deploy's --image is a reference
// to deploy (REPO[:TAG]@DIGEST) whose repository must be the app's.
func imageValues(o *options, cmd *cobra.Command, v string) []configured {
	if cmd.Name() == "deploy" {
		apps := selectedApps(o, cmd)
		if f := cmd.Flags().Lookup("app"); (f == nil || !f.Changed) && len(o.given().Apps) == 1 {
			apps = o.given().Apps // the one app deploy defaults to
		}
		var out []configured
		for _, a := range apps {
			if a.Image != "" {
				out = append(out, configured{field: "App.Image (app " + a.Name + ")", value: a.Image, want: repositoryOf(v)})
			}
		}
		return out
	}
	several := len(o.given().Apps) > 1 && cmd.Name() != "push"
	var out []configured
	for _, a := range selectedApps(o, cmd) {
		if a.Image == "" {
			continue
		}
		c := configured{field: "App.Image (app " + a.Name + ")", value: a.Image}
		if several {
			c.want = strings.TrimSuffix(v, "/") + "/" + a.Name
		}
		out = append(out, c)
	}
	return out
}

// rollbackToValues: rollback's --to REPO@DIGEST is held to App.Image by its
// repository, like deploy's --image (promote's --to is an environment).
func rollbackToValues(o *options, cmd *cobra.Command, v string) []configured {
	if cmd.Name() != "rollback" {
		return nil
	}
	var out []configured
	for _, a := range selectedApps(o, cmd) {
		if a.Image != "" {
			out = append(out, configured{field: "App.Image (app " + a.Name + ")", value: a.Image, want: repositoryOf(v)})
		}
	}
	return out
}

// checkAppImage refuses to deploy, promote or roll back an image of
// another repository than the app's App.Image (exit 2, naming both): the
// image a promote copies or a rollback restores is held to the
// configuration like deploy's --image.
func (o *options) checkAppImage(req gitops.Request) error {
	for _, a := range o.given().Apps {
		if a.Name == req.App && a.Image != "" && !sameRepository(req.Image.Repo, a.Image) {
			return usageErr("%s/%s: image %s is not of App.Image (app %s) %q in the Go configuration; deploy an image of %s, or change App.Image", req.App, req.Env, maskUserinfo(req.Image.String()), a.Name, a.Image, a.Image)
		}
	}
	return nil
}

// helmValueValues: --helm-value against the Helm value paths of the app
// deploy or promote --app names.
func helmValueValues(o *options, cmd *cobra.Command, _ string) []configured {
	var out []configured
	for _, a := range selectedApps(o, cmd) {
		if a.Values != nil {
			out = append(out, configured{field: "App.Helm (app " + a.Name + ")", value: helmSpelling(a.Values)})
		}
	}
	return out
}

// helmSpelling writes Values as --helm-value flags would, comma-separated.
func helmSpelling(v *manifest.Values) string {
	var parts []string
	for _, kv := range [][2]string{{"repository", v.Repository}, {"tag", v.Tag}, {"digest", v.Digest}, {"image", v.Image}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	return strings.Join(parts, ",")
}

func sameHelmValues(flag, conf string) bool {
	a, err := manifest.ParseValues(strings.Split(flag, ","))
	if err != nil || a == nil {
		return true // the command reports a bad flag itself
	}
	b, err := manifest.ParseValues(strings.Split(conf, ","))
	return err == nil && b != nil && *a == *b
}

// repositoryOf is the repository of an image reference: REPO of
// REPO[:TAG][@DIGEST].
func repositoryOf(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

// sameRepository compares image repositories as registries name them
// (docker.io/library/x is x; a host in any case).
func sameRepository(a, b string) bool {
	x, err1 := name.NewRepository(a)
	y, err2 := name.NewRepository(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return x.Name() == y.Name()
}

// sameURL compares repository URLs without their credentials: the same
// repository restated with a token (https://ci:TOKEN@host/…) is the same.
func sameURL(a, b string) bool { return stripUserinfo(a) == stripUserinfo(b) }

// userinfoAt finds the userinfo of the URL s (scheme://USERINFO@host…):
// where it starts and where its '@' is, ok false when s has none.
func userinfoAt(s string) (start, at int, ok bool) {
	i := strings.Index(s, "://")
	if i < 0 {
		return 0, 0, false
	}
	start = i + 3
	end := len(s)
	if j := strings.IndexAny(s[start:], "/?#"); j >= 0 {
		end = start + j
	}
	at = strings.LastIndex(s[start:end], "@")
	if at < 0 {
		return 0, 0, false
	}
	return start, start + at, true
}

// stripUserinfo is the URL s without its userinfo.
func stripUserinfo(s string) string {
	if start, at, ok := userinfoAt(s); ok {
		return s[:start] + s[at+1:]
	}
	return s
}

// maskUserinfo is s with a URL's userinfo written as ***. It errs on the
// side of masking: up to the last '@' of the URL, so a password holding a
// raw '/' or '@' is masked whole too.
func maskUserinfo(s string) string { return redact.URLCredentials(s) }

// checkConfiguredApps refuses an --app the Go configuration does not have
// (a ci/ program with apps configured), naming the apps it has, before any
// registry or git access. The readers of records (history, status, dora,
// report) take any app: the records of an app no longer configured stay
// readable.
func (o *options) checkConfiguredApps(cmd *cobra.Command) error {
	apps := o.given().Apps
	f := cmd.Flags().Lookup("app")
	if len(apps) == 0 || f == nil || !f.Changed {
		return nil
	}
	switch cmd.Name() {
	case "history", "status", "dora", "report":
		return nil
	}
	known := map[string]bool{}
	var names []string
	for _, a := range apps {
		known[a.Name] = true
		names = append(names, a.Name)
	}
	for _, n := range strings.Split(flagValue(f), ",") {
		if n = strings.TrimSpace(n); n != "" && !known[n] {
			return usageErr("--app %s: the Go configuration has no such app (apps: %s); use one of them or add it to Config.Apps", n, strings.Join(names, ", "))
		}
	}
	return nil
}

func samePath(a, b string) bool { return filepath.Clean(a) == filepath.Clean(b) }

func sameDuration(a, b string) bool {
	x, err1 := time.ParseDuration(a)
	y, err2 := time.ParseDuration(b)
	return err1 == nil && err2 == nil && x == y
}

// sameSet compares comma-separated lists as sets (norm folds case).
func sameSet(norm func(string) string) func(a, b string) bool {
	set := func(s string) string {
		var items []string
		seen := map[string]bool{}
		for _, it := range strings.Split(s, ",") {
			it = strings.TrimSpace(it)
			if norm != nil {
				it = norm(it)
			}
			if it != "" && !seen[it] {
				seen[it] = true
				items = append(items, it)
			}
		}
		sort.Strings(items)
		return strings.Join(items, ",")
	}
	return func(a, b string) bool { return set(a) == set(b) }
}
