package slipway_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The Sigstore client stack (sigstore-go's sign, verify, root and bundle,
// Rekor's go-openapi client, rekor-tiles with gRPC, certificate
// transparency, TUF, in-toto-golang) is about a fifth of a cold compile of
// a Go pipeline: a pipeline reaches it only through the keyless helper
// process (cmd/slipway-sigstore).
var heavy = []string{
	"github.com/sigstore/",
	"google.golang.org/grpc",
	"github.com/grpc-ecosystem/",
	"github.com/go-openapi/",
	"github.com/google/certificate-transparency-go",
	"github.com/theupdateframework/",
	"github.com/in-toto/in-toto-golang",
}

// kustomize's OpenAPI reader (k8s.io/kube-openapi) imports these three
// go-openapi modules: they are kustomize's, not the Rekor client's.
var kustomizeOpenAPI = []string{
	"github.com/go-openapi/jsonpointer",
	"github.com/go-openapi/jsonreference",
	"github.com/go-openapi/swag",
}

// TestDependencyBudget: neither this repository's pipeline (./ci) nor the
// package every user's pipeline imports (./) compiles the Sigstore client
// stack.
func TestDependencyBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("go list -deps")
	}
	for _, pkg := range []string{"./ci", "."} {
		cmd := exec.Command("go", "list", "-deps", pkg)
		cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		var bad []string
	next:
		for _, p := range strings.Fields(string(out)) {
			for _, ok := range kustomizeOpenAPI {
				if p == ok || strings.HasPrefix(p, ok+"/") {
					continue next
				}
			}
			for _, h := range heavy {
				if strings.HasPrefix(p, h) {
					bad = append(bad, p)
					break
				}
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s compiles %d packages of the Sigstore client stack (keyless code belongs in internal/keyless, reached through attest.Keyless): %s", pkg, len(bad), strings.Join(bad, " "))
		}
	}
}
