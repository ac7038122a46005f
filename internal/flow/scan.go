package flow

import (
	"os"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/scan"
	"github.com/slipway-ci/slipway/internal/usage"
)

// ScanSettings are the scan stage's resolved options: the gate's
// severities and ignores, how old a cached Trivy DB may be, and where the
// DB and the checks come from.
type ScanSettings struct {
	Severity      string // severities that fail the gate ("HIGH,CRITICAL")
	IgnoreUnfixed bool
	IgnoreFile    string // "": the source directory's, if present
	// DBMaxAge is how long a cached Trivy DB is reused.
	DBMaxAge         time.Duration
	DBRepository     string
	JavaDBRepository string
	ChecksRepository string
	SkipCheckUpdate  bool
}

// Gate turns the settings into the gate's options; srcDir holds the default
// ignore file. A bad severity or ignore file is a usage error naming its flag.
func (s ScanSettings) Gate(srcDir string) (scan.Options, error) {
	sev, err := scan.ParseSeverities(s.Severity)
	if err != nil {
		return scan.Options{}, usage.Errorf("--severity %s: %v", s.Severity, err)
	}
	opts := scan.Options{Severities: sev, IgnoreUnfixed: s.IgnoreUnfixed, Now: time.Now()}
	path := s.IgnoreFile
	if path == "" && srcDir != "" {
		path = scan.DefaultIgnoreFile(srcDir)
	}
	if path != "" {
		ig, err := scan.LoadIgnores(path)
		if err != nil {
			return scan.Options{}, usage.Errorf("--ignorefile: %v", err)
		}
		opts.Ignores = ig
	}
	return opts, nil
}

// DagOptions are the scanner's options: mirrors, the registry credentials
// (as secrets resolved by the engine), and a per-run cache-bust.
func (s ScanSettings) DagOptions() dag.ScanOptions {
	so := dag.ScanOptions{
		Severity: strings.Join(scan.Severities, ","), DBRepository: s.DBRepository, JavaDBRepository: s.JavaDBRepository,
		ChecksBundleRepository: s.ChecksRepository,
		// Changes every run: what reads or downloads outside state is never recalled from the engine's cache.
		CacheBust: time.Now().UTC().Format(time.RFC3339Nano),
	}
	for _, k := range []string{"TRIVY_USERNAME", "TRIVY_PASSWORD"} {
		if os.Getenv(k) != "" {
			so.SecretEnv = append(so.SecretEnv, k)
		}
	}
	return so
}
