package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/flow"
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
			opts, err := sf.settings().GateOptions(src)
			if err != nil {
				return err
			}
			rep, err := scan.Load(report)
			if err != nil {
				return usageErr("%v", err)
			}
			outcome, err := flow.Gate(o.out, rep, opts, sf.sarif)
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
