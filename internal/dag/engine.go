// Package dag holds the container stages: the only code in Slipway that
// imports dagger.io/dagger. Each stage is a small function that returns a
// *dagger.Container or *dagger.File so callers compose them; ctx appears only
// where something is evaluated (Sync, Export).
package dag

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"dagger.io/dagger"

	"github.com/slipway-ci/slipway/internal/usage"
)

// ErrNoEngine is returned when no Dagger engine can be reached.
var ErrNoEngine = errors.New("no Dagger engine")

// Env is the part of the environment engine detection reads.
type Env func(string) string

// Preflight decides, within a few seconds and without downloading anything,
// whether a Dagger engine can be reached. The SDK would otherwise download the
// Dagger CLI and wait on a container runtime that is not there.
//
// An engine is reachable when Slipway runs inside `dagger run` (DAGGER_SESSION_PORT),
// when _EXPERIMENTAL_DAGGER_RUNNER_HOST points at one (tcp:// and unix:// are
// dialled; other schemes such as kube-pod:// are trusted), or when a Docker
// daemon answers /_ping (the CLI provisions the engine there). A runner host
// Dagger cannot use (CheckRunnerHost) is a usage error.
func Preflight(ctx context.Context, getenv Env) error {
	if getenv("DAGGER_SESSION_PORT") != "" {
		return nil
	}
	if rh := getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST"); rh != "" {
		if err := CheckRunnerHost(rh); err != nil {
			return err
		}
		if err := dialRunner(ctx, rh); err != nil {
			return fmt.Errorf("%w: _EXPERIMENTAL_DAGGER_RUNNER_HOST=%s does not answer (%w); start that engine or unset the variable to use Docker", ErrNoEngine, redactURL(rh), err)
		}
		return nil
	}
	host := getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	if err := pingDocker(ctx, host); err != nil {
		return fmt.Errorf("%w: Docker does not answer at %s and _EXPERIMENTAL_DAGGER_RUNNER_HOST is not set; fix: start Docker (Dagger runs its engine there) or export _EXPERIMENTAL_DAGGER_RUNNER_HOST=tcp://HOST:PORT pointing at a running engine", ErrNoEngine, redactURL(host))
	}
	return nil
}

// runnerSchemes are the _EXPERIMENTAL_DAGGER_RUNNER_HOST schemes of Dagger's
// connection drivers (v0.9 to v0.21 and the newer image://, container://
// forms); runnerFamily covers the per-runtime ones (docker-image,
// podman-container, image+podman, container+finch …).
var (
	runnerSchemes = map[string]bool{"tcp": true, "tls": true, "unix": true, "ssh": true, "kube-pod": true, "dagger-cloud": true}
	runnerFamily  = regexp.MustCompile(`^(?:[a-z]+-(?:image|container)|(?:image|container)(?:\+[a-z]+)?)$`)
)

// CheckRunnerHost reports, as a usage error, a runner host no Dagger driver
// takes: no scheme (`junk`, a bare host:port), an unknown or misspelt one
// (`tpc://`), or a tcp:// or unix:// address without its host or path.
// Without it the SDK downloads the Dagger CLI first and fails on that.
func CheckRunnerHost(rh string) error {
	bad := func(why string) error {
		return usage.Errorf("_EXPERIMENTAL_DAGGER_RUNNER_HOST=%s: %s; fix: tcp://HOST:PORT, unix:///PATH, kube-pod://POD, docker-container://NAME … (or unset it to let Docker run the engine)", redactURL(rh), why)
	}
	scheme, rest, ok := strings.Cut(rh, "://")
	if !ok || scheme == "" {
		return bad("not an engine address (no scheme://)")
	}
	if !runnerSchemes[scheme] && !runnerFamily.MatchString(scheme) {
		return bad(fmt.Sprintf("unknown scheme %q", scheme))
	}
	u, err := url.Parse(rh)
	if err != nil {
		return bad("not a URL")
	}
	switch {
	case scheme == "tcp" && (u.Hostname() == "" || u.Port() == ""):
		return bad("tcp:// needs HOST:PORT")
	case scheme == "unix" && u.Path == "":
		return bad("unix:// needs a socket path")
	case rest == "":
		return bad("nothing after " + scheme + "://")
	}
	return nil
}

func dialRunner(ctx context.Context, runner string) error {
	u, err := url.Parse(runner)
	if err != nil {
		return err
	}
	var network, addr string
	switch u.Scheme {
	case "tcp":
		network, addr = "tcp", u.Host
	case "unix":
		network, addr = "unix", u.Path
	default:
		return nil // docker-container://, kube-pod://, podman-container://: the CLI resolves these
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	return c.Close()
}

func pingDocker(ctx context.Context, host string) error {
	u, err := url.Parse(host)
	if err != nil {
		return err
	}
	tr := &http.Transport{}
	base := "http://docker"
	switch u.Scheme {
	case "unix":
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", u.Path)
		}
	case "tcp", "http":
		base = "http://" + u.Host
	case "https":
		base = "https://" + u.Host
	default:
		return fmt.Errorf("unsupported DOCKER_HOST scheme %q", u.Scheme)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/_ping: %s", resp.Status)
	}
	return nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

// Connect runs Preflight, then opens a session, bounded by timeout so a stuck
// provisioning never hangs a CI job. Engine logs go to logOutput.
func Connect(ctx context.Context, timeout time.Duration, logOutput io.Writer) (*dagger.Client, error) {
	if err := Preflight(ctx, os.Getenv); err != nil {
		return nil, err
	}
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		c   *dagger.Client
		err error
	}
	progress := &lineEnd{w: logOutput}
	done := make(chan result, 1)
	// The session outlives this call: it runs under sctx, a child of the
	// caller's ctx, cancelled only when this call gives up, so the SDK
	// ends the `dagger session` it started (and reapSession what
	// survives that).
	sctx, abandon := context.WithCancel(ctx)
	mark := newSessionMark()
	go func() {
		c, err := dagger.Connect(sctx, dagger.WithLogOutput(progress), dagger.WithEnvironmentVariable(sessionMarkVar, mark))
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			progress.stop()
			abandon()
			reapSession(mark, reapGrace)
			return nil, fmt.Errorf("%w: connect: %v", ErrNoEngine, firstLine(r.err.Error()))
		}
		context.AfterFunc(ctx, abandon) // released with the caller's ctx
		return r.c, nil
	case <-cctx.Done():
		// The SDK's progress ("Creating new Engine session... ") has no
		// newline: end its line, and drop what the abandoned attempt
		// prints after this, so the error is a line of its own.
		progress.stop()
		elapsed := time.Since(start)
		abandon()
		reapSession(mark, reapGrace)
		return nil, sessionError(ctx.Err(), elapsed, timeout, os.Getenv)
	}
}

// reapGrace is how long an abandoned `dagger session` has to end on its
// stdin closing before it is killed.
const reapGrace = 2 * time.Second

// sessionError is why Connect gave up waiting for a session: interrupted
// (ctx's error, wrapped: the run exits 130) after elapsed, or no session
// within timeout from the engine getenv names.
func sessionError(interrupted error, elapsed, timeout time.Duration, getenv Env) error {
	where := engineAt(getenv)
	if interrupted != nil {
		return fmt.Errorf("after %s connecting to %s: %w", elapsed.Round(time.Second), where, interrupted)
	}
	switch {
	case getenv("DAGGER_SESSION_PORT") != "":
		return fmt.Errorf("%w: %s opened no session in %s; raise --engine-timeout", ErrNoEngine, where, timeout)
	case getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST") != "":
		return fmt.Errorf("%w: %s opened no session in %s (it is reachable but does not answer as a Dagger engine); check that engine, or raise --engine-timeout", ErrNoEngine, where, timeout)
	}
	return fmt.Errorf("%w: no session in %s from %s (the first run pulls the engine image there: is it pullable?); raise --engine-timeout or set _EXPERIMENTAL_DAGGER_RUNNER_HOST", ErrNoEngine, timeout, where)
}

// engineAt names the engine a session is asked of, as getenv configures it.
func engineAt(getenv Env) string {
	if p := getenv("DAGGER_SESSION_PORT"); p != "" {
		return "the `dagger run` session (DAGGER_SESSION_PORT=" + p + ")"
	}
	if rh := getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST"); rh != "" {
		return "the engine at _EXPERIMENTAL_DAGGER_RUNNER_HOST=" + redactURL(rh)
	}
	host := getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	return "the engine Docker runs at " + redactURL(host)
}

// lineEnd passes progress through until stop, which ends a line left open
// and drops everything written after it.
type lineEnd struct {
	mu      sync.Mutex
	w       io.Writer
	open    bool // the last byte written was not a newline
	stopped bool
}

func (l *lineEnd) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped || l.w == nil || len(p) == 0 {
		return len(p), nil
	}
	n, err := l.w.Write(p)
	if n > 0 {
		l.open = p[n-1] != '\n'
	}
	return n, err
}

func (l *lineEnd) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open && !l.stopped && l.w != nil {
		_, _ = io.WriteString(l.w, "\n")
	}
	l.stopped = true
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Open connects to an engine and returns the stages bound to that session.
func Open(ctx context.Context, timeout time.Duration, logOutput io.Writer, cfg Config) (*Stages, error) {
	c, err := Connect(ctx, timeout, logOutput)
	if err != nil {
		return nil, err
	}
	return New(c, cfg), nil
}

// Close ends the session.
func (s *Stages) Close() error { return s.c.Close() }
