package gitops

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/slipway-ci/slipway/internal/manifest"
	"github.com/slipway-ci/slipway/internal/usage"
)

// Promotion is `promote`: E1's deployed image and source commit go to E2.
type Promotion struct {
	App, From, To string
	SourceRepo    string
	// Values are the Helm value paths of both environments (see Request.Values).
	Values        *manifest.Values
	AllowRollback bool
	// AllowUnknownSource: see Request.AllowUnknownSource.
	AllowUnknownSource bool
	// Unpin and BreakGlass: see Request.
	Unpin       bool
	BreakGlass  string
	ViaBranch   bool
	PipelineRun string
	// SourceCommit, when set, is the commit From's digest was built from,
	// for a digest no deploy record put there (a hand edit); a record that
	// did put it there must agree with it.
	SourceCommit string
	// FromPath and ToPath, when set, are the files of From and To instead
	// of the layout's (Request.Path).
	FromPath, ToPath string
}

// ErrHandEdit is a promotion refused because no deploy record put the
// digest into the source environment, so its source commit is unknown.
var ErrHandEdit = errors.New("refusing promote")

// ErrPromoteUnknownSource is a promotion refused because the deploy record
// that put the digest into the source environment says its source commit
// is unknown (a deploy with --allow-unknown-source).
var ErrPromoteUnknownSource = errors.New("refusing promote")

func orUnknownCommit(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// envRecords are the deploy records of app in env (reverts filled in with
// what they restored), newest first, read with the one walker over the
// whole history (a shallow snapshot is replaced by a full one when the walk
// reaches its edge).
func (d *Deployer) envRecords(ctx context.Context, snap **snapshot, app, env string) ([]Record, error) {
	for {
		s := *snap
		var mine []Record
		complete, err := walkRecords(s.repo, s.head.Hash, func(r Record) error {
			if r.App == app && r.Env == env {
				mine = append(mine, r)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if complete || s.depth == 0 {
			fillReverts(mine)
			return mine, nil
		}
		next, err := d.Remote.cloneBare(ctx, 0)
		if err != nil {
			return nil, err
		}
		*snap = next
	}
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
	for _, n := range [][2]string{{"app", p.App}, {"environment", p.From}, {"environment", p.To}} {
		if err := checkName(n[0], n[1]); err != nil {
			return nil, fmt.Errorf("promote: %w", err)
		}
	}
	if p.From == p.To {
		return nil, usage.Errorf("promote %s: --from and --to are both %q", p.App, p.From)
	}
	snap, err := d.Remote.cloneBare(ctx, d.HistoryDepth)
	if err != nil {
		return nil, err
	}
	src := Request{App: p.App, Env: p.From, Path: p.FromPath}
	if err := src.validatePath(); err != nil {
		return nil, err
	}
	file, _, err := snap.resolveFile(src, d.Layout)
	if err != nil {
		return nil, err
	}
	last, err := d.lastRecord(ctx, &snap, p.App, p.From)
	if err != nil {
		return nil, err
	}
	mine, err := d.envRecords(ctx, &snap, p.App, p.From)
	if err != nil {
		return nil, err
	}
	// Promote what From runs, read as status reads it (envImage): what
	// its environment renders (a deploy through --path into a base, a
	// component or an Argo CD override is there, not in the layout's
	// file); a file only where the render cannot tell, saying so.
	root := snap.envRoot(src, d.Layout, file)
	rd, err := snap.envImage(ctx, d.Charts, root, file, p.App, p.From, p.Values, mine)
	switch {
	case err != nil && rd.Rendered:
		return nil, fmt.Errorf("promote %s: refusing: %s runs no digest: %w; nothing was pushed", p.App, p.From, err)
	case err != nil && rd.Unrendered == "":
		return nil, fmt.Errorf("promote %s: refusing: %w; nothing was pushed", p.App, err)
	case err != nil:
		return nil, err
	case rd.Rendered && rd.Differs != "":
		fmt.Fprintf(d.Log, "note: %s renders %s; %s: promoting what %s runs\n", root, rd.Image, rd.Differs, p.From)
	case !rd.Rendered:
		fmt.Fprintf(d.Log, "warning: %s not rendered (%s); promoting what %s holds\n", p.From, rd.Unrendered, rd.File)
	}
	img := rd.Image
	fromFile := file
	file = rd.File
	// The record that put this digest here, by the rule status uses: its
	// source commit is the digest's. None: the manifest was edited by hand,
	// and nothing Slipway holds says what the digest was built from.
	put := recordPutting(mine, img.Digest)
	var source string
	var dirty bool
	known := put != nil && shaRE.MatchString(put.SourceCommit)
	switch {
	case known && p.SourceCommit != "" && p.SourceCommit != put.SourceCommit:
		return nil, fmt.Errorf("promote %s: --source-commit %s contradicts the deploy record %s, which put %s into %s as built from %s", p.App, p.SourceCommit, short(put.Commit), img, p.From, put.SourceCommit)
	case known:
		source, dirty = put.SourceCommit, put.SourceDirty
		if last != nil && put.Commit != last.Commit && put.Reverts == "" {
			fmt.Fprintf(d.Log, "warning: %s holds %s, which record %s put there, not the last record %s (edited by hand back to it?); promoting it with that record's Source-Commit %s\n", file, img, short(put.Commit), short(last.Commit), short(source))
		}
	case put != nil && p.SourceCommit != "":
		// The record that put it there says its source is unknown
		// (deploy --allow-unknown-source): the user states it now.
		source, dirty = p.SourceCommit, put.SourceDirty
		fmt.Fprintf(d.Log, "note: deploy record %s put %s into %s with %s; promoting it as built from %s (--source-commit)\n", short(put.Commit), img, p.From, unknownSourceWhy(*put), short(source))
	case put != nil:
		return nil, fmt.Errorf("%w: the deploy record %s that put %s into %s records %s: which commit it was built from is unknown; pass --source-commit SHA (the commit it was built from)", ErrPromoteUnknownSource, short(put.Commit), img, p.From, unknownSourceWhy(*put))
	case p.SourceCommit != "":
		source = p.SourceCommit
		fmt.Fprintf(d.Log, "warning: no deploy record put %s into %s's %s (edited by hand?); promoting it as built from %s (--source-commit)\n", img, p.From, file, short(source))
	case last == nil:
		return nil, fmt.Errorf("promote %s: %s has no deploy record with a Source-Commit (deploy it with `ci deploy` first, or pass --source-commit SHA, the commit %s was built from)", p.App, p.From, img)
	default:
		return nil, fmt.Errorf("%w: %s's %s holds %s, which no deploy record put there (edited by hand; the last record, %s, deployed %s from %s): nothing says which commit it was built from; pass --source-commit SHA (the commit it was built from), or deploy it with `deploy`", ErrHandEdit, p.From, file, img, short(last.Commit), last.Image, short(last.SourceCommit))
	}
	req := Request{
		App: p.App, Env: p.To, Image: img, SourceCommit: source, SourceRepo: p.SourceRepo,
		AllowRollback: p.AllowRollback, AllowUnknownSource: p.AllowUnknownSource, PipelineRun: p.PipelineRun,
		SourceDirty: dirty, Unpin: p.Unpin, BreakGlass: p.BreakGlass, Values: p.Values, Path: p.ToPath,
		command: "promote",
	}
	if req.Path == "" {
		if to := snap.siblingPath(p.App, p.From, p.To, d.Layout, fromFile, lastPath(mine)); to != "" {
			fmt.Fprintf(d.Log, "note: %s was deployed through %s; promoting through %s\n", p.From, lastPath(mine), to)
			req.Path = to
		}
	}
	if p.ViaBranch {
		req.PushBranch = path.Join("promote", p.App, p.To, img.Short())
	}
	out, err := d.Deploy(ctx, req)
	if err != nil {
		return nil, err
	}
	po := &PromoteOutcome{Outcome: out, Image: img, Source: source}
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

// siblingPath is To's counterpart of the file From's last deploy edited
// through --path inside From's environment directory (Flux's
// apps/staging/podinfo-values.yaml next to apps/staging/kustomization.yaml:
// apps/prod/podinfo-values.yaml), when To's directory holds it; else "".
func (s *snapshot) siblingPath(app, from, to, layout, fromFile, deployed string) string {
	if deployed == "" || deployed == fromFile || !strings.Contains(orDefault(layout), "{env}") {
		return ""
	}
	fromDir := path.Dir(LayoutPath(layout, app, from))
	toDir := path.Dir(LayoutPath(layout, app, to))
	if fromDir == toDir || !strings.HasPrefix(deployed, fromDir+"/") {
		return ""
	}
	cand := path.Join(toDir, strings.TrimPrefix(deployed, fromDir+"/"))
	if _, ok := s.readFile(cand); !ok {
		return ""
	}
	return cand
}

// unknownSourceWhy says why a record's source commit is unknown: the deploy
// said so (--allow-unknown-source), or its Source-Commit trailer is not a
// commit's name (written by hand, or damaged).
func unknownSourceWhy(r Record) string {
	if r.sourceInvalid() {
		return "a Source-Commit that is not a commit's name (invalid: a hand-written or damaged record)"
	}
	return "Source-Commit: " + orUnknownCommit(r.SourceCommit) + " (deployed with --allow-unknown-source)"
}
