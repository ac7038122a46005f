// Command ci is Slipway's pipeline: `go run ./ci` runs lint ∥ test → build →
// scan in containers, and with --publish pushes the image by digest and commits
// that digest to the GitOps repository. See README.md for the contract.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// execute runs the CLI and maps errors to the contract's exit codes:
// 0 success, 1 a stage, gate or refusal, 2 usage or configuration.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if ctx.Err() != nil {
		// Interrupted (Ctrl-C, SIGTERM): the shell convention 128+SIGINT.
		fmt.Fprintln(stderr, "error: interrupted:", firstLineOf(err.Error()))
		return 130
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "error:", ee.err)
		}
		return ee.code
	}
	// Everything cobra itself rejects (unknown flag or command, bad args) is usage.
	fmt.Fprintln(stderr, "error:", err)
	return 2
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// exitError carries an exit code up to execute.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageErr is exit 2: the user can fix the command line or configuration.
func usageErr(format string, a ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, a...)}
}

// failErr is exit 1: a stage, gate or refusal.
func failErr(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: 1, err: err}
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &options{stdout: stdout, stderr: stderr}
	rf := &runFlags{}
	root := &cobra.Command{
		Use:   "ci",
		Short: "Slipway: lint, test, build, scan, push by digest and deploy through GitOps",
		Long: `Slipway runs this repository's pipeline as Go code.

With no command it runs lint and test (concurrently), build and scan in
containers on a Dagger engine; --publish adds push (by digest) and deploy
(a commit to the GitOps repository that Argo CD pulls). CI never needs
cluster credentials.

Exit codes: 0 success (including "unchanged"), 1 a stage, gate or refusal
failed, 2 usage or configuration error, 130 interrupted. Note: "go run" turns
every non-zero exit into 1; scripts that branch on the code run the built
binary (go build -o slipway-ci ./ci).`,
		Example: `  go run ./ci                       # lint, test, build, scan
  go run ./ci --publish             # ... then push and deploy to development
  go run ./ci plan                  # what would run, without an engine
  go run ./ci history --env staging # what was deployed, when`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPipeline(cmd.Context(), o, rf)
		},
	}
	o.bind(root)
	bindRunFlags(root, rf)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageErr("%v (see --help)", err)
	})
	root.AddCommand(
		newRunCmd(o),
		newStageCmd(o, "lint"), newStageCmd(o, "test"), newStageCmd(o, "build"),
		newScanCmd(o),
		newPlanCmd(o),
		newPushCmd(o),
		newPinCmd(o),
		newDeployCmd(o),
		newPromoteCmd(o),
		newHistoryCmd(o),
		newStatusCmd(o),
	)
	return root
}
