package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/gitops"
)

func newHistoryCmd(o *options) *cobra.Command {
	var (
		f      gitops.Filter
		since  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "history [--app A] [--env E] [--since D] [--json]",
		Short: "Deployments read back from the GitOps repository's commit trailers, newest first",
		Long: `List deployments recorded in the GitOps repository: time (RFC 3339), app,
environment, image, source commit, GitOps commit and author, newest first, with
counts per app and environment at the bottom. Records are read through every
parent (merged, squashed or rebased promotions count), and a git revert of a
deploy commit shows as what it restored. --json prints an array with the keys
time, app, env, image, source_commit, commit, author, plus, only where they
apply, reverts, reverted, rollback, rollback_of, reason, pinned, unpin,
break_glass, fix, source_dirty, and signature ("verified", or "unverified"
for a record whose commit the GitOps commit key does not verify: a forged
or pre-signing record; only when GITOPS_GPG_KEY_FILE,
GITOPS_SSH_SIGNING_KEY_FILE or GITOPS_VERIFY_KEY_FILE gives the key).`,
		Example: `  go run ./ci history
  go run ./ci history --app sample-app --env production --since 2026-11-01
  go run ./ci history --since 168h --json | jq length`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return usageErr("history: --since %q: want RFC 3339, YYYY-MM-DD or a duration such as 168h", since)
				}
				f.Since = t
			}
			d, err := o.reader()
			if err != nil {
				return err
			}
			recs, err := gitops.History(cmd.Context(), d.Remote, f)
			if err != nil {
				return failErr(err)
			}
			if asJSON {
				if recs == nil {
					recs = []gitops.Record{}
				}
				for i := range recs {
					// A record that names no source commit says so, as
					// its Source-Commit trailer does.
					if recs[i].SourceCommit == "" {
						recs[i].SourceCommit = "unknown"
					}
				}
				return jsonEncode(o.stdout, recs)
			}
			if len(recs) == 0 {
				fmt.Fprintf(o.stdout, "no deployments in %s", d.Remote)
				if f.App != "" || f.Env != "" || !f.Since.IsZero() {
					fmt.Fprint(o.stdout, " match the filter")
				}
				fmt.Fprintln(o.stdout)
				return nil
			}
			return gitops.WriteHistoryTable(o.stdout, recs)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.App, "app", "", "only this application")
	fl.StringVar(&f.Env, "env", "", "only this environment")
	fl.StringVar(&since, "since", "", "only deployments at or after this time (RFC 3339, YYYY-MM-DD, or a duration ago such as 72h)")
	fl.BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("bad --since")
	}
	return now.Add(-d), nil
}
