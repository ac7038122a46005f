package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Local is Slipway's own registry on 127.0.0.1, for runs with no --image:
// go-containerregistry's registry with blobs on disk, and manifests saved
// beside them and replayed at start, so what a run pushed is still there next run.
type Local struct {
	Addr string // host:port
	dir  string
	srv  *http.Server
}

// DefaultLocalAddr is tried first so that refs stay valid across runs; a busy
// port falls back to a random one.
const DefaultLocalAddr = "127.0.0.1:5005"

// StartLocal serves a registry persisted in dir.
func StartLocal(dir, addr string) (*Local, error) {
	blobs := filepath.Join(dir, "blobs")
	manifests := filepath.Join(dir, "manifests")
	for _, d := range []string{blobs, manifests} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("local registry %s: %w", dir, err)
		}
	}
	inner := registry.New(
		registry.WithBlobHandler(registry.NewDiskBlobHandler(blobs)),
		registry.Logger(log.New(io.Discard, "", 0)),
	)
	l := &Local{dir: dir}
	if err := replay(inner, manifests); err != nil {
		return nil, fmt.Errorf("local registry %s: %w", dir, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("local registry: %w", err)
		}
	}
	l.Addr = ln.Addr().String()
	l.srv = &http.Server{Handler: persist(inner, manifests), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = l.srv.Serve(ln) }()
	return l, nil
}

// Close stops the server.
func (l *Local) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return l.srv.Shutdown(ctx)
}

var manifestPath = regexp.MustCompile(`^/v2/(.+)/manifests/([^/]+)$`)

type savedManifest struct {
	Repo        string `json:"repo"`
	Ref         string `json:"ref"`
	ContentType string `json:"content_type"`
	Body        []byte `json:"body"`
	Seq         int64  `json:"seq"`
}

// persist saves every accepted manifest PUT to dir.
func persist(next http.Handler, dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := manifestPath.FindStringSubmatch(r.URL.Path)
		if r.Method != http.MethodPut || m == nil {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if rec.Code == http.StatusCreated {
			s := savedManifest{Repo: m[1], Ref: m[2], ContentType: r.Header.Get("Content-Type"), Body: body, Seq: time.Now().UnixNano()}
			if err := saveManifest(dir, s); err != nil {
				http.Error(w, "persist manifest: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

func saveManifest(dir string, s savedManifest) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	file := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(s.Repo+"@"+s.Ref)+".json")
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// replay puts saved manifests back, oldest first, so later tags win.
func replay(h http.Handler, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var saved []savedManifest
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		var s savedManifest
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("%s: %w", e.Name(), err)
		}
		saved = append(saved, s)
	}
	sort.Slice(saved, func(i, j int) bool { return saved[i].Seq < saved[j].Seq })
	var errs []error
	for _, s := range saved {
		req := httptest.NewRequest(http.MethodPut, "/v2/"+s.Repo+"/manifests/"+s.Ref, bytes.NewReader(s.Body))
		req.Header.Set("Content-Type", s.ContentType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			errs = append(errs, fmt.Errorf("replay %s@%s: %d %s", s.Repo, s.Ref, rec.Code, strings.TrimSpace(rec.Body.String())))
		}
	}
	return errors.Join(errs...)
}
