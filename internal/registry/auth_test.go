package registry

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// recordingRegistry is a real registry that accepts anyone and records
// every Authorization header it is sent.
type recordingRegistry struct {
	host string
	mu   sync.Mutex
	auth []string
}

func (r *recordingRegistry) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.auth...)
}

func startRecording(t *testing.T, h http.Handler) *recordingRegistry {
	t.Helper()
	rec := &recordingRegistry{}
	if h == nil {
		h = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			rec.mu.Lock()
			rec.auth = append(rec.auth, a)
			rec.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	rec.host = u.Host
	return rec
}

// TestStaticCredentialsReachOnlyTheirHost is the property behind the
// finding that REGISTRY_USERNAME/REGISTRY_PASSWORD went to whatever
// registry was pushed to: over generated sets of registries and a static
// pair bound to one of them (REGISTRY_HOST) or to none, pushing to every
// registry gives each only its own credential, and the others none.
func TestStaticCredentialsReachOnlyTheirHost(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no docker login on this machine counts
	r := rand.New(rand.NewSource(7))
	ctx := context.Background()
	img, _ := random.Image(512, 1)
	for round := 0; round < 6; round++ {
		var regs []*recordingRegistry
		for i, n := 0, 2+r.Intn(3); i < n; i++ {
			regs = append(regs, startRecording(t, nil))
		}
		bound := r.Intn(len(regs) + 1) // len(regs): bound to no registry
		user, pass := fmt.Sprintf("robot%d", round), fmt.Sprintf("Secret-%d-%x", round, r.Int63())
		env := map[string]string{"REGISTRY_USERNAME": user, "REGISTRY_PASSWORD": pass}
		if bound < len(regs) {
			env["REGISTRY_HOST"] = regs[bound].host
		}
		kc := Keychain(func(k string) string { return env[k] })
		for _, reg := range regs {
			ref, _ := name.NewTag(reg.host+"/other/x:v1", name.Insecure)
			ropts, _ := Remote(ctx, WithKeychain(kc))
			if err := remote.Write(ref, img, ropts...); err != nil {
				t.Fatalf("round %d: push to %s: %v", round, reg.host, err)
			}
		}
		own := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
		for i, reg := range regs {
			got := reg.seen()
			for _, a := range got {
				if a != own || i != bound {
					t.Errorf("round %d: %s (bound: %v) received Authorization %q", round, reg.host, i == bound, a)
				}
			}
			if i == bound && len(got) == 0 {
				t.Errorf("round %d: %s, the credential's own registry, was never sent it", round, reg.host)
			}
		}
	}
}

// TestAuthorizationNotForwardedOnRedirect: a registry that redirects blob
// reads to another host (object storage) gets the credential; the storage
// host does not.
func TestAuthorizationNotForwardedOnRedirect(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	ctx := context.Background()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	storage := startRecording(t, reg)
	front := startRecording(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			http.Redirect(w, r, "http://"+storage.host+r.URL.Path, http.StatusTemporaryRedirect)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	env := map[string]string{"REGISTRY_USERNAME": "bot", "REGISTRY_PASSWORD": "NeverToStorage123", "REGISTRY_HOST": front.host}
	kc := Keychain(func(k string) string { return env[k] })
	ropts, _ := Remote(ctx, WithKeychain(kc))
	img, _ := random.Image(2048, 2)
	ref, _ := name.NewTag(front.host+"/acme/app:v1", name.Insecure)
	if err := remote.Write(ref, img, ropts...); err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(ref, ropts...)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := got.Layers()
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	if len(front.seen()) == 0 {
		t.Fatal("the registry itself never received its credential")
	}
	if s := storage.seen(); len(s) > 0 {
		t.Errorf("the redirect target received Authorization: %q", s)
	}
}

// TestCredentialHost: REGISTRY_HOST wins; else one configured registry;
// several (or none) are refused rather than guessed.
func TestCredentialHost(t *testing.T) {
	for _, c := range []struct {
		env    map[string]string
		images []string
		want   string
		err    string
	}{
		{map[string]string{}, []string{"a.io/x", "b.io/y"}, "", ""},
		{map[string]string{"REGISTRY_USERNAME": "u", "REGISTRY_PASSWORD": "p"}, []string{"a.io/x", "a.io/y"}, "a.io", ""},
		{map[string]string{"REGISTRY_USERNAME": "u", "REGISTRY_PASSWORD": "p"}, []string{"a.io/x", "b.io/y"}, "", "a.io, b.io"},
		{map[string]string{"REGISTRY_USERNAME": "u", "REGISTRY_PASSWORD": "p"}, nil, "", "no App.Image"},
		{map[string]string{"REGISTRY_USERNAME": "u", "REGISTRY_PASSWORD": "p", "REGISTRY_HOST": "Quay.IO"}, []string{"a.io/x", "b.io/y"}, "quay.io", ""},
		{map[string]string{"REGISTRY_USERNAME": "u", "REGISTRY_PASSWORD": "p", "REGISTRY_HOST": "https://quay.io/x"}, nil, "", "REGISTRY_HOST"},
	} {
		got, err := CredentialHost(func(k string) string { return c.env[k] }, c.images)
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && (!strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n"))) {
			t.Errorf("%v %v: %q, %v; want %q, %q", c.env, c.images, got, err, c.want, c.err)
		}
	}
}
