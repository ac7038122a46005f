package gitops

import (
	"context"
	"fmt"
	"path"
	"regexp"
)

// Promotion is `promote`: E1's deployed image and source commit go to E2.
type Promotion struct {
	App, From, To string
	SourceRepo    string
	AllowRollback bool
	// AllowUnknownSource: see Request.AllowUnknownSource.
	AllowUnknownSource bool
	// Unpin and BreakGlass: see Request.
	Unpin       bool
	BreakGlass  string
	ViaBranch   bool
	PipelineRun string
}

// PromoteOutcome adds where the promotion went.
type PromoteOutcome struct {
	*Outcome
	Image      Image  `json:"image"`
	Source     string `json:"source_commit"`
	CompareURL string `json:"compare_url,omitempty"`
}

// Promote reads what From runs (the digest from its manifest, the source
// commit from its last deploy record) and deploys it to To with the same
// guard, retry and trailers. ViaBranch pushes promote/APP/TO/<12 hex> instead
// of the main branch, for a reviewed pull request.
func (d *Deployer) Promote(ctx context.Context, p Promotion) (*PromoteOutcome, error) {
	d.defaults()
	if p.From == p.To {
		return nil, fmt.Errorf("promote %s: --from and --to are both %q", p.App, p.From)
	}
	snap, err := d.Remote.cloneBare(ctx, d.HistoryDepth)
	if err != nil {
		return nil, err
	}
	src := Request{App: p.App, Env: p.From}
	file, data, err := snap.resolveFile(src, d.Layout)
	if err != nil {
		return nil, err
	}
	rec, err := d.lastRecord(ctx, &snap, p.App, p.From)
	if err != nil {
		return nil, err
	}
	if rec == nil || !shaRE.MatchString(rec.SourceCommit) {
		return nil, fmt.Errorf("promote %s: %s has no deploy record with a Source-Commit (deploy it with `ci deploy` first)", p.App, p.From)
	}
	recorded, _ := ParseImage(rec.Image)
	img, err := currentImage(file, data, p.App, recorded.Repo)
	if err != nil {
		return nil, err
	}
	if rec.Image != img.String() {
		fmt.Fprintf(d.Log, "warning: %s's manifest holds %s but its last deploy record says %s (edited by hand?); promoting what the manifest holds\n", file, img, rec.Image)
	}
	req := Request{
		App: p.App, Env: p.To, Image: img, SourceCommit: rec.SourceCommit, SourceRepo: p.SourceRepo,
		AllowRollback: p.AllowRollback, AllowUnknownSource: p.AllowUnknownSource, PipelineRun: p.PipelineRun,
		SourceDirty: rec.SourceDirty, Unpin: p.Unpin, BreakGlass: p.BreakGlass,
	}
	if p.ViaBranch {
		req.PushBranch = path.Join("promote", p.App, p.To, img.Short())
	}
	out, err := d.Deploy(ctx, req)
	if err != nil {
		return nil, err
	}
	po := &PromoteOutcome{Outcome: out, Image: img, Source: rec.SourceCommit}
	if p.ViaBranch && !out.Unchanged {
		po.CompareURL = CompareURL(d.Remote.String(), d.Remote.Branch, req.PushBranch)
	}
	return po, nil
}

var githubRE = regexp.MustCompile(`^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)([^/]+)/([^/]+?)(?:\.git)?/?$`)

// CompareURL is GitHub's page to open a pull request for branch, or "".
func CompareURL(remote, base, branch string) string {
	m := githubRE.FindStringSubmatch(remote)
	if m == nil {
		return ""
	}
	return fmt.Sprintf("https://github.com/%s/%s/compare/%s...%s?expand=1", m[1], m[2], base, branch)
}
