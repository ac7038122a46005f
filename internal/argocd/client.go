// Package argocd asks Argo CD's REST API, with a read-only token, whether
// the cluster runs a GitOps commit: which Applications deploy a path of a
// repository, whether they are synced to the commit (or a descendant that
// still carries it) and healthy. It never needs a kubeconfig.
package argocd

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls Argo CD's REST API with a bearer token. The token never
// appears in an error or a log line.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
	// RequestTimeout bounds each request (default 15s): a slow Argo CD
	// makes a request fail and be retried, never a wait hang.
	RequestTimeout time.Duration
}

// Environment variables, as the argocd CLI names them.
const (
	EnvServer    = "ARGOCD_SERVER"     // host[:port] or https://host[:port][/path]
	EnvToken     = "ARGOCD_AUTH_TOKEN" //nolint:gosec // the variable's name, not a credential
	EnvInsecure  = "ARGOCD_INSECURE"   // "true": do not verify the server's TLS certificate
	EnvPlaintext = "ARGOCD_PLAINTEXT"  // "true": plain HTTP (host[:port] without a scheme)
)

// ErrConfig is a missing or malformed ARGOCD_SERVER or ARGOCD_AUTH_TOKEN.
var ErrConfig = errors.New("argocd configuration")

// FromEnv builds a client from ARGOCD_SERVER and ARGOCD_AUTH_TOKEN (and
// ARGOCD_INSECURE, ARGOCD_PLAINTEXT).
func FromEnv(getenv func(string) string) (*Client, error) {
	server, token := strings.TrimSpace(getenv(EnvServer)), getenv(EnvToken)
	if server == "" {
		return nil, fmt.Errorf("%w: %s is not set; set it to the Argo CD API server (host:port or https://host)", ErrConfig, EnvServer)
	}
	if strings.TrimSpace(token) == "" {
		return nil, fmt.Errorf("%w: %s is not set; create a token for a read-only account (RBAC: p, role:slipway-wait, applications, get, */*, allow)", ErrConfig, EnvToken)
	}
	return NewClient(server, token, isTrue(getenv(EnvInsecure)), isTrue(getenv(EnvPlaintext)))
}

func isTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes":
		return true
	}
	return false
}

// NewClient is a client of the Argo CD API server at server: a URL, or
// host[:port] (HTTPS, or HTTP with plaintext).
func NewClient(server, token string, insecure, plaintext bool) (*Client, error) {
	if !strings.Contains(server, "://") {
		scheme := "https://"
		if plaintext {
			scheme = "http://"
		}
		server = scheme + server
	}
	u, err := url.Parse(server)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return nil, fmt.Errorf("%w: %s %q: want host:port or https://host[:port]", ErrConfig, EnvServer, redactUserinfo(server))
	}
	if strings.ContainsAny(token, "\r\n") {
		return nil, fmt.Errorf("%w: %s holds a line break; paste the token alone", ErrConfig, EnvToken)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // ARGOCD_INSECURE, as the argocd CLI's --insecure
	}
	return &Client{base: u, token: strings.TrimSpace(token), http: &http.Client{Transport: tr}}, nil
}

func redactUserinfo(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		return scheme + "://" + rest[at+1:]
	}
	return s
}

// String is the server's URL.
func (c *Client) String() string { return c.base.String() }

// APIError is an answer other than 2xx.
type APIError struct {
	Op      string // "get application x", "list applications", "sync application x"
	Status  int
	Message string // Argo CD's message
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.Status, msg)
}

// Denied reports whether Argo CD refused the token (401) or its role (403).
func (e *APIError) Denied() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// NetError is a request that got no answer: connection refused, DNS, TLS,
// or no answer within RequestTimeout.
type NetError struct {
	Op      string
	Timeout bool
	Err     error
}

func (e *NetError) Error() string {
	if e.Timeout {
		return fmt.Sprintf("%s: no answer within the request timeout", e.Op)
	}
	return fmt.Sprintf("%s: %v", e.Op, e.Err)
}

func (e *NetError) Unwrap() error { return e.Err }

func (c *Client) timeout() time.Duration {
	if c.RequestTimeout > 0 {
		return c.RequestTimeout
	}
	return 15 * time.Second
}

// do sends one request and decodes a JSON answer into out.
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ne net.Error
		timeout := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
		if pe := context.Cause(ctx); timeout && pe != nil && !errors.Is(pe, context.DeadlineExceeded) {
			timeout = false
		}
		return &NetError{Op: op, Timeout: timeout, Err: scrubURLError(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		var ne net.Error
		return &NetError{Op: op, Timeout: errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded), Err: err}
	}
	if resp.StatusCode/100 != 2 {
		return &APIError{Op: op, Status: resp.StatusCode, Message: apiMessage(data)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: unexpected answer (is %s an Argo CD API server?): %w", op, c.base, err)
	}
	return nil
}

// scrubURLError drops the *url.Error wrapper (it repeats the URL, and with
// it any query); the server is named by the caller.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// apiMessage is the message of a grpc-gateway error body
// ({"error": …, "code": …, "message": …}), else the body's first line.
func apiMessage(data []byte) string {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &e) == nil {
		if e.Message != "" {
			return oneLine(e.Message)
		}
		if e.Error != "" {
			return oneLine(e.Error)
		}
	}
	s := oneLine(string(data))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// appPath is the API path of an Application, and its query for one in
// another namespace ("ns/name").
func appPath(name string) (string, url.Values) {
	q := url.Values{}
	if ns, n, ok := strings.Cut(name, "/"); ok {
		q.Set("appNamespace", ns)
		name = n
	}
	return "/api/v1/applications/" + url.PathEscape(name), q
}

// List returns the Applications the token may see.
func (c *Client) List(ctx context.Context) ([]Application, error) {
	var out struct {
		Items []Application `json:"items"`
	}
	if err := c.do(ctx, "list applications", http.MethodGet, "/api/v1/applications", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// Get returns one Application; refresh asks Argo CD to compare it with git
// again first (?refresh=normal), which a new commit needs when Argo CD is
// not told by a webhook.
func (c *Client) Get(ctx context.Context, name string, refresh bool) (*Application, error) {
	p, q := appPath(name)
	if refresh {
		q.Set("refresh", "normal")
	}
	var app Application
	if err := c.do(ctx, "get application "+name, http.MethodGet, p, q, nil, &app); err != nil {
		return nil, err
	}
	return &app, nil
}

// ResourceTree returns the Application's live resources with their health.
func (c *Client) ResourceTree(ctx context.Context, name string) (*ResourceTree, error) {
	p, q := appPath(name)
	var t ResourceTree
	if err := c.do(ctx, "get resource tree of "+name, http.MethodGet, p+"/resource-tree", q, nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// Sync asks Argo CD to sync the Application to exactly revision (needs
// the role's "applications, sync"). source is the position (from 1) of the
// source among several, 0 for an Application with one.
func (c *Client) Sync(ctx context.Context, name, revision string, source int) error {
	p, q := appPath(name)
	body := map[string]any{"revision": revision}
	if source > 0 {
		body = map[string]any{"revisions": []string{revision}, "sourcePositions": []int{source}}
	}
	if ns, n, ok := strings.Cut(name, "/"); ok {
		body["name"], body["appNamespace"] = n, ns
	} else {
		body["name"] = name
	}
	return c.do(ctx, "sync application "+name, http.MethodPost, p+"/sync", q, body, nil)
}

// SyncWindows is what the sync windows of an Application's project allow
// now (GET …/syncwindows, which "applications, get" may read).
type SyncWindows struct {
	ActiveWindows []SyncWindow `json:"activeWindows,omitempty"`
	// CanSync is whether an automated sync may run now; nil when the
	// answer does not say.
	CanSync *bool `json:"canSync,omitempty"`
}

// SyncWindow is one window of a project: allow or deny, from a cron
// schedule, for a duration.
type SyncWindow struct {
	Kind       string `json:"kind"`
	Schedule   string `json:"schedule"`
	Duration   string `json:"duration"`
	ManualSync bool   `json:"manualSync,omitempty"`
}

// SyncWindows asks whether the Application's project's sync windows let it
// sync now.
func (c *Client) SyncWindows(ctx context.Context, name string) (*SyncWindows, error) {
	p, q := appPath(name)
	var sw SyncWindows
	if err := c.do(ctx, "get sync windows of "+name, http.MethodGet, p+"/syncwindows", q, nil, &sw); err != nil {
		return nil, err
	}
	return &sw, nil
}

// blocked says which windows keep an automated sync from running now, or
// "" when they do not (or the answer does not say).
func (sw *SyncWindows) blocked() string {
	if sw == nil || sw.CanSync == nil || *sw.CanSync {
		return ""
	}
	var deny []string
	for _, w := range sw.ActiveWindows {
		if w.Kind == "deny" {
			deny = append(deny, fmt.Sprintf("deny %q for %s", w.Schedule, w.Duration))
		}
	}
	if len(deny) > 0 {
		return "a sync window of its project blocks syncing now (" + strings.Join(deny, ", ") + ")"
	}
	return "a sync window of its project blocks syncing now (no allow window is active)"
}
