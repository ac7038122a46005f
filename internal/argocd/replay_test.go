package argocd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplayCaptured runs the wait against answers captured from a real
// Argo CD v3.2.2 (make test-argocd with SLIPWAY_ARGOCD_CAPTURE; see
// testdata/captured/README.md). Each NAME.want names the deploy commit,
// the repository, how other revisions relate to it, and the outcome:
//
//	commit <sha>
//	repo <url>
//	rel <sha> carries|replaced|behind
//	app <name>             (the Application the wait names, as --argocd-app)
//	status <http status>   (the answer is NAME.body, for every request)
//	want ok|<Kind>
//	msg <text>             (the failure's line holds it)
func TestReplayCaptured(t *testing.T) {
	wants, _ := filepath.Glob(filepath.Join("testdata", "captured", "*.want"))
	if len(wants) == 0 {
		t.Skip("no captures in testdata/captured")
	}
	for _, wf := range wants {
		name := strings.TrimSuffix(filepath.Base(wf), ".want")
		t.Run(name, func(t *testing.T) {
			spec := readWant(t, wf)
			base := strings.TrimSuffix(wf, ".want")
			app, _ := os.ReadFile(base + ".app.json")
			tree, _ := os.ReadFile(base + ".tree.json")
			body, _ := os.ReadFile(base + ".body")
			windows, werr := os.ReadFile(base + ".windows.json")
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch {
				case spec.status != 0:
					w.WriteHeader(spec.status)
					w.Write(body)
				case strings.HasSuffix(r.URL.Path, "/resource-tree"):
					w.Write(tree)
				case strings.HasSuffix(r.URL.Path, "/syncwindows"):
					if werr != nil {
						w.WriteHeader(http.StatusNotFound)
						return
					}
					w.Write(windows)
				case r.URL.Path == "/api/v1/applications":
					io.WriteString(w, `{"metadata":{},"items":[`+string(app)+`]}`)
				default:
					w.Write(app)
				}
			}))
			defer srv.Close()
			c, _ := NewClient(srv.URL, testToken, false, false)
			w := &Waiter{Client: c, Timeout: 500 * time.Millisecond, Poll: 10 * time.Millisecond,
				Lineage: func(_ context.Context, rev string) (Relation, string, error) {
					if rev == spec.commit {
						return Same, "", nil
					}
					if r, ok := spec.rels[rev]; ok {
						return r, "a newer deploy", nil
					}
					return Unrelated, "", nil
				}}
			file := spec.path + "/kustomization.yaml"
			obs, err := w.Wait(context.Background(), Target{Repo: spec.repo, Branch: "main", File: file, Commit: spec.commit, Applications: spec.apps})
			if spec.want == "ok" {
				if err != nil || len(obs) == 0 || obs[0].Result != Healthy {
					t.Fatalf("want synced and healthy: %v %+v", err, obs)
				}
				if obs[0].SyncedAt.IsZero() || obs[0].HistoryID < 0 {
					t.Errorf("a real Application gives synced-at and a history id: %+v", obs[0])
				}
				return
			}
			var f *Failure
			if !errors.As(err, &f) || string(f.Kind) != spec.want {
				t.Fatalf("want %s, got %v", spec.want, err)
			}
			for _, m := range spec.msgs {
				if !strings.Contains(f.Msg, m) {
					t.Errorf("the line lacks %q: %s", m, f.Msg)
				}
			}
			t.Logf("%s: %s", f.Kind, f.Msg)
		})
	}
}

type wantSpec struct {
	commit, repo, path, want string
	msgs                     []string
	apps                     []string
	status                   int
	rels                     map[string]Relation
}

func readWant(t *testing.T, fn string) wantSpec {
	f, err := os.Open(fn)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := wantSpec{rels: map[string]Relation{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		switch fs[0] {
		case "commit":
			s.commit = fs[1]
		case "repo":
			s.repo = fs[1]
		case "path":
			s.path = fs[1]
		case "app":
			s.apps = append(s.apps, fs[1])
		case "msg":
			s.msgs = append(s.msgs, strings.TrimSpace(strings.TrimPrefix(sc.Text(), "msg")))
		case "want":
			s.want = fs[1]
		case "status":
			for _, c := range fs[1] {
				s.status = s.status*10 + int(c-'0')
			}
		case "rel":
			if len(fs) == 3 {
				s.rels[fs[1]] = map[string]Relation{"carries": Carries, "replaced": Replaced, "behind": Behind}[fs[2]]
			}
		}
	}
	return s
}
