//go:build slipway_tools

package slipway

// A Go pipeline signs and verifies keyless through a helper process, `go run
// github.com/slipway-ci/slipway/cmd/slipway-sigstore`, so that it does not
// compile the Sigstore clients itself. For that `go run` to work in a
// user's module, its go.sum must list the helper's modules: `go mod tidy`
// reads every file whatever its build tags, so this import keeps them
// there, and no build sets the tag, so nothing compiles it.
import _ "github.com/slipway-ci/slipway/internal/keyless"
