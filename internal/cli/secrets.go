package cli

import (
	"context"

	"github.com/slipway-ci/slipway/internal/redact"
	"github.com/slipway-ci/slipway/internal/secret"
)

// newSecretSet learns every secret value a run of p can read: the
// contract's secret variables (the content of the file a *_FILE variable
// names), and each custom stage's Secrets.
func newSecretSet(p Project, getenv func(string) string) *redact.Set {
	names := append([]string(nil), secret.Variables...)
	for _, s := range p.Stages {
		names = append(names, s.Secrets...)
	}
	set := redact.NewSet()
	for _, v := range secret.Values(getenv, names...) {
		set.Add(v)
	}
	return set
}

// learnToken makes the redactor learn each token fetch returns (the
// GitHub OIDC token exists only once fetched).
func (o *options) learnToken(fetch func(context.Context) (string, error)) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		tok, err := fetch(ctx)
		if tok != "" {
			o.secrets.Add(tok)
		}
		return tok, o.secrets.Error(err)
	}
}
