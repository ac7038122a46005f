package gitops

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/slipway-ci/slipway/internal/manifest"
	"github.com/slipway-ci/slipway/internal/render"
)

// runs is what an environment runs for an app: the image its rendered
// workloads reference, rendered from root the way the deploy proof renders
// it (kustomize, a chart, Argo CD's overrides). Unrendered says why the
// render could not tell ("" when it did); then Image is the zero value and
// the caller falls back to the layout's file, saying so. Two workloads of
// the app running different images is an error naming both.
type runs struct {
	Image      Image
	Unrendered string
	// Ref is what the app's workloads render when it is not a digest
	// reference (a tag an Argo CD override or an overlay sets): rendered,
	// and not deployed by digest.
	Ref string
}

func (s *snapshot) runs(ctx context.Context, charts render.ChartFunc, root, app, env string, repos []string) (runs, error) {
	opts, err := s.renderOptions(ctx, charts, app, env, nil)
	if err != nil {
		return runs{}, err
	}
	res, err := render.Render(ctx, s.fs(nil), root, opts)
	if err != nil {
		return runs{Unrendered: "cannot render " + root + ": " + firstLine(err.Error())}, nil
	}
	seen := map[string][]string{}
	for _, c := range res.Containers {
		if c.Container == app || manifest.MatchImage(app, c.Image, repos...) {
			seen[c.Image] = append(seen[c.Image], c.ID())
		}
	}
	switch len(seen) {
	case 0:
		why := "no workload of " + app + " in what " + root + " renders"
		if len(res.Opaque) > 0 {
			why += " (" + res.Opaque[0].ID + ": " + res.Opaque[0].Reason + ")"
		}
		return runs{Unrendered: why}, nil
	case 1:
		for ref := range seen {
			img, err := ParseImage(ref)
			if err != nil {
				return runs{Ref: ref}, nil
			}
			return runs{Image: img}, nil
		}
	}
	var all []string
	for ref, ids := range seen {
		all = append(all, ref+" in "+strings.Join(ids, ", "))
	}
	sort.Strings(all)
	return runs{}, fmt.Errorf("%s renders %s in more than one image: %s", root, app, strings.Join(all, "; "))
}

// envRead is what an environment runs for an app, as status, promote and
// the report read it (one function: envImage).
type envRead struct {
	Image Image
	// Rendered: Image is what the environment renders (else it was read
	// from File, and Unrendered says why the render could not tell).
	Rendered   bool
	File       string
	Unrendered string
	// Differs is the file's own digest when the render shows another
	// (a deploy through --path into a base, a component, an override).
	Differs string
}

// envImage reads what an environment runs: its render from root (the
// layout's file; what the deploy proof renders), else — where the render
// cannot tell — the file the environment's last deploy edited (its Path
// trailer), else file. An error names two images of the app in one render,
// or a file that holds no digest of it (rd.Unrendered then says why the
// render could not tell, and rd.Image is the file's digest where it has one).
func (s *snapshot) envImage(ctx context.Context, charts render.ChartFunc, root, file, app, env string, values *manifest.Values, mine []Record) (envRead, error) {
	var repos []string
	for _, r := range mine {
		if img, err := ParseImage(r.Image); err == nil {
			repos = append(repos, img.Repo)
		}
	}
	data, _ := s.readFile(file)
	img, err := currentImage(file, data, app, values, repos...)
	rn, rerr := s.runs(ctx, charts, root, app, env, repos)
	switch {
	case rerr != nil:
		rd := envRead{File: file}
		if err == nil {
			rd.Image = img
		}
		return rd, rerr
	case rn.Ref != "":
		// Rendered: the environment runs a reference that is not a digest.
		return envRead{Rendered: true, File: root}, fmt.Errorf("%s renders %s, not a digest reference", root, rn.Ref)
	case rn.Unrendered == "":
		rd := envRead{Image: rn.Image, Rendered: true, File: root}
		if err == nil && img != rn.Image {
			rd.Differs = file + " holds " + img.Short()
		}
		return rd, nil
	}
	rd := envRead{File: file, Unrendered: rn.Unrendered}
	if p := lastPath(mine); p != "" && p != file {
		if pdata, ok := s.readFile(p); ok {
			if pimg, perr := currentImage(p, pdata, app, values, repos...); perr == nil {
				img, err, rd.File = pimg, nil, p
			}
		}
	}
	if err != nil {
		return rd, err
	}
	rd.Image = img
	return rd, nil
}
