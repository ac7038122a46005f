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
}

func (s *snapshot) runs(ctx context.Context, charts render.ChartFunc, root, app string, repos []string) (runs, error) {
	opts, err := s.renderOptions(ctx, charts, app, nil)
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
				return runs{Unrendered: root + " renders " + ref + ", not a digest reference"}, nil
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
