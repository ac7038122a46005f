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
	"strings"
	"time"

	"dagger.io/dagger"
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
// daemon answers /_ping (the CLI provisions the engine there).
func Preflight(ctx context.Context, getenv Env) error {
	if getenv("DAGGER_SESSION_PORT") != "" {
		return nil
	}
	if rh := getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST"); rh != "" {
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
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		c   *dagger.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		// The session outlives this call: give it the caller's ctx, and
		// enforce the connect timeout here.
		c, err := dagger.Connect(ctx, dagger.WithLogOutput(logOutput))
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("%w: connect: %v", ErrNoEngine, firstLine(r.err.Error()))
		}
		return r.c, nil
	case <-cctx.Done():
		return nil, fmt.Errorf("%w: no session after %s (is the engine image pullable?); raise --engine-timeout or set _EXPERIMENTAL_DAGGER_RUNNER_HOST", ErrNoEngine, timeout)
	}
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
