package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/slipway-ci/slipway/internal/ocitar"
)

const (
	testUser = "ci-bot"
	testPass = "p4ss-w0rd-never-printed"
)

// authRegistry is go-containerregistry's real registry behind basic auth.
func authRegistry(t *testing.T) (host string) {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != testUser || p != testPass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u.Host
}

func creds(host, user, pass string) Option {
	return WithKeychain(Keychain(func(k string) string {
		return map[string]string{"REGISTRY_USERNAME": user, "REGISTRY_PASSWORD": pass, "REGISTRY_HOST": host}[k]
	}))
}

func fast() Option {
	return WithBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 5})
}

// archives writes one random image both ways a user hands it to us.
func archives(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	dir := t.TempDir()
	oci := filepath.Join(dir, "oci.tar")
	if err := ocitar.Write(oci, img, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	docker := filepath.Join(dir, "docker.tar")
	tag, _ := name.NewTag("example/app:local")
	if err := tarball.WriteToFile(docker, tag, img); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"oci-layout": oci, "docker-archive": docker}
}

func open(t *testing.T, path string) *ocitar.Archive {
	t.Helper()
	a, err := ocitar.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestPushBothFormatsVerifiesAndTags(t *testing.T) {
	host := authRegistry(t)
	for _, format := range []string{"oci-layout", "docker-archive"} {
		t.Run(format, func(t *testing.T) {
			img, _ := random.Image(4096, 3) // blobs are shared across repositories: a fresh image per format
			a := open(t, archives(t, img)[format])
			repo, err := ParseRepo(host + "/team/" + format)
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			res, err := Push(context.Background(), a, repo, []string{"abc123", "main-abc123"}, creds(host, testUser, testPass), WithProgress(&log, false))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := a.Digest()
			if res.Digest != want.String() || res.Ref != host+"/team/"+format+"@"+want.String() {
				t.Errorf("result %+v, want digest %s", res, want)
			}
			if res.BlobBytes == 0 || res.BlobsSent != 4 {
				t.Errorf("first push sent %d bytes in %d blobs, want >0 in 4 (3 layers + config)", res.BlobBytes, res.BlobsSent)
			}
			if strings.Count(log.String(), "\n") != 1 || !strings.Contains(log.String(), "pushed "+res.Ref) {
				t.Errorf("non-interactive progress should be one line, got %q", log.String())
			}
			for _, tag := range []string{"abc123", "main-abc123"} {
				ref, _ := name.NewTag(host+"/team/"+format+":"+tag, name.Insecure)
				desc, err := remote.Head(ref, remote.WithAuth(&authn.Basic{Username: testUser, Password: testPass}))
				if err != nil || desc.Digest != want {
					t.Errorf("tag %s: %v %v", tag, desc, err)
				}
			}
			// Re-push: no blob bytes, same digest, tags unchanged.
			again, err := Push(context.Background(), a, repo, []string{"abc123"}, creds(host, testUser, testPass))
			if err != nil {
				t.Fatal(err)
			}
			if again.BlobBytes != 0 || again.Digest != res.Digest {
				t.Errorf("re-push uploaded %d bytes", again.BlobBytes)
			}
		})
	}
}

func TestInteractiveProgress(t *testing.T) {
	host := authRegistry(t)
	img, _ := random.Image(1<<20, 3)
	repo, _ := ParseRepo(host + "/team/progress")
	var out bytes.Buffer
	if _, err := Push(context.Background(), open(t, archives(t, img)["oci-layout"]), repo, nil, creds(host, testUser, testPass), WithProgress(&out, true)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\rpushing: ") || !strings.Contains(out.String(), "4 blobs done\n") || !strings.Contains(out.String(), "MiB") {
		t.Errorf("progress %q", out.String())
	}
}

func TestTagsAreImmutable(t *testing.T) {
	host := authRegistry(t)
	repo, _ := ParseRepo(host + "/team/app")
	first, _ := random.Image(1024, 1)
	second, _ := random.Image(1024, 1)
	pa, pb := archives(t, first)["oci-layout"], archives(t, second)["oci-layout"]
	ctx := context.Background()
	r1, err := Push(ctx, open(t, pa), repo, []string{"v1.0.0"}, creds(host, testUser, testPass))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Push(ctx, open(t, pb), repo, []string{"fresh", "v1.0.0"}, creds(host, testUser, testPass))
	if !errors.Is(err, ErrTagMove) || !strings.Contains(err.Error(), "v1.0.0") || !strings.Contains(err.Error(), "--allow-tag-move") {
		t.Fatalf("moving v1.0.0: %v", err)
	}
	auth := remote.WithAuth(&authn.Basic{Username: testUser, Password: testPass})
	tag, _ := name.NewTag(host+"/team/app:v1.0.0", name.Insecure)
	desc, _ := remote.Head(tag, auth)
	if desc.Digest.String() != r1.Digest {
		t.Errorf("refused push still moved the tag to %s", desc.Digest)
	}
	fresh, _ := name.NewTag(host+"/team/app:fresh", name.Insecure)
	if _, err := remote.Head(fresh, auth); err == nil {
		t.Error("refused push still created another tag")
	}
	d2, _ := second.Digest()
	if _, err := remote.Head(repo.Digest(d2.String()), auth); err == nil {
		t.Error("refused push still wrote the manifest")
	}
	r2, err := Push(ctx, open(t, pb), repo, []string{"v1.0.0"}, creds(host, testUser, testPass), WithAllowTagMove(true))
	if err != nil {
		t.Fatal(err)
	}
	if len(r2.TagsMoved) != 1 {
		t.Errorf("moved %v", r2.TagsMoved)
	}
	desc, _ = remote.Head(tag, auth)
	if desc.Digest.String() != r2.Digest {
		t.Error("--allow-tag-move did not move the tag")
	}
}

func TestWrongCredentials(t *testing.T) {
	host := authRegistry(t)
	repo, _ := ParseRepo(host + "/team/app")
	img, _ := random.Image(512, 1)
	wrong := "wrong-" + testPass
	_, err := Push(context.Background(), open(t, archives(t, img)["oci-layout"]), repo, []string{"x"}, creds(host, testUser, wrong), fast())
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("err %v, want ErrAuth", err)
	}
	if !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), "401") {
		t.Errorf("error does not name the registry and status: %v", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), testPass) {
		t.Errorf("error contains the password: %v", err)
	}
}

func TestTransientErrorsAreRetried(t *testing.T) {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var failures, calls atomic.Int32
	failures.Store(3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/v2/" && failures.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	repo, _ := ParseRepo(u.Host + "/flaky/app")
	img, _ := random.Image(512, 2)
	res, err := Push(context.Background(), open(t, archives(t, img)["oci-layout"]), repo, nil, fast(), WithJobs(1))
	if err != nil {
		t.Fatalf("push through 3 transient 503s: %v", err)
	}
	if res.Digest == "" || calls.Load() < 4 {
		t.Errorf("calls %d", calls.Load())
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	var manifestPuts atomic.Int32
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			manifestPuts.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid: policy forbids this base"}]}`))
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	repo, _ := ParseRepo(u.Host + "/strict/app")
	img, _ := random.Image(512, 1)
	_, err := Push(context.Background(), open(t, archives(t, img)["oci-layout"]), repo, []string{"v1"}, fast())
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "policy forbids this base") {
		t.Fatalf("err %v", err)
	}
	if manifestPuts.Load() != 1 {
		t.Errorf("a 400 was retried: %d manifest PUTs", manifestPuts.Load())
	}
}

func TestPushIndex(t *testing.T) {
	host := authRegistry(t)
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Pack the index as an OCI layout tar: index.json -> the image index.
	dir := t.TempDir()
	path := filepath.Join(dir, "multi.tar")
	if err := writeIndexTar(path, idx); err != nil {
		t.Fatal(err)
	}
	a := open(t, path)
	if a.Index == nil {
		t.Fatal("multi-platform layout not read as an index")
	}
	repo, _ := ParseRepo(host + "/team/multi")
	res, err := Push(context.Background(), a, repo, []string{"multi"}, creds(host, testUser, testPass))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	got, err := remote.Index(repo.Digest(want.String()), remote.WithAuth(&authn.Basic{Username: testUser, Password: testPass}))
	if err != nil || res.Digest != want.String() {
		t.Fatalf("index not pushed as an index: %v", err)
	}
	if m, _ := got.IndexManifest(); len(m.Manifests) != 2 {
		t.Errorf("index has %d manifests", len(m.Manifests))
	}
}

func TestParseRepo(t *testing.T) {
	for _, bad := range []string{"", "UPPER/case", "ghcr.io/org/app:v1", "ghcr.io/org/app@sha256:abc"} {
		if _, err := ParseRepo(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	r, err := ParseRepo("127.0.0.1:5000/team/app")
	if err != nil || r.Scheme() != "http" {
		t.Errorf("loopback: %v %v", r, err)
	}
	r, err = ParseRepo("ghcr.io/org/app")
	if err != nil || r.Scheme() != "https" {
		t.Errorf("ghcr: %v %v", r.Scheme(), err)
	}
	if !IsLoopback("[::1]:5000") || !IsLoopback("localhost") || IsLoopback("10.0.0.1:5000") {
		t.Error("IsLoopback")
	}
}

func TestKeychain(t *testing.T) {
	env := map[string]string{"GITHUB_TOKEN": "ghs_token", "GITHUB_ACTOR": "octocat"}
	kc := Keychain(func(k string) string { return env[k] })
	ghcr, _ := name.NewRepository("ghcr.io/org/app")
	a, _ := kc.Resolve(ghcr)
	cfg, _ := a.Authorization()
	if cfg.Username != "octocat" || cfg.Password != "ghs_token" {
		t.Errorf("ghcr auth %+v", cfg)
	}
	env["REGISTRY_USERNAME"], env["REGISTRY_PASSWORD"] = "u", "p"
	a, _ = kc.Resolve(ghcr)
	cfg, _ = a.Authorization()
	if cfg.Username != "octocat" {
		t.Errorf("a static pair without REGISTRY_HOST went to ghcr.io: %+v", cfg)
	}
	env["REGISTRY_HOST"] = "ghcr.io"
	a, _ = Keychain(func(k string) string { return env[k] }).Resolve(ghcr)
	cfg, _ = a.Authorization()
	if cfg.Username != "u" {
		t.Errorf("explicit credentials for their host must win: %+v", cfg)
	}
}

func TestLocalRegistryPersists(t *testing.T) {
	dir := t.TempDir()
	l, err := StartLocal(dir, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(2048, 2)
	repo, _ := ParseRepo(l.Addr + "/slipway/sample-app")
	res, err := Push(context.Background(), open(t, archives(t, img)["oci-layout"]), repo, []string{"abc"})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	l2, err := StartLocal(dir, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	for _, ref := range []string{l2.Addr + "/slipway/sample-app@" + res.Digest, l2.Addr + "/slipway/sample-app:abc"} {
		r, _ := ParseReference(ref)
		got, err := remote.Image(r)
		if err != nil {
			t.Fatalf("%s after restart: %v", ref, err)
		}
		if d, _ := got.Digest(); d.String() != res.Digest {
			t.Errorf("%s: digest %s", ref, d)
		}
		if _, err := got.Layers(); err != nil {
			t.Error(err)
		}
	}
}

// writeIndexTar writes an OCI layout tar whose index.json points at idx.
func writeIndexTar(path string, idx v1.ImageIndex) error {
	dir := filepath.Join(filepath.Dir(path), "layout")
	p, err := layoutWrite(dir, idx)
	if err != nil {
		return err
	}
	return tarDir(p, path)
}

// Issue 12.16: a layer whose content does not match the config's diff_id is
// refused, and no tag moves.
func TestCorruptLayerIsNotTagged(t *testing.T) {
	host := authRegistry(t)
	for _, format := range []string{"oci-layout", "docker-archive"} {
		t.Run(format, func(t *testing.T) {
			img, _ := random.Image(4096, 2)
			cfg, _ := img.ConfigFile()
			cfg = cfg.DeepCopy()
			cfg.RootFS.DiffIDs[1] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("e", 64)}
			bad, err := mutate.ConfigFile(img, cfg)
			if err != nil {
				t.Fatal(err)
			}
			a := open(t, archives(t, bad)[format])
			repo, _ := ParseRepo(host + "/team/corrupt-" + format)
			_, err = Push(context.Background(), a, repo, []string{"v1"}, creds(host, testUser, testPass))
			if !errors.Is(err, ErrCorruptLayer) || !strings.Contains(err.Error(), "nothing was tagged") {
				t.Fatalf("corrupt layer: %v", err)
			}
			tag, _ := name.NewTag(host+"/team/corrupt-"+format+":v1", name.Insecure)
			if _, err := remote.Head(tag, remote.WithAuth(&authn.Basic{Username: testUser, Password: testPass})); err == nil {
				t.Error("the corrupt image was tagged")
			}
		})
	}
}
