package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/dora"
	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/outdir"
	"github.com/slipway-ci/slipway/internal/report"
	"github.com/slipway-ci/slipway/internal/safetext"
	"github.com/slipway-ci/slipway/internal/version"
)

// controlErr maps pins, freezes and bad freeze files to exit 1, input to 2.
func controlErr(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return failErr(err)
}

func newRollbackCmd(o *options) *cobra.Command {
	var (
		rr           gitops.RollbackRequest
		to           string
		retryTimeout time.Duration
		vf           verifyFlags
	)
	cmd := &cobra.Command{
		Use:   "rollback --app A --env E [--to IMAGE@sha256:… | --steps N] --reason \"…\"",
		Short: "Deploy an earlier digest on purpose and pin the environment until someone unpins it",
		Long: `Deploy an earlier digest of the environment (--steps N distinct digests back,
default 1, or --to a digest deployed there before) with the trailers
Rollback-Of, Reason and Pinned: true. While the environment is pinned, deploy
and promote into it are refused (naming the pin, who set it, when and why)
unless --unpin; ` + "`unpin`" + ` lifts it with its own record. Freezes do not stop a
rollback: restoring service stays possible.`,
		Example: `  go run ./ci rollback --app sample-app --env production --reason "5xx after 1.4.2"
  go run ./ci rollback --app sample-app --env production --to ghcr.io/acme/sample-app@sha256:… --reason "back to last week's build"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rr.App == "" || rr.Env == "" {
				return usageErr("rollback: --app and --env are required")
			}
			if strings.TrimSpace(rr.Reason) == "" {
				return usageErr("rollback: --reason is required (it is recorded and shown with the pin)")
			}
			if to != "" {
				img, err := gitops.ParseImage(to)
				if err != nil {
					return usageErr("rollback: --to: %v", err)
				}
				rr.To = &img
			}
			if to != "" && rr.Steps > 0 {
				return usageErr("rollback: give --to or --steps, not both")
			}
			rr.PipelineRun = gitops.PipelineRun(os.Getenv)
			// The policy's usage errors before the GitOps repository is opened.
			if _, err := o.checkPolicy(&vf); err != nil {
				return err
			}
			d, err := o.deployer()
			if err != nil {
				return err
			}
			d.RetryTimeout = retryTimeout
			if err := o.attachVerify(d, &vf); err != nil {
				return err
			}
			out, err := d.Rollback(cmd.Context(), rr)
			if err != nil {
				return controlErr(err)
			}
			for _, n := range out.Change.Notes {
				o.logf("%s", n) // a Flux marker removed: said as deploy and promote say it
			}
			writeRendered(o.stderr, out.Rendered)
			o.logf("rolled %s/%s back to %s (was %s); the environment is pinned until `unpin --app %s --env %s`", rr.App, rr.Env, out.Change.After, orNothing(out.Change.Before), rr.App, rr.Env)
			fmt.Fprintln(o.stdout, orUnchanged(out.Commit))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&rr.App, "app", "", "application")
	f.StringVar(&rr.Env, "env", "", "environment")
	f.StringVar(&to, "to", "", "REPO@sha256:… deployed there before")
	f.IntVar(&rr.Steps, "steps", 0, "how many distinct earlier digests back (default 1)")
	f.StringVar(&rr.Path, "path", "", "file to edit instead of the layout's (as deploy --path)")
	f.StringVar(&rr.Reason, "reason", "", "why (recorded in the commit and shown with the pin)")
	f.BoolVar(&rr.AllowUnknown, "allow-unknown", false, "let --to be a digest never deployed in the environment (needs --source-commit)")
	f.StringVar(&rr.SourceCommit, "source-commit", "", "with --allow-unknown: the source commit of --to")
	f.DurationVar(&retryTimeout, "retry-timeout", 5*time.Minute, "keep retrying on concurrent pushes for this long")
	positive(f, "steps", "retry-timeout")
	bindVerifyFlags(f, &vf)
	return cmd
}

func orUnchanged(c string) string {
	if c == "" {
		return "unchanged"
	}
	return c
}

func newUnpinCmd(o *options) *cobra.Command {
	var app, env, reason string
	cmd := &cobra.Command{
		Use:   "unpin --app A --env E --reason \"…\"",
		Short: "Lift a rollback's pin, with its own record; deploys and promotions flow again",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if app == "" || env == "" || strings.TrimSpace(reason) == "" {
				return usageErr("unpin: --app, --env and --reason are required")
			}
			d, err := o.deployer()
			if err != nil {
				return err
			}
			c, err := d.Unpin(cmd.Context(), app, env, reason, gitops.PipelineRun(os.Getenv))
			if err != nil {
				return controlErr(err)
			}
			if c == "" {
				o.logf("%s/%s is not pinned: nothing to do", app, env)
			}
			fmt.Fprintln(o.stdout, orUnchanged(c))
			return nil
		},
	}
	cmd.Flags().StringVar(&app, "app", "", "application")
	cmd.Flags().StringVar(&env, "env", "", "environment")
	cmd.Flags().StringVar(&reason, "reason", "", "why the pin is lifted (recorded)")
	return cmd
}

func newFreezeCmd(o *options) *cobra.Command {
	var env, until, reason string
	cmd := &cobra.Command{
		Use:   "freeze --env E --until RFC3339 --reason \"…\"",
		Short: "Freeze an environment: deploys and promotions into it are refused until then (unless --break-glass)",
		Long: `Record a freeze in ` + gitops.FreezeFile + ` of the GitOps repository (a commit, with the
same compare-and-swap as deploys): until --until, every pipeline's deploys and
promotions into the environment are refused unless --break-glass "REASON",
which is recorded in the deploy commit and shows in history and dora.`,
		Example: `  go run ./ci freeze --env production --until 2026-12-27T08:00:00Z --reason "year-end close"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if env == "" || until == "" {
				return usageErr("freeze: --env and --until are required")
			}
			t, err := time.Parse(time.RFC3339, until)
			if err != nil {
				return usageErr("freeze: --until %q: want RFC 3339, e.g. 2026-12-27T08:00:00Z", until)
			}
			if !t.After(time.Now()) {
				return usageErr("freeze: --until %s is in the past", until)
			}
			if strings.TrimSpace(reason) == "" {
				return usageErr("freeze: --reason is required")
			}
			d, err := o.deployer()
			if err != nil {
				return err
			}
			c, err := d.Freeze(cmd.Context(), gitops.FreezeRequest{Env: env, Until: t, Reason: reason, PipelineRun: gitops.PipelineRun(os.Getenv)})
			if err != nil {
				if errors.Is(err, gitops.ErrBadFreezeFile) {
					return failErr(err)
				}
				return usageErr("freeze: %v", err)
			}
			o.logf("%s is frozen until %s in %s", env, t.UTC().Format(time.RFC3339), d.Remote)
			fmt.Fprintln(o.stdout, c)
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment")
	cmd.Flags().StringVar(&until, "until", "", "end of the freeze (RFC 3339)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded, shown to whoever is refused)")
	return cmd
}

func newUnfreezeCmd(o *options) *cobra.Command {
	var env, reason string
	cmd := &cobra.Command{
		Use:   "unfreeze --env E [--reason \"…\"]",
		Short: "Lift an environment's freeze (a commit)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if env == "" {
				return usageErr("unfreeze: --env is required")
			}
			d, err := o.deployer()
			if err != nil {
				return err
			}
			c, err := d.Unfreeze(cmd.Context(), gitops.FreezeRequest{Env: env, Reason: reason, PipelineRun: gitops.PipelineRun(os.Getenv)})
			if err != nil {
				return controlErr(err)
			}
			if c == "" {
				o.logf("%s is not frozen: nothing to do", env)
			}
			fmt.Fprintln(o.stdout, orUnchanged(c))
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment")
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded)")
	return cmd
}

func newDoraCmd(o *options) *cobra.Command {
	var (
		f          gitops.Filter
		since      string
		sourceRepo string
		asJSON     bool
		format     string
		repoURL    string
	)
	cmd := &cobra.Command{
		Use:   "dora [--app A] [--env E] [--since 90d] [--source-repo DIR] [--json | --format devlake]",
		Short: "DORA metrics per app and environment, from the GitOps log and the source repository",
		Long: `Compute, per app and environment: deployment frequency (per day and week,
with its band), lead time for changes (every source commit a deploy shipped,
commit time to deploy time: median and p90), change failure rate (deploys
followed by a rollback, a revert or a --fix deploy) and failed deployment
recovery time, and list re-deployments and break-glass deploys. Definitions
and edge cases: README, "DORA metrics". --format devlake prints Apache
DevLake's deployment webhook payloads, one JSON object per line.`,
		Example: `  go run ./ci dora --env production
  go run ./ci dora --since 30d --json
  go run ./ci dora --format devlake | while read -r p; do curl -X POST -H "Authorization: Bearer $DEVLAKE_KEY" -d "$p" "$DEVLAKE_WEBHOOK/deployments"; done`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sinceT, err := parseWindow(since, time.Now())
			if err != nil {
				return usageErr("dora: --since %q: want a number of days (90d), a duration (72h), YYYY-MM-DD or RFC 3339", since)
			}
			if format != "" && format != "devlake" && format != "json" && format != "table" {
				return usageErr("dora: --format %q: want table, json or devlake", format)
			}
			d, err := o.reader()
			if err != nil {
				return err
			}
			recs, err := gitops.History(cmd.Context(), d.Remote, gitops.Filter{App: f.App, Env: f.Env})
			if err != nil {
				return failErr(err)
			}
			if len(recs) == 0 && (f.App != "" || f.Env != "") {
				return usageErr("dora: no deploys recorded for app %q env %q in %s", f.App, f.Env, d.Remote)
			}
			if format == "devlake" {
				if repoURL == "" {
					if info, err := version.Detect(sourceRepo); err == nil {
						repoURL = info.RepoURL
					}
				}
				for _, p := range dora.DevLake(recs, repoURL, sinceT) {
					if err := jsonLine(o.stdout, p); err != nil {
						return failErr(err)
					}
				}
				return nil
			}
			ms := dora.Compute(cmd.Context(), recs, &dora.GitSource{Dir: sourceRepo}, dora.Options{Since: sinceT, Now: time.Now()})
			if asJSON || format == "json" {
				if ms == nil {
					ms = []dora.Metrics{}
				}
				return jsonEncode(o.stdout, ms)
			}
			writeDora(o, ms)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.App, "app", "", "only this application")
	fl.StringVar(&f.Env, "env", "", "only this environment")
	fl.StringVar(&since, "since", "90d", "window start: days (90d), a duration (72h), YYYY-MM-DD or RFC 3339")
	fl.StringVar(&sourceRepo, "source-repo", ".", "source repository, for commit times (a full clone)")
	fl.BoolVar(&asJSON, "json", false, "print the metrics as JSON (a stable schema)")
	fl.StringVar(&format, "format", "", "table (default), json, or devlake")
	fl.StringVar(&repoURL, "repo-url", "", "with --format devlake: the source repository URL DevLake knows (default: its origin)")
	return cmd
}

func parseWindow(s string, now time.Time) (time.Time, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && days > 0 {
			return now.AddDate(0, 0, -days), nil
		}
	}
	return parseSince(s, now)
}

func writeDora(o *options, ms []dora.Metrics) {
	if len(ms) == 0 {
		fmt.Fprintln(o.stdout, "no deploys recorded")
		return
	}
	tw := tabwriter.NewWriter(o.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tENV\tDEPLOYS\tFREQUENCY\tLEAD TIME (median/p90)\tCHANGE FAILURE\tRECOVERY (median)\tREDEPLOYS\tBREAK-GLASS")
	for _, m := range ms {
		fmt.Fprint(tw, safetext.Sprintf("%s\t%s\t%d\t%.2f/day %s\t%s/%s %s\t%.0f%% (%d) %s\t%s %s\t%d\t%d\n",
			m.App, m.Env, m.Deploys, m.PerDay, m.Frequency,
			hours(m.LeadTime.MedianHours, m.LeadTime.Commits), hours(m.LeadTime.P90Hours, m.LeadTime.Commits), m.LeadTime.Band,
			m.Failure.Rate*100, m.Failure.Failed, m.Failure.Band,
			hours(m.Recovery.MedianHours, m.Recovery.Count), m.Recovery.Band, len(m.Redeploys), len(m.BreakGlass)))
	}
	_ = tw.Flush()
	for _, m := range ms {
		for _, n := range doraNotes(m) {
			fmt.Fprint(o.stdout, safetext.Sprintf("note: %s/%s: %s\n", m.App, m.Env, n))
		}
	}
}

// doraNotes say what the figures of m leave out or assume.
func doraNotes(m dora.Metrics) []string {
	var notes []string
	if m.WindowNote != "" {
		notes = append(notes, m.WindowNote)
	}
	if n := m.LeadTime.FutureDated; n > 0 {
		var shas []string
		for _, c := range m.LeadTime.FutureDatedCommits {
			shas = append(shas, version.Short(c))
		}
		notes = append(notes, fmt.Sprintf("%d shipped commit(s) dated after their deploy give no lead time: %s", n, strings.Join(shas, ", ")))
	}
	if n := m.LeadTime.UnknownRanges; n > 0 {
		notes = append(notes, fmt.Sprintf("%d deploy(s) shipped commits the source repository lacks: no lead time for them", n))
	}
	return notes
}

func hours(h float64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fh", h)
}

func newReportCmd(o *options) *cobra.Command {
	var (
		out, since, sourceRepo string
	)
	cmd := &cobra.Command{
		Use:   "report [--out-file out/report.html] [--since 90d]",
		Short: "Write a self-contained HTML report: DORA figures, deploy timelines, what runs where, pending promotions",
		Long: `Write one self-contained HTML file (no scripts, fonts or images from the
network; inline SVG charts) that is readable on a phone and printable: per app
and environment the four DORA figures with their band, a timeline of deploys
(rollbacks, re-deployments and break-glass marked), the lead-time
distribution; what runs now in each environment; and the promotions waiting.
The pipeline writes out/report.html after every publish.`,
		Example: `  go run ./ci report
  go run ./ci report --out-file /tmp/deploys.html --since 30d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				out = o.outPath("report.html")
			}
			if _, err := parseWindow(since, time.Now()); err != nil {
				return usageErr("report: --since %q: want 90d, 72h, YYYY-MM-DD or RFC 3339", since)
			}
			d, err := o.reader()
			if err != nil {
				return err
			}
			if err := writeReportSince(cmd.Context(), o, d, out, sourceRepo, since); err != nil {
				return failErr(err)
			}
			o.logf("wrote %s", out)
			fmt.Fprintln(o.stdout, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out-file", "", "the HTML file (default out/report.html)")
	cmd.Flags().StringVar(&since, "since", "90d", "window start")
	cmd.Flags().StringVar(&sourceRepo, "source-repo", ".", "source repository, for commit times")
	return cmd
}

// writeReport renders the report over the default window.
func writeReport(ctx context.Context, o *options, d *gitops.Deployer, path, sourceRepo string) error {
	return writeReportSince(ctx, o, d, path, sourceRepo, "90d")
}

func writeReportSince(ctx context.Context, o *options, d *gitops.Deployer, path, sourceRepo, since string) error {
	now := time.Now()
	sinceT, err := parseWindow(since, now)
	if err != nil {
		return err
	}
	recs, sts, err := gitops.HistoryAndStatus(ctx, d.Remote, d.Layout, d.Charts)
	if err != nil {
		return err
	}
	fz, err := gitops.Freezes(ctx, d.Remote, now)
	if err != nil {
		o.logf("warning: report: %v", err)
	}
	data := report.Data{
		Repo: d.Remote.String(), Generated: now, Status: sts, Freezes: fz,
		Metrics: dora.Compute(ctx, recs, &dora.GitSource{Dir: sourceRepo}, dora.Options{Since: sinceT, Now: now}),
	}
	if err := outdir.MkdirAll(o.out, filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := report.Write(f, data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
