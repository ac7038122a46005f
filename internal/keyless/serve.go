package keyless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/redact"
)

// Serve is the helper process (cmd/slipway-sigstore): it says
// attest.HelperReady, reads one attest.HelperRequest from in, answers one
// attest.HelperResponse on out, with k doing the work. A failure of the
// request is the answer's Err (never holding the OIDC token); the error
// returned is a failure to read or write.
func Serve(ctx context.Context, k attest.Keyless, in io.Reader, out io.Writer) error {
	if _, err := fmt.Fprintln(out, attest.HelperReady); err != nil {
		return err
	}
	var req attest.HelperRequest
	dec := json.NewDecoder(in)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return json.NewEncoder(out).Encode(attest.HelperResponse{Err: "the helper's request: " + err.Error()})
	}
	resp := answer(ctx, k, req)
	if req.Token != "" {
		resp.Err = redact.String(resp.Err, req.Token)
	}
	return json.NewEncoder(out).Encode(resp)
}

func answer(ctx context.Context, k attest.Keyless, req attest.HelperRequest) attest.HelperResponse {
	switch req.Op {
	case "sign":
		token := req.Token
		s, err := k.Signer(attest.KeylessConfig{
			FulcioURL: req.FulcioURL, RekorURLs: req.RekorURLs, TimestampURLs: req.TimestampURLs, Expected: req.Expected,
			Token: func(context.Context) (string, error) {
				if token == "" {
					return "", errors.New("no OIDC token was given")
				}
				return token, nil
			},
		})
		if err != nil {
			return attest.HelperResponse{Err: err.Error()}
		}
		bundles, err := attest.SignAll(ctx, s, req.Statements)
		if err != nil {
			return attest.HelperResponse{Err: err.Error()}
		}
		return attest.HelperResponse{Bundles: bundles}
	case "verify":
		if req.Policy == nil {
			return attest.HelperResponse{Err: "verify: no policy"}
		}
		vs, err := k.Verify(ctx, *req.Policy, req.Digest, req.Bundles)
		if err != nil {
			return attest.HelperResponse{Err: err.Error()}
		}
		return attest.HelperResponse{Verdicts: vs}
	case "trusted-root":
		tr, err := k.TrustedRoot(ctx, req.File)
		if err != nil {
			return attest.HelperResponse{Err: err.Error()}
		}
		return attest.HelperResponse{TrustedRoot: tr}
	}
	return attest.HelperResponse{Err: fmt.Sprintf("the helper does not know the operation %q (a slipway-sigstore of another version?)", req.Op)}
}
