package keyless

import (
	"bytes"
	"context"
	"encoding/base64"
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
