package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	sigyaml "sigs.k8s.io/yaml"

	"github.com/slipway-ci/slipway/internal/manifest"
	"github.com/slipway-ci/slipway/internal/render"
)

// ErrNoEffect refuses an edit that does not change what the cluster will
// run: rendered as Argo CD or Flux would, the app's workloads do not run the
// new digest (a shadowing images: entry, an overlay that overrides it, a
// HelmRelease the entry does not reach).
var ErrNoEffect = errors.New("refusing deploy: the edit renders no change")

// ErrDoesNotBuild refuses a deploy into an environment kustomize itself
// rejects, before the edit and after it (render.ErrRejected): the
// controller would fail to apply it too.
var ErrDoesNotBuild = errors.New("refusing deploy: the environment does not build")

// ErrBreaksRender refuses an edit after which the environment no longer renders.
var ErrBreaksRender = errors.New("refusing deploy: the edit breaks the render")

// Rendered is what the environment runs before and after the edit,
// rendered the way Argo CD or Flux would (kustomize, Helm, plain manifests).
type Rendered struct {
	Root string `json:"root"` // the file or directory rendered
	How  string `json:"how"`  // kustomize, helm, manifests
	// Workloads are the app's containers, with the image each ran before.
	Workloads []RenderedImage `json:"workloads"`
	// Unproven says why the render could not prove the change ("" when
	// it did): a chart that is not in the repository, a base it cannot read.
	Unproven string `json:"unproven,omitempty"`
}

// RenderedImage is one container of the app: its image before and after.
type RenderedImage struct {
	Workload string `json:"workload"` // Deployment/web container app
	Before   string `json:"before"`
	After    string `json:"after"`
}

// envRoot is the file an environment renders from: the layout's file for
// the app and environment, even when --path names another file to edit
// (a base, a component, a values file the environment uses); the edited
// file itself when the layout has none.
func (s *snapshot) envRoot(req Request, layout, file string) string {
	if req.Path == "" {
		return file
	}
	if layout == "" {
		layout = DefaultLayout
	}
	lp := LayoutPath(layout, req.App, req.Env)
	if _, ok := s.readFile(lp); ok {
		return lp
	}
	if isKustomizationFile(lp) {
		if k, _, ok := s.kustomizationIn(path.Dir(lp)); ok {
			return k
		}
	}
	return file
}

// prove renders the environment before and after the edit and checks that
// every container of the app now runs exactly req.Image. An edit that
// changes nothing the app runs is ErrNoEffect; one that leaves the
// environment unrenderable is ErrBreaksRender. What cannot be rendered here
// (a chart from a Helm repository) is reported in Unproven, not refused.
func (d *Deployer) prove(ctx context.Context, snap *snapshot, req Request, root string, edits map[string][]byte, ch Change) (*Rendered, error) {
	bopts, err := snap.renderOptions(ctx, d.Charts, req.App, req.Env, nil)
	if err != nil {
		return nil, err
	}
	aopts, err := snap.renderOptions(ctx, d.Charts, req.App, req.Env, edits)
	if err != nil {
		return nil, err
	}
	before, berr := render.Render(ctx, snap.fs(nil), root, bopts)
	after, aerr := render.Render(ctx, snap.fs(edits), root, aopts)
	if err := ctx.Err(); err != nil {
		// Interrupted while rendering: nothing is pushed.
		return nil, err
	}
	edited := ch.File
	if errors.Is(aerr, render.ErrUnusedComponent) {
		// A Component no kustomization lists: nothing the cluster runs
		// changes.
		return nil, fmt.Errorf("%s: %w: %s renders nothing: %v; deploy to a kustomization that lists it (--path, or the layout); nothing was pushed", edited, ErrNoEffect, root, firstLine(aerr.Error()))
	}
	if aerr != nil {
		if berr != nil && errors.Is(aerr, render.ErrRejected) {
			// kustomize rejects the environment: the controller will too.
			return nil, fmt.Errorf("%s: %w: %v; the controller rejects it too: fix the kustomization and deploy again; nothing was pushed", edited, ErrDoesNotBuild, firstLine(aerr.Error()))
		}
		if berr != nil {
			return &Rendered{Root: root, Unproven: "cannot render " + root + ": " + firstLine(aerr.Error())}, nil
		}
		return nil, fmt.Errorf("%s: %w: %s rendered before the edit and not after: %v; nothing was pushed", edited, ErrBreaksRender, root, firstLine(aerr.Error()))
	}
	repos := []string{req.Image.Repo}
	if b, err := ParseImage(ch.Before); err == nil {
		repos = append(repos, b.Repo)
	} else if ch.Before != "" {
		repos = append(repos, repoOf(ch.Before))
	}
	// The one matcher, ranked: only the strongest candidates present are
	// the app's (a vendor image sharing the app's last path segment is not).
	m := manifest.NewMatcher(req.App, req.ImageName, req.Image.Repo, repos[1:]...)
	rank := func(c render.Diff) int {
		return max(m.Container(c.Container.Container, c.Image), m.Container(c.Container.Container, c.Before))
	}
	diffs := render.Compare(before, after)
	best := 0
	for _, c := range diffs {
		best = max(best, rank(c))
	}
	out := &Rendered{Root: after.Root, How: after.How}
	var app, stale []render.Diff
	for _, c := range diffs {
		if r := rank(c); r == 0 || r < best {
			continue
		}
		app = append(app, c)
		out.Workloads = append(out.Workloads, RenderedImage{Workload: c.ID(), Before: c.Before, After: c.Image})
		if got, err := ParseImage(c.Image); err != nil || got != req.Image {
			stale = append(stale, c)
		}
	}
	if len(app) > 0 && len(stale) == 0 {
		return out, nil
	}
	if changed := opaqueChanged(before, after); changed != "" {
		out.Unproven = changed
		return out, nil
	}
	how := after.How + " build " + path.Dir(after.Root)
	if after.How != "kustomize" {
		how = after.How + " render of " + after.Root
	}
	if len(app) == 0 {
		var found []string
		for _, c := range after.Containers {
			found = append(found, c.ID()+" ("+c.Image+")")
		}
		for _, o := range after.Opaque {
			found = append(found, o.ID+" ("+o.Reason+")")
		}
		return nil, fmt.Errorf("%s: %w: no workload of %s in what %s renders (found: %s); nothing was pushed",
			edited, ErrNoEffect, req.App, how, orNone(found))
	}
	c := stale[0]
	wins := overrideFor(after.Overrides, c.Image)
	if wins == "" {
		wins = attribute(snap.fs(edits), after.Read, c.Image)
	}
	return nil, fmt.Errorf("%s: %w: %s still runs %s in %s%s, not %s; nothing was pushed",
		edited, ErrNoEffect, how, c.Image, c.ID(), wins, req.Image)
}

// pickEntry edits each of several images: entries that match the app
// equally (a kustomization and a Component's, or one renaming the image
// another would have matched) and proves each by render: the one whose
// edit makes the app run the digest is the edit. None: the first one's
// refusal (what wins instead). Several: refused, naming them.
func (d *Deployer) pickEntry(ctx context.Context, snap *snapshot, req Request, root, file string, data []byte, set manifest.Set, ch Change) ([]byte, Change, *Rendered, error) {
	type proven struct {
		edited []byte
		ch     Change
		r      *Rendered
	}
	var pass []proven
	var lines []string
	var firstErr error
	for _, line := range ch.Alternatives {
		s := set
		s.Line = line
		edited, c, err := EditSet(file, data, s)
		if err == nil && !c.Changed {
			continue // it holds the digest already: not the edit that changes what runs
		}
		var r *Rendered
		if err == nil {
			r, err = d.prove(ctx, snap, req, root, map[string][]byte{file: edited}, c)
		}
		if err != nil {
			if !errors.Is(err, ErrNoEffect) {
				return nil, Change{}, nil, err
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		pass = append(pass, proven{edited, c, r})
		lines = append(lines, fmt.Sprint(line))
	}
	switch len(pass) {
	case 0:
		if firstErr == nil {
			firstErr = fmt.Errorf("%s: %w: no images: entry of %s changes what renders (lines %s)", file, ErrNoEffect, req.App, joinInts(ch.Alternatives))
		}
		return nil, Change{}, nil, firstErr
	case 1:
		return pass[0].edited, pass[0].ch, pass[0].r, nil
	}
	return nil, Change{}, nil, fmt.Errorf("%s: refusing deploy: %w: the images: entries of %s at lines %s each make the render run %s; keep one of them, or pass --image-name with its name; nothing was pushed",
		file, manifest.ErrAmbiguous, req.App, strings.Join(lines, ", "), req.Image)
}

func joinInts(a []int) string {
	var s []string
	for _, n := range a {
		s = append(s, fmt.Sprint(n))
	}
	return strings.Join(s, ", ")
}

// opaqueChanged names an object the edit changed that cannot be rendered
// here, or "".
func opaqueChanged(before, after *render.Result) string {
	prev := map[string]string{}
	if before != nil {
		for _, o := range before.Opaque {
			prev[o.ID] = o.Content
		}
	}
	for _, o := range after.Opaque {
		if c, ok := prev[o.ID]; !ok || c != o.Content {
			return fmt.Sprintf("the edit changes %s, which Slipway cannot render: %s", o.ID, o.Reason)
		}
	}
	return ""
}

// attribute names what sets the image a workload still runs: the images:
// entry of a kustomization the render read, or a file holding the reference.
func attribute(fsys fs.FS, read []string, image string) string {
	repo := repoOf(image)
	tag, dig := "", ""
	if i := strings.Index(image, "@"); i >= 0 {
		dig = image[i+1:]
	}
	if r, _, _ := strings.Cut(image, "@"); len(r) > len(repo) {
		tag = strings.TrimPrefix(r[len(repo):], ":")
	}
	seen := map[string]bool{}
	var literal string
	for _, f := range read {
		if seen[f] {
			continue
		}
		seen[f] = true
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			continue
		}
		if isKustomizationFile(f) {
			if e := imagesEntryFor(data, repo, tag, dig); e != "" {
				return " (set by images[name=" + e + "] in " + f + ")"
			}
		}
		// A patch or values file sets it: the whole reference, or its digest.
		if literal == "" && (bytes.Contains(data, []byte(image)) || (dig != "" && bytes.Contains(data, []byte(dig)))) {
			literal = " (set in " + f + ")"
		}
	}
	return literal
}

// overrideFor names the Argo CD setting (an Application's, an override
// file's) that sets the image a workload still runs, or "". The last one
// applied wins, as in Argo CD.
func overrideFor(overs []render.Override, image string) string {
	repo := repoOf(image)
	ref, dig, _ := strings.Cut(image, "@")
	tag := ""
	if len(ref) > len(repo) {
		tag = strings.TrimPrefix(ref[len(repo):], ":")
	}
	for i := len(overs) - 1; i >= 0; i-- {
		o := overs[i]
		v := o.Value
		switch {
		case dig != "" && strings.Contains(v, dig),
			dig == "" && tag != "" && (strings.Contains(v, repo+":"+tag) || strings.HasSuffix(v, "="+tag) || strings.Contains(v, "tag="+tag+" ")),
			dig == "" && tag == "" && strings.Contains(v, repo):
			return " (set by " + o.String() + ")"
		}
	}
	return ""
}

func imagesEntryFor(data []byte, repo, tag, dig string) string {
	var k struct {
		Images []struct {
			Name    string `json:"name"`
			NewName string `json:"newName"`
			NewTag  string `json:"newTag"`
			Digest  string `json:"digest"`
		} `json:"images"`
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if sigyaml.Unmarshal(data, &k) != nil {
		return ""
	}
	for _, e := range k.Images {
		if firstNonEmpty(e.NewName, e.Name) != repo {
			continue
		}
		switch {
		case dig != "" && e.Digest == dig, dig == "" && tag != "" && e.NewTag == tag, dig == "" && tag == "" && e.Digest == "" && e.NewTag == "" && e.NewName == repo:
			return e.Name
		}
	}
	return ""
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}
