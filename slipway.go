// Package slipway is a typed CI/CD pipeline for Go services, written as Go
// code on the Dagger Go SDK: lint ∥ test ∥ build → Trivy scan → push by
// digest → GitOps commit. A service repository's whole pipeline is a short
// ci/main.go:
//
//	func main() {
//		slipway.Main(slipway.Config{
//			Apps:    []slipway.App{{Name: "payments", Source: ".", Main: "./cmd/payments"}},
//			Publish: slipway.Publish{Env: "development"},
//		})
//	}
//
// `go run ./ci` then runs the pipeline, `go run ./ci plan` shows it without an
// engine, and `go run ./ci --publish` pushes the image by digest and commits
// image@sha256:… into the GitOps repository that Argo CD or Flux pulls. Every
// field's zero value is the default; flags and environment variables
// (--gitops-repo/GITOPS_REPO, --image/CI_IMAGE, …) fill what it leaves empty.
// A flag that contradicts a field set here exits 2 naming both.
//
// A monorepo lists several Apps: their stages run in one engine session with
// bounded concurrency, only the apps a change affects run on pull requests
// (--changed-since), and their deploy commits land in one push.
package slipway

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/slipway-ci/slipway/internal/affected"
	"github.com/slipway-ci/slipway/internal/cli"
	"github.com/slipway-ci/slipway/internal/manifest"
)

// DefaultImageLock is Slipway's built-in image lock (ci/images.lock of the
// Slipway release): every container the pipeline runs, by tag and digest.
//
//go:embed ci/images.lock
var DefaultImageLock []byte

// Config is a repository's pipeline.
type Config struct {
	// Apps are the applications the pipeline builds: one for a service
	// repository, several for a monorepo. Names must be unique.
	Apps []App
	// Publish configures --publish.
	Publish Publish
	// GitOps is where deploys are committed.
	GitOps GitOps
	// Images is the path of an image lock file to use instead of the
	// built-in one (mirrors, air-gapped registries); --images may restate
	// it, not contradict it. Relative to the working directory.
	Images string
	// Gate configures the scan gate (what fails the build).
	Gate Gate
	// Stages are the stages each app runs, in any order (Needs decide it).
	// Nil means DefaultStages(); add your own with
	// append(slipway.DefaultStages(), myStage).
	Stages []Stage
	// Concurrency is how many apps' stages run at once. Default: by the
	// machine's cores, max(3, cores+1) stages at once (2 cores: one app's
	// lint, test and build, then the next app's, which reuse what the first
	// compiled into the shared Go build cache).
	Concurrency int
	// Out is the artifacts directory (default "out"; out/APP/ per app when
	// there are several).
	Out string
	// AlwaysRebuild lists files and directories whose change makes every app
	// affected (besides go.mod, go.sum, go.work, the image lock and ci/).
	AlwaysRebuild []string
	// Wrappers configure the generated CI files (`go run ./ci generate
	// github-actions|jenkinsfile`).
	Wrappers Wrappers
	// Verify is the verification policy every deploy, promote and rollback
	// checks before committing: the digest's signature, SBOM and provenance,
	// read back from the registry. Flags (--verify-key,
	// --certificate-identity …) and SLIPWAY_VERIFY_KEY may restate it, never
	// contradict it (exit 2). Empty:
	// --publish verifies against the key or identity it signed with, and
	// the deploy command verifies nothing.
	Verify Verify
}

// Verify is a verification policy: a public key, or a keyless identity.
// Signing itself is configured by the environment (SLIPWAY_SIGNING_KEY and
// SLIPWAY_SIGNING_KEY_PASSWORD, or keyless in GitHub Actions), never in
// code: keys are secrets.
type Verify struct {
	// Key is a PEM public key file (slipway keygen's .pub, or cosign.pub),
	// relative to the working directory.
	Key string
	// Identity (or IdentityRegexp) and Issuer (or IssuerRegexp) are what a
	// keyless signature's certificate must name, e.g.
	// "https://github.com/acme/payments/.github/workflows/ci.yml@refs/heads/main"
	// and "https://token.actions.githubusercontent.com".
	Identity, IdentityRegexp string
	Issuer, IssuerRegexp     string
	// TrustedRoot is a Sigstore trusted root JSON file for keyless
	// verification offline (default: fetched from Sigstore's TUF repository).
	TrustedRoot string
	// Require lists what must verify: "signature", "sbom", "provenance"
	// (default all three).
	Require []string
}

// Wrappers configure the generated GitHub Actions workflow and Jenkinsfile.
type Wrappers struct {
	// Branch is the branch whose builds publish (default "main").
	Branch string
	// TestCommands, when set, add a tests job to the workflow (e.g. "make test").
	TestCommands []string
	// Setup commands run before TestCommands (installing test servers).
	Setup []string
	// JenkinsAgent is the Jenkins agent label (default "docker").
	JenkinsAgent string
	// JenkinsRegistryCredentials and JenkinsGitOpsCredentials are Jenkins
	// credential IDs (defaults "registry-push", "gitops-token"); a custom
	// stage's Secrets bind credential IDs named after them (FOO_BAR → foo-bar).
	JenkinsRegistryCredentials string
	JenkinsGitOpsCredentials   string
	// Environment is the GitHub environment of the workflow's publish job
	// (its protection rules, reviewers and secrets apply); empty: "publish".
	// Store GITOPS_TOKEN, the signing key and its password and registry
	// passwords as secrets of that environment, with a deployment-branch
	// rule for Branch: a workflow edited in another branch cannot read them.
	Environment string
	// NoEnvironment runs the publish job in no GitHub environment (its
	// secrets are repository secrets, readable by a workflow edited in any
	// branch pushed to the repository). Set with Environment: a
	// configuration error.
	NoEnvironment bool
}

// App is one application: a main package in a Go module.
type App struct {
	// Name is the GitOps directory, the image name and the kustomize
	// images: entry: lowercase letters, digits, '.', '_' and '-'.
	Name string
	// Source is the app's directory: its Go module, or a directory inside
	// one (default "."). Lint, test and build run there.
	Source string
	// Main is the main package, relative to Source (default ".").
	Main string
	// Binary is the binary's name and the image entrypoint /app/<Binary>
	// (default Name).
	Binary string
	// Deploy is the directory of the app's kustomize base/ and overlays/,
	// relative to Source (default "deploy"); it seeds the local GitOps
	// repository and is scanned for misconfigurations.
	Deploy string
	// Image is the image repository (default: CI_IMAGE, or CI_IMAGE/NAME
	// when there are several apps; else Slipway's local registry outside CI).
	Image string
	// Port is the port the image exposes (default 8080).
	Port int
	// Base is the image-lock name of the base image (default "distroless").
	Base string
	// Tags are extra tags for every push, besides the commit SHA,
	// <branch>-<short sha> and a semver tag.
	Tags []string
	// Helm says where the app's Helm chart takes the image, for
	// environments held in Helm values (a chart's values-<env>.yaml, a Flux
	// HelmRelease's spec.values, an Argo CD Application's helm values or
	// its .argocd-source-<app>.yaml). Zero: image.repository, image.tag and
	// image.digest, where the values have them. The binary's flag is
	// --helm-value ROLE=PATH.
	Helm HelmValues
}

// HelmValues are dotted paths into a chart's values. Set, they are written
// even where the values do not have them yet; at least Digest, Image or Tag
// must be set.
type HelmValues struct {
	// Repository is the image repository's path, e.g. "image.repository".
	Repository string
	// Digest is the digest's path, e.g. "image.digest".
	Digest string
	// Tag is the tag's path, e.g. "image.tag". Without Digest (a chart that
	// only takes a tag) it is written as "<tag>@sha256:…", so the chart
	// renders REPO:TAG@sha256:….
	Tag string
	// Image is the path of a value that holds the whole reference
	// (REPO@sha256:…), for charts that take one string; it replaces the others.
	Image string
}

func (h HelmValues) values() *manifest.Values {
	if h == (HelmValues{}) {
		return nil
	}
	return &manifest.Values{Repository: h.Repository, Tag: h.Tag, Digest: h.Digest, Image: h.Image}
}

// Publish configures what --publish does.
type Publish struct {
	// Env is the environment --publish deploys to (default "development").
	Env string
	// Wait makes --publish end only when Argo CD reports the deploy commit
	// synced and healthy (as --wait does): the deploy stage asks Argo CD's
	// API (ARGOCD_SERVER, ARGOCD_AUTH_TOKEN, a read-only token; never a
	// kubeconfig) and fails naming what is not synced or healthy. What Argo
	// CD reported is recorded as a git note (refs/notes/slipway).
	Wait bool
	// WaitTimeout bounds the wait (default 10 minutes; --wait-timeout).
	WaitTimeout time.Duration
	// ArgoCDApps names the Argo CD Applications that deploy Env (default:
	// those whose source is the GitOps repository and the environment's
	// path; --argocd-app).
	ArgoCDApps []string
}

// GitOps is the GitOps repository deploys are committed to.
type GitOps struct {
	// Repo is the repository URL or path (default: GITOPS_REPO; else, outside
	// CI, a local bare repository out/gitops.git).
	Repo string
	// Branch is the branch (default: GITOPS_BRANCH, else "main").
	Branch string
	// Layout is the file of an app's environment, as a path template with
	// {app} and {env} (default "{app}/overlays/{env}/kustomization.yaml";
	// Flux's "apps/{env}/kustomization.yaml"; a flat "{app}/kustomization.yaml").
	// Every GitOps command (deploy, promote, rollback, status, history,
	// dora, the report) finds an app's file through it; --layout may
	// restate it (a different --layout exits 2).
	Layout string
	// Charts renders Helm charts for the proof that a deploy changes what
	// the cluster runs. Set it to helm.Render (package
	// github.com/slipway-ci/slipway/helm) when environments are Helm charts,
	// Flux HelmReleases or Argo CD Applications with charts in the
	// repository; nil keeps the Helm SDK out of the pipeline's build, and a
	// deploy that only a chart render could prove is reported unproven.
	Charts ChartRenderer
}

// ChartRenderer renders a Helm chart (its files rooted at the directory of
// Chart.yaml) with user values laid over the chart's values.yaml, as `helm
// template RELEASE --namespace NAMESPACE` does, and returns the manifests.
type ChartRenderer = func(ctx context.Context, chart fs.FS, values map[string]any, release, namespace string) ([]byte, error)

// BinaryOption configures the slipway binary.
type BinaryOption struct{ charts ChartRenderer }

// WithCharts gives the binary a Helm chart renderer (cmd/slipway passes helm.Render).
func WithCharts(f ChartRenderer) BinaryOption { return BinaryOption{charts: f} }

// Gate configures the scan gate: which Trivy findings fail the build.
type Gate struct {
	// Severity lists the severities that fail the gate (default "HIGH,CRITICAL").
	Severity string
	// IgnoreFile is a .trivyignore or .trivyignore.yaml (default: the app's
	// source directory's, if present).
	IgnoreFile string
	// IgnoreUnfixed does not count vulnerabilities that have no fixed version.
	IgnoreUnfixed bool
}

// Main runs the pipeline's command line with the process's arguments and
// exits: `go run ./ci` (lint, test, build, scan), `--publish`, `plan`, a
// single stage, `deploy`, `history`, … with the exit codes of the contract
// (0 success, 1 a stage, gate or refusal, 2 usage or configuration, 130
// interrupted). A bad Config exits 2 before anything runs, with one line
// naming the field.
func Main(cfg Config) {
	cli.Main(cfg.project())
}

// Run is Main for tests and wrappers: it runs the command line with args,
// writes to stdout and stderr, and returns the exit code instead of exiting.
func Run(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) int {
	return cli.Execute(ctx, cfg.project(), args, stdout, stderr)
}

// Validate checks a configuration as Main does before anything runs. An
// app's Source, Main and Deploy are checked later, by the commands that read
// them (the stages, plan), so that commands such as deploy and history run
// from any directory.
func (c Config) Validate() error {
	return c.project().Validate()
}

// project turns the public configuration into the CLI's.
func (c Config) project() cli.Project {
	p := cli.Project{
		PublishEnv:    c.Publish.Env,
		Wait:          c.Publish.Wait,
		WaitTimeout:   c.Publish.WaitTimeout,
		ArgoCDApps:    c.Publish.ArgoCDApps,
		GitOpsRepo:    c.GitOps.Repo,
		GitOpsBranch:  c.GitOps.Branch,
		Layout:        c.GitOps.Layout,
		Charts:        c.GitOps.Charts,
		ImageLock:     DefaultImageLock,
		Severity:      c.Gate.Severity,
		IgnoreFile:    c.Gate.IgnoreFile,
		IgnoreUnfixed: c.Gate.IgnoreUnfixed,
		Concurrency:   c.Concurrency,
		Out:           c.Out,
		Global:        affected.Global{Dirs: []string{"ci"}},
		Verify: cli.VerifyConfig{
			Key: c.Verify.Key, Identity: c.Verify.Identity, IdentityRE: c.Verify.IdentityRegexp,
			Issuer: c.Verify.Issuer, IssuerRE: c.Verify.IssuerRegexp, TrustedRoot: c.Verify.TrustedRoot, Require: c.Verify.Require,
		},
		Wrappers: cli.Wrappers{
			Branch: c.Wrappers.Branch, TestCommands: c.Wrappers.TestCommands, Setup: c.Wrappers.Setup,
			JenkinsAgent: c.Wrappers.JenkinsAgent, JenkinsRegistryCredentials: c.Wrappers.JenkinsRegistryCredentials,
			JenkinsGitOpsCredentials: c.Wrappers.JenkinsGitOpsCredentials, Environment: c.Wrappers.Environment,
			NoEnvironment: c.Wrappers.NoEnvironment,
		},
	}
	for _, f := range c.AlwaysRebuild {
		if st, err := os.Stat(f); err == nil && st.IsDir() {
			p.Global.Dirs = append(p.Global.Dirs, f)
		} else {
			p.Global.Files = append(p.Global.Files, f)
		}
	}
	if c.Images != "" {
		data, err := os.ReadFile(c.Images)
		if err != nil {
			p.ConfigErr = fmt.Errorf("Config.Images %q: %w; point it at an image lock file (relative to where the pipeline runs), or leave it empty for the built-in lock", c.Images, err)
		}
		p.ImageLock, p.ImageLockName, p.LockPath = data, c.Images, c.Images
	}
	for _, a := range c.Apps {
		p.Apps = append(p.Apps, cli.App{
			Name: a.Name, Source: a.Source, Main: a.Main, Binary: a.Binary, Deploy: a.Deploy,
			Image: a.Image, Port: a.Port, Base: a.Base, Tags: a.Tags, Values: a.Helm.values(),
		})
	}
	if c.Stages != nil {
		p.Stages = []cli.StageSpec{}
		for _, s := range c.Stages {
			p.Stages = append(p.Stages, s.spec())
		}
	}
	return p
}

// MainBinary is the slipway binary (cmd/slipway): the commands that need no
// Go configuration (push, pin, deploy, promote, history, status,
// scan --report, plan --source DIR, version), with the contract's flags,
// output and exit codes.
func MainBinary(opts ...BinaryOption) {
	cli.Main(binaryProject(opts))
}

// RunBinary is MainBinary for tests: it returns the exit code.
func RunBinary(ctx context.Context, args []string, stdout, stderr io.Writer, opts ...BinaryOption) int {
	return cli.Execute(ctx, binaryProject(opts), args, stdout, stderr)
}

func binaryProject(opts []BinaryOption) cli.Project {
	p := cli.Project{Name: "slipway", BinaryOnly: true, ImageLock: DefaultImageLock, Global: affected.Global{Dirs: []string{"ci"}}}
	for _, o := range opts {
		if o.charts != nil {
			p.Charts = o.charts
		}
	}
	return p
}
