package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/gitops"
)

func newStatusCmd(o *options) *cobra.Command {
	var (
		f      gitops.Filter
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status [--app A] [--env E] [--json]",
		Short: "What each environment runs now, read from the manifests at the GitOps branch head",
		Long: `For every app and environment of the GitOps repository (found through
--layout, default APP/overlays/ENV/kustomization.yaml), print the digest it
renders at the branch head (kustomize, a chart, Argo CD's overrides: what it
runs; the manifest where it cannot be rendered, saying so), and the source commit, time and GitOps
commit of the deploy record that put that digest there. Manifests are the
truth: a git revert, a rollback or a hand edit shows as what it did (the NOTE
column names reverts, rollbacks and digests no record explains). Each
environment's render gets at most 20s (status and the report): one that takes
longer shows "not rendered (took longer than 20s)" and the others go on; a
run longer than 5s prints its progress on stderr.`,
		Example: `  go run ./ci status
  go run ./ci status --app sample-app --env production --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := o.reader()
			if err != nil {
				return err
			}
			f.Layout, f.Charts, f.Progress = d.Layout, d.Charts, o.stderr
			sts, err := gitops.Status(cmd.Context(), d.Remote, f)
			if err != nil {
				return failErr(err)
			}
			if asJSON {
				if sts == nil {
					sts = []gitops.EnvStatus{}
				}
				return jsonEncode(o.stdout, sts)
			}
			if len(sts) == 0 {
				fmt.Fprintf(o.stdout, "no environments (layout %s) in %s\n", orDefaultLayout(d.Layout), d.Remote)
				return nil
			}
			return gitops.WriteStatusTable(o.stdout, sts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.App, "app", "", "only this application")
	fl.StringVar(&f.Env, "env", "", "only this environment")
	fl.BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func orDefaultLayout(l string) string {
	if l == "" {
		return gitops.DefaultLayout
	}
	return l
}
