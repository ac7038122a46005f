package keyless

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/sigstoretest"
)

// oidcToken is a JWT as GitHub's (the Fulcio client reads its subject; the
// virtual Fulcio does not check its signature).
var oidcToken = strings.Join([]string{
	base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)),
	base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + issuer + `","sub":"repo:acme/payments:ref:refs/heads/main","aud":"sigstore"}`)),
	"c2lnbmF0dXJl",
}, ".")

// keylessRoundTrip signs the statements keyless with the Sigstore at url
// (Fulcio and Rekor over HTTP, as in GitHub Actions), attaches them, and
// verifies them against the policy: all through k, this process's keyless
// implementation while it runs.
func keylessRoundTrip(t *testing.T, k attest.Keyless, virtual *sigstoretest.Sigstore, url string) *attest.Report {
	t.Helper()
	attest.RegisterKeyless(k)
	t.Cleanup(func() { attest.RegisterKeyless(Local{}) })
	ctx := t.Context()
	img := newImage(t)
	s := &attest.KeylessSigner{
		FulcioURL: url, RekorURLs: []string{url}, Expected: identity,
		Token: func(context.Context) (string, error) { return oidcToken, nil },
	}
	signAndAttach(t, s, img, statements(t, img, commit))
	if tokens := virtual.Tokens(); len(tokens) != 1 || tokens[0] != oidcToken {
		t.Fatalf("one certificate for the image's statements, with the token: %v", tokens)
	}
	trusted, err := attest.TrustedRoot(ctx, virtual.TrustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := attest.Verify(ctx, img, attest.Policy{Identity: identity, Issuer: issuer, TrustedRoot: trusted, SourceCommit: commit, Require: []string{"signature", "provenance"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rep.Signature.Signer, identity+" (issuer "+issuer+")") || rep.Signature.SignedAt == nil || rep.Provenance.SourceCommit != commit {
		t.Fatalf("signer %q at %v, provenance %+v", rep.Signature.Signer, rep.Signature.SignedAt, rep.Provenance)
	}
	evil := attest.Policy{Identity: identity + "-evil", Issuer: issuer, TrustedRoot: trusted, Require: []string{"signature"}}
	if msg := refusal(t, img, evil); !strings.Contains(msg, "identity") {
		t.Fatal(msg)
	}
	return rep
}

// TestLocalOverHTTP: the slipway binary's keyless signing (Local, with
// Fulcio and Rekor at URLs) against the virtual Sigstore on HTTP.
func TestLocalOverHTTP(t *testing.T) {
	virtual := sigstoretest.New(t, identity, issuer)
	keylessRoundTrip(t, Local{}, virtual, virtual.Serve(t))
	if n := virtual.Logged(); n != 2 {
		t.Fatalf("%d Rekor entries, want one per statement", n)
	}
}

// TestHelperProcess: a Go pipeline's keyless signing and verification, for
// real through `go run github.com/slipway-ci/slipway/cmd/slipway-sigstore`
// (it compiles the first time: tens of seconds): the OIDC token goes on
// stdin, the bundles and the verdicts come back on stdout.
func TestHelperProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles cmd/slipway-sigstore")
	}
	virtual := sigstoretest.New(t, identity, issuer)
	var progress bytes.Buffer
	keylessRoundTrip(t, &attest.Helper{Progress: &progress}, virtual, virtual.Serve(t))
	if n := virtual.Logged(); n != 2 {
		t.Fatalf("%d Rekor entries, want one per statement", n)
	}
	if p := progress.String(); p != "" && !strings.HasPrefix(p, "compiling the Sigstore keyless helper") {
		t.Fatalf("progress: %q", p)
	}
	t.Logf("progress: %q", progress.String())
}

// TestHelperFromUserModule: a user's repository whose ci/ is its own module
// (requiring slipway, here through a replace), after `go mod tidy` there:
// its go.sum lists the helper's modules (the build-tagged import in the
// slipway package), and the helper, run from the repository root where the
// service's own module does not require slipway, runs from ci/.
func TestHelperFromUserModule(t *testing.T) {
	if testing.Short() {
		t.Skip("go mod tidy and go run in a scratch module")
	}
	repoRoot, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/payments\n\ngo 1.26.1\n")
	write("main.go", "package main\n\nfunc main() {}\n")
	write("ci/go.mod", "module example.com/payments/ci\n\ngo 1.26.1\n\nrequire github.com/slipway-ci/slipway v0.0.0\n\nreplace github.com/slipway-ci/slipway => "+repoRoot+"\n")
	write("ci/main.go", "package main\n\nimport \"github.com/slipway-ci/slipway\"\n\nfunc main() { slipway.Main(slipway.Config{}) }\n")
	t.Setenv("GOPROXY", "off") // the module cache has everything; nothing is fetched
	t.Setenv("GOFLAGS", "")
	t.Setenv("GOWORK", "off")
	tidy := exec.Command("go", "mod", "tidy")
	tidy.Dir = filepath.Join(dir, "ci")
	if out, err := tidy.CombinedOutput(); err != nil {
		t.Fatalf("go mod tidy: %v\n%s", err, out)
	}
	sum, _ := os.ReadFile(filepath.Join(dir, "ci", "go.sum"))
	if !bytes.Contains(sum, []byte("github.com/sigstore/sigstore-go ")) {
		t.Fatal("ci/go.sum lists no sigstore-go: go run of the helper would fail")
	}
	t.Chdir(dir)
	_, err = (&attest.Helper{Progress: io.Discard}).TrustedRoot(t.Context(), []byte(`{}`))
	if err == nil || errors.Is(err, attest.ErrHelper) || !strings.Contains(err.Error(), "TrustedRoot media type") {
		t.Fatalf("the helper did not answer from ci/: %v", err)
	}
}
