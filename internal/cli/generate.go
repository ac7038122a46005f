package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/registry"
)

// Wrappers configure the generated CI files.
type Wrappers struct {
	// Setup commands run before TestCommands in the GitHub workflow's tests job.
	Setup []string
	// TestCommands, when set, add a tests job to the GitHub workflow.
	TestCommands []string
	// JenkinsAgent is the agent label (default "docker": Dagger runs its engine there).
	JenkinsAgent string
	// JenkinsRegistryCredentials and JenkinsGitOpsCredentials are credential
	// IDs (defaults "registry-push", "gitops-token").
	JenkinsRegistryCredentials string
	JenkinsGitOpsCredentials   string
	// Branch is the branch whose builds publish (default "main").
	Branch string
	// Environment is the GitHub environment of the publish job (its
	// protection rules and secrets apply); empty: "publish", unless
	// NoEnvironment.
	Environment string
	// NoEnvironment runs the publish job in no GitHub environment: its
	// secrets are then repository secrets, which a workflow edited in any
	// branch pushed to the repository can read.
	NoEnvironment bool
	registryHost  string // the Jenkinsfile's REGISTRY_HOST

	// CacheRepo is the GitHub workflow's SLIPWAY_CACHE_REPO (default:
	// ghcr.io/<repo>/slipway-cache, which needs packages: write).
	CacheRepo string
}

// Pinned actions: full commit SHAs (a tag can be re-pointed; a SHA cannot).
const (
	actionCheckout       = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
	actionSetupGo        = "actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5 # v5.5.0"
	actionUploadSARIF    = "github/codeql-action/upload-sarif@5d4e8d1aca955e8d8589aabd499c5cae939e33c7 # v4.31.9"
	actionUploadArtifact = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2"
)

// ghcr is the registry GitHub's own token pushes to.
const ghcr = "ghcr.io"

func (w Wrappers) withDefaults() Wrappers {
	if w.JenkinsAgent == "" {
		w.JenkinsAgent = "docker"
	}
	if w.JenkinsRegistryCredentials == "" {
		w.JenkinsRegistryCredentials = "registry-push"
	}
	if w.JenkinsGitOpsCredentials == "" {
		w.JenkinsGitOpsCredentials = "gitops-token"
	}
	if w.Branch == "" {
		w.Branch = "main"
	}
	if w.Environment == "" && !w.NoEnvironment {
		w.Environment = defaultEnvironment
	}
	return w
}

// defaultEnvironment is the GitHub environment the publish job runs in.
// Its secrets, with a deployment-branch rule for the publish branch, are
// what a branch cannot read: a repository secret is readable by any
// branch's edited workflow.
const defaultEnvironment = "publish"

// waves are the stages per wave (what runs together), from the same graph
// logic plan prints.
func (p Project) waves() ([][]StageSpec, error) {
	specs, err := orderStages(p.Stages)
	if err != nil {
		return nil, err
	}
	byName := map[string]StageSpec{}
	var stages []pipeline.Stage
	for _, s := range specs {
		byName[s.Name] = s
		stages = append(stages, pipeline.Stage{Name: s.Name, Needs: s.Needs})
	}
	g, err := pipeline.NewGraph(stages...)
	if err != nil {
		return nil, err
	}
	var waves [][]StageSpec
	for _, names := range g.Waves() {
		var wave []StageSpec
		for _, n := range names {
			wave = append(wave, byName[n])
		}
		waves = append(waves, wave)
	}
	return waves, nil
}

// privileged reports, per stage, whether it runs only where publishing is
// allowed: a publish stage, a stage that reads secrets (the built-in push
// and deploy, a custom stage's Secrets), or one that needs such a stage.
// Pull requests run none of them: their code is not trusted with secrets.
func (p Project) privileged() map[string]bool {
	return p.closure(func(s StageSpec) bool {
		return s.Publish || len(s.Secrets) > 0 || s.Builtin == StagePush || s.Builtin == StageDeploy
	})
}

// publishing reports, per stage, whether it publishes (a publish stage, the
// built-in push and deploy) or needs a stage that does; every other stage
// verifies, and runs before any publishing one.
func (p Project) publishing() map[string]bool {
	return p.closure(func(s StageSpec) bool {
		return s.Publish || s.Builtin == StagePush || s.Builtin == StageDeploy
	})
}

// closure reports, per stage, whether has holds for it or for any stage it
// needs, directly or not (a cycle is cut at the number of stages).
func (p Project) closure(has func(StageSpec) bool) map[string]bool {
	byName := map[string]StageSpec{}
	for _, s := range p.Stages {
		byName[s.Name] = s
	}
	memo := map[string]bool{}
	var visit func(name string, depth int) bool
	visit = func(name string, depth int) bool {
		if v, ok := memo[name]; ok || depth > len(byName) {
			return v
		}
		s := byName[name]
		v := has(s)
		for _, n := range s.Needs {
			v = visit(n, depth+1) || v
		}
		memo[name] = v
		return v
	}
	for name := range byName {
		visit(name, 0)
	}
	return memo
}

// stageCommand is how a wrapper runs one stage.
func (p Project) stageCommand(s StageSpec) string {
	switch s.Builtin {
	case StageLint, StageTest, StageBuild, StageScan:
		return "go run ./ci " + s.Name
	}
	return "go run ./ci run " + s.Name
}

// registries are the registry hosts the apps push to; "" stands for an
// app with no App.Image (it pushes under CI_IMAGE).
func (p Project) registries() (hosts []string, unset []string, err error) {
	seen := map[string]bool{}
	for _, a := range p.Apps {
		if a.Image == "" {
			unset = append(unset, a.Name)
			continue
		}
		repo, err := registry.ParseRepo(a.Image)
		if err != nil {
			return nil, nil, fmt.Errorf("App.Image of %s: %w", a.Name, err)
		}
		if h := repo.RegistryStr(); !seen[h] {
			seen[h] = true
			hosts = append(hosts, h)
		}
	}
	return hosts, unset, nil
}

// registryLogins renders the publish job's login steps: one per registry
// other than ghcr.io (which takes the job's GITHUB_TOKEN), each with its own
// secrets (registrySecret), the password on docker login's stdin, so no
// secret is given to a registry it does not belong to. Cloud registries
// (ECR, GAR, ACR) take no static secret: refused. usesGHCR reports whether
// anything (an image, the engine cache) goes to ghcr.io.
func registryLogins(hosts []string, cacheRepo string) (steps string, usesGHCR bool, err error) {
	all := append([]string(nil), hosts...)
	if cacheRepo == "" {
		all = append(all, ghcr)
	} else {
		repo, err := registry.ParseRepo(cacheRepo)
		if err != nil {
			return "", false, fmt.Errorf("Wrappers.CacheRepo: %w", err)
		}
		all = append(all, repo.RegistryStr())
	}
	var b strings.Builder
	seen := map[string]bool{}
	secretOf := map[string]string{}
	for _, h := range all {
		if seen[h] {
			continue
		}
		seen[h] = true
		if h == ghcr {
			usesGHCR = true
			continue
		}
		if cloud := registry.CloudRegistry(h); cloud != "" {
			return "", false, fmt.Errorf("generate: %s is %s, which takes no static user name and password: push there from a workflow of your own that logs in with the cloud's credential helper (docker-credential-%s), or use another registry", h, cloud, map[string]string{"ECR": "ecr-login", "GAR": "gcloud", "ACR": "acr-env"}[cloud])
		}
		sec := registrySecret(h)
		if other, ok := secretOf[sec]; ok {
			return "", false, fmt.Errorf("generate: registries %s and %s would share the secrets %s_USERNAME/_PASSWORD: use one of them", other, h, sec)
		}
		secretOf[sec] = h
		fmt.Fprintf(&b, `      # %[1]s only: its own robot account (secrets %[2]s_USERNAME, %[2]s_PASSWORD).
      - name: docker login %[1]s
        env:
          REGISTRY_USERNAME: ${{ secrets.%[2]s_USERNAME }}
          REGISTRY_PASSWORD: ${{ secrets.%[2]s_PASSWORD }}
        run: printf '%%s' "$REGISTRY_PASSWORD" | docker login %[1]s --username "$REGISTRY_USERNAME" --password-stdin
`, h, sec)
	}
	return b.String(), usesGHCR, nil
}

// registrySecret is the prefix of the GitHub secrets holding one
// registry's credentials: REGISTRY_ and the host in upper case with every
// other character an underscore (registry.acme.io: REGISTRY_REGISTRY_ACME_IO).
func registrySecret(host string) string {
	var b strings.Builder
	b.WriteString("REGISTRY_")
	for _, r := range strings.ToUpper(host) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// jenkinsGuard is the condition of every Jenkins stage that holds a
// credential or publishes: the publishing branch, never a change request.
func jenkinsGuard(indent, branch string) string {
	return fmt.Sprintf("%[1]swhen {\n%[1]s  allOf {\n%[1]s    branch '%[2]s'\n%[1]s    not { changeRequest() }\n%[1]s  }\n%[1]s}\n", indent, branch)
}

// GenerateJenkinsfile renders the Jenkinsfile: one Jenkins stage per Slipway
// stage (a wave of several, such as lint ∥ test, as a parallel block). The
// stages that publish or read a secret run only on the publishing branch
// and never for a change request; only they bind credentials
// (withCredentials, to the contract's variable names). The registry and the
// GitOps repository come from the Go configuration: with none configured
// it refuses, naming the field, instead of writing a placeholder.
func GenerateJenkinsfile(p Project) (string, error) {
	p = p.withDefaults()
	w := p.Wrappers.withDefaults()
	waves, err := p.waves()
	if err != nil {
		return "", err
	}
	hosts, unset, err := p.registries()
	if err != nil {
		return "", err
	} else if len(unset) > 0 {
		return "", fmt.Errorf("generate jenkinsfile: App.Image of %s is empty: set it in the Go configuration (e.g. registry.acme.io/team/%s); Jenkins has no registry of its own to default to", strings.Join(unset, ", "), unset[0])
	}
	if p.GitOpsRepo == "" {
		return "", errors.New("generate jenkinsfile: GitOps.Repo is empty: set it in the Go configuration (or pass --gitops-repo) to the repository deploys commit to")
	}
	// The one registry credential (Wrappers.JenkinsRegistryCredentials) is
	// bound to the one registry it belongs to (REGISTRY_HOST): never given
	// to another.
	if len(hosts) > 1 {
		return "", fmt.Errorf("generate jenkinsfile: App.Image names %s, and the Jenkinsfile binds one registry credential (%s) to one registry: push to one registry, or log the agent in to each (docker login) and set Wrappers.JenkinsRegistryCredentials per pipeline", strings.Join(hosts, ", "), w.JenkinsRegistryCredentials)
	}
	if cloud := registry.CloudRegistry(hosts[0]); cloud != "" {
		return "", fmt.Errorf("generate jenkinsfile: %s is %s, which takes no static user name and password: configure its credential helper (docker-credential-%s) on the agent instead", hosts[0], cloud, map[string]string{"ECR": "ecr-login", "GAR": "gcloud", "ACR": "acr-env"}[cloud])
	}
	w.registryHost = hosts[0]
	// Every verification stage runs before any publishing one: a failing
	// check stops the pipeline before anything is pushed.
	pub := p.publishing()
	var verifyWaves, publishWaves [][]StageSpec
	for _, wave := range waves {
		var v, pw []StageSpec
		for _, s := range wave {
			if pub[s.Name] {
				pw = append(pw, s)
			} else {
				v = append(v, s)
			}
		}
		if len(v) > 0 {
			verifyWaves = append(verifyWaves, v)
		}
		if len(pw) > 0 {
			publishWaves = append(publishWaves, pw)
		}
	}
	waves = append(verifyWaves, publishWaves...)
	priv := p.privileged()
	var b strings.Builder
	fmt.Fprintf(&b, `// Generated by `+"`go run ./ci generate jenkinsfile`"+` from ci/main.go; edit the Go
// configuration, not this file (`+"`generate jenkinsfile --check`"+` fails in CI when they differ).
// Each Jenkins stage runs one Slipway stage, reading what the previous one left
// in out/. Images (App.Image) and the GitOps repository come from the Go
// configuration. Credentials are bound only in stages that run on %s and
// never for a change request: a pull request's code reads no secret. CI holds
// no cluster credentials: deploy is a commit to the GitOps repository, which
// Argo CD pulls.
pipeline {
  agent { label '%s' } // Dagger runs its engine on the agent's Docker

  options {
    timestamps()
    disableConcurrentBuilds() // two builds of one branch never race
    timeout(time: 60, unit: 'MINUTES')
    buildDiscarder(logRotator(numToKeepStr: '50'))
  }

  environment {
    GITOPS_REPO   = '%s'
    GITOPS_BRANCH = '%s'
    REGISTRY_HOST = '%s' // the only registry the registry credential is given to
  }

  stages {
`, w.Branch, w.JenkinsAgent, p.GitOpsRepo, orDefault(p.GitOpsBranch, "main"), w.registryHost)
	for _, wave := range waves {
		if len(wave) == 1 {
			writeJenkinsStage(&b, p, w, wave[0], priv[wave[0].Name], "    ")
			continue
		}
		var names []string
		all := true
		for _, s := range wave {
			names = append(names, s.Name)
			all = all && priv[s.Name]
		}
		fmt.Fprintf(&b, "    stage('%s') {\n", strings.Join(names, " & "))
		if all {
			b.WriteString(jenkinsGuard("      ", w.Branch))
		}
		b.WriteString("      parallel {\n")
		for _, s := range wave {
			writeJenkinsStage(&b, p, w, s, priv[s.Name] && !all, "        ")
		}
		b.WriteString("      }\n    }\n")
	}
	b.WriteString(`  }

  post {
    always {
      archiveArtifacts artifacts: 'out/**', excludes: 'out/registry/**,out/gitops.git/**', allowEmptyArchive: true
    }
  }
}
`)
	return b.String(), nil
}

func writeJenkinsStage(b *strings.Builder, p Project, w Wrappers, s StageSpec, guard bool, indent string) {
	fmt.Fprintf(b, "%sstage('%s') {\n", indent, s.Name)
	if guard {
		b.WriteString(jenkinsGuard(indent+"  ", w.Branch))
	}
	cmd := p.stageCommand(s)
	var creds []string
	switch s.Builtin {
	case StagePush:
		creds = append(creds, fmt.Sprintf("usernamePassword(credentialsId: '%s', usernameVariable: 'REGISTRY_USERNAME', passwordVariable: 'REGISTRY_PASSWORD')", w.JenkinsRegistryCredentials))
		creds = append(creds, jenkinsSigningCreds...)
	case StageDeploy:
		creds = append(creds, fmt.Sprintf("string(credentialsId: '%s', variable: 'GITOPS_TOKEN')", w.JenkinsGitOpsCredentials))
		if p.Wait {
			// Publish.Wait: a read-only Argo CD token (ARGOCD_SERVER is an agent setting), never a kubeconfig.
			creds = append(creds, "string(credentialsId: 'argocd-auth-token', variable: 'ARGOCD_AUTH_TOKEN')")
		}
		// The deploy verifies against the key push signed with.
		creds = append(creds, jenkinsSigningCreds...)
	}
	for _, sec := range s.Secrets {
		creds = append(creds, fmt.Sprintf("string(credentialsId: '%s', variable: '%s')", strings.ToLower(strings.ReplaceAll(sec, "_", "-")), sec))
	}
	if len(creds) == 0 {
		fmt.Fprintf(b, "%s  steps { sh '%s' }\n", indent, cmd)
	} else {
		fmt.Fprintf(b, "%s  steps {\n%s    withCredentials([%s]) {\n%s      sh '%s'\n%s    }\n%s  }\n",
			indent, indent, strings.Join(creds, ",\n"+indent+"                     "), indent, cmd, indent, indent)
	}
	fmt.Fprintf(b, "%s}\n", indent)
}

// jenkinsSigningCreds bind the signing key (a Jenkins file credential: its
// path) and its password.
var jenkinsSigningCreds = []string{
	"file(credentialsId: 'slipway-signing-key', variable: 'SLIPWAY_SIGNING_KEY')",
	"string(credentialsId: 'slipway-signing-key-password', variable: 'SLIPWAY_SIGNING_KEY_PASSWORD')",
}

// GenerateGitHubActions renders .github/workflows/ci.yml with two jobs. The
// verify job runs on pull requests and pushes with `contents: read` only
// and no secret: it runs the pull request's own ci/main.go, which must not
// be able to read a token. The publish job runs on pushes to the
// publishing branch only, after verify passed, with the secrets, write
// permissions and the OIDC token (`go run ./ci --publish --all`; all apps in
// one job: one engine session, one atomic deploy). The registry credentials
// follow the apps' images (GITHUB_TOKEN for ghcr.io, REGISTRY_USERNAME and
// REGISTRY_PASSWORD for any other registry); CI_IMAGE and GITOPS_REPO are
// set only for what the Go configuration leaves open. Actions are pinned
// by commit SHA.
func GenerateGitHubActions(p Project) (string, error) {
	p = p.withDefaults()
	w := p.Wrappers.withDefaults()
	if _, err := p.waves(); err != nil {
		return "", err
	}
	hosts, unset, err := p.registries()
	if err != nil {
		return "", err
	}
	if len(unset) > 0 {
		hosts = append(hosts, ghcr)
	}
	logins, usesGHCR, err := registryLogins(hosts, w.CacheRepo)
	if err != nil {
		return "", err
	}
	priv := p.privileged()
	// The verify job runs every stage a pull request may run.
	verifyCmd := "go run ./ci"
	var verifyNames []string
	needSubset := false
	specs, _ := orderStages(p.Stages)
	for _, s := range specs {
		if s.Publish {
			continue
		}
		if priv[s.Name] {
			needSubset = true
			continue
		}
		verifyNames = append(verifyNames, s.Name)
	}
	if needSubset {
		verifyCmd = "go run ./ci run " + strings.Join(verifyNames, " ")
	}

	var env strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&env, "          "+format+"\n", a...) }
	if len(unset) > 0 {
		image := "ghcr.io/${{ github.repository }}"
		if len(p.Apps) == 1 {
			image += "/" + p.Apps[0].Name
		}
		line("# Apps without App.Image push here (ghcr.io: GITHUB_TOKEN below).")
		line("CI_IMAGE: %s", image)
	}
	if w.CacheRepo != "" {
		line("# The engine's caches (Wrappers.CacheRepo).")
		line("SLIPWAY_CACHE_REPO: %s", w.CacheRepo)
	}
	if usesGHCR {
		line("# ghcr.io (images, the engine cache) takes the job's own token.")
		line("GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}")
	}
	if p.GitOpsRepo == "" {
		line("# GitOps.Repo is not set in the Go configuration: the repository comes from this secret.")
		line("GITOPS_REPO: ${{ secrets.GITOPS_REPO }}")
	}
	line("GITOPS_TOKEN: ${{ secrets.GITOPS_TOKEN }}")
	if p.Wait {
		line("# Publish.Wait: Argo CD's API with a read-only token (applications, get); no cluster credential.")
		line("ARGOCD_SERVER: ${{ vars.ARGOCD_SERVER }}")
		line("ARGOCD_AUTH_TOKEN: ${{ secrets.ARGOCD_AUTH_TOKEN }}")
	}
	line("# Empty: keyless signing as this workflow (id-token: write above).")
	line("SLIPWAY_SIGNING_KEY: ${{ secrets.SLIPWAY_SIGNING_KEY }}")
	line("SLIPWAY_SIGNING_KEY_PASSWORD: ${{ secrets.SLIPWAY_SIGNING_KEY_PASSWORD }}")
	seen := map[string]bool{}
	for _, s := range specs {
		for _, sec := range s.Secrets {
			if !seen[sec] {
				seen[sec] = true
				line("%s: ${{ secrets.%s }}", sec, sec)
			}
		}
	}
	// publish needs every verification job: a failing one stops it.
	needs := "verify"
	if len(w.TestCommands) > 0 {
		needs = "[verify, tests]"
	}
	packages := ""
	if usesGHCR {
		packages = "      packages: write # ghcr.io: push images and the engine cache, attach signature, SBOM and provenance\n"
	}
	environment := "    # No GitHub environment (Wrappers.NoEnvironment): these are repository\n" +
		"    # secrets, and a workflow edited in any branch pushed here can read them.\n"
	if w.Environment != "" {
		environment = "    # Store the secrets below in the GitHub environment " + w.Environment + " (Settings >\n" +
			"    # Environments) with a deployment-branch rule for " + w.Branch + ": a workflow edited\n" +
			"    # in another branch cannot read them (a repository secret it could).\n" +
			"    environment: " + w.Environment + "\n"
	}

	var b strings.Builder
	fmt.Fprintf(&b, `# Generated by `+"`go run ./ci generate github-actions`"+` from ci/main.go; edit the Go
# configuration, not this file (`+"`generate github-actions --check`"+` fails in CI when they differ).
# The pipeline is `+"`go run ./ci`"+`; this file only gives it a machine. No cluster
# credentials here: deploys are commits to the GitOps repository.
#
# verify runs the change's own ci/main.go (a pull request's too) with read
# access and no secret. publish runs only on pushes to %[1]s, after verify,
# and is the only job that holds secrets, write permissions and an OIDC token.
name: ci

on:
  pull_request:
  push:
    branches: [%[1]s]

permissions:
  contents: read

# Two pushes to %[1]s never race (the second waits); a newer push to a pull
# request cancels the older run.
concurrency:
  group: ${{ github.workflow }}-${{ github.ref }}
  cancel-in-progress: ${{ github.event_name == 'pull_request' }}

jobs:
  verify:
    name: verify (%[2]s)
    runs-on: ubuntu-24.04
    timeout-minutes: 45
    permissions:
      contents: read
    steps:
      - uses: %[3]s
        with:
          fetch-depth: 0 # --changed-since compares with the target branch
          persist-credentials: false
      - uses: %[4]s
        with:
          go-version-file: go.mod
          # Every go.sum, ci/go.sum included: the cache holds the compiled
          # pipeline (~900 packages), not only the service's modules.
          cache-dependency-path: "**/go.sum"
      # Lint, test, build, scan (on a pull request only the apps the change
      # affects). No secret and no write access: this is the change's own code.
      - name: %[2]s
        run: %[2]s
      - name: Upload out/
        if: ${{ !cancelled() }}
        uses: %[5]s
        with:
          name: slipway-out-verify
          path: |
            out/
            !out/registry/
            !out/gitops.git/
          if-no-files-found: ignore
          retention-days: 14

  publish:
    name: publish (go run ./ci --publish --all)
    needs: %[8]s
    if: ${{ github.event_name == 'push' && github.ref == 'refs/heads/%[1]s' }}
    runs-on: ubuntu-24.04
%[6]s    timeout-minutes: 45
    permissions:
      contents: read
%[9]s      security-events: write # upload the scan's SARIF to code scanning
      id-token: write # keyless signing: the job's OIDC token for a Sigstore certificate
    steps:
      - uses: %[3]s
        with:
          fetch-depth: 0 # the rollback guard compares source commits
          persist-credentials: false
      - uses: %[4]s
        with:
          go-version-file: go.mod
          # Every go.sum, ci/go.sum included: the cache holds the compiled
          # pipeline (~900 packages), not only the service's modules.
          cache-dependency-path: "**/go.sum"
%[10]s      # Every app: lint, test, build, scan, then push by digest (signed, SBOM
      # and provenance attached) and deploy, all apps in one GitOps push. The
      # engine's caches are restored from ghcr.io/<repo>/slipway-cache and
      # saved back after a successful run (SLIPWAY_CACHE_REPO changes where).
      - name: go run ./ci --publish --all
        run: go run ./ci --publish --all
        env:
%[7]s`, w.Branch, verifyCmd, actionCheckout, actionSetupGo, actionUploadArtifact, environment, env.String(), needs, packages, logins)
	for _, a := range p.Apps {
		sarif := "out/trivy.sarif"
		name := "Upload scan results to code scanning"
		category := "slipway-trivy"
		if len(p.Apps) > 1 {
			sarif = "out/" + a.Name + "/trivy.sarif"
			name += " (" + a.Name + ")"
			category += "-" + a.Name
		}
		fmt.Fprintf(&b, `      - name: %s
        if: ${{ !cancelled() && hashFiles('%s') != '' }}
        uses: %s
        with:
          sarif_file: %s
          category: %s
`, name, sarif, actionUploadSARIF, sarif, category)
	}
	fmt.Fprintf(&b, `      - name: Upload out/
        if: ${{ !cancelled() }}
        uses: %s
        with:
          name: slipway-out
          path: |
            out/
            !out/registry/
            !out/gitops.git/
          if-no-files-found: ignore
          retention-days: 14
`, actionUploadArtifact)
	if len(w.TestCommands) > 0 {
		fmt.Fprintf(&b, `
  tests:
    name: tests
    runs-on: ubuntu-24.04
    timeout-minutes: 45
    permissions:
      contents: read
    steps:
      - uses: %s
        with:
          fetch-depth: 0
          persist-credentials: false
      - uses: %s
        with:
          go-version-file: go.mod
          # Every go.sum, ci/go.sum included: the cache holds the compiled
          # pipeline (~900 packages), not only the service's modules.
          cache-dependency-path: "**/go.sum"
`, actionCheckout, actionSetupGo)
		for _, c := range w.Setup {
			fmt.Fprintf(&b, "      - name: %s\n        run: %s\n", stepName(c), c)
		}
		for _, c := range w.TestCommands {
			fmt.Fprintf(&b, "      - name: %s\n        run: %s\n", stepName(c), c)
		}
	}
	return b.String(), nil
}

func stepName(cmd string) string {
	if len(cmd) > 60 {
		return cmd[:57] + "..."
	}
	return cmd
}

func newGenerateCmd(o *options) *cobra.Command {
	var check bool
	var output string
	cmd := &cobra.Command{
		Use:   "generate github-actions|jenkinsfile",
		Short: "Write the CI wrappers (.github/workflows/ci.yml, Jenkinsfile) from the Go configuration",
		Long: `Render the GitHub Actions workflow or the Jenkinsfile from this pipeline's Go
configuration. The workflow has a verify job (pull requests and pushes:
contents: read, no secret) and a publish job (pushes to the publishing branch
only, after verify: the secrets, packages: write, id-token: write, the optional
GitHub environment). In the Jenkinsfile each stage is a Jenkins stage (a wave
such as lint ∥ test a parallel block); credentials are bound only in stages
guarded by the publishing branch and never for a change request. Registry
credentials follow App.Image's registry (GITHUB_TOKEN for ghcr.io, else
REGISTRY_USERNAME/REGISTRY_PASSWORD); the Jenkinsfile needs App.Image of every
app and GitOps.Repo (or --gitops-repo), and generate exits 2 naming the field
instead of writing a placeholder. Actions are pinned by commit SHA. With
--check nothing is written and the exit code is 1 when the committed file
differs (CI runs it).`,
		Example: `  go run ./ci generate github-actions
  go run ./ci generate jenkinsfile --check`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var content, def string
			var err error
			proj := o.proj
			if o.gitopsRepo != "" {
				proj.GitOpsRepo = o.gitopsRepo
			}
			switch args[0] {
			case "github-actions":
				content, err = GenerateGitHubActions(proj)
				def = filepath.Join(".github", "workflows", "ci.yml")
			case "jenkinsfile":
				content, err = GenerateJenkinsfile(proj)
				def = "Jenkinsfile"
			default:
				return usageErr("generate %q: want github-actions or jenkinsfile", args[0])
			}
			if err != nil {
				return usageErr("%v", err)
			}
			path := output
			if path == "" {
				path = def
			}
			if check {
				have, err := os.ReadFile(path)
				if err != nil || !bytes.Equal(have, []byte(content)) {
					return failErr(fmt.Errorf("%s is not what `go run ./ci generate %s` writes from the Go configuration; run it and commit the result", path, args[0]))
				}
				fmt.Fprintf(o.stdout, "%s is up to date\n", path)
				return nil
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return failErr(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				return failErr(err)
			}
			fmt.Fprintf(o.stdout, "wrote %s\n", path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only compare with the committed file; exit 1 when it differs")
	cmd.Flags().StringVar(&output, "output", "", "file to write (default .github/workflows/ci.yml or Jenkinsfile)")
	return cmd
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
