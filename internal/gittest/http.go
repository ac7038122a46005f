package gittest

import (
	"net/http"
	"net/http/cgi" //nolint:gosec // test servers only; Go >= 1.6.3 is not vulnerable to httpoxy
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// HTTPBackend is git's smart HTTP server (`git http-backend` behind
// net/http/cgi) for the bare repositories under root, with extra
// environment for the backend (e.g. GIT_CONFIG_* settings).
func HTTPBackend(t testing.TB, root string, env ...string) http.Handler {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	return &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Env:  append([]string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}, env...),
	}
}

// BasicAuthServer serves h to requests whose basic-auth credentials ok
// accepts, answers 401 to the others, and returns its URL; it is closed
// when the test ends.
func BasicAuthServer(t testing.TB, h http.Handler, ok func(user, password string) bool) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, has := r.BasicAuth(); !has || !ok(u, p) {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
