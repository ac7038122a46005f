package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/affected"
	"github.com/slipway-ci/slipway/internal/flow"
	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/version"
)

// planDoc is `plan --json`. Source, Commit, Branch, Push and GitOps are the
// first app's (a one-app pipeline's); Apps has each app's.
type planDoc struct {
	Source    string            `json:"source"`
	Commit    string            `json:"commit,omitempty"`
	Branch    string            `json:"branch,omitempty"`
	ImageLock string            `json:"image_lock"`
	Waves     [][]string        `json:"waves"`
	Stages    []planStage       `json:"stages"`
	Images    map[string]string `json:"images"`
	Push      planPush          `json:"push"`
	GitOps    planCommit        `json:"gitops"`
	Apps      []planApp         `json:"apps"`
	// Skipped are the apps a --changed-since plan leaves out, with the reason.
	Skipped []affected.Result `json:"skipped,omitempty"`
	Since   string            `json:"changed_since,omitempty"`
	// Caches are restored from --cache-repo before the first stage of a cold run.
	Caches []planCache `json:"caches"`
}

type planApp struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Main   string `json:"main"`
	Commit string `json:"commit,omitempty"`
	// InputsCommit is the newest commit that changed what the app's build
	// reads: its image's revision (an app whose build inputs did not change
	// keeps its digest, even when its lint and test run again).
	InputsCommit string `json:"inputs_commit,omitempty"`
	// Affected is why a --changed-since plan runs the app.
	Affected string     `json:"affected,omitempty"`
	Push     planPush   `json:"push"`
	GitOps   planCommit `json:"gitops"`
}

type planStage struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Needs       []string `json:"needs"`
	Engine      bool     `json:"engine"`
	Publish     bool     `json:"publish_only"`
	Images      []string `json:"images"`
	Caches      []string `json:"caches"`
	Secrets     []string `json:"secrets"`
	Artifacts   []string `json:"artifacts"`
}

type planPush struct {
	Repository string   `json:"repository"`
	Tags       []string `json:"tags"`
}

type planCommit struct {
	Repository string `json:"repository"`
	Branch     string `json:"branch"`
	File       string `json:"file"`
	Subject    string `json:"subject"`
	// Rendered is what the deploy would change, rendered as Argo CD or Flux
	// would (each of the app's workloads: before -> after), when the
	// GitOps repository exists and the image repository is known.
	Rendered []string `json:"rendered,omitempty"`
	// Refused says why the deploy would be refused now (a pin, a freeze,
	// an edit that renders no change).
	Refused string `json:"refused,omitempty"`
	// Missing says that the file is not in the GitOps repository (given
	// with --gitops-repo or GITOPS_REPO and readable), naming the file and
	// the layout: the deploy would fail.
	Missing string `json:"missing,omitempty"`
}

func newPlanCmd(o *options) *cobra.Command {
	// Publish.Wait shows in the plan (the deploy stage's Argo CD token).
	rf := &runFlags{wait: waitFlags{wait: o.proj.Wait}}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print what the pipeline would do: stages, pinned images, caches, secret names, push and commit targets (no engine)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			run, err := newRun(cmd.Context(), o, rf)
			if err != nil {
				return err
			}
			doc, err := plan(cmd.Context(), o, rf, run)
			if err != nil {
				return err
			}
			if asJSON {
				return jsonEncode(o.stdout, doc)
			}
			writePlan(o.stdout, doc)
			return nil
		},
	}
	bindPushFlags(cmd.Flags(), &rf.push, true)
	bindSelectFlags(cmd, rf)
	bindCacheFlags(cmd.Flags(), &rf.cache)
	cmd.Flags().BoolVar(&rf.publish, "publish", false, "plan a publishing run (the default plan lists push and deploy too)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	if o.proj.BinaryOnly {
		// The slipway binary plans a one-app pipeline given by flags.
		cmd.Flags().StringVar(&o.appName, "name", "", "with --source: the app's name (default: the directory's name)")
		cmd.Flags().StringVar(&o.appMain, "main", "", "with --source: the main package inside it (default .)")
		cmd.Flags().StringVar(&o.appDeploy, "deploy", "", "with --source: its kustomize base/ and overlays/ (default deploy)")
	}
	return cmd
}

// plan is what the run would do.
func plan(ctx context.Context, o *options, rf *runFlags, run *flow.Run) (planDoc, error) {
	doc := planDoc{ImageLock: run.Lock().Source, Images: map[string]string{}, Skipped: run.Skipped(), Since: run.Base(), Apps: []planApp{}, Stages: []planStage{}, Waves: [][]string{}}
	for _, img := range run.Lock().Images() {
		doc.Images[img.Name] = img.Ref()
	}
	if len(run.Apps()) == 0 {
		return doc, nil
	}
	g, err := run.Graph()
	if err != nil {
		return planDoc{}, err
	}
	if err := run.CheckManifests(g.Names()); err != nil {
		return planDoc{}, err
	}
	doc.Waves = g.Waves()
	publish := map[string]bool{}
	for _, s := range o.proj.Stages {
		publish[s.Name] = s.Publish
	}
	for _, s := range g.Stages() {
		base := s.Name[strings.LastIndex(s.Name, "/")+1:]
		doc.Stages = append(doc.Stages, planStage{
			Name: s.Name, Description: s.Description, Needs: nonNil(s.Needs), Engine: s.Engine,
			Publish: publish[base], Images: nonNil(s.Images), Caches: nonNil(s.Caches),
			Secrets: nonNil(s.Secrets), Artifacts: nonNil(s.Artifacts),
		})
	}
	repo := o.GitOpsRepo()
	if repo == "" {
		repo = filepath.Join(o.out, "gitops.git") + " (local, created on first use)"
	} else {
		repo = version.PublicURL(repo)
	}
	env := o.proj.PublishEnv
	for _, r := range run.Apps() {
		pa := planApp{
			Name: r.Spec.Name, Source: r.Spec.Source, Main: r.Spec.Main, Commit: r.Version.Commit, InputsCommit: r.Inputs().Commit,
			Push: planPush{Repository: imageRepo(o, r), Tags: nonNil(r.PushTags())},
			GitOps: planCommit{
				Repository: repo, Branch: o.GitOpsBranch(),
				File:    gitops.LayoutPath(o.layoutOrConfig(), r.Spec.Name, env),
				Subject: "deploy(" + r.Spec.Name + "): " + env + " -> sha256:<digest of the build>",
			},
		}
		if file, missing := planLocate(ctx, o, r.Spec.Name, env); missing != "" {
			pa.GitOps.Missing = missing
		} else {
			if file != "" {
				pa.GitOps.File = file
			}
			pa.GitOps.Rendered, pa.GitOps.Refused = planRender(ctx, o, r, env)
		}
		for _, k := range run.Affected() {
			if k.App == r.Spec.Name {
				pa.Affected = k.Reason
			}
		}
		doc.Apps = append(doc.Apps, pa)
	}
	doc.Caches = planCaches(run, rf.cache.cacheRepo())
	first := run.Apps()[0]
	doc.Source, doc.Commit, doc.Branch = first.Spec.Source, first.Version.Commit, first.Version.Branch
	doc.Push, doc.GitOps = doc.Apps[0].Push, doc.Apps[0].GitOps
	return doc, nil
}

// planLocate resolves the app's file in the GitOps repository given with
// --gitops-repo or GITOPS_REPO: the file deploy would edit, or why it is
// missing. Nothing when no repository is given (the local one is created
// on first use) or it cannot be read.
func planLocate(ctx context.Context, o *options, app, env string) (file, missing string) {
	if o.GitOpsRepo() == "" {
		return "", ""
	}
	d, err := o.reader()
	if err != nil {
		return "", ""
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	file, err = d.Locate(ctx, app, env)
	if errors.Is(err, gitops.ErrNoFile) {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return "", msg
	}
	if err != nil {
		return "", ""
	}
	return file, ""
}

// planDigest stands for the digest the build will have.
var planDigest = "sha256:" + strings.Repeat("f", 64)

// planRender is a dry-run deploy with a placeholder digest: the rendered
// image of each of the app's workloads before -> after, or why the deploy
// would be refused. Nothing when the GitOps repository does not exist yet or
// the image repository is not known.
func planRender(ctx context.Context, o *options, r *flow.App, env string) ([]string, string) {
	repo := r.ImageRepo()
	if repo == "" {
		return nil, ""
	}
	d, err := o.reader()
	if err != nil {
		return nil, ""
	}
	d.Log = io.Discard
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := d.Deploy(ctx, gitops.Request{
		App: r.Spec.Name, Env: env, Image: gitops.Image{Repo: repo, Digest: planDigest},
		SourceCommit: strings.Repeat("f", 40), AllowUnknownSource: true, AllowRollback: true, DryRun: true,
	})
	if err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return nil, strings.ReplaceAll(msg, planDigest, "sha256:<digest of the build>")
	}
	if out.Rendered == nil {
		return nil, ""
	}
	var lines []string
	for _, w := range out.Rendered.Workloads {
		lines = append(lines, w.Workload+": "+orNothing(w.Before)+" -> "+strings.ReplaceAll(w.After, planDigest, "sha256:<digest of the build>"))
	}
	return lines, ""
}

// imageRepo is where push sends the app's image.
func imageRepo(o *options, r *flow.App) string {
	if repo := r.ImageRepo(); repo != "" {
		return repo
	}
	return "127.0.0.1:<port>/slipway/" + r.Spec.Name + " (Slipway's local registry, stored in " + filepath.Join(o.out, "registry") + ")"
}

func writePlan(w io.Writer, d planDoc) {
	if len(d.Apps) == 0 {
		fmt.Fprintf(w, "Slipway plan: no app is affected by changes since %s; nothing would run\n", d.Since)
		for _, s := range d.Skipped {
			fmt.Fprintf(w, "  %s: %s\n", s.App, s.Reason)
		}
		return
	}
	fmt.Fprintf(w, "Slipway plan for %s", d.Source)
	if len(d.Apps) > 1 {
		var names []string
		for _, a := range d.Apps {
			names = append(names, a.Name)
		}
		fmt.Fprintf(w, " (apps: %s)", strings.Join(names, ", "))
	}
	if d.Commit != "" {
		fmt.Fprintf(w, " at %s", version.Short(d.Commit))
		if d.Branch != "" {
			fmt.Fprintf(w, " on %s", d.Branch)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "\nStages (stages on one line run concurrently; a line starts when the line above passed):")
	for i, wave := range d.Waves {
		var names []string
		for _, n := range wave {
			for _, s := range d.Stages {
				if s.Name == n && s.Publish {
					n += " (--publish)"
				}
			}
			names = append(names, n)
		}
		fmt.Fprintf(w, "  %d. %s\n", i+1, strings.Join(names, " ∥ "))
	}
	fmt.Fprintln(w)
	for _, s := range d.Stages {
		engine := "host"
		if s.Engine {
			engine = "engine"
		}
		fmt.Fprintf(w, "  %-7s %-6s %s\n", s.Name, engine, s.Description)
		if len(s.Needs) > 0 && strings.Contains(s.Name+strings.Join(s.Needs, ""), "/") {
			fmt.Fprintf(w, "          needs:     %s\n", strings.Join(s.Needs, ", "))
		}
		if len(s.Images) > 0 {
			fmt.Fprintf(w, "          images:    %s\n", strings.Join(s.Images, ", "))
		}
		if len(s.Caches) > 0 {
			fmt.Fprintf(w, "          caches:    %s\n", strings.Join(s.Caches, ", "))
		}
		if len(s.Secrets) > 0 {
			fmt.Fprintf(w, "          secrets:   %s (names only, from the environment)\n", strings.Join(s.Secrets, ", "))
		}
		if len(s.Artifacts) > 0 {
			fmt.Fprintf(w, "          writes:    %s\n", strings.Join(s.Artifacts, ", "))
		}
	}
	fmt.Fprintf(w, "\nImages (%s; pulled by digest, tag kept for people and Renovate):\n", d.ImageLock)
	for _, name := range sortedKeys(d.Images) {
		fmt.Fprintf(w, "  %-14s %s\n", name, d.Images[name])
	}
	fmt.Fprintln(w, "\nWith --publish:")
	for _, a := range d.Apps {
		if len(d.Apps) > 1 {
			fmt.Fprintf(w, "  %s (%s, main package %s)\n", a.Name, a.Source, a.Main)
		}
		fmt.Fprintf(w, "  push   %s\n         tags %s (immutable: an existing tag never moves)\n",
			a.Push.Repository, orNone(strings.Join(a.Push.Tags, ", ")))
		fmt.Fprintf(w, "  deploy %s branch %s\n         file %s\n         commit %q\n",
			a.GitOps.Repository, a.GitOps.Branch, a.GitOps.File, a.GitOps.Subject)
		for _, l := range a.GitOps.Rendered {
			fmt.Fprintf(w, "         renders %s\n", l)
		}
		if a.GitOps.Refused != "" {
			fmt.Fprintf(w, "         would be refused now: %s\n", a.GitOps.Refused)
		}
		if a.GitOps.Missing != "" {
			fmt.Fprintf(w, "         missing: %s\n", a.GitOps.Missing)
		}
	}
	if len(d.Apps) > 1 {
		fmt.Fprintln(w, "  (all apps' deploy commits go in one push: they land together or none does)")
	}
	if len(d.Caches) > 0 {
		fmt.Fprintln(w, "\nCaches (restored into empty volumes before the first stage; saved after a successful run):")
		for _, c := range d.Caches {
			fmt.Fprintf(w, "  %s\n", c)
		}
	}
	if d.Since != "" {
		fmt.Fprintf(w, "\nAffected by changes since %s (run):\n", d.Since)
		for _, a := range d.Apps {
			fmt.Fprintf(w, "  %s: %s\n", a.Name, a.Affected)
			if a.InputsCommit != "" && a.InputsCommit != a.Commit {
				fmt.Fprintf(w, "    its build's inputs last changed in %s: the image keeps that revision (and its digest)\n", version.Short(a.InputsCommit))
			}
		}
	}
	if len(d.Skipped) > 0 {
		fmt.Fprintf(w, "\nNot affected by changes since %s (skipped):\n", d.Since)
		for _, s := range d.Skipped {
			fmt.Fprintf(w, "  %s: %s\n", s.App, s.Reason)
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none: not a git checkout; pass --tag)"
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
