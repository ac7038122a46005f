package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/pipeline"
)

// deployFlags guard a deploy.
type deployFlags struct {
	allowRollback bool
}

func bindDeployGuardFlags(f *pflag.FlagSet, df *deployFlags) {
	f.BoolVar(&df.allowRollback, "allow-rollback", false, "deploy even when the source commit is older than the one deployed")
}

func newDeployCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "deploy --app A --env E --image REPO@sha256:…",
		Short: "Commit an image digest to the GitOps repository",
		RunE: func(*cobra.Command, []string) error {
			return usageErr("deploy: not implemented yet")
		},
	}
}

func newPromoteCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "promote --app A --from E1 --to E2",
		Short: "Copy the deployed digest from one environment to the next",
		RunE: func(*cobra.Command, []string) error {
			return usageErr("promote: not implemented yet")
		},
	}
}

func newHistoryCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: "List deployments recorded in the GitOps repository",
		RunE: func(*cobra.Command, []string) error {
			return usageErr("history: not implemented yet")
		},
	}
}

func deployStage(r *runState) pipeline.Stage {
	return pipeline.Stage{
		Name:        "deploy",
		Description: "commit image@digest to the GitOps repo (" + publishEnv + "); Argo CD pulls it",
		Needs:       []string{"push"},
		Secrets:     []string{"GITOPS_TOKEN", "GITOPS_SSH_KEY_FILE"},
		Run: func(context.Context, *pipeline.Record) error {
			return errors.New("deploy: not implemented yet")
		},
	}
}
