package gitops

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Issue 17 (round 2) item 5: what a git server's refusal reads like. A
// rejected GITOPS_TOKEN says the server rejected that variable (not "set
// it"), a missing repository names the URL and has something after its
// colon, and a server's multi-line text stays on the error's one line.
// Before the fix: "authentication required:  (set GITOPS_TOKEN …)" and
// "repository not found: ".
func TestRemoteRefusalsReadRight(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/nope.git"):
			http.Error(w, "", http.StatusNotFound)
		case strings.HasPrefix(r.URL.Path, "/multi.git"):
			http.Error(w, "line one\nline two\r\nline three", http.StatusForbidden)
		default:
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "", http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		repo, token string
		want        []string
		not         []string
	}{
		{srv.URL + "/gitops.git", "wrong-token-0123456789", []string{"rejected GITOPS_TOKEN", srv.URL + "/gitops.git"}, []string{"set GITOPS_TOKEN", ":  ", "wrong-token"}},
		{srv.URL + "/gitops.git", "", []string{"none were given", "set GITOPS_TOKEN"}, []string{":  "}},
		{strings.Replace(srv.URL, "://", "://ci:url-secret-0123456789@", 1) + "/gitops.git", "", []string{"rejected the credentials in the URL"}, []string{"url-secret"}},
		{srv.URL + "/nope.git", "", []string{srv.URL + "/nope.git", "repository not found"}, []string{"found: "}},
		{srv.URL + "/multi.git", "tok-0123456789abcdef", []string{srv.URL + "/multi.git"}, nil},
	} {
		r, err := NewRemote(tc.repo, "main", env(map[string]string{"GITOPS_TOKEN": tc.token}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = History(context.Background(), r, Filter{})
		if err == nil {
			t.Fatalf("%s: no error", tc.repo)
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") || strings.HasSuffix(strings.TrimSpace(msg), ":") {
			t.Errorf("%s: not one complete line: %q", tc.repo, msg)
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q does not say %q", tc.repo, msg, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(msg, n) {
				t.Errorf("%s: %q says %q", tc.repo, msg, n)
			}
		}
		t.Logf("%s", msg)
	}
}
