package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// How long Slipway waits for a registry, unless told otherwise
// (WithTimeouts, WithRetryAfter). A registry that never answers costs at
// most DefaultRequestTimeout per request and DefaultOverallTimeout per
// operation, never a hung CI job.
const (
	// DefaultRequestTimeout bounds how long one request may make no
	// progress: no response headers, no request or response body bytes.
	// A large upload on a slow link is progress; silence is not.
	DefaultRequestTimeout = 60 * time.Second
	// DefaultOverallTimeout bounds one operation (a push with its blobs,
	// signature and tags; a pin; a cache transfer).
	DefaultOverallTimeout = 30 * time.Minute
	// DefaultRetryAfterCap is the longest Retry-After (on 429 and 503)
	// Slipway honours; a registry asking for longer is reported at once.
	DefaultRetryAfterCap = 60 * time.Second
	// DefaultBusyAttempts is how many times a request answered 429 or 503
	// is sent in all.
	DefaultBusyAttempts = 5
)

// WithTimeouts sets the per-request silence limit and the overall budget
// of an operation (0 keeps the default).
func WithTimeouts(request, overall time.Duration) Option {
	return func(c *config) {
		if request > 0 {
			c.requestTimeout = request
		}
		if overall > 0 {
			c.overallTimeout = overall
		}
	}
}

// WithRetryAfter sets the longest Retry-After honoured on 429 and 503 and
// how many attempts a request gets in all (0 keeps the default).
func WithRetryAfter(maxWait time.Duration, attempts int) Option {
	return func(c *config) {
		if maxWait > 0 {
			c.retryAfterCap = maxWait
		}
		if attempts > 0 {
			c.busyAttempts = attempts
		}
	}
}

// TimeoutError is a registry that did not answer in time.
type TimeoutError struct {
	Registry string
	Request  string        // "PUT /v2/…"
	Limit    time.Duration // the per-request limit, or the overall budget
	Overall  bool          // the overall budget ran out
	Waited   time.Duration // since the operation started
}

func (e *TimeoutError) Error() string {
	if e.Overall {
		return fmt.Sprintf("registry %s: gave up after %s, the overall registry timeout (during %s)", e.Registry, round(e.Waited), e.Request)
	}
	return fmt.Sprintf("registry %s did not answer %s for %s, the per-request registry timeout; waited %s in all", e.Registry, e.Request, round(e.Limit), round(e.Waited))
}

// Timeout marks the error as a timeout (net.Error's sense).
func (e *TimeoutError) Timeout() bool { return true }

// BusyError is a registry that kept answering 429 Too Many Requests or 503
// Service Unavailable.
type BusyError struct {
	Registry string
	Request  string
	Status   int
	Attempts int
	Waited   time.Duration // since the operation started
	Why      string
}

func (e *BusyError) Error() string {
	times := "once"
	if e.Attempts != 1 {
		times = fmt.Sprintf("%d times", e.Attempts)
	}
	return fmt.Sprintf("registry %s answered %d %s to %s %s; waited %s in all; %s",
		e.Registry, e.Status, http.StatusText(e.Status), e.Request, times, round(e.Waited), e.Why)
}

func round(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// patient wraps the transport every registry request goes through: a
// watchdog cancels a request that makes no progress for requestTimeout,
// every request ends by the operation's overall deadline, and a request
// answered 429 or 503 is sent again after the registry's Retry-After
// (bounded), else after a doubling backoff. What it gives up on is an error
// go-containerregistry does not retry again (no multiplied waits); a
// request whose streamed body cannot be sent twice gets the answer as it
// is, for go-containerregistry's own retries.
type patient struct {
	inner          http.RoundTripper
	requestTimeout time.Duration
	overall        time.Duration
	retryAfterCap  time.Duration
	attempts       int
	backoff        time.Duration // first wait without a Retry-After, doubling
	start          time.Time
}

func (c *config) patient(t http.RoundTripper) http.RoundTripper {
	return &patient{inner: t, requestTimeout: c.requestTimeout, overall: c.overallTimeout,
		retryAfterCap: c.retryAfterCap, attempts: c.busyAttempts, backoff: c.backoff.Duration, start: c.start}
}

// bounded makes the transport's own limits agree with the per-request
// silence limit: dial, TLS handshake and response headers each get
// requestTimeout, never less (go-containerregistry's default transport
// gives a handshake 10 s, which then failed with a bare "TLS handshake
// timeout" and was retried by another layer). A transport that is not an
// *http.Transport is used as it is: the watchdog still bounds it.
func (c *config) bounded(t http.RoundTripper) http.RoundTripper {
	ht, ok := t.(*http.Transport)
	if !ok {
		return t
	}
	ht = ht.Clone()
	if t == remote.DefaultTransport {
		ht.DialContext = (&net.Dialer{Timeout: c.requestTimeout, KeepAlive: 30 * time.Second}).DialContext
	}
	ht.TLSHandshakeTimeout = c.requestTimeout
	ht.ResponseHeaderTimeout = c.requestTimeout
	return ht
}

// ggcrRetryStatusCodes are the statuses go-containerregistry's retry layer
// may send again (its defaults but 429 and 503, which patient answers by
// their Retry-After).
var ggcrRetryStatusCodes = []int{http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout, 499, 522}

// retryable is go-containerregistry's retry predicate: network flakes (a
// reset, a cut stream) are sent again; what Slipway gave up on (a timeout,
// a registry still busy, a Retry-After beyond the budget) is not.
func retryable(err error) bool {
	var slow *TimeoutError
	var busy *BusyError
	switch {
	case err == nil, errors.As(err, &slow), errors.As(err, &busy),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false // patient names a timeout; nothing sends it again
	}
	var tmp interface{ Temporary() bool }
	return errors.As(err, &tmp) && tmp.Temporary()
}

func (p *patient) deadline() time.Time { return p.start.Add(p.overall) }

func (p *patient) RoundTrip(req *http.Request) (*http.Response, error) {
	what := req.Method + " " + req.URL.Path
	for attempt := 1; ; attempt++ {
		resp, err := p.once(req)
		if err != nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
			return resp, err
		}
		if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
			return resp, nil // a streamed body cannot be sent again: the caller sees the status
		}
		busy := func(why string) (*http.Response, error) {
			drain(resp)
			return nil, &BusyError{Registry: req.URL.Host, Request: what, Status: resp.StatusCode, Attempts: attempt, Waited: time.Since(p.start), Why: why}
		}
		wait := p.backoff << min(attempt-1, 6)
		if ra, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			// The budget: what is left of the operation's, and at most
			// the cap on one Retry-After.
			budget, of := time.Until(p.deadline()), fmt.Sprintf("left of the %s overall registry timeout", round(p.overall))
			if p.retryAfterCap < budget {
				budget, of = p.retryAfterCap, "Slipway waits for one Retry-After"
			}
			if ra > budget {
				return busy(fmt.Sprintf("its Retry-After %s is more than the %s budget (%s)", round(ra), round(max(budget, 0)), of))
			}
			wait = ra
		}
		if attempt >= p.attempts {
			return busy(fmt.Sprintf("gave up after %d attempts", attempt))
		}
		if time.Now().Add(wait).After(p.deadline()) {
			return busy(fmt.Sprintf("waiting %s more would pass the %s overall registry timeout", round(wait), round(p.overall)))
		}
		drain(resp)
		t := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		case <-t.C:
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

// once sends req under the watchdog and the overall deadline.
func (p *patient) once(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithDeadline(req.Context(), p.deadline())
	w := &watchdog{cancel: cancel, d: p.requestTimeout}
	w.timer = time.AfterFunc(p.requestTimeout, w.fire)
	r := req.Clone(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		r.Body = &watchedBody{ReadCloser: req.Body, w: w, p: p, req: req}
	}
	resp, err := p.inner.RoundTrip(r)
	if err != nil {
		err = p.timeoutOr(req, w, ctx, err)
		w.stop()
		cancel()
		return nil, err
	}
	w.touch()
	resp.Body = &watchedBody{ReadCloser: resp.Body, w: w, p: p, req: req, ctx: ctx, done: cancel}
	return resp, nil
}

// timeoutOr names a timeout as such; other errors pass unchanged.
func (p *patient) timeoutOr(req *http.Request, w *watchdog, ctx context.Context, err error) error {
	what := req.Method + " " + req.URL.Path
	var ne net.Error
	switch {
	case w.fired():
		return &TimeoutError{Registry: req.URL.Host, Request: what, Limit: p.requestTimeout, Waited: time.Since(p.start)}
	case req.Context().Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &TimeoutError{Registry: req.URL.Host, Request: what, Limit: p.overall, Overall: true, Waited: time.Since(p.start)}
	case req.Context().Err() == nil && errors.As(err, &ne) && ne.Timeout():
		// The transport's own limit (dial, TLS handshake, headers), which
		// bounded sets to the per-request one.
		return &TimeoutError{Registry: req.URL.Host, Request: what, Limit: p.requestTimeout, Waited: time.Since(p.start)}
	}
	return err
}

// watchdog cancels a request after d without progress.
type watchdog struct {
	mu     sync.Mutex
	timer  *time.Timer
	d      time.Duration
	cancel context.CancelFunc
	done   bool
	hit    bool
}

func (w *watchdog) fire() {
	w.mu.Lock()
	if !w.done {
		w.hit = true
	}
	w.mu.Unlock()
	w.cancel()
}

func (w *watchdog) touch() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && !w.hit {
		w.timer.Reset(w.d)
	}
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	w.timer.Stop()
}

func (w *watchdog) fired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hit
}

// watchedBody counts reads as progress and turns a watchdog cancel into a
// TimeoutError; for a response, Close ends the request.
type watchedBody struct {
	io.ReadCloser
	w    *watchdog
	p    *patient
	req  *http.Request
	ctx  context.Context
	done context.CancelFunc
}

func (b *watchedBody) Read(buf []byte) (int, error) {
	n, err := b.ReadCloser.Read(buf)
	if n > 0 {
		b.w.touch()
	}
	if err != nil && !errors.Is(err, io.EOF) && b.ctx != nil {
		err = b.p.timeoutOr(b.req, b.w, b.ctx, err)
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.ReadCloser.Close()
	if b.done != nil {
		b.w.stop()
		b.done()
	}
	return err
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
