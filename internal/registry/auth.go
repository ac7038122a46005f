package registry

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

type secretHolder interface{ secretValues() []string }

// envKeychain resolves credentials from the environment first:
// REGISTRY_USERNAME/REGISTRY_PASSWORD for exactly one registry, host (never
// sent to any other); in GitHub Actions, GITHUB_TOKEN for ghcr.io; then the
// Docker config keychain (docker login, credential helpers).
type envKeychain struct {
	getenv func(string) string
	host   string
}

// Keychain returns Slipway's keychain over an environment lookup; the
// static pair REGISTRY_USERNAME/REGISTRY_PASSWORD is bound to the registry
// REGISTRY_HOST names and used for no other (with REGISTRY_HOST unset, for
// none: see CredentialHost).
func Keychain(getenv func(string) string) authn.Keychain {
	return envKeychain{getenv: getenv, host: normalHost(getenv("REGISTRY_HOST"))}
}

// KeychainFor is Keychain with the static pair bound to host.
func KeychainFor(host string, getenv func(string) string) authn.Keychain {
	return envKeychain{getenv: getenv, host: normalHost(host)}
}

// ErrCredentialHost means REGISTRY_USERNAME/REGISTRY_PASSWORD are set but
// the registry they belong to is not known.
var ErrCredentialHost = errors.New("REGISTRY_HOST is not set")

// CredentialHost is the one registry REGISTRY_USERNAME/REGISTRY_PASSWORD
// belong to: REGISTRY_HOST, else the registry of images when they are all on
// one host; "" when no static pair is set. Anything else is refused
// (ErrCredentialHost): Slipway does not guess whom to give a password.
func CredentialHost(getenv func(string) string, images []string) (string, error) {
	if getenv("REGISTRY_USERNAME") == "" && getenv("REGISTRY_PASSWORD") == "" {
		return "", nil
	}
	if h := getenv("REGISTRY_HOST"); h != "" {
		if _, err := name.NewRegistry(h); err != nil || strings.ContainsAny(h, "/@") {
			return "", fmt.Errorf("REGISTRY_HOST %q: want a registry host such as registry.acme.io or 127.0.0.1:5000", h)
		}
		return normalHost(h), nil
	}
	hosts := map[string]bool{}
	var list []string
	for _, img := range images {
		repo, err := ParseRepo(img)
		if err != nil {
			continue
		}
		if h := repo.RegistryStr(); !hosts[h] {
			hosts[h] = true
			list = append(list, h)
		}
	}
	if len(list) == 1 {
		return list[0], nil
	}
	which := "no App.Image is configured"
	if len(list) > 1 {
		which = "App.Image names " + strings.Join(list, ", ")
	}
	return "", fmt.Errorf("%w: REGISTRY_USERNAME/REGISTRY_PASSWORD are set and %s: set REGISTRY_HOST to the one registry they belong to (other registries use docker login)", ErrCredentialHost, which)
}

func normalHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if h == "" {
		return ""
	}
	if r, err := name.NewRegistry(h); err == nil {
		return r.RegistryStr()
	}
	return h
}

func (k envKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if u, p := k.getenv("REGISTRY_USERNAME"), k.getenv("REGISTRY_PASSWORD"); u != "" && p != "" && k.host != "" && normalHost(r.RegistryStr()) == k.host {
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

// CloudRegistry names the cloud registry a host belongs to ("ECR", "GAR",
// "ACR") or "": those take short-lived tokens from their credential
// helpers, never a static user name and password.
func CloudRegistry(host string) string {
	h := strings.ToLower(host)
	if i := strings.LastIndex(h, ":"); i >= 0 {
		h = h[:i]
	}
	switch {
	case strings.Contains(h, ".dkr.ecr.") && (strings.HasSuffix(h, ".amazonaws.com") || strings.HasSuffix(h, ".amazonaws.com.cn")):
		return "ECR"
	case strings.HasSuffix(h, "-docker.pkg.dev") || h == "gcr.io" || strings.HasSuffix(h, ".gcr.io"):
		return "GAR"
	case strings.HasSuffix(h, ".azurecr.io"):
		return "ACR"
	}
	return ""
}

// Learning is kc with every credential it resolves handed to learn before
// any request carries it: a Docker credential helper's answer or a token
// from the Docker config is then redacted like a configured secret when a
// registry (or a proxy) echoes it back. learn nil: kc as is.
func Learning(kc authn.Keychain, learn func(string)) authn.Keychain {
	if learn == nil {
		return kc
	}
	return learningKeychain{kc: kc, learn: learn}
}

type learningKeychain struct {
	kc    authn.Keychain
	learn func(string)
}

func (k learningKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	a, err := k.kc.Resolve(r)
	if err != nil || a == nil || a == authn.Anonymous {
		return a, err
	}
	cfg, err := a.Authorization()
	if err != nil || cfg == nil {
		return a, err
	}
	for _, v := range []string{cfg.Password, cfg.Auth, cfg.IdentityToken, cfg.RegistryToken} {
		if v != "" {
			k.learn(v)
		}
	}
	if cfg.Password != "" {
		k.learn(cfg.Username + ":" + cfg.Password)
	}
	return a, nil
}
