package registry

import (
	"github.com/google/go-containerregistry/pkg/authn"
)

type secretHolder interface{ secretValues() []string }

// envKeychain resolves credentials from the environment first:
// REGISTRY_USERNAME/REGISTRY_PASSWORD for any registry; in GitHub Actions,
// GITHUB_TOKEN for ghcr.io; then the Docker config keychain (docker login,
// credential helpers).
type envKeychain struct {
	getenv func(string) string
}

// Keychain returns Slipway's keychain over an environment lookup.
func Keychain(getenv func(string) string) authn.Keychain { return envKeychain{getenv: getenv} }

func (k envKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if u, p := k.getenv("REGISTRY_USERNAME"), k.getenv("REGISTRY_PASSWORD"); u != "" && p != "" {
		return &authn.Basic{Username: u, Password: p}, nil
	}
	if r.RegistryStr() == "ghcr.io" && k.getenv("GITHUB_TOKEN") != "" {
		user := k.getenv("GITHUB_ACTOR")
		if user == "" {
			user = "x-access-token"
		}
		return &authn.Basic{Username: user, Password: k.getenv("GITHUB_TOKEN")}, nil
	}
	return authn.DefaultKeychain.Resolve(r)
}

func (k envKeychain) secretValues() []string {
	return []string{k.getenv("REGISTRY_PASSWORD"), k.getenv("GITHUB_TOKEN")}
}

// anonymousKeychain gives no credentials: for Slipway's own loopback
// registry, which needs none. Asking the Docker config would run its
// credential helpers (docker-credential-desktop, osxkeychain, …): seconds per
// push on a developer machine, for nothing.
type anonymousKeychain struct{}

func (anonymousKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.Anonymous, nil
}

// Anonymous is the keychain for the embedded local registry.
func Anonymous() authn.Keychain { return anonymousKeychain{} }
