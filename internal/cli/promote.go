package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/argocd"
	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/safetext"
)

func newPromoteCmd(o *options) *cobra.Command {
	var (
		p         gitops.Promotion
		df        deployFlags
		vf        verifyFlags
		wf        waitFlags
		helmFlags []string
	)
	cmd := &cobra.Command{
		Use:   "promote --app A --from E1 --to E2",
		Short: "Deploy what E1 runs (digest and source commit) to E2; --via-branch opens the way for a pull request",
		Long: `Read the digest E1's manifest deploys and the Source-Commit of E1's last deploy
record, and deploy them to E2 with the same rollback guard, retry and trailers
as deploy. With --via-branch the commit goes to branch
promote/APP/E2/<12 hex> instead of the main branch, and for GitHub remotes the
compare URL to open the pull request is printed: the production path.

With a verification policy the digest is verified again from the registry
(signature, SBOM, provenance naming the promoted source commit) before
anything is committed: the lower environment's word is never trusted.

The source commit is that of the deploy record that put E1's digest there
(the record status shows). When none did (a hand edit: status says "no
deploy record put this digest here"), promote refuses (exit 1) rather than
borrow another record's commit, unless --source-commit names it.`,
		Example: `  go run ./ci promote --app sample-app --from development --to staging
  go run ./ci promote --app sample-app --from staging --to production --via-branch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if p.App == "" || p.From == "" || p.To == "" {
				return usageErr("promote: --app, --from and --to are all required")
			}
			if p.SourceCommit != "" && !isSHA(p.SourceCommit) {
				return usageErr("promote: --source-commit %q: want the full 40-hex commit SHA", p.SourceCommit)
			}
			values, err := helmValues(helmFlags, o.proj.appValues(p.App))
			if err != nil {
				return err
			}
			p.Values = values
			p.AllowRollback = df.allowRollback
			p.AllowUnknownSource = df.allowUnknownSource
			p.Unpin, p.BreakGlass = df.unpin, df.breakGlass
			p.PipelineRun = gitops.PipelineRun(os.Getenv)
			var argo *argocd.Client
			if wf.wait {
				if p.ViaBranch {
					return usageErr("promote: --wait waits for a commit on the branch Argo CD follows; with --via-branch it lands only when the pull request merges (run wait then)")
				}
				var err error
				if argo, err = argoClient(); err != nil {
					return err
				}
			}
			// The policy's usage errors before the GitOps repository is opened.
			if _, err := o.checkPolicy(&vf); err != nil {
				return err
			}
			d, err := o.deployer()
			if err != nil {
				return err
			}
			d.RetryTimeout = df.retryTimeout
			if err := o.attachVerify(d, &vf); err != nil {
				return err
			}
			out, err := d.Promote(cmd.Context(), p)
			if err != nil {
				return deployErr(err)
			}
			if p.ViaBranch && (!out.Unchanged || out.BranchExists) {
				fmt.Fprint(o.stdout, safetext.Sprintf("branch: %s\n", out.Branch))
				if out.CompareURL != "" {
					fmt.Fprint(o.stdout, safetext.Sprintf("open a pull request: %s\n", out.CompareURL))
				}
			}
			printDeploy(o, d, p.App, p.To, out.Outcome)
			if !wf.wait || out.Superseded {
				return nil
			}
			t, err := deployWaitTarget(p.App, p.To, out.Outcome)
			if err != nil {
				return err
			}
			return o.waitAll(cmd.Context(), d, argo, wf, o.stderr, []waitTarget{t})
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.App, "app", "", "application")
	f.StringVar(&p.From, "from", "", "environment to copy from")
	f.StringVar(&p.To, "to", "", "environment to deploy to")
	f.StringVar(&p.SourceRepo, "source-repo", ".", "source repository, to refuse rollbacks")
	f.StringVar(&p.SourceCommit, "source-commit", "", "the commit the digest E1 runs was built from, when no deploy record put it there (a hand edit); refused when a record says otherwise")
	f.StringVar(&p.FromPath, "from-path", "", "the file --from's image is read from, instead of the layout's")
	f.StringVar(&p.ToPath, "to-path", "", "the file to edit for --to, instead of the layout's")
	f.BoolVar(&p.ViaBranch, "via-branch", false, "push branch promote/APP/TO/<12 hex> instead of the main branch")
	bindHelmValueFlag(f, &helmFlags)
	bindDeployGuardFlags(f, &df)
	bindVerifyFlags(f, &vf)
	bindWaitFlags(f, &wf, true, waitFlags{})
	return cmd
}
