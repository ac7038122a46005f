package registry

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

type fixedKeychain struct{ a authn.Authenticator }

func (k fixedKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }

// A credential a keychain resolves (a credential helper's answer) is
// learned before it is used, in each form it may be echoed.
func TestLearningKeychain(t *testing.T) {
	repo, _ := name.NewRepository("registry.acme.io/team/app")
	for _, a := range []authn.Authenticator{
		&authn.Basic{Username: "robot", Password: "helper-password-0123"},
		authn.FromConfig(authn.AuthConfig{IdentityToken: "identity-token-0123"}),
		authn.FromConfig(authn.AuthConfig{RegistryToken: "registry-token-0123"}),
	} {
		var got []string
		kc := Learning(fixedKeychain{a}, func(s string) { got = append(got, s) })
		if _, err := kc.Resolve(repo); err != nil {
			t.Fatal(err)
		}
		cfg, _ := a.Authorization()
		want := cfg.Password + cfg.IdentityToken + cfg.RegistryToken
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("%+v: learned %q", cfg, got)
		}
	}
	var got []string
	Learning(Anonymous(), func(s string) { got = append(got, s) }).Resolve(repo)
	if len(got) != 0 {
		t.Errorf("anonymous: learned %q", got)
	}
}
