package attest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/internal/redact"
)

// HelperPackage is the keyless helper's main package: a Go pipeline that
// signs or verifies keyless runs it with `go run`, so the Sigstore clients
// compile only on first keyless use (Go caches the linked program).
const HelperPackage = "github.com/slipway-ci/slipway/cmd/slipway-sigstore"

// HelperReady is the first line the helper writes, before it reads its
// request: what comes later than a moment after starting it is the compile.
const HelperReady = "slipway-sigstore ready"

// ErrHelper is a keyless helper that did not run (go run could not resolve
// or compile it): a failure of this machine, not of the input.
var ErrHelper = errors.New("the keyless helper did not run")

type helperError struct{ msg string }

func (e *helperError) Error() string        { return e.msg }
func (e *helperError) Is(target error) bool { return target == ErrHelper }

// maxHelperResponse bounds what the helper may answer (bundles of SBOMs).
const maxHelperResponse = 256 << 20

// HelperRequest is the one request the helper reads on stdin. The OIDC
// token travels here, never on a command line or in an environment.
type HelperRequest struct {
	// Op is "sign", "verify" or "trusted-root".
	Op string `json:"op"`

	FulcioURL     string   `json:"fulcio_url,omitempty"`
	RekorURLs     []string `json:"rekor_urls,omitempty"`
	TimestampURLs []string `json:"timestamp_urls,omitempty"`
	Token         string   `json:"token,omitempty"`
	Expected      string   `json:"expected,omitempty"`
	Statements    [][]byte `json:"statements,omitempty"`

	Policy  *KeylessPolicy `json:"policy,omitempty"`
	Digest  string         `json:"digest,omitempty"`
	Bundles [][]byte       `json:"bundles,omitempty"`

	// File is a trusted root file's content; none fetches Sigstore's.
	File []byte `json:"file,omitempty"`
}

// HelperResponse is the helper's one answer on stdout (after HelperReady).
type HelperResponse struct {
	Bundles     [][]byte  `json:"bundles,omitempty"`
	Verdicts    []Verdict `json:"verdicts,omitempty"`
	TrustedRoot []byte    `json:"trusted_root,omitempty"`
	// Err is why the request failed (a refusal of one bundle is its
	// Verdict's Err instead).
	Err string `json:"error,omitempty"`
}

// Helper is the Keyless implementation of a program that does not link
// internal/keyless (a Go pipeline, `go run ./ci`): each request runs the
// helper process, one JSON request on stdin, one JSON answer on stdout.
type Helper struct {
	// Command runs the helper; default: go run HelperPackage, from the
	// current directory (whose module or go.work resolves slipway), else
	// from ci/ when that is its own module.
	Command []string
	// Progress gets the one line said while the helper compiles
	// (default os.Stderr).
	Progress io.Writer
	// Notice is how long the helper may take to start before that line is
	// said (default 2 s).
	Notice time.Duration
}

// Signer implements Keyless: each Sign or SignAll is one helper run, one
// certificate.
func (h *Helper) Signer(cfg KeylessConfig) (Signer, error) {
	return &helperSigner{h: h, cfg: cfg}, nil
}

// Verify implements Keyless.
func (h *Helper) Verify(ctx context.Context, p KeylessPolicy, digest string, bundles [][]byte) ([]Verdict, error) {
	resp, err := h.call(ctx, "keyless verification", HelperRequest{Op: "verify", Policy: &p, Digest: digest, Bundles: bundles})
	if err != nil {
		return nil, err
	}
	if resp.Err != "" {
		return nil, errors.New(resp.Err)
	}
	if len(resp.Verdicts) != len(bundles) {
		return nil, fmt.Errorf("keyless verification: the helper answered %d verdicts for %d bundles", len(resp.Verdicts), len(bundles))
	}
	return resp.Verdicts, nil
}

// TrustedRoot implements Keyless.
func (h *Helper) TrustedRoot(ctx context.Context, file []byte) ([]byte, error) {
	resp, err := h.call(ctx, "keyless verification", HelperRequest{Op: "trusted-root", File: file})
	if err != nil {
		return nil, err
	}
	if resp.Err != "" {
		return nil, errors.New(resp.Err)
	}
	return resp.TrustedRoot, nil
}

type helperSigner struct {
	h   *Helper
	cfg KeylessConfig
}

func (s *helperSigner) Identity() string { return s.cfg.Expected }

func (s *helperSigner) Sign(ctx context.Context, statement []byte) ([]byte, error) {
	out, err := s.SignAll(ctx, [][]byte{statement})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

func (s *helperSigner) SignAll(ctx context.Context, statements [][]byte) ([][]byte, error) {
	token, err := s.cfg.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("OIDC token: %w", err)
	}
	resp, err := s.h.call(ctx, "keyless signing", HelperRequest{
		Op: "sign", FulcioURL: s.cfg.FulcioURL, RekorURLs: s.cfg.RekorURLs, TimestampURLs: s.cfg.TimestampURLs,
		Token: token, Expected: s.cfg.Expected, Statements: statements,
	})
	if err != nil {
		return nil, redact.Error(err, token)
	}
	if resp.Err != "" {
		// The token is a secret: whatever the helper says, it is not repeated.
		return nil, errors.New(redact.String(resp.Err, token))
	}
	if len(resp.Bundles) != len(statements) {
		return nil, fmt.Errorf("keyless signing: the helper answered %d bundles for %d statements", len(resp.Bundles), len(statements))
	}
	return resp.Bundles, nil
}

// call runs the helper once. When the helper never started (go run could
// not resolve or compile it) from the current directory and ci/ is its own
// module, it is run from there.
func (h *Helper) call(ctx context.Context, what string, req HelperRequest) (*HelperResponse, error) {
	in, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	resp, started, failure := h.run(ctx, "", in)
	if resp == nil && !started && len(h.Command) == 0 {
		if _, err := os.Stat(filepath.Join("ci", "go.mod")); err == nil {
			if r, _, _ := h.run(ctx, "ci", in); r != nil {
				return r, nil
			}
		}
	}
	if resp != nil {
		return resp, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	msg := fmt.Sprintf("%s compiles its helper with `go run %s` and that failed: %s", what, HelperPackage, failure.line)
	if failure.fix != "" {
		msg += "; " + failure.fix
	}
	return nil, &helperError{msg}
}

// helperFailure is why go run did not start the helper: go's error in one
// line and the fix that matches it ("" when the line says it).
type helperFailure struct{ line, fix string }

// goFailure reads go's stderr: its error line (not a `go: downloading`
// progress line; a reason that go puts on the next lines, as in
// "inconsistent vendoring in DIR:", joined to it) and the fix for that
// kind of failure. getenv reads GOFLAGS (the -mod=vendor a user set).
func goFailure(stderr string, getenv func(string) string) helperFailure {
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "go: downloading ") || strings.HasPrefix(t, "go: finding ") || strings.HasPrefix(t, "go: extracting ") {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return helperFailure{}
	}
	line := strings.TrimSpace(lines[0])
	rest := lines[1:]
	// go's own "; to add:" command is replaced by the fix below.
	for _, suffix := range []string{"; to add:", "; to add it:"} {
		if cut, ok := strings.CutSuffix(line, suffix); ok {
			line, rest = cut, nil
		}
	}
	// go puts a multi-line error's reason on indented lines under a line
	// ending in ":" ("inconsistent vendoring in DIR:", "; to add:").
	if strings.HasSuffix(line, ":") && len(rest) > 0 && strings.HasPrefix(rest[0], "\t") {
		line += " " + strings.TrimSpace(rest[0])
		more := 0
		for _, l := range rest[1:] {
			if strings.HasPrefix(l, "\t") && !strings.HasPrefix(l, "\t\t") && strings.Contains(l, "@") {
				more++
			}
		}
		if more > 0 {
			line += fmt.Sprintf(" (and %d more)", more)
		}
	}
	all := stderr
	vendorFlag := strings.Contains(getenv("GOFLAGS"), "-mod=vendor")
	var fix string
	switch {
	case strings.Contains(all, "module lookup disabled by GOPROXY=off"):
		fix = "the helper's modules are not in the module cache and GOPROXY is off: run `go mod download` in ci/ (or the module that runs the pipeline) where the module proxy is reachable, or set GOPROXY"
	case strings.Contains(all, "dial tcp") || strings.Contains(all, "no such host") || strings.Contains(all, "i/o timeout") ||
		strings.Contains(all, "proxyconnect") || strings.Contains(all, "TLS handshake") || strings.Contains(all, "connection reset"):
		fix = "the helper's modules are not in the module cache and the module proxy (GOPROXY) is unreachable: run `go mod download` in ci/ (or the module that runs the pipeline) where it is reachable, or point GOPROXY at one that is"
	case strings.Contains(all, "inconsistent vendoring"):
		fix = "run `go mod vendor` in that module"
		if vendorFlag {
			fix = "unset GOFLAGS=-mod=vendor (or run `go mod vendor` in that module)"
		}
	case strings.Contains(all, "-mod=vendor") || strings.Contains(all, "vendor/modules.txt"):
		fix = "the module is vendored without the helper: run `go get -tool " + HelperPackage + "` and `go mod vendor` in ci/ (or the module that runs the pipeline)"
		if vendorFlag {
			fix += ", or unset GOFLAGS=-mod=vendor"
		}
	case strings.Contains(all, "missing go.sum entry"):
		fix = "run `go mod tidy` in ci/ (or the module that runs the pipeline)"
	case strings.Contains(all, "go.mod file not found") || strings.Contains(all, "no required module provides package"):
		fix = "run from your repository root (the module that requires slipway), or `go mod tidy` in ci/"
	default:
		fix = "run from your repository root, or `go mod tidy` in ci/"
	}
	return helperFailure{line: line, fix: fix}
}

// run runs the helper in dir: its answer, whether it started (said
// HelperReady), and otherwise what went wrong.
func (h *Helper) run(ctx context.Context, dir string, in []byte) (*HelperResponse, bool, helperFailure) {
	args := h.Command
	if len(args) == 0 {
		args = []string{"go", "run", HelperPackage}
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	ownGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, false, helperFailure{line: err.Error()}
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, false, helperFailure{line: fmt.Sprintf("%s is not on PATH (a Go pipeline needs the Go toolchain; the slipway binary needs no helper)", args[0])}
		}
		return nil, false, helperFailure{line: err.Error()}
	}
	ready, done := make(chan struct{}), make(chan struct{})
	var out []byte
	var started bool
	go func() {
		defer close(done)
		br := bufio.NewReader(io.LimitReader(stdout, maxHelperResponse))
		line, _ := br.ReadString('\n')
		if strings.TrimSpace(line) == HelperReady {
			started = true
			close(ready)
		}
		out, _ = io.ReadAll(br)
		_, _ = io.Copy(io.Discard, stdout) // past the bound: let the helper finish writing
	}()
	notice := h.Notice
	if notice == 0 {
		notice = 2 * time.Second
	}
	timer := time.NewTimer(notice)
	select {
	case <-ready:
	case <-done:
	case <-timer.C:
		w := h.Progress
		if w == nil {
			w = os.Stderr
		}
		fmt.Fprintln(w, "compiling the Sigstore keyless helper (once, ~40 s)…")
	}
	timer.Stop()
	<-done
	waitErr := cmd.Wait()
	var resp HelperResponse
	if started && json.Unmarshal(out, &resp) == nil {
		return &resp, true, helperFailure{}
	}
	failure := goFailure(stderr.String(), os.Getenv)
	if started {
		failure.fix = "" // the helper ran: what it said is its own failure, not go's
	}
	if failure.line == "" && waitErr != nil {
		failure.line = waitErr.Error()
	}
	if failure.line == "" {
		failure.line = "it gave no answer"
	}
	return nil, started, failure
}
