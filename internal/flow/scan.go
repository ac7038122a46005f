package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/outdir"
	"github.com/slipway-ci/slipway/internal/pipeline"
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

// GateOptions turns the settings into the gate's options; srcDir holds the default
// ignore file. A bad severity or ignore file is a usage error naming its flag.
func (s ScanSettings) GateOptions(srcDir string) (scan.Options, error) {
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

// Gate evaluates a report and writes SARIF of what it counted to sarifPath
// (none when ""), creating its directory within out.
func Gate(out string, rep *scan.Report, opts scan.Options, sarifPath string) (*scan.Outcome, error) {
	outcome := scan.Evaluate(rep, opts)
	if sarifPath != "" {
		if err := writeFile(out, sarifPath, func(w io.Writer) error { return scan.WriteSARIF(w, outcome, "") }); err != nil {
			return nil, fmt.Errorf("write SARIF %s: %w", sarifPath, err)
		}
	}
	return outcome, nil
}

func writeFile(out, path string, write func(io.Writer) error) error {
	if err := outdir.MkdirAll(out, filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func scanStage(r *App) pipeline.Stage {
	sf := r.run.opts.Scan
	report, sarif := r.OutPath("trivy.json"), r.OutPath("trivy.sarif")
	return pipeline.Stage{
		Name:        "scan",
		Description: "Trivy over out/image.tar (vuln, secret, misconfig; its CycloneDX SBOM) and the deploy manifests, then the gate",
		Needs:       []string{"build"},
		Engine:      true,
		Images:      []string{"trivy"},
		Caches:      []string{dag.CacheTrivy},
		Secrets:     []string{"TRIVY_USERNAME", "TRIVY_PASSWORD"},
		Artifacts:   []string{report, sarif, r.OutPath("sbom.cdx.json")},
		Run: func(ctx context.Context, rec *pipeline.Record) error {
			// A scan replaces the previous verdict whatever happens: push
			// never reads a verdict this run did not reach.
			r.Update(func(res *pipeline.Result) { res.Gate = nil })
			sbomPath := r.OutPath("sbom.cdx.json")
			_ = os.Remove(sbomPath)
			opts, err := sf.GateOptions(r.Src)
			if err != nil {
				return err
			}
			tarball := r.OutPath("image.tar")
			if _, err := os.Stat(tarball); err != nil {
				return fmt.Errorf("scan: %s not found: run the build stage first", tarball)
			}
			st, err := r.engine(ctx)
			if err != nil {
				return err
			}
			so := sf.DagOptions()
			meta, err := r.run.TrivyMeta(ctx, st)
			if err != nil {
				return dag.ExplainExec("scan: read the Trivy cache metadata", err)
			}
			err = r.run.Scanning(func() error {
				state, err := r.refreshTrivy(ctx, st, scan.ParseCacheState(meta), so, rec)
				if err != nil {
					return err
				}
				// Keyed on what the scan reads (the DB's UpdatedAt, the
				// checks bundle's digest), never on how they got there.
				so.ScanKey = state.ScanKey()
				return st.RunScan(ctx, tarball, filepath.Join(r.Src, r.Spec.Deploy), r.Out, so)
			})
			if err != nil {
				return err
			}
			imgRep, err := scan.Load(r.OutPath("trivy-image.json"))
			if err != nil {
				return err
			}
			// The SBOM comes from the same pass: it must list exactly the
			// packages the verdict is about.
			bom, err := os.ReadFile(sbomPath)
			if err != nil {
				return fmt.Errorf("scan: SBOM: %w", err)
			}
			sb, err := scan.AgreeSBOM(imgRep, bom)
			if err != nil {
				_ = os.Remove(sbomPath)
				return fmt.Errorf("scan: %s: %w", sbomPath, err)
			}
			rec.Set("sbom", fmt.Sprintf("CycloneDX %s, %d components", sb.SpecVersion, sb.Components))
			rec.Artifact(sbomPath)
			cfgRep, err := scan.Load(r.OutPath("trivy-config.json"))
			if err != nil {
				return err
			}
			merged := scan.Merge(r.Spec.Name, imgRep, cfgRep)
			if err := writeFile(r.Out, report, func(w io.Writer) error { return encodeJSON(w, merged) }); err != nil {
				return err
			}
			rec.Artifact(report)
			outcome, err := Gate(r.Out, merged, opts, sarif)
			if err != nil {
				return err
			}
			if err := r.recordVerdict(tarball, outcome); err != nil {
				return err
			}
			rec.Artifact(sarif)
			for _, s := range scan.Severities {
				if n := outcome.Totals[s]; n > 0 {
					rec.Set(strings.ToLower(s), fmt.Sprint(n))
				}
			}
			rec.Set("ignored", fmt.Sprint(len(outcome.Ignored)))
			if !outcome.Pass {
				_ = scan.WriteTable(r.run.opts.Stderr, outcome)
				return errors.New("scan gate: " + outcome.Summary())
			}
			return nil
		},
	}
}

// refreshTrivy downloads what the Trivy cache lacks or holds too old (the
// prefetch usually did already), and returns the cache's state the scan
// will read.
func (r *App) refreshTrivy(ctx context.Context, st *dag.Stages, state scan.CacheState, so dag.ScanOptions, rec *pipeline.Record) (scan.CacheState, error) {
	sf := r.run.opts.Scan
	now := time.Now()
	_, age := state.DBFresh(now, sf.DBMaxAge)
	db, checks := state.Refresh(now, sf.DBMaxAge, sf.SkipCheckUpdate)
	rec.Set("db", map[bool]string{false: "cached " + age.Round(time.Minute).String(), true: "downloaded"}[db])
	rec.Set("checks", map[bool]string{false: "cached", true: "downloaded"}[checks])
	if !db && !checks {
		return state, nil
	}
	if err := st.Refresh(ctx, so, db, checks); err != nil {
		return state, dag.ExplainExec("scan: download the Trivy DB and checks", err)
	}
	meta, err := st.CacheMetadata(ctx, dag.ScanOptions{})
	if err != nil {
		return state, dag.ExplainExec("scan: read the Trivy cache metadata", err)
	}
	return scan.ParseCacheState(meta), nil
}

// recordVerdict writes the gate's verdict for the scanned image's digest into
// result.json, where the push stage (maybe another job) checks it.
func (r *App) recordVerdict(tarball string, outcome *scan.Outcome) error {
	a, err := ocitar.Open(tarball)
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	defer a.Close()
	d, err := a.Digest()
	if err != nil {
		return fmt.Errorf("scan: digest of %s: %w", tarball, err)
	}
	verdict := pipeline.GatePassed
	if !outcome.Pass {
		verdict = pipeline.GateFailed
	}
	r.Update(func(res *pipeline.Result) {
		res.Gate = &pipeline.GateResult{Digest: d.String(), Verdict: verdict, Summary: outcome.Summary(), Time: time.Now().UTC()}
	})
	return nil
}
