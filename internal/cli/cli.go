// Package cli is Slipway's command line: the pipeline commands a ci/ program
// gets from slipway.Main, and the commands the slipway binary offers without
// any Go configuration. It turns a Project into cobra commands with the
// contract's flags, environment and exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/redact"
	"github.com/slipway-ci/slipway/internal/safetext"
	"github.com/slipway-ci/slipway/internal/usage"
)

// Main runs the command line for p with the process's arguments and exits
// with the contract's code; Ctrl-C and SIGTERM cancel the run (exit 130).
func Main(p Project) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Execute(ctx, p, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Execute runs the CLI and maps errors to the contract's exit codes:
// 0 success, 1 a stage, gate or refusal, 2 usage or configuration, 130
// interrupted.
func Execute(ctx context.Context, p Project, args []string, stdout, stderr io.Writer) int {
	p = p.withDefaults()
	// Every secret this run can read is known before anything prints: no
	// piece of one reaches stdout or stderr, whoever formed the text.
	secrets := newSecretSet(p, os.Getenv)
	learnDiscovered(secrets, p, os.Environ(), args)
	// Once interrupted, nothing more reaches stdout: a command that read
	// part of what it reports (rows of "context canceled") prints no record.
	stdout = untilDone{ctx: ctx, w: stdout}
	rout, rerr := secrets.Writer(stdout), secrets.Writer(stderr)
	defer rout.Flush()
	defer rerr.Flush()
	stdout, stderr = rout, rerr
	if err := p.Validate(); err != nil {
		fmt.Fprintln(stderr, "error: configuration:", safetext.String(err.Error()))
		return 2
	}
	root := newRootCmdWith(p, stdout, stderr, secrets)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil && ctx.Err() == nil {
		return 0
	}
	if ctx.Err() != nil {
		if err == nil {
			err = ctx.Err() // a command that swallowed the interruption
		}
		// Interrupted (Ctrl-C, SIGTERM): the shell convention 128+SIGINT.
		fmt.Fprintln(stderr, "error: interrupted:", safetext.String(firstLineOf(err.Error())))
		return 130
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			printError(stderr, ee.err)
		}
		return ee.code
	}
	// Everything cobra itself rejects (unknown flag or command, bad args) is usage.
	printError(stderr, err)
	return 2
}

// printError prints the error: one line. An error quotes what it is about
// (a registry's answer, a bundle's field, a record): escaped (safetext), none
// of it can pose as a line or drive the terminal.
func printError(w io.Writer, err error) {
	fmt.Fprintln(w, "error:", safetext.String(err.Error()))
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// positiveDuration is what a duration flag whose zero means nothing wants.
const positiveDuration = "a positive duration (e.g. 5m)"

// contractURL is the contract document, as --help links it.
const contractURL = "https://github.com/slipway-ci/slipway/blob/main/docs/contract.md"

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
	if usage.Is(err) {
		// Whichever package found it: a value the user can fix is usage.
		return &exitError{code: 2, err: err}
	}
	return &exitError{code: 1, err: err}
}

func newRootCmd(p Project, stdout, stderr io.Writer) *cobra.Command {
	return newRootCmdWith(p, stdout, stderr, nil)
}

// newRootCmdWith is newRootCmd with the run's secrets (what its output and
// records are cleaned of).
func newRootCmdWith(p Project, stdout, stderr io.Writer, secrets *redact.Set) *cobra.Command {
	// Stages of several apps log at once: one write at a time, so lines
	// never interleave (and a test's buffer is safe).
	return newRootCmdFor(&options{stdout: &lockedWriter{w: stdout}, stderr: &lockedWriter{w: stderr}, proj: p, secrets: secrets})
}

// newRootCmdFor is the command tree over o.
func newRootCmdFor(o *options) *cobra.Command {
	p := o.proj
	if p.BinaryOnly {
		return newBinaryCmd(o)
	}
	rf := &runFlags{}
	root := &cobra.Command{
		Use:   p.Name,
		Short: "Slipway: lint, test, build, scan, push by digest and deploy through GitOps",
		Long: `Slipway runs this repository's pipeline as Go code.

With no command it runs lint, test and build concurrently, then scan, in
containers on a Dagger engine; --publish adds push (by digest, once lint, test
and scan passed; signed, with the SBOM and SLSA provenance attached and
verified) and deploy (a commit to the GitOps repository that Argo CD pulls,
after the digest verifies again). CI never needs cluster credentials.

Exit codes: 0 success (including "unchanged"), 1 a stage, gate or refusal
failed, 2 usage or configuration error, 130 interrupted. Note: "go run" turns
every non-zero exit into 1; scripts that branch on the code run the built
binary (go build -o slipway-ci ./ci).

The contract (commands, flags, environment, exit codes, out/, result.json,
commit trailers): ` + contractURL + `.`,
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
	bindRunFlags(root, rf, p)
	root.SetOut(o.stdout)
	root.SetErr(o.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageErr("%v (see --help)", err)
	})
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if err := checkFlagValues(cmd, args); err != nil {
			return err
		}
		if err := o.checkConfigFlags(cmd); err != nil {
			return err
		}
		return o.checkConfiguredApps(cmd)
	}
	root.AddCommand(
		newRunCmd(o),
		newStageCmd(o, "lint"), newStageCmd(o, "test"), newStageCmd(o, "build"),
		newGenerateCmd(o),
	)
	root.AddCommand(sharedCommands(o)...)
	return root
}

// newBinaryCmd is cmd/slipway: every command that needs no Go
// configuration, with the same flags, output and exit codes.
func newBinaryCmd(o *options) *cobra.Command {
	root := &cobra.Command{
		Use:   "slipway",
		Short: "Slipway without Go: push by digest (signed), pin, deploy, promote, verify, history, status, scan --report, plan",
		Long: `The slipway binary runs Slipway's commands that need no Go configuration, for
Jenkins, GitLab or shell pipelines: push an image tarball by digest, pin an
image lock, deploy or promote a digest through a GitOps repository, read its
history and status, gate a Trivy report, verify a digest's signature, SBOM
and provenance (keygen, policy kyverno), and plan a one-app pipeline given by
flags (--source). The container stages run from a ci/ program that calls
slipway.Main.

Exit codes: 0 success, 1 a gate or refusal, 2 usage or configuration, 130
interrupted. The contract (commands, flags, environment, exit codes, out/,
result.json, commit trailers): ` + contractURL + `.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	o.bind(root)
	root.SetOut(o.stdout)
	root.SetErr(o.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageErr("%v (see --help)", err)
	})
	root.PersistentPreRunE = checkFlagValues
	root.AddCommand(sharedCommands(o)...)
	speakAs(root, "slipway")
	return root
}

// speakAs rewrites the help of c and every command below it for a program
// run as prog: the commands' examples and texts are written for a ci/
// program (`go run ./ci deploy …`), and the slipway binary's help must show
// lines that work when pasted (`slipway deploy …`).
func speakAs(c *cobra.Command, prog string) {
	r := strings.NewReplacer("go run ./ci ", prog+" ", "go run ./ci\n", prog+"\n", "`ci ", "`"+prog+" ")
	c.Example = r.Replace(c.Example)
	c.Long = r.Replace(c.Long)
	c.Short = r.Replace(c.Short)
	c.Flags().VisitAll(func(f *pflag.Flag) { f.Usage = r.Replace(f.Usage) })
	for _, sub := range c.Commands() {
		speakAs(sub, prog)
	}
}

// positiveFlag annotates a count or duration flag whose zero means nothing
// (rollback --steps 0, --engine-timeout 0): given as zero it is a usage
// error, never quietly the default.
const positiveFlag = "slipway-positive"

// positive marks the flags names of f as positiveFlag.
func positive(f *pflag.FlagSet, names ...string) {
	for _, n := range names {
		if err := f.SetAnnotation(n, positiveFlag, []string{"true"}); err != nil {
			panic(err)
		}
	}
}

// checkFlagValues refuses, before any command runs, numeric flag values no
// command can use: a negative duration, size or count, and zero where zero
// means nothing (positiveFlag). Values a command must judge itself (names,
// paths, references) it refuses with usage errors too.
func checkFlagValues(cmd *cobra.Command, _ []string) error {
	var bad error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		// A name is checked before anything reads a registry or a
		// repository: `deploy --app ../x` is a usage error at once.
		if kind := nameFlagKind(cmd, f.Name); kind != "" && bad == nil {
			for _, v := range strings.Split(flagValue(f), ",") {
				if v == "" {
					continue // "no filter": the command says what it needs
				}
				if err := gitops.CheckName(kind, v); err != nil {
					bad = usageErr("--%s: %v", f.Name, err)
					break
				}
			}
		}
		switch f.Value.Type() {
		case "duration", "int", "int64":
			v := f.Value.String()
			// A flag whose zero means nothing says the same of a negative
			// value and of zero: one message.
			_, pos := f.Annotations[positiveFlag]
			if bad == nil && (strings.HasPrefix(v, "-") || pos && (v == "0" || v == "0s")) {
				want := "zero or more"
				switch {
				case pos && f.Value.Type() == "duration":
					want = positiveDuration
				case pos:
					want = "1 or more"
				}
				bad = usageErr("--%s %s: want %s", f.Name, v, want)
			}
		}
	})
	return bad
}

// nameFlagKind is the kind of name a flag of cmd takes ("app",
// "environment"), "" for a flag that takes none (rollback's --to is a
// digest, promote's an environment).
func nameFlagKind(cmd *cobra.Command, flag string) string {
	switch flag {
	case "app":
		return "app"
	case "env", "from":
		return "environment"
	case "to":
		if cmd.Name() == "promote" {
			return "environment"
		}
	}
	return ""
}

// sharedCommands are the commands of both a ci/ program and the slipway
// binary: none needs Go configuration beyond flags.
func sharedCommands(o *options) []*cobra.Command {
	return []*cobra.Command{
		newScanCmd(o), newPlanCmd(o), newPushCmd(o), newPinCmd(o),
		newDeployCmd(o), newPromoteCmd(o), newWaitCmd(o), newHistoryCmd(o), newStatusCmd(o),
		newRollbackCmd(o), newUnpinCmd(o), newFreezeCmd(o), newUnfreezeCmd(o),
		newDoraCmd(o), newReportCmd(o), newVerifyCmd(o), newKeygenCmd(o), newPolicyCmd(o), newVersionCmd(o),
	}
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newVersionCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Slipway's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := o.proj.Version
			if v == "" {
				v = moduleVersion()
			}
			fmt.Fprintln(o.stdout, "slipway", v)
			return nil
		},
	}
}

// moduleVersion is Slipway's module version from the build info ("(devel)"
// inside this repository).
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if bi.Main.Path == "github.com/slipway-ci/slipway" {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/slipway-ci/slipway" {
			if d.Replace != nil {
				return d.Version + " (replaced by " + d.Replace.Path + ")"
			}
			return d.Version
		}
	}
	return "unknown"
}

// untilDone writes to w until ctx is done, then drops what is written: the
// output of an interrupted command ends where the interruption came.
type untilDone struct {
	ctx context.Context
	w   io.Writer
}

func (u untilDone) Write(p []byte) (int, error) {
	if u.ctx.Err() != nil {
		return len(p), nil
	}
	return u.w.Write(p)
}
