package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slipway-ci/slipway/internal/argocd"
	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/outdir"
	"github.com/slipway-ci/slipway/internal/registry"
	"github.com/slipway-ci/slipway/internal/release"
	"github.com/slipway-ci/slipway/internal/safetext"
	"github.com/slipway-ci/slipway/internal/version"
)

// deployFlags guard a deploy.
type deployFlags struct {
	allowRollback      bool
	allowUnknownSource bool
	supersededOK       bool
	retryTimeout       time.Duration
	unpin              bool
	breakGlass         string
	fix                bool
}

func bindDeployGuardFlags(f *pflag.FlagSet, df *deployFlags) {
	f.BoolVar(&df.allowRollback, "allow-rollback", false, "deploy even when the source commit does not contain the one the environment runs (older or diverged: it drops commits)")
	f.BoolVar(&df.allowUnknownSource, "allow-unknown-source", false, "deploy even when the source commit is unknown (recorded as Source-Commit: unknown) or the source repository cannot tell how it relates to the deployed one")
	f.BoolVar(&df.supersededOK, "superseded-ok", false, "when a newer build already runs in the environment, end as \"superseded\" (exit 0) instead of refusing a rollback")
	f.DurationVar(&df.retryTimeout, "retry-timeout", 5*time.Minute, "keep retrying a deploy that loses races to concurrent pushes for this long")
	positive(f, "retry-timeout")
	f.BoolVar(&df.unpin, "unpin", false, "deploy into an environment a rollback pinned, lifting the pin (recorded)")
	f.StringVar(&df.breakGlass, "break-glass", "", "deploy into a frozen environment; the REASON is recorded in the commit")
	f.BoolVar(&df.fix, "fix", false, "mark this deploy as the fix of a failed one (counts that one as a failure in dora)")
}

// deployer opens the configured GitOps repository for a write:
// --gitops-repo/GITOPS_REPO, or the local out/gitops.git, created and seeded
// from the app's deploy/ on first use (refused in CI without --local).
func (o *options) deployer() (*gitops.Deployer, error) {
	return o.openGitOps(true)
}

// reader opens the GitOps repository for reading: it never creates the local one.
func (o *options) reader() (*gitops.Deployer, error) {
	return o.openGitOps(false)
}

func (o *options) openGitOps(create bool) (*gitops.Deployer, error) {
	repo := o.GitOpsRepo()
	if repo == "" {
		if err := o.requireInCI("GitOps repository out/gitops.git", "--gitops-repo", "GITOPS_REPO"); err != nil {
			return nil, err
		}
		repo = o.outPath("gitops.git")
		if !create {
			if _, err := os.Stat(repo); err != nil {
				return nil, usageErr("no GitOps repository: %s does not exist yet (nothing was deployed locally); set --gitops-repo or GITOPS_REPO", repo)
			}
		} else {
			seeds := o.seedApps()
			if len(seeds) == 0 {
				return nil, usageErr("no GitOps repository: set --gitops-repo or GITOPS_REPO")
			}
			if apps, _ := o.apps(); len(apps) > 0 {
				// Seeding reads every app's manifests: say which field is wrong
				// before anything is created.
				if err := o.checkSources(apps, true); err != nil {
					return nil, err
				}
			}
			if err := outdir.MkdirAll(o.out, o.out, 0o755); err != nil {
				return nil, err
			}
			created, err := gitops.EnsureLocalApps(repo, seeds, o.GitOpsBranch(), time.Now())
			if err != nil {
				return nil, usageErr("local GitOps repository: %v", err)
			}
			if created {
				var from []string
				for _, a := range seeds {
					from = append(from, a.DeployDir)
				}
				o.logf("created the local GitOps repository %s from %s (set --gitops-repo or GITOPS_REPO to use your own)", repo, strings.Join(from, ", "))
			}
		}
	}
	layout, err := o.Layout()
	if err != nil {
		return nil, err
	}
	remote, err := gitops.NewRemote(repo, o.GitOpsBranch(), os.Getenv)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	d := &gitops.Deployer{
		Remote:      remote,
		AuthorName:  os.Getenv("GITOPS_AUTHOR_NAME"),
		AuthorEmail: os.Getenv("GITOPS_AUTHOR_EMAIL"),
		Log:         safetext.LineWriter(o.stderr),
		Layout:      layout,
		Charts:      o.proj.Charts,
		Actor:       gitops.Actor(os.Getenv, gitUserEmail),
		CheckImage:  o.checkAppImage,
	}
	switch {
	case os.Getenv("GITOPS_GPG_KEY_FILE") != "":
		d.Signer, err = gitops.LoadGPGSigner(os.Getenv("GITOPS_GPG_KEY_FILE"), os.Getenv("GITOPS_GPG_PASSPHRASE"))
	case os.Getenv("GITOPS_SSH_SIGNING_KEY_FILE") != "":
		d.Signer, err = gitops.LoadSSHSigner(os.Getenv("GITOPS_SSH_SIGNING_KEY_FILE"), os.Getenv("GITOPS_SSH_KEY_PASSPHRASE"))
	}
	if err != nil {
		return nil, usageErr("%v", err)
	}
	// The key deploy commits are signed with: history, status and the
	// report mark a record whose commit it does not verify (a forgery, or
	// one from before signing) as unverified.
	if v := os.Getenv("GITOPS_VERIFY_KEY_FILE"); v != "" {
		if remote.CommitKey, err = gitops.LoadCommitKey(v); err != nil {
			return nil, usageErr("%v", err)
		}
	} else if d.Signer != nil {
		remote.CommitKey = gitops.CommitKeyOf(d.Signer)
	}
	return d, nil
}

// gitUserEmail is `git config user.email` where Slipway runs ("" when git
// or the setting is missing): the actor of a run outside CI, as the user
// asserts it.
func gitUserEmail() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "config", "user.email").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// labelTimeout bounds reading an image's revision label from its registry.
const labelTimeout = 20 * time.Second

// deploySource is the source commit a standalone deploy records:
// --source-commit (refused, exit 1, when the image's revision label
// contradicts it: release.CheckLabel, the rule push applies), else the commit
// the image's revision label names, else the commit its verified provenance
// names; never the HEAD of the directory deploy runs in. "" when none is
// known: refused unless --allow-unknown-source, which records
// "Source-Commit: unknown". A label ending in -dirty sets dirty. An image
// whose registry cannot be read is checked no further (a warning: deploy
// needs only the GitOps repository); a verification policy still verifies
// it before the commit.
func (o *options) deploySource(ctx context.Context, app, sourceRepo string, img gitops.Image, given string, vf *verifyFlags, allowUnknown bool, dirty *bool) (string, error) {
	ref, err := registry.ParseReference(img.String())
	if err != nil {
		return "", usageErr("deploy: %v", err)
	}
	d, ok := ref.(name.Digest)
	if !ok {
		return "", usageErr("deploy: %s: give the image by digest", img)
	}
	ropts, err := o.registryOpts(d.Context())
	if err != nil {
		return "", err
	}
	lctx, cancel := context.WithTimeout(ctx, labelTimeout)
	label, labelErr := release.RegistryLabel(lctx, d, ropts...)
	cancel()
	if labelErr != nil {
		o.logf("warning: deploy: cannot read %s's %s label (%s)", img.Short(), release.RevisionLabel, firstLineOf(labelErr.Error()))
		label = ""
	}
	lc, labelDirty, named := release.LabelCommit(label)
	if labelDirty && !*dirty {
		*dirty = true
		o.logf("deploy: %s's %s label says %s: recording Source-Dirty: true", img.Short(), release.RevisionLabel, label)
	}
	if given != "" {
		if err := o.checkLabel(app, sourceRepo, label, given); err != nil {
			return "", failErr(fmt.Errorf("deploy: refusing %s: %w", img, err))
		}
		return given, nil
	}
	if named && isSHA(lc) {
		o.logf("deploy: Source-Commit %s: %s's %s label", version.Short(lc), img.Short(), release.RevisionLabel)
		return lc, nil
	}
	if pol, err := o.policy(vf); err != nil {
		return "", err
	} else if pol != nil {
		rep, err := o.verifyImage(ctx, img.String(), pol, "")
		if err == nil {
			err = rep.Err()
		}
		if err != nil {
			return "", deployErr(fmt.Errorf("%w: %w", gitops.ErrUnverified, err))
		}
		if rep.Provenance != nil && isSHA(rep.Provenance.SourceCommit) {
			o.logf("deploy: Source-Commit %s: %s's verified provenance", version.Short(rep.Provenance.SourceCommit), img.Short())
			return rep.Provenance.SourceCommit, nil
		}
	}
	why := fmt.Sprintf("nothing states which commit %s was built from (no --source-commit, no %s label naming one, no verified provenance naming one)", img, release.RevisionLabel)
	if !allowUnknown {
		return "", failErr(fmt.Errorf("deploy: refusing: %s; pass --source-commit SHA (the commit it was built from), or --allow-unknown-source to record Source-Commit: unknown", why))
	}
	o.logf("warning: deploy: %s; recording Source-Commit: unknown (--allow-unknown-source)", why)
	return "", nil
}

// deployErr maps gitops errors to exit codes.
func deployErr(err error) error {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return err
	case errors.Is(err, gitops.ErrNotDigest):
		return usageErr("%v", err)
	}
	return failErr(err)
}

func newDeployCmd(o *options) *cobra.Command {
	var (
		app, env, image, commit, sourceRepo, path, imageName string
		dirty, dryRun                                        bool
		df                                                   deployFlags
		vf                                                   verifyFlags
		wf                                                   waitFlags
		helmFlags                                            []string
	)
	cmd := &cobra.Command{
		Use:   "deploy --app A --env E --image REPO@sha256:…",
		Short: "Commit an image digest to the GitOps repository; the last stdout line is the commit SHA or \"unchanged\"",
		Long: `Write REPO@sha256:… into the app's environment file (--layout, default
A/overlays/E/kustomization.yaml; or --path: a
kustomization, or a Deployment, StatefulSet, DaemonSet, Job, CronJob or Argo
Rollout) of the GitOps repository and push one commit whose trailers record the
deployment (Image, Source-Commit, App, Environment, Pipeline-Run).

Concurrent pipelines never lose updates: a rejected push fetches what is new,
re-applies the edit and tries again, for up to --retry-timeout. A source
commit that does not contain the one the environment runs (older, or on a
diverged branch) drops commits and is refused as a rollback, naming how many,
unless --allow-rollback (--superseded-ok ends a strictly older one as
"superseded"); one the
source repository cannot place, even after deepening a shallow clone, is
refused unless --allow-unknown-source. An environment pinned by a rollback
refuses deploys unless --unpin; a frozen one unless --break-glass REASON. A
file that already holds the digest prints "unchanged" and commits nothing.

Before pushing, the environment is rendered as Argo CD or Flux would
(kustomize in-process; Helm charts, HelmReleases and Applications with
charts in the repository) and every container of the app must run exactly
the new digest: an edit that renders no change (a shadowing images: entry,
an overlay that overrides it, an entry that cannot reach a HelmRelease) is
refused (exit 1) naming the file and what wins instead. --dry-run prints
each workload's rendered image before -> after and commits nothing.

Source-Commit is --source-commit, else the commit the image's
org.opencontainers.image.revision label names, else the commit its verified
provenance names (with a verification policy); never the HEAD of the
directory deploy runs in. When none is known the deploy is refused (exit 1)
unless --allow-unknown-source, which records Source-Commit: unknown. The label
is read from the image's registry: a --source-commit it contradicts is
refused (exit 1), unless the label names the newest commit up to it that
changed the configured app's inputs (the rule push applies); a label ending
in -dirty records Source-Dirty. An unreadable registry is a warning.

With a verification policy (--verify-key, or --certificate-identity and
--certificate-oidc-issuer, or SLIPWAY_VERIFY_KEY, or the Go configuration)
the digest's signature, SBOM and provenance are read back from the registry
and verified first, the provenance against the source commit; a digest that
does not verify is refused (exit 1) with nothing committed, and the commit
records the verified bundle (Signature-Bundle, Signed-By).`,
		Example: `  go run ./ci deploy --app sample-app --env staging --image ghcr.io/acme/sample-app@sha256:…
  GITOPS_REPO=https://github.com/acme/gitops.git GITOPS_TOKEN=… go run ./ci deploy --app sample-app --env development --image "$IMAGE"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if app == "" || env == "" || image == "" {
				return usageErr("deploy: --app, --env and --image are all required")
			}
			img, err := gitops.ParseImage(image)
			if err != nil {
				return usageErr("deploy: %v", err)
			}
			values, err := helmValues(helmFlags, o.proj.appValues(app))
			if err != nil {
				return err
			}
			if commit != "" && !isSHA(commit) {
				return usageErr("deploy: --source-commit %q: want the full 40-hex commit SHA", commit)
			}
			// --wait's configuration first: a missing ARGOCD_SERVER is
			// said at once, not after the registry's label lookup.
			var argo *argocd.Client
			if wf.wait {
				if argo, err = argoClient(); err != nil {
					return err
				}
			}
			// The policy's usage errors before the registry is asked.
			if _, err := o.checkPolicy(&vf); err != nil {
				return err
			}
			sha, err := o.deploySource(cmd.Context(), app, sourceRepo, img, commit, &vf, df.allowUnknownSource, &dirty)
			if err != nil {
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
			out, err := d.Deploy(cmd.Context(), gitops.Request{
				App: app, Env: env, Image: img, SourceCommit: sha, SourceRepo: sourceRepo, SourceDirty: dirty,
				Path: path, ImageName: imageName, Values: values, Tag: gitops.ImageTag(image), AllowRollback: df.allowRollback, AllowUnknownSource: df.allowUnknownSource,
				SupersededOK: df.supersededOK, PipelineRun: gitops.PipelineRun(os.Getenv),
				Unpin: df.unpin, BreakGlass: df.breakGlass, Fix: df.fix, DryRun: dryRun,
			})
			if err != nil {
				return deployErr(err)
			}
			printDeploy(o, d, app, env, out)
			if !wf.wait || out.Superseded {
				return nil
			}
			t, err := deployWaitTarget(app, env, out)
			if err != nil {
				return err
			}
			return o.waitAll(cmd.Context(), d, argo, wf, o.stderr, []waitTarget{t})
		},
	}
	f := cmd.Flags()
	f.StringVar(&app, "app", "", "application (directory in the GitOps repository)")
	f.StringVar(&env, "env", "", "environment (overlay name)")
	f.StringVar(&image, "image", "", "REPO[:TAG]@sha256:<64 hex>; a tag alone is refused; a tag before the digest is written where the file keeps one (newTag, a Flux :tag field, a chart that only takes a tag)")
	f.StringVar(&commit, "source-commit", "", "source commit the image was built from (default: the image's revision label, else its verified provenance; never HEAD)")
	f.StringVar(&sourceRepo, "source-repo", ".", "source repository, to refuse rollbacks (how the source commit relates to the running one)")
	f.StringVar(&path, "path", "", "file to edit instead of the layout's (default APP/overlays/ENV/kustomization.yaml)")
	f.StringVar(&imageName, "image-name", "", "image name the app's container uses (an images: entry's name or newName, a container's image): authoritative when several images could be the app's, and for a kustomization with no images: entry yet (default: ranked matching)")
	bindHelmValueFlag(f, &helmFlags)
	f.BoolVar(&dryRun, "dry-run", false, "edit and render, print each workload's rendered image before -> after, and commit nothing (last line \"dry-run\")")
	f.BoolVar(&dirty, "source-dirty", false, "record that the image was built from a modified working tree (Source-Dirty: true)")
	bindDeployGuardFlags(f, &df)
	bindVerifyFlags(f, &vf)
	bindWaitFlags(f, &wf, true, waitFlags{})
	return cmd
}

func printDeploy(o *options, d *gitops.Deployer, app, env string, out *gitops.Outcome) {
	switch {
	case out.Superseded:
		// The deployer has said why, once; stdout carries the outcome.
		fmt.Fprintln(o.stdout, "superseded")
		return
	case out.BranchExists:
		o.logf("branch %s already exists at %s in %s: left as it is (delete it to promote again)", out.Branch, out.Commit, d.Remote)
		fmt.Fprintln(o.stdout, "unchanged")
		return
	}
	if out.Unchanged {
		o.logf("%s/%s already runs %s in %s", app, env, out.Change.After, d.Remote)
		fmt.Fprintln(o.stdout, "unchanged")
		return
	}
	for _, n := range out.Change.Notes {
		o.logf("%s", n) // a Flux marker removed: the README promises it is said
	}
	if out.DryRun {
		writeRendered(o.stdout, out.Rendered)
		o.logf("dry run: %s would change %s (%s -> %s); nothing committed or pushed", out.Change.File, app+"/"+env, orNothing(out.Change.Before), out.Change.After)
		fmt.Fprintln(o.stdout, "dry-run")
		return
	}
	writeRendered(o.stderr, out.Rendered)
	o.logf("deployed %s to %s/%s in %s (branch %s, %d attempt(s); was %s)", out.Change.After, app, env, d.Remote, out.Branch, out.Attempts, orNothing(out.Change.Before))
	fmt.Fprintln(o.stdout, out.Commit)
}

// writeRendered prints the render proof: each of the app's workloads, its
// image before -> after, as Argo CD or Flux would render the environment.
func writeRendered(w io.Writer, r *gitops.Rendered) {
	if r == nil {
		return
	}
	// An unproven render was already warned about by the deploy itself
	// ("warning: APP/ENV: not proven by a render: …").
	what := strings.TrimSpace(r.How + " " + r.Root)
	for _, wl := range r.Workloads {
		fmt.Fprint(w, safetext.Sprintf("rendered %s: %s: %s -> %s\n", what, wl.Workload, orNothing(wl.Before), wl.After))
	}
}

func orNothing(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}
