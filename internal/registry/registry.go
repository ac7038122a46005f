// Package registry pushes image tarballs by digest with go-containerregistry:
// blobs concurrently and only when missing, the manifest by digest, a check
// that the registry reports the same digest, then tags that never move unless
// asked. It also resolves image-lock tags to digests (pin) and serves a local
// registry for runs with nowhere else to push.
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/redact"
	"github.com/slipway-ci/slipway/internal/safetext"
)

// ErrTagMove is returned when a tag already points at another digest.
var ErrTagMove = errors.New("tag would move")

// ErrAuth is returned when the registry refuses the credentials.
var ErrAuth = errors.New("registry authentication failed")

// Result is a finished push.
type Result struct {
	Ref        string   // REPO@sha256:…
	Digest     string   // sha256:…
	Tags       []string // tags now pointing at Digest
	TagsMoved  []string // tags that pointed elsewhere before (only with AllowTagMove)
	BlobBytes  int64    // blob bytes sent to the registry (0 on a re-push)
	BlobsSent  int      // blob uploads completed
	TotalBytes int64    // compressed size of all blobs
}

type config struct {
	keychain     authn.Keychain
	allowTagMove bool
	progress     io.Writer // nil: no progress
	interactive  bool      // live progress (a terminal) instead of one line
	backoff      remote.Backoff
	jobs         int
	transport    http.RoundTripper
	secrets      []string // values scrubbed from every error
	beforeTag    func(ctx context.Context, digest string) error
	// How long to wait for the registry (patience.go).
	requestTimeout, overallTimeout, retryAfterCap time.Duration
	busyAttempts                                  int
	// start is when the operation began: every wait reported, and the
	// overall budget, count from it.
	start time.Time
}

// Option configures Push, Resolve and Pin.
type Option func(*config)

// WithKeychain sets where credentials come from (default: Keychain(os.Getenv)).
func WithKeychain(kc authn.Keychain) Option { return func(c *config) { c.keychain = kc } }

// WithAllowTagMove lets existing tags move to the new digest.
func WithAllowTagMove(allow bool) Option { return func(c *config) { c.allowTagMove = allow } }

// WithProgress reports upload progress to w: live when interactive, else one line at the end.
func WithProgress(w io.Writer, interactive bool) Option {
	return func(c *config) { c.progress, c.interactive = w, interactive }
}

// WithBackoff sets the retry schedule for transient errors (5xx, resets).
func WithBackoff(b remote.Backoff) Option { return func(c *config) { c.backoff = b } }

// WithJobs sets how many blobs upload at once.
func WithJobs(n int) Option { return func(c *config) { c.jobs = n } }

// WithBeforeTag runs f once the digest is pushed and read back, before any
// tag is applied; an error stops the push with nothing tagged. Signing and
// attaching go there, so that a tag only ever names a signed digest.
func WithBeforeTag(f func(ctx context.Context, digest string) error) Option {
	return func(c *config) { c.beforeTag = f }
}

// WithTransport sets the base HTTP transport.
func WithTransport(t http.RoundTripper) Option { return func(c *config) { c.transport = t } }

func newConfig(opts []Option) *config {
	c := &config{
		start:     time.Now(),
		keychain:  Keychain(os.Getenv),
		backoff:   remote.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: 5},
		jobs:      8,
		transport: remote.DefaultTransport,

		requestTimeout: DefaultRequestTimeout, overallTimeout: DefaultOverallTimeout,
		retryAfterCap: DefaultRetryAfterCap, busyAttempts: DefaultBusyAttempts,
	}
	for _, o := range opts {
		o(c)
	}
	if s, ok := c.keychain.(secretHolder); ok {
		c.secrets = s.secretValues()
	}
	c.transport = c.bounded(c.transport)
	return c
}

// ParseRepo parses an image repository ("ghcr.io/org/app"). Loopback
// registries are spoken to over plain HTTP; every other registry needs TLS.
func ParseRepo(s string) (name.Repository, error) {
	if strings.ContainsAny(s, "@") || strings.Count(strings.TrimPrefix(s, hostPart(s)), ":") > 0 {
		return name.Repository{}, fmt.Errorf("image %q: give a repository without tag or digest (tags go in --tag)", s)
	}
	opts := []name.Option{name.StrictValidation}
	if IsLoopback(hostPart(s)) {
		opts = append(opts, name.Insecure)
	}
	r, err := name.NewRepository(s, opts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("image %q: %w", s, err)
	}
	return r, nil
}

// ParseReference parses a tag or digest reference with the same loopback rule.
func ParseReference(s string) (name.Reference, error) {
	opts := []name.Option{}
	if IsLoopback(hostPart(s)) {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", s, err)
	}
	return ref, nil
}

func hostPart(s string) string {
	host, _, _ := strings.Cut(s, "/")
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		return ""
	}
	return host
}

// IsLoopback reports whether a registry host (with optional port) is this machine.
func IsLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// countingTransport counts blob bytes sent (PATCH/PUT/POST bodies to blob uploads).
type countingTransport struct {
	inner http.RoundTripper
	bytes atomic.Int64
	blobs atomic.Int64
	done  func(int64)
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && strings.Contains(req.URL.Path, "/blobs/uploads/") && req.Method != http.MethodGet {
		req = req.Clone(req.Context())
		req.Body = &countingBody{ReadCloser: req.Body, t: t}
	}
	resp, err := t.inner.RoundTrip(req)
	if err == nil && req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/blobs/uploads/") && resp.StatusCode == http.StatusCreated {
		t.blobs.Add(1)
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	t *countingTransport
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.t.bytes.Add(int64(n))
	if b.t.done != nil && n > 0 {
		b.t.done(int64(n))
	}
	return n, err
}

// Push sends the archive to repo by digest, verifies it, and applies tags.
// Tags are checked before anything is written: with a tag that points at
// another digest (and no WithAllowTagMove) nothing is pushed and ErrTagMove
// names the tag. Re-pushing the same digest is a no-op success.
func Push(ctx context.Context, a *ocitar.Archive, repo name.Repository, tags []string, opts ...Option) (*Result, error) {
	c := newConfig(opts)
	res, err := push(ctx, a, repo, tags, c)
	return res, c.scrub(err)
}

func push(ctx context.Context, a *ocitar.Archive, repo name.Repository, tags []string, c *config) (*Result, error) {
	d, err := a.Digest()
	if err != nil {
		return nil, fmt.Errorf("read image digest: %w", err)
	}
	total, err := archiveSize(a)
	if err != nil {
		return nil, err
	}
	res := &Result{Digest: d.String(), Ref: repo.Digest(d.String()).String(), TotalBytes: total}
	ct := &countingTransport{inner: c.transport}
	var p *progress
	if c.progress != nil && c.interactive {
		p = &progress{w: c.progress, total: total, blobs: &ct.blobs}
		ct.done = p.add
	}
	ropts := c.remote(ctx, ct)

	var tagRefs []name.Tag
	for _, t := range dedupe(tags) {
		tag, err := name.NewTag(repo.String()+":"+t, name.StrictValidation, insecureOpt(repo))
		if err != nil {
			return nil, fmt.Errorf("tag %q: %w", t, err)
		}
		tagRefs = append(tagRefs, tag)
	}
	// 1. Tag immutability, before anything is written.
	var toTag []name.Tag
	for _, tag := range tagRefs {
		desc, err := remote.Head(tag, ropts...)
		switch {
		case isNotFound(err):
			toTag = append(toTag, tag)
		case err != nil:
			return nil, c.explain(repo, "check tag "+tag.TagStr(), err)
		case desc.Digest == d:
			res.Tags = append(res.Tags, tag.TagStr()) // already there: nothing to do
		case !c.allowTagMove:
			return nil, fmt.Errorf("%w: %s points at %s, not %s; tags are immutable (push under a new tag, or pass --allow-tag-move)", ErrTagMove, tag, desc.Digest, d)
		default:
			res.TagsMoved = append(res.TagsMoved, tag.TagStr())
			toTag = append(toTag, tag)
		}
	}
	// 2. Blobs (skipping those present) and the manifest, by digest. Each
	// layer's content is checked against the config's diff_ids meanwhile (a
	// corrupt or tampered tarball): the registry only checks the compressed
	// digest, so a layer that does not decompress to what the config says
	// would otherwise be pushed and tagged.
	verified := make(chan error, 1)
	go func() { verified <- verifyLayers(a) }()
	ref := repo.Digest(d.String())
	if a.Index != nil {
		err = remote.WriteIndex(ref, a.Index, ropts...)
	} else {
		err = remote.Write(ref, a.Image, ropts...)
	}
	if p != nil {
		p.finish()
	}
	if verr := <-verified; verr != nil {
		return nil, fmt.Errorf("push %s: %w; nothing was tagged", ref, verr)
	}
	if err != nil {
		return nil, c.explain(repo, "push "+ref.String(), err)
	}
	// 3. Verify: the registry must report the digest we computed.
	desc, err := remote.Head(ref, ropts...)
	if err != nil {
		return nil, c.explain(repo, "verify "+ref.String(), err)
	}
	if desc.Digest != d {
		return nil, fmt.Errorf("verify %s: registry reports digest %s, want %s", ref, desc.Digest, d)
	}
	if c.beforeTag != nil {
		if err := c.beforeTag(ctx, d.String()); err != nil {
			return nil, fmt.Errorf("%w; nothing was tagged", err)
		}
	}
	// 4. Tags, now that the digest is safely there.
	var taggable remote.Taggable = a.Image
	if a.Index != nil {
		taggable = a.Index
	}
	if err := c.applyTags(ctx, repo, d, taggable, toTag, res, ropts); err != nil {
		return nil, err
	}
	res.BlobBytes = ct.bytes.Load()
	res.BlobsSent = int(ct.blobs.Load())
	if c.progress != nil {
		fmt.Fprintf(c.progress, "pushed %s: %d of %d blob bytes uploaded (%d blobs), tags: %s\n",
			res.Ref, res.BlobBytes, res.TotalBytes, res.BlobsSent, orDash(strings.Join(res.Tags, ", ")))
	}
	return res, nil
}

func (c *config) remote(ctx context.Context, t http.RoundTripper) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithTransport(c.patient(t)),
		remote.WithJobs(c.jobs),
		// One policy decides (patience.go): go-containerregistry's retry
		// layer never sends again what Slipway gave up on, and leaves 429
		// and 503 to Retry-After.
		remote.WithRetryBackoff(c.backoff),
		remote.WithRetryPredicate(retryable),
		remote.WithRetryStatusCodes(ggcrRetryStatusCodes...),
		remote.WithUserAgent("slipway"),
	}
}

func insecureOpt(repo name.Repository) name.Option {
	if repo.Scheme() == "http" {
		return name.Insecure
	}
	return name.WeakValidation
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// explain turns registry errors into one line naming the registry, the status
// code and the registry's own message.
func (c *config) explain(repo name.Repository, what string, err error) error {
	return Explain(repo.RegistryStr(), what, err)
}

// Explain is the one wording of a registry's refusal of what (a read, a
// push, the referrers of an image) at host: a 401 or 403 is ErrAuth with
// the variables that fix it, any other status names the registry, the
// status and the registry's own message, folded onto one line. Every
// package that talks to a registry reports its errors through it.
func Explain(host, what string, err error) error {
	var slow *TimeoutError
	var busy *BusyError
	switch {
	case errors.As(err, &slow):
		return fmt.Errorf("%s: %w", what, slow)
	case errors.As(err, &busy):
		return fmt.Errorf("%s: %w", what, busy)
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%s: %w: %s answered %d (set REGISTRY_USERNAME and REGISTRY_PASSWORD, or docker login %s): %s",
				what, ErrAuth, host, te.StatusCode, host, diagnostics(te))
		}
		return fmt.Errorf("%s: %s answered %d: %s", what, host, te.StatusCode, diagnostics(te))
	}
	return fmt.Errorf("%s: %w", what, err)
}

func diagnostics(te *transport.Error) string {
	var parts []string
	for _, d := range te.Errors {
		parts = append(parts, string(d.Code)+": "+d.Message)
	}
	if len(parts) == 0 {
		return http.StatusText(te.StatusCode)
	}
	return safetext.Fold(strings.Join(parts, "; "))
}

// scrub removes secret values from an error, whatever produced it.
func (c *config) scrub(err error) error { return redact.Error(err, c.secrets...) }

// ErrCorruptLayer marks a layer whose content does not match its diff_id.
var ErrCorruptLayer = errors.New("corrupt layer")

// verifyLayers hashes every layer's uncompressed content and compares it with
// the diff_id its image config records.
func verifyLayers(a *ocitar.Archive) error {
	imgs, err := archiveImages(a)
	if err != nil {
		return err
	}
	for _, img := range imgs {
		layers, err := img.Layers()
		if err != nil {
			return err
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return fmt.Errorf("read image config: %w", err)
		}
		if len(cfg.RootFS.DiffIDs) != len(layers) {
			return fmt.Errorf("%w: the config lists %d diff_ids for %d layers", ErrCorruptLayer, len(cfg.RootFS.DiffIDs), len(layers))
		}
		for i, l := range layers {
			want := cfg.RootFS.DiffIDs[i]
			rc, err := l.Uncompressed()
			if err != nil {
				return fmt.Errorf("%w %d: %w", ErrCorruptLayer, i, err)
			}
			got, _, err := v1.SHA256(rc)
			rc.Close()
			if err != nil {
				return fmt.Errorf("%w %d (%s): cannot read it: %w", ErrCorruptLayer, i, want, err)
			}
			if got != want {
				return fmt.Errorf("%w %d: content hashes to %s but the config says %s (the tarball is damaged or was altered)", ErrCorruptLayer, i, got, want)
			}
		}
	}
	return nil
}

func archiveImages(a *ocitar.Archive) ([]v1.Image, error) {
	if a.Index == nil {
		return []v1.Image{a.Image}, nil
	}
	im, err := a.Index.IndexManifest()
	if err != nil {
		return nil, err
	}
	var imgs []v1.Image
	for _, m := range im.Manifests {
		if img, err := a.Index.Image(m.Digest); err == nil {
			imgs = append(imgs, img)
		}
	}
	return imgs, nil
}

func archiveSize(a *ocitar.Archive) (int64, error) {
	imgs, err := archiveImages(a)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, img := range imgs {
		m, err := img.Manifest()
		if err != nil {
			return 0, err
		}
		total += m.Config.Size
		for _, l := range m.Layers {
			total += l.Size
		}
	}
	return total, nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type progress struct {
	w     io.Writer
	total int64
	blobs *atomic.Int64 // blob uploads completed
	sent  atomic.Int64
	last  atomic.Int64
}

func (p *progress) add(n int64) {
	sent := p.sent.Add(n)
	now := time.Now().UnixMilli()
	if last := p.last.Load(); now-last < 200 || !p.last.CompareAndSwap(last, now) {
		return
	}
	fmt.Fprintf(p.w, "\rpushing: %s / %s, %d blobs done", human(sent), human(p.total), p.blobs.Load())
}

func (p *progress) finish() {
	if p.sent.Load() > 0 {
		fmt.Fprintf(p.w, "\rpushing: %s / %s, %d blobs done\n", human(p.sent.Load()), human(p.total), p.blobs.Load())
	}
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Remote returns go-containerregistry options with Slipway's credentials,
// transport and retries (for reading and writing referrers), and a function
// that scrubs credential values from any error.
func Remote(ctx context.Context, opts ...Option) ([]remote.Option, func(error) error) {
	c := newConfig(opts)
	return c.remote(ctx, c.transport), c.scrub
}
