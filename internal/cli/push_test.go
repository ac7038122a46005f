package cli

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/pipeline"
)

const regPass = "Reg1stry-Pa55-DO-NOT-LOG"

func basicAuthRegistry(t *testing.T) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "bot" || p != regPass {
			w.Header().Set("WWW-Authenticate", `Basic realm="r"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`, http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u.Host
}

func imageTar(t testing.TB, dir string) string {
	t.Helper()
	img, _ := random.Image(2048, 2)
	p := filepath.Join(dir, "image.tar")
	if err := ocitar.Write(p, img, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	return p
}

// builtImageTar writes out/image.tar and records its digest in
// out/result.json, as the build stage does.
func builtImageTar(t *testing.T, out string) (string, string) {
	t.Helper()
	p := imageTar(t, out)
	a, err := ocitar.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	d, _ := a.Digest()
	res, _ := pipeline.LoadResult(out)
	res.Image = pipeline.ImageResult{Tarball: p, Digest: d.String()}
	if err := res.Save(out); err != nil {
		t.Fatal(err)
	}
	return p, d.String()
}

// scannedImageTar writes out/image.tar (built) and a scan verdict for its
// digest into out/result.json, as a scan job of a split pipeline leaves them.
func scannedImageTar(t *testing.T, out, verdict string) string {
	t.Helper()
	p, d := builtImageTar(t, out)
	res, _ := pipeline.LoadResult(out)
	res.Gate = &pipeline.GateResult{Digest: d, Verdict: verdict, Summary: "test", Time: time.Now()}
	if err := res.Save(out); err != nil {
		t.Fatal(err)
	}
	return p
}

var refLine = regexp.MustCompile(`^[^\s]+@sha256:[0-9a-f]{64}$`)

func TestPushCommand(t *testing.T) {
	noEngineEnv(t)
	host := basicAuthRegistry(t)
	dir := t.TempDir()
	tar := imageTar(t, dir)
	t.Setenv("REGISTRY_USERNAME", "bot")
	t.Setenv("REGISTRY_PASSWORD", regPass)
	t.Setenv("REGISTRY_HOST", host)

	stdout, stderr, code := run(t, "push", "--tarball", tar, "--image", host+"/acme/app", "--tag", "v1")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || !refLine.MatchString(lines[len(lines)-1]) || !strings.HasPrefix(lines[len(lines)-1], host+"/acme/app@sha256:") {
		t.Fatalf("exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	// Same digest again: no-op success.
	if _, stderr, code := run(t, "push", "--tarball", tar, "--image", host+"/acme/app", "--tag", "v1"); code != 0 {
		t.Errorf("re-push exit %d: %s", code, stderr)
	}
	// Another image under the same tag: refused, exit 1.
	other := imageTar(t, t.TempDir())
	_, stderr, code = run(t, "push", "--tarball", other, "--image", host+"/acme/app", "--tag", "v1")
	if code != 1 || !strings.Contains(stderr, "immutable") {
		t.Errorf("tag move: exit %d %s", code, stderr)
	}
}

func TestPushErrors(t *testing.T) {
	noEngineEnv(t)
	host := basicAuthRegistry(t)
	dir := t.TempDir()
	tar := imageTar(t, dir)
	notTar := filepath.Join(dir, "notes.txt")
	os.WriteFile(notTar, []byte("not an image"), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"push", "--image", host + "/a"}, 2, "--tarball is required"},
		{[]string{"push", "--tarball", tar}, 2, "--image is required"},
		{[]string{"push", "--tarball", filepath.Join(dir, "missing.tar"), "--image", host + "/a"}, 2, "missing.tar"},
		{[]string{"push", "--tarball", notTar, "--image", host + "/a"}, 2, "notes.txt"},
		{[]string{"push", "--tarball", tar, "--image", "Not A Ref"}, 2, "Not A Ref"},
		{[]string{"push", "--tarball", tar, "--image", host + "/a:tagged"}, 2, "without tag"},
		// A tag the registry would refuse is a usage error before anything
		// is pushed, in the push command and the pipeline's push stage.
		{[]string{"push", "--tarball", tar, "--image", host + "/a", "--tag", "bad tag"}, 2, `"bad tag" is not a tag`},
		{[]string{"push", "--tarball", tar, "--image", host + "/a", "--tag", "v1,-x"}, 2, `"-x" is not a tag`},
		{[]string{"push", "--tarball", tar, "--image", host + "/a", "--tag", ".hidden"}, 2, "is not a tag"},
		{[]string{"push", "--tarball", tar, "--image", host + "/a", "--tag", "a/b"}, 2, "is not a tag"},
		{[]string{"push", "--tarball", tar, "--image", host + "/a", "--tag", strings.Repeat("x", 129)}, 2, "is not a tag"},
		{[]string{"push", "--tarball", tar, "--image", host + "/a", "--tag", ""}, 2, "is not a tag"},
		{[]string{"--publish", "--tag", "bad tag"}, 2, `"bad tag" is not a tag`},
	}
	for _, c := range cases {
		_, stderr, code := run(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d stderr %q, want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

// TestRegistryPasswordNeverLeaks runs push and the pipeline's push stage with
// a wrong password and checks stdout, stderr and every file under out/.
func TestRegistryPasswordNeverLeaks(t *testing.T) {
	noEngineEnv(t)
	host := basicAuthRegistry(t)
	out := t.TempDir()
	tar := imageTar(t, out)
	wrong := "wrong-" + regPass
	t.Setenv("REGISTRY_USERNAME", "bot")
	t.Setenv("REGISTRY_PASSWORD", wrong)
	t.Setenv("REGISTRY_HOST", host)

	var all strings.Builder
	stdout, stderr, code := run(t, "push", "--tarball", tar, "--image", host+"/acme/app")
	all.WriteString(stdout + stderr)
	if code != 1 || !strings.Contains(stderr, host) || !strings.Contains(stderr, "401") {
		t.Errorf("wrong password: exit %d, stderr %q should name the registry and status", code, stderr)
	}
	stdout, stderr, code = run(t, "run", "push", "--source", "../../sample-app", "--out", out, "--image", host+"/acme/app")
	all.WriteString(stdout + stderr)
	if code != 1 {
		t.Errorf("push stage with wrong password: exit %d", code)
	}
	filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			data, _ := os.ReadFile(p)
			all.Write(data)
		}
		return nil
	})
	if strings.Contains(all.String(), wrong) || strings.Contains(all.String(), regPass) {
		t.Error("the registry password reached output or out/")
	}
	if _, err := os.Stat(filepath.Join(out, "result.json")); err != nil {
		t.Error("push stage did not record its failure in result.json")
	}
}

func TestPushStageToLocalRegistry(t *testing.T) {
	noEngineEnv(t)
	out := t.TempDir()
	scannedImageTar(t, out, pipeline.GatePassed)
	stdout, stderr, code := run(t, "run", "push", "--source", "../../sample-app", "--out", out, "--tag", "smoke")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	last := strings.TrimSpace(stdout)
	if !refLine.MatchString(last) || !strings.Contains(last, "/slipway/sample-app@sha256:") {
		t.Errorf("stdout %q", stdout)
	}
	if !strings.Contains(stderr, "local registry") {
		t.Errorf("push did not say where the image went: %s", stderr)
	}
	data, _ := os.ReadFile(filepath.Join(out, "result.json"))
	if !strings.Contains(string(data), last) {
		t.Errorf("result.json lacks the ref:\n%s", data)
	}
	if _, err := os.Stat(filepath.Join(out, "registry", "blobs")); err != nil {
		t.Error("local registry did not persist under out/registry")
	}
}

// TestPushGivesStaticCredentialsToTheirHostOnly is the reported defect:
// REGISTRY_USERNAME/REGISTRY_PASSWORD went to any registry pushed to. With
// no REGISTRY_HOST and no configured App.Image the push is refused (exit 2,
// one line, nothing sent); bound to another host, the registry pushed to
// never receives them.
func TestPushGivesStaticCredentialsToTheirHostOnly(t *testing.T) {
	noEngineEnv(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	tar := imageTar(t, t.TempDir())
	t.Setenv("REGISTRY_USERNAME", "acmebot")
	t.Setenv("REGISTRY_PASSWORD", "AcmeSecretPw123456")
	t.Setenv("REGISTRY_HOST", "")
	_, stderr, code := run(t, "push", "--tarball", tar, "--image", u.Host+"/other/x", "--out", t.TempDir())
	if code != 2 || !strings.Contains(stderr, "REGISTRY_HOST") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || len(got) != 0 {
		t.Fatalf("no REGISTRY_HOST: exit %d, %d requests, stderr %q; want exit 2, one line, nothing sent", code, len(got), stderr)
	}
	t.Setenv("REGISTRY_HOST", "registry.acme.io")
	if _, stderr, code := run(t, "push", "--tarball", tar, "--image", u.Host+"/other/x", "--out", t.TempDir()); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range got {
		if a != "" {
			t.Errorf("%s received Authorization %q; the credentials belong to registry.acme.io", u.Host, a)
		}
	}
}
