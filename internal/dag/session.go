package dag

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"dagger.io/dagger"
)

// Session is one engine session shared by every app of a run: apps and
// their stages reuse one connection (and so one set of cache volumes).
type Session struct {
	c *dagger.Client
}

// OpenSession connects to an engine (see Connect).
func OpenSession(ctx context.Context, timeout time.Duration, logOutput io.Writer) (*Session, error) {
	c, err := Connect(ctx, timeout, logOutput)
	if err != nil {
		return nil, err
	}
	return &Session{c: c}, nil
}

// Stages binds an app's configuration to the session.
func (s *Session) Stages(cfg Config) *Stages { return New(s.c, cfg) }

// Close ends the session.
func (s *Session) Close() error { return s.c.Close() }

// StageEnv is what a custom stage's Run receives: the session's client and
// the app's source, output directory and secrets.
type StageEnv struct {
	Client    *dagger.Client    // nil for a host-only stage
	Source    *dagger.Directory // the app's source directory (nil for a host-only stage)
	GoBase    func() *dagger.Container
	SourceDir string    // the app's source directory on the host
	Out       string    // the app's output directory on the host
	Log       io.Writer // progress for people (stderr)
	Set       func(key, value string)
	Artifact  func(path string)
	secrets   map[string]bool
	images    *Stages
}

// Image returns an image of the run's lock by name, as repository:tag@digest:
// custom stages pin their containers (a postgres service) in the same lock.
func (e StageEnv) Image(name string) (string, error) {
	if e.images == nil || e.images.cfg.Images == nil {
		return "", fmt.Errorf("image %q: a host-only stage has no image lock", name)
	}
	img, ok := e.images.cfg.Images.Get(name)
	if !ok {
		return "", fmt.Errorf("image %q is not in the image lock %s; add a line \"%s: repository:tag@sha256:<digest>\"", name, e.images.cfg.Images.Source, name)
	}
	return img.Ref(), nil
}

// Secret returns a declared secret's environment variable as a
// *dagger.Secret: the engine reads the value itself (env://), so it never
// passes through Slipway, its logs or out/.
func (e StageEnv) Secret(name string) (*dagger.Secret, error) {
	if !e.secrets[name] {
		return nil, fmt.Errorf("secret %s is not declared in the stage's Secrets", name)
	}
	if e.Client == nil {
		return nil, fmt.Errorf("secret %s: a host-only stage has no engine session", name)
	}
	if os.Getenv(name) == "" {
		return nil, fmt.Errorf("secret %s is empty: set it in the environment", name)
	}
	return e.Client.Secret("env://" + name), nil
}

// NewStageEnv builds the environment of a custom stage; st is nil for a
// host-only stage.
func NewStageEnv(st *Stages, sourceDir, out string, secrets []string, log io.Writer, set func(k, v string), artifact func(string)) StageEnv {
	e := StageEnv{SourceDir: sourceDir, Out: out, Log: log, Set: set, Artifact: artifact, secrets: map[string]bool{}}
	for _, s := range secrets {
		e.secrets[s] = true
	}
	if st != nil {
		e.images = st
		e.Client = st.c
		e.Source = st.source()
		e.GoBase = st.GoBase
	}
	return e
}

// WithLintArgs returns the stages with extra golangci-lint arguments.
func (s *Stages) WithLintArgs(args []string) *Stages {
	if len(args) == 0 {
		return s
	}
	c := *s
	c.cfg.LintArgs = append(append([]string(nil), s.cfg.LintArgs...), args...)
	return &c
}

// WithTestArgs returns the stages with extra go test arguments.
func (s *Stages) WithTestArgs(args []string) *Stages {
	if len(args) == 0 {
		return s
	}
	c := *s
	c.cfg.TestArgs = append(append([]string(nil), s.cfg.TestArgs...), args...)
	return &c
}
