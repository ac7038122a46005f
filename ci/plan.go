package main

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slipway-ci/slipway/internal/version"
)

// planDoc is `plan --json`.
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
}

func newPlanCmd(o *options) *cobra.Command {
	rf := &runFlags{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print what the pipeline would do: stages, pinned images, caches, secret names, push and commit targets (no engine)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			r, err := newRunState(o, rf)
			if err != nil {
				return err
			}
			doc, err := r.plan()
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
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	return cmd
}

func (r *runState) plan() (planDoc, error) {
	g, err := r.graph()
	if err != nil {
		return planDoc{}, err
	}
	doc := planDoc{
		Source: r.o.source, Commit: r.version.Commit, Branch: r.version.Branch,
		ImageLock: r.lock.Source, Waves: g.Waves(), Images: map[string]string{},
	}
	for _, s := range g.Stages() {
		doc.Stages = append(doc.Stages, planStage{
			Name: s.Name, Description: s.Description, Needs: nonNil(s.Needs), Engine: s.Engine,
			Publish: s.Name == "push" || s.Name == "deploy", Images: nonNil(s.Images), Caches: nonNil(s.Caches),
			Secrets: nonNil(s.Secrets), Artifacts: nonNil(s.Artifacts),
		})
	}
	for _, img := range r.lock.Images() {
		doc.Images[img.Name] = img.Ref()
	}
	doc.Push = planPush{Repository: r.imageRepo(), Tags: nonNil(r.pushTags())}
	repo := r.o.GitOpsRepo()
	if repo == "" {
		repo = filepath.Join(r.o.out, "gitops.git") + " (local, created on first use)"
	}
	doc.GitOps = planCommit{
		Repository: version.PublicURL(repo), Branch: r.o.GitOpsBranch(),
		File:    appName + "/overlays/" + publishEnv + "/kustomization.yaml",
		Subject: "deploy(" + appName + "): " + publishEnv + " -> sha256:<digest of the build>",
	}
	return doc, nil
}

// imageRepo is where push sends the image.
func (r *runState) imageRepo() string {
	if repo := envDefault(r.flags.push.image, "CI_IMAGE", ""); repo != "" {
		return repo
	}
	return "127.0.0.1:<port>/" + localRepo + " (Slipway's local registry, stored in " + filepath.Join(r.o.out, "registry") + ")"
}

// pushTags are the git-derived tags plus --tag.
func (r *runState) pushTags() []string {
	return append(r.version.Tags(), r.flags.push.tags...)
}

func writePlan(w io.Writer, d planDoc) {
	fmt.Fprintf(w, "Slipway plan for %s", d.Source)
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
	fmt.Fprintf(w, "\nWith --publish:\n  push   %s\n         tags %s (immutable: an existing tag never moves)\n",
		d.Push.Repository, orNone(strings.Join(d.Push.Tags, ", ")))
	fmt.Fprintf(w, "  deploy %s branch %s\n         file %s\n         commit %q\n",
		d.GitOps.Repository, d.GitOps.Branch, d.GitOps.File, d.GitOps.Subject)
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
