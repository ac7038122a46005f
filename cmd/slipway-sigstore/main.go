// Command slipway-sigstore is Slipway's Sigstore keyless helper: a Go
// pipeline (`go run ./ci`) does not compile the Sigstore clients; on its
// first keyless signature or verification it runs
//
//	go run github.com/slipway-ci/slipway/cmd/slipway-sigstore
//
// which compiles once (Go caches the linked program) and answers one JSON
// request on stdin with one JSON answer on stdout. The OIDC token travels
// on stdin, never on the command line or in the environment. The slipway
// binary links the same code and needs no helper.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/slipway-ci/slipway/internal/keyless"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := keyless.Serve(ctx, keyless.Local{}, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "slipway-sigstore:", err)
		os.Exit(1)
	}
}
