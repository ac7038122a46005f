package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/dag"
	"github.com/slipway-ci/slipway/internal/flow"
	"github.com/slipway-ci/slipway/internal/ocitar"
	"github.com/slipway-ci/slipway/internal/outdir"
	"github.com/slipway-ci/slipway/internal/pipeline"
	"github.com/slipway-ci/slipway/internal/scan"
)

// scanFlags configure the scanner container and the gate.
type scanFlags struct {
	severity         string
	ignoreUnfixed    bool
	ignoreFile       string
	sarif            string
	dbMaxAge         time.Duration
	dbRepository     string
	javaDBRepository string
	checksRepository string
	skipCheckUpdate  bool
}

func bindScanFlags(f *pflag.FlagSet, sf *scanFlags, p Project) {
	sev := p.Severity
	if sev == "" {
		sev = "HIGH,CRITICAL"
	}
	f.StringVar(&sf.severity, "severity", sev, "severities that fail the gate")
	f.BoolVar(&sf.ignoreUnfixed, "ignore-unfixed", p.IgnoreUnfixed, "do not count vulnerabilities that have no fixed version")
	f.StringVar(&sf.ignoreFile, "ignorefile", p.IgnoreFile, "Trivy ignore file (.trivyignore or .trivyignore.yaml); default: the source dir's, if present")
	f.StringVar(&sf.sarif, "sarif", "", "write SARIF 2.1.0 of the counted findings here (the scan stage writes out/trivy.sarif)")
	f.DurationVar(&sf.dbMaxAge, "db-max-age", 12*time.Hour, "reuse the cached Trivy DB while it is younger than this (no download, no throttling; 0: always download)")
	f.StringVar(&sf.dbRepository, "db-repository", os.Getenv("TRIVY_DB_REPOSITORY"), "OCI repository of the Trivy DB (mirror or air-gapped registry)")
	f.StringVar(&sf.javaDBRepository, "java-db-repository", os.Getenv("TRIVY_JAVA_DB_REPOSITORY"), "OCI repository of the Trivy Java DB")
	f.StringVar(&sf.checksRepository, "checks-bundle-repository", os.Getenv("TRIVY_CHECKS_BUNDLE_REPOSITORY"), "OCI repository of Trivy's misconfiguration checks bundle (mirror or air-gapped registry)")
	f.BoolVar(&sf.skipCheckUpdate, "skip-check-update", false, "never download the checks bundle (air-gapped runners): use the cached bundle, else Trivy's embedded checks")
}

// settings are the flags as the scan stage and the gate take them.
func (sf *scanFlags) settings() flow.ScanSettings {
	return flow.ScanSettings{
		Severity: sf.severity, IgnoreUnfixed: sf.ignoreUnfixed, IgnoreFile: sf.ignoreFile, DBMaxAge: sf.dbMaxAge,
		DBRepository: sf.dbRepository, JavaDBRepository: sf.javaDBRepository, ChecksRepository: sf.checksRepository,
		SkipCheckUpdate: sf.skipCheckUpdate,
	}
}

func newScanCmd(o *options) *cobra.Command {
	sf := &scanFlags{}
	var report string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Scan out/image.tar with Trivy and apply the gate; with --report, gate an existing report (no engine)",
		Long: `Without --report: the scan stage. Trivy (pinned by digest) scans out/image.tar
for vulnerabilities, secrets and misconfigurations and the deploy manifests for
misconfigurations; its DB lives in a cache volume and is reused while younger
than --db-max-age. The report goes to out/trivy.json, then the gate runs.

With --report FILE: only the gate, on a Trivy JSON report (schema v2) made
anywhere. Exit 1 when findings remain at --severity, 2 on a bad report.`,
		Example: `  go run ./ci scan
  go run ./ci scan --report out/trivy.json --severity CRITICAL --ignore-unfixed
  go run ./ci scan --report trivy.json --ignorefile .trivyignore.yaml --sarif trivy.sarif --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if report == "" {
				if o.proj.BinaryOnly {
					return usageErr("scan: --report FILE is required (the slipway binary gates reports; the scan stage runs from your ci/ program)")
				}
				return runPipeline(cmd.Context(), o, &runFlags{scan: *sf}, "scan")
			}
			// The default ignore file is the source directory's; no go.mod needed here.
			src := o.source
			if apps, _ := o.apps(); src == "" && len(apps) == 1 {
				src = apps[0].Source
			}
			opts, err := sf.settings().Gate(src)
			if err != nil {
				return err
			}
			rep, err := scan.Load(report)
			if err != nil {
				return usageErr("%v", err)
			}
			outcome, err := gate(o.out, rep, opts, sf.sarif)
			if err != nil {
				return failErr(err)
			}
			if asJSON {
				err = scan.WriteJSON(o.stdout, outcome)
			} else {
				err = scan.WriteTable(o.stdout, outcome)
			}
			if err != nil {
				return failErr(err)
			}
			if !outcome.Pass {
				return failErr(fmt.Errorf("scan gate: %s in %s", outcome.Summary(), report))
			}
			return nil
		},
	}
	bindScanFlags(cmd.Flags(), sf, o.proj)
	bindSelectFlags(cmd, &runFlags{})
	cmd.Flags().StringVar(&report, "report", "", "gate this Trivy JSON report instead of scanning")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the gate's outcome as JSON")
	return cmd
}

// gate evaluates a report and writes SARIF of what it counted.
func gate(out string, rep *scan.Report, opts scan.Options, sarifPath string) (*scan.Outcome, error) {
	outcome := scan.Evaluate(rep, opts)
	if sarifPath != "" {
		if err := writeFileWith(out, sarifPath, func(w io.Writer) error { return scan.WriteSARIF(w, outcome, "") }); err != nil {
			return nil, fmt.Errorf("write SARIF %s: %w", sarifPath, err)
		}
	}
	return outcome, nil
}

func writeFileWith(out, path string, write func(io.Writer) error) error {
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

func scanStage(r *runState) pipeline.Stage {
	sf := &r.flags.scan
	report, sarif := r.outPath("trivy.json"), r.outPath("trivy.sarif")
	return pipeline.Stage{
		Name:        "scan",
		Description: "Trivy over out/image.tar (vuln, secret, misconfig; its CycloneDX SBOM) and the deploy manifests, then the gate",
		Needs:       []string{"build"},
		Engine:      true,
		Images:      []string{"trivy"},
		Caches:      []string{dag.CacheTrivy},
		Secrets:     []string{"TRIVY_USERNAME", "TRIVY_PASSWORD"},
		Artifacts:   []string{report, sarif, r.outPath("sbom.cdx.json")},
		Run: func(ctx context.Context, rec *pipeline.Record) error {
			// A scan replaces the previous verdict whatever happens: push
			// never reads a verdict this run did not reach.
			r.update(func(res *pipeline.Result) { res.Gate = nil })
			sbomPath := r.outPath("sbom.cdx.json")
			_ = os.Remove(sbomPath)
			opts, err := sf.settings().Gate(r.Src)
			if err != nil {
				return err
			}
			tarball := r.outPath("image.tar")
			if _, err := os.Stat(tarball); err != nil {
				return fmt.Errorf("scan: %s not found: run the build stage first", tarball)
			}
			st, err := r.engine(ctx)
			if err != nil {
				return err
			}
			so := sf.settings().DagOptions()
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
				return st.RunScan(ctx, tarball, filepath.Join(r.Src, r.app.Deploy), r.Out, so)
			})
			if err != nil {
				return err
			}
			imgRep, err := scan.Load(r.outPath("trivy-image.json"))
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
			cfgRep, err := scan.Load(r.outPath("trivy-config.json"))
			if err != nil {
				return err
			}
			merged := scan.Merge(r.app.Name, imgRep, cfgRep)
			if err := writeFileWith(r.Out, report, func(w io.Writer) error { return jsonEncode(w, merged) }); err != nil {
				return err
			}
			rec.Artifact(report)
			outcome, err := gate(r.Out, merged, opts, sarif)
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
				_ = scan.WriteTable(r.o.stderr, outcome)
				return errors.New("scan gate: " + outcome.Summary())
			}
			return nil
		},
	}
}

// refreshTrivy downloads what the Trivy cache lacks or holds too old (the
// prefetch usually did already), and returns the cache's state the scan
// will read.
func (r *runState) refreshTrivy(ctx context.Context, st *dag.Stages, state scan.CacheState, so dag.ScanOptions, rec *pipeline.Record) (scan.CacheState, error) {
	sf := r.flags.scan
	now := time.Now()
	_, age := state.DBFresh(now, sf.dbMaxAge)
	db, checks := state.Refresh(now, sf.dbMaxAge, sf.skipCheckUpdate)
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
func (r *runState) recordVerdict(tarball string, outcome *scan.Outcome) error {
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
	r.update(func(res *pipeline.Result) {
		res.Gate = &pipeline.GateResult{Digest: d.String(), Verdict: verdict, Summary: outcome.Summary(), Time: time.Now().UTC()}
	})
	return nil
}
