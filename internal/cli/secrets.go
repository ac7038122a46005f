package cli

import (
	"context"
	"strings"

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
	// A password in a URL (GITOPS_REPO=https://ci:TOKEN@host/…) is one too.
	for _, k := range []string{"GITOPS_REPO", "_EXPERIMENTAL_DAGGER_RUNNER_HOST"} {
		if _, rest, ok := strings.Cut(getenv(k), "://"); ok {
			if at := strings.LastIndex(rest, "@"); at >= 0 {
				if _, pass, ok := strings.Cut(rest[:at], ":"); ok {
					set.Add(pass)
				}
			}
		}
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
