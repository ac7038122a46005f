package keyless

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/sigstoretest"
)

// TestServiceErrorKeepsItsReason: a Fulcio, Rekor or timestamp authority
// that answers 500 with a message gives an error naming the service, its
// status and its message, with the OIDC token the server echoed masked.
// sigstore-go's Fulcio and timestamp clients read the body they had closed
// for the retry, so the error used to be "http: read on closed response body".
func TestServiceErrorKeepsItsReason(t *testing.T) {
	tok := oidcToken
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"code":500,"message":"backend unavailable for ` + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") + `"}`))
	}))
	t.Cleanup(down.Close)
	virtual := sigstoretest.New(t, identity, issuer).Serve(t)
	for _, c := range []struct {
		name string
		cfg  attest.KeylessConfig
		want []string
	}{
		{"fulcio", attest.KeylessConfig{FulcioURL: down.URL, RekorURLs: []string{virtual}}, []string{"signing certificate", "Fulcio returned 500", "backend unavailable for ***"}},
		{"rekor", attest.KeylessConfig{FulcioURL: virtual, RekorURLs: []string{down.URL}}, []string{"500", "backend unavailable"}},
		{"tsa", attest.KeylessConfig{FulcioURL: virtual, TimestampURLs: []string{down.URL}}, []string{"timestamp", "timestamp authority returned 500", "backend unavailable"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // sigstore-go waits 1+2+4 s over its retries
			c.cfg.Token = func(context.Context) (string, error) { return tok, nil }
			c.cfg.Expected = identity
			s, err := Local{}.Signer(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Sign(t.Context(), []byte(`{"_type":"https://in-toto.io/Statement/v1"}`))
			if err == nil {
				t.Fatal("signed through a server answering 500")
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, tok) || strings.Contains(msg, strings.Split(tok, ".")[1]) {
				t.Fatalf("the token reached the error: %s", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
}

// TestNoVerifiedTimeSaysSo: a keyless bundle checked against a trusted root
// that verifies none of its times (here: the root lost its Rekor log) is
// refused in words, never with sigstore-go's "error: %!w(<nil>)".
func TestNoVerifiedTimeSaysSo(t *testing.T) {
	virtual := sigstoretest.New(t, identity, issuer)
	url := virtual.Serve(t)
	s, err := Local{}.Signer(attest.KeylessConfig{FulcioURL: url, RekorURLs: []string{url}, Expected: identity,
		Token: func(context.Context) (string, error) { return oidcToken, nil }})
	if err != nil {
		t.Fatal(err)
	}
	img := newImage(t)
	st, err := attest.Statement(img.Context().String(), img.DigestStr(), attest.SignaturePredicate, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Sign(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	var tr map[string]any
	if err := json.Unmarshal(virtual.TrustedRoot, &tr); err != nil {
		t.Fatal(err)
	}
	delete(tr, "tlogs")
	delete(tr, "timestampAuthorities")
	noLogs, _ := json.Marshal(tr)
	v, err := Local{}.Verify(t.Context(), attest.KeylessPolicy{Identity: identity, Issuer: issuer, TrustedRoot: noLogs}, img.DigestStr(), [][]byte{b})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(v[0].Err)
	if msg := v[0].Err; msg == "" || strings.Contains(msg, "%!") || !strings.Contains(msg, "no timestamp or log entry") {
		t.Fatalf("verdict %q", msg)
	}
}
