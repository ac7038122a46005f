package main

import (
	_ "embed"
)

// This repository's pipeline: which app, which image, which GitOps layout.
// Another repository copies ci/ and edits this file.
const (
	appName             = "sample-app"         // GitOps app directory and kustomize image name
	appBinary           = "sample-app"         // binary and entrypoint /app/sample-app
	appPackage          = "."                  // main package inside the source directory
	deployDir           = "deploy"             // kustomize base/ and overlays/ inside the source directory
	publishEnv          = "development"        // environment `run --publish` deploys to
	localRepo           = "slipway/" + appName // repository name in the embedded local registry
	defaultOut          = "out"
	defaultSrc          = "sample-app"
	defaultGitOpsBranch = "main"
)

// builtinImages is ci/images.lock, compiled in so `go run ./ci` needs no
// working directory layout; --images or SLIPWAY_IMAGES replace it.
//
//go:embed images.lock
var builtinImages []byte
