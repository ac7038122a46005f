package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/manifest"
)

// fullyConfigured sets every configuration field that has a flag.
func fullyConfigured() Project {
	p := testProject()
	p.Apps[0].Image = "registry.acme.io/team/sample-app"
	p.Apps[0].Values = &manifest.Values{Repository: "image.repository", Digest: "image.digest"}
	p.Out = "build/out"
	p.GitOpsRepo = "https://git.acme.io/team/gitops.git"
	p.GitOpsBranch = "deploys"
	p.Layout = "apps/{env}/{app}.yaml"
	p.LockPath = "ci/mirror.lock"
	p.Severity = "CRITICAL,HIGH"
	p.IgnoreUnfixed = true
	p.IgnoreFile = ".trivyignore.yaml"
	p.Wait = true
	p.WaitTimeout = 7 * time.Minute
	p.ArgoCDApps = []string{"argocd/sample-app-dev"}
	p.Verify = VerifyConfig{Key: "ci/cosign.pub", TrustedRoot: "ci/trusted_root.json", Require: []string{"signature", "sbom"}}
	return p
}

// walk calls f for every command of the tree, root included.
func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, sub := range c.Commands() {
		walk(sub, f)
	}
}

// tree builds the command tree over p and finds the command at path.
func tree(p Project, path string) (*options, *cobra.Command) {
	o := &options{stdout: io.Discard, stderr: io.Discard, proj: p.withDefaults()}
	root := newRootCmdFor(o)
	if path == root.Name() {
		return o, root
	}
	cmd, _, err := root.Find(strings.Fields(path)[1:])
	if err != nil {
		panic(err)
	}
	return o, cmd
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }

// other is a value of f's type that differs from v.
func other(typ, v string) string {
	switch typ {
	case "bool":
		if v == "true" {
			return "false"
		}
		return "true"
	case "duration":
		d, _ := time.ParseDuration(v)
		return (d + time.Minute).String()
	}
	return v + "x"
}

// Issue 17 (trust, item 3): over every command of the tree and every flag
// with a counterpart in the Go configuration, a flag restating the field is
// accepted and a flag contradicting it is a usage error (exit 2) naming the
// flag, the field and both values. A new command carrying such a flag is
// covered without touching this test.
func TestConfigFlagConflicts(t *testing.T) {
	p := fullyConfigured()
	app := p.Apps[0].Name
	var paths []string
	_, root := tree(p, "ci")
	walk(root, func(c *cobra.Command) { paths = append(paths, c.CommandPath()) })
	checked, pairs := map[string]bool{}, 0
	// promote's --to is an environment, not an image.
	noCounterpart := map[string]bool{"ci promote --to": true}
	for _, path := range paths {
		for _, cf := range configFlags {
			o, cmd := tree(p, path)
			_ = cmd.ParseFlags(nil) // merges the inherited flags
			f := cmd.Flags().Lookup(cf.flag)
			if f == nil {
				continue
			}
			var pre []string
			if cmd.Flags().Lookup("app") != nil {
				pre = []string{"--app", app}
			}
			if err := cmd.ParseFlags(pre); err != nil {
				t.Fatal(err)
			}
			confs := cf.values(o, cmd, "")
			key := path + " --" + cf.flag
			if len(confs) == 0 {
				if !noCounterpart[key] {
					t.Errorf("%s: the fully configured project gives no configured value", key)
				}
				continue
			}
			equal := confs[0].value
			for _, tc := range []struct {
				value    string
				conflict bool
			}{{equal, false}, {other(f.Value.Type(), equal), true}} {
				o, cmd := tree(p, path)
				if err := cmd.ParseFlags(append(pre, "--"+cf.flag+"="+tc.value)); err != nil {
					t.Fatalf("%s=%s: %v", key, tc.value, err)
				}
				err := o.checkConfigFlags(cmd)
				if !tc.conflict {
					if err != nil {
						t.Errorf("%s=%s restates the configuration: %v", key, tc.value, err)
					}
					continue
				}
				var ee *exitError
				if !errors.As(err, &ee) || ee.code != 2 {
					t.Errorf("%s=%s contradicts %s %q: got %v, want exit 2", key, tc.value, confs[0].field, equal, err)
					continue
				}
				msg := err.Error()
				for _, want := range []string{"--" + cf.flag, tc.value, confs[0].field, equal, "drop one"} {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: %q does not name %q", key, msg, want)
					}
				}
			}
			if cf.env != "" {
				for _, tc := range []struct {
					value    string
					conflict bool
				}{{equal, false}, {other(f.Value.Type(), equal), true}} {
					t.Setenv(cf.env, tc.value)
					o, cmd := tree(p, path)
					if err := cmd.ParseFlags(pre); err != nil {
						t.Fatal(err)
					}
					err := o.checkConfigFlags(cmd)
					if tc.conflict != (err != nil) || (err != nil && !strings.Contains(err.Error(), cf.env+"="+strconvQuote(tc.value))) {
						t.Errorf("%s with %s=%s: %v", path, cf.env, tc.value, err)
					}
				}
				t.Setenv(cf.env, "")
			}
			checked[cf.flag] = true
			pairs++
		}
	}
	t.Logf("%d command/flag pairs checked", pairs)
	for _, cf := range configFlags {
		if !checked[cf.flag] {
			t.Errorf("--%s: no command carries it", cf.flag)
		}
	}
}

// Every field of the configuration either has a flag in configFlags or is
// listed here as having none: a new field is a decision, not an accident.
func TestEveryConfigFieldIsClassified(t *testing.T) {
	flagOf := map[string]string{
		"Project.Out": "out", "Project.GitOpsRepo": "gitops-repo", "Project.GitOpsBranch": "gitops-branch",
		"Project.Layout": "layout", "Project.LockPath": "images", "Project.Severity": "severity",
		"Project.IgnoreUnfixed": "ignore-unfixed", "Project.IgnoreFile": "ignorefile", "Project.Wait": "wait",
		"Project.WaitTimeout": "wait-timeout", "Project.ArgoCDApps": "argocd-app", "Project.Verify": "verify-key",
		"App.Image": "image", "App.Values": "helm-value",
		// --source replaces a one-app pipeline's source by design ("instead
		// of the configured one"): not a contradiction but the flag's point.
		"App.Source": "",
		// No flag sets these (--tag adds tags to App.Tags; it never replaces them).
		"Project.Name": "", "Project.Apps": "", "Project.PublishEnv": "", "Project.Charts": "", "Project.ImageLock": "",
		"Project.ImageLockName": "", "Project.Stages": "", "Project.Concurrency": "", "Project.Global": "",
		"Project.ConfigErr": "", "Project.Wrappers": "", "Project.BinaryOnly": "", "Project.Version": "", "Project.given": "",
		"App.Name": "", "App.Main": "", "App.Binary": "", "App.Deploy": "", "App.Port": "", "App.Base": "", "App.Tags": "",
	}
	inTable := map[string]bool{}
	for _, cf := range configFlags {
		inTable[cf.flag] = true
	}
	for _, typ := range []reflect.Type{reflect.TypeOf(Project{}), reflect.TypeOf(App{})} {
		for i := 0; i < typ.NumField(); i++ {
			name := map[string]string{"Project": "Project", "AppSpec": "App", "App": "App"}[typ.Name()] + "." + typ.Field(i).Name
			flag, ok := flagOf[name]
			switch {
			case !ok:
				t.Errorf("%s is new: give its flag a configFlags entry, or list it here as having none", name)
			case flag != "" && !inTable[flag]:
				t.Errorf("%s: --%s is not in configFlags", name, flag)
			}
		}
	}
	for _, name := range []string{"verify-key", "certificate-identity", "certificate-identity-regexp", "certificate-oidc-issuer", "certificate-oidc-issuer-regexp", "trusted-root", "verify-require"} {
		if !inTable[name] {
			t.Errorf("--%s (Config.Verify) is not in configFlags", name)
		}
	}
}

// The reported case end to end: `run push --image X` with App.Image Y
// exits 2 before anything runs, naming both; with several apps --image is
// the prefix CI_IMAGE/NAME, which an App.Image equal to it restates.
func TestImageFlagAgainstAppImage(t *testing.T) {
	noEngineEnv(t)
	p := testProject()
	p.Apps[0].Image = "registry.acme.io/team/sample-app"
	var out, errb bytes.Buffer
	code := Execute(context.Background(), p, []string{"run", "push", "--image", "ghcr.io/acme/other", "--out", t.TempDir()}, &out, &errb)
	want := `error: --image "ghcr.io/acme/other" conflicts with App.Image (app sample-app) "registry.acme.io/team/sample-app" in the Go configuration: drop one`
	if code != 2 || strings.TrimSpace(errb.String()) != want {
		t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, errb.String(), want)
	}

	two := testProject()
	two.Apps = append(two.Apps, App{Name: "ledger", Source: "../../ledger", Image: "registry.acme.io/team/ledger"})
	o, cmd := tree(two, "ci run")
	if err := cmd.ParseFlags([]string{"--image", "registry.acme.io/team"}); err != nil {
		t.Fatal(err)
	}
	if err := o.checkConfigFlags(cmd); err != nil {
		t.Errorf("--image registry.acme.io/team restates App.Image registry.acme.io/team/ledger: %v", err)
	}
	o, cmd = tree(two, "ci run")
	if err := cmd.ParseFlags([]string{"--image", "ghcr.io/acme"}); err != nil {
		t.Fatal(err)
	}
	if err := o.checkConfigFlags(cmd); err == nil || !strings.Contains(err.Error(), `"ghcr.io/acme" (ghcr.io/acme/ledger)`) {
		t.Errorf("--image ghcr.io/acme with App.Image registry.acme.io/team/ledger: %v", err)
	}
	// --app selects: an app the run leaves out does not conflict.
	o, cmd = tree(two, "ci run")
	if err := cmd.ParseFlags([]string{"--image", "ghcr.io/acme", "--app", "sample-app"}); err != nil {
		t.Fatal(err)
	}
	if err := o.checkConfigFlags(cmd); err != nil {
		t.Errorf("--app sample-app leaves ledger out: %v", err)
	}
}
