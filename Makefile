# Slipway. `make test` is what .ci/run calls.
GO ?= go
# One golangci-lint version: the lint stage's image tag in ci/images.lock.
GOLANGCI_LINT_VERSION := $(shell sed -n 's/^golangci-lint: [^:]*:\(v[0-9][0-9.]*\)[^@]*@.*/\1/p' ci/images.lock)
ACTIONLINT_VERSION := v1.7.12
# The real peer of the interop test: cosign must verify what Slipway attaches.
COSIGN_VERSION := v3.1.3
BIN := $(shell $(GO) env GOPATH)/bin
# This repository publishes from GitHub Actions (GITOPS_REPO is a secret there);
# its Jenkinsfile is the example a Jenkins user of it would run, committing to:
JENKINS_GITOPS_REPO := https://github.com/slipway-ci/slipway-gitops.git

.PHONY: test test-engine lint fmt ci plan bench tools vet lint-version argocd-lab test-argocd

# The tests run in a hostile shell on a hostile machine: a test that reads the
# developer's or the runner's SLIPWAY_*, GITOPS_*, CI*, DOCKER_*, REGISTRY_*,
# GIT_* …, their git configuration (hooks that reject, signing that fails,
# protocol.version=0) or ~/.docker (a credential helper that fails), or that
# depends on TMPDIR's length, fails here, not on a laptop behind a mirror
# (every test package starts with testenv.Main, which removes the variables and
# points git, HOME, DOCKER_CONFIG and TMPDIR at its own; engine tests put them
# back on purpose). hack/hostile-shell.sh makes the machine's half.
HOSTILE_ENV := SLIPWAY_IMAGES=/nonexistent/images.lock SLIPWAY_CACHE_REPO=junk.invalid/cache \
	GITOPS_REPO=https://junk.invalid/gitops.git GITOPS_TOKEN=junk GITOPS_BRANCH=junk \
	CI=true CI_IMAGE=junk.invalid/app GITHUB_ACTIONS=true GITHUB_BASE_REF=junk GITHUB_TOKEN=junk \
	DOCKER_HOST=tcp://junk.invalid:1 REGISTRY_USERNAME=junk REGISTRY_PASSWORD=junk \
	ARGOCD_SERVER=junk.invalid _EXPERIMENTAL_DAGGER_RUNNER_HOST=tcp://junk.invalid:1 \
	GIT_AUTHOR_NAME=junk GIT_COMMITTER_EMAIL=junk GIT_SSH_COMMAND=/bin/false GIT_TERMINAL_PROMPT=1 \
	GO=$(GO) $(CURDIR)/hack/hostile-shell.sh

## test: unit and integration tests of Slipway, sample-app, ledger and the examples (no engine needed), in a hostile shell and machine configuration
test:
	env $(HOSTILE_ENV) $(GO) test -race -count=1 -timeout 30m ./...
	cd sample-app && env $(HOSTILE_ENV) $(GO) test -race -count=1 -timeout 30m ./...
	cd ledger && env $(HOSTILE_ENV) $(GO) test -race -count=1 -timeout 30m ./...
	cd examples/service-repo && env $(HOSTILE_ENV) $(GO) test -count=1 -timeout 30m ./... ./ci/...
	cd examples/monorepo && env $(HOSTILE_ENV) $(GO) test -count=1 -timeout 30m ./... ./ci/...

## test-engine: the tests that need a Dagger engine (GitHub Actions runs them)
test-engine:
	$(GO) test -tags engine -count=1 -timeout 45m ./...

## argocd-lab: build the Argo CD lab (Argo CD v3.2.2, Kubernetes v1.34.2, kwok v0.8.0; about 25 min on 2 idle cores) into $(ARGOCD_LAB)
ARGOCD_LAB ?= $(HOME)/.cache/slipway-argocd-lab
argocd-lab:
	SLIPWAY_ARGOCD_LAB=$(ARGOCD_LAB) nice -n 15 hack/argocd-lab/build.sh

## test-argocd: start the lab in a private network namespace and run the argocd-tagged tests inside it (4-5 min once built; not in .ci/run); CAPTURE=1 saves Argo CD's answers for the unit tests
test-argocd:
	$(GO) test -c -tags argocd -o $(ARGOCD_LAB)/cli-argocd.test ./internal/cli
	cd internal/cli && SLIPWAY_ARGOCD_LAB=$(ARGOCD_LAB) $(if $(CAPTURE),SLIPWAY_ARGOCD_CAPTURE=$(CURDIR)/internal/argocd/testdata/captured) \
		../../hack/argocd-lab/start.sh run -- \
		$(ARGOCD_LAB)/cli-argocd.test -test.run '^TestArgoCD' -test.v -test.count=1 -test.timeout 40m

## vet: go vet, with engine-only code compiled too
vet:
	$(GO) vet ./...
	$(GO) vet -tags engine ./...
	$(GO) vet -tags argocd ./internal/cli
	cd sample-app && $(GO) vet ./...
	cd ledger && $(GO) vet ./...
	cd examples/service-repo && $(GO) vet ./... ./ci/...
	cd examples/monorepo && $(GO) vet ./... ./ci/...

## lint: golangci-lint (the version of the lint stage's image) on Slipway and sample-app, actionlint on the workflows
# golangci-lint's cache keeps each issue with the absolute path of the file
# it was found in, keyed by content: a cache shared between checkouts (git
# worktrees, a CI clone) replays another checkout's issues under paths that no
# longer exist, where it cannot read their //nolint directives. One cache per
# checkout. Runs in other checkouts wait for each other (golangci-lint's lock)
# instead of failing.
LINT := env GOLANGCI_LINT_CACHE=$(CURDIR)/.cache/golangci-lint $(BIN)/golangci-lint run --allow-serial-runners
lint: tools
	$(LINT) ./...
	cd sample-app && $(LINT) ./...
	cd ledger && $(LINT) ./...
	$(BIN)/actionlint .github/workflows/*.yml
	$(GO) run ./ci generate github-actions --check
	$(GO) run ./ci generate jenkinsfile --check --gitops-repo $(JENKINS_GITOPS_REPO)

## fmt: gofmt everything
fmt:
	gofmt -w $$(git ls-files '*.go')

## ci: the main job (lint, test, build, scan); needs a Dagger engine
ci:
	$(GO) run ./ci

## plan: what the pipeline would do (no engine)
plan:
	$(GO) run ./ci plan

## bench: the benchmarks quoted in the notes
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

## tools: exact versions of the linters, and cosign for the interop test
tools:
	@test -x $(BIN)/cosign && $(BIN)/cosign version 2>/dev/null | grep -q "GitVersion: *$(COSIGN_VERSION)$$" || \
		$(GO) install github.com/sigstore/cosign/v3/cmd/cosign@$(COSIGN_VERSION)
	@test -x $(BIN)/golangci-lint && $(BIN)/golangci-lint version 2>/dev/null | grep -q "$(GOLANGCI_LINT_VERSION:v%=%)" || \
		$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	@test -x $(BIN)/actionlint && $(BIN)/actionlint -version 2>/dev/null | grep -q "$(ACTIONLINT_VERSION:v%=%)" || \
		$(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

## lint-version: the golangci-lint version make lint uses (from ci/images.lock)
lint-version:
	@echo $(GOLANGCI_LINT_VERSION)
