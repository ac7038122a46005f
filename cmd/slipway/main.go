// Command slipway is Slipway for pipelines that do not write Go: Jenkins,
// GitLab or shell jobs push an image tarball by digest, pin an image lock,
// deploy and promote digests through a GitOps repository, read its history
// and status, gate a Trivy report, and plan a one-app pipeline given by
// flags. Its flags, output and exit codes are those of `go run ./ci`.
//
//	go install github.com/slipway-ci/slipway/cmd/slipway@latest
//	slipway push --tarball out/image.tar --image ghcr.io/acme/app --tag v1.2.3
//	slipway deploy --app app --env staging --image ghcr.io/acme/app@sha256:…
package main

import (
	"github.com/slipway-ci/slipway"
	"github.com/slipway-ci/slipway/helm"
	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/keyless"
)

// The binary renders Helm charts for deploy's render proof; a Go pipeline
// links the Helm SDK only when its Config.GitOps.Charts asks for it. It
// links the Sigstore keyless clients too, where a Go pipeline runs them as
// a helper process (cmd/slipway-sigstore) on first keyless use.
func main() {
	attest.RegisterKeyless(keyless.Local{})
	slipway.MainBinary(slipway.WithCharts(helm.Render))
}
