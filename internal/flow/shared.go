package flow

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/slipway-ci/slipway/internal/attest"
	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/outdir"
	"github.com/slipway-ci/slipway/internal/registry"
	"github.com/slipway-ci/slipway/internal/scan"
)

// Shared is what the apps of one run share, each opened once, on first
// use, and stopped by Close: the engine session, Slipway's local registry
// (stored in out/registry), the configured verification policy, and the
// Trivy cache's metadata.
type Shared struct {
	// EngineTimeout bounds waiting for the Dagger session; Progress
	// receives the engine's output.
	EngineTimeout time.Duration
	Progress      io.Writer
	// Out is the run's output directory.
	Out string
	// Scan is what the Trivy prefetch refreshes by.
	Scan ScanSettings
	// Policy resolves the configured verification policy (nil: none).
	Policy func() (*attest.Policy, error)
	// Log prints a line.
	Log func(format string, args ...any)

	engineOnce sync.Once
	session    *dag.Session
	engineErr  error

	localOnce sync.Once
	local     *registry.Local
	localErr  error

	policyOnce sync.Once
	policy     *attest.Policy
	policyErr  error

	// scanMu keeps the apps' scans apart: they share one Trivy cache
	// volume, whose vulnerability DB one Trivy process opens at a time.
	scanMu sync.Mutex

	metaOnce sync.Once
	metaDone chan struct{}
	meta     string
	metaErr  error
}

// Engine opens the engine session once per run.
func (s *Shared) Engine(ctx context.Context) (*dag.Session, error) {
	s.engineOnce.Do(func() {
		s.session, s.engineErr = dag.OpenSession(ctx, s.EngineTimeout, s.Progress)
	})
	return s.session, s.engineErr
}

// EngineOpen reports whether the run opened an engine session.
func (s *Shared) EngineOpen() bool { return s.session != nil }

// LocalRegistry starts Slipway's embedded registry once per run (every
// app pushes to it), stored in out/registry, and returns its address; it
// stops at Close.
func (s *Shared) LocalRegistry() (string, error) {
	s.localOnce.Do(func() {
		dir := filepath.Join(s.Out, "registry")
		if s.localErr = outdir.MkdirAll(s.Out, dir, 0o755); s.localErr != nil {
			return
		}
		s.local, s.localErr = registry.StartLocal(dir, registry.DefaultLocalAddr)
	})
	if s.localErr != nil {
		return "", s.localErr
	}
	return s.local.Addr, nil
}

// VerifyPolicy is the run's configured verification policy, or nil,
// resolved when push or deploy first needs it.
func (s *Shared) VerifyPolicy() (*attest.Policy, error) {
	s.policyOnce.Do(func() {
		if s.Policy != nil {
			s.policy, s.policyErr = s.Policy()
		}
	})
	return s.policy, s.policyErr
}

// PrefetchTrivyMeta reads the Trivy cache's metadata as soon as the session
// is open and, when the DB is older than Scan.DBMaxAge, downloads it right
// then, alongside lint, test and build: neither depends on the image, so
// the scan finds a fresh DB and its metadata ready instead of starting
// containers (and a download of tens of megabytes) on its critical path.
func (s *Shared) PrefetchTrivyMeta(ctx context.Context, st *dag.Stages) {
	s.metaOnce.Do(func() {
		s.metaDone = make(chan struct{})
		go func() {
			defer close(s.metaDone)
			s.meta, s.metaErr = st.CacheMetadata(ctx, dag.ScanOptions{})
			if s.metaErr != nil {
				return
			}
			db, checks := scan.ParseCacheState(s.meta).Refresh(time.Now(), s.Scan.DBMaxAge, s.Scan.SkipCheckUpdate)
			if !db && !checks {
				return
			}
			if err := st.Refresh(ctx, s.Scan.DagOptions(), db, checks); err != nil {
				// The scan stage tries again and explains a failure.
				s.logf("warning: scan: prefetching the Trivy DB and checks: %v", firstLine(dag.ExplainExec("scan", err).Error()))
				return
			}
			s.meta, s.metaErr = st.CacheMetadata(ctx, dag.ScanOptions{})
		}()
	})
}

// TrivyMeta waits for the prefetched metadata (reading it now if nothing
// prefetched it).
func (s *Shared) TrivyMeta(ctx context.Context, st *dag.Stages) (string, error) {
	s.PrefetchTrivyMeta(ctx, st)
	select {
	case <-s.metaDone:
		return s.meta, s.metaErr
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Scanning runs f while no other app of the run scans.
func (s *Shared) Scanning(f func() error) error {
	s.scanMu.Lock()
	defer s.scanMu.Unlock()
	return f()
}

// Close stops what the run started.
func (s *Shared) Close() {
	if s.local != nil {
		s.local.Close()
	}
	if s.session != nil {
		s.session.Close()
	}
}

func (s *Shared) logf(format string, args ...any) {
	if s.Log != nil {
		s.Log(format, args...)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
