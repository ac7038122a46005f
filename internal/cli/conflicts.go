package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/manifest"
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
	{flag: "image", values: imageValues},
	{flag: "out", values: field("Config.Out", func(p Project) string { return p.Out }), same: samePath},
	{flag: "gitops-repo", values: field("Config.GitOps.Repo", func(p Project) string { return p.GitOpsRepo }), env: "GITOPS_REPO"},
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
				shown := fmt.Sprintf("%q", v)
				if c.want != "" {
					shown = fmt.Sprintf("%q (%s)", v, c.want)
				}
				return usageErr("%s%s conflicts with %s %q in the Go configuration: drop one", given, shown, c.field, c.value)
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
// to deploy, not a repository, and has no counterpart.
func imageValues(o *options, cmd *cobra.Command, v string) []configured {
	if cmd.Name() == "deploy" {
		return nil
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
