package gitops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"sigs.k8s.io/yaml"

	"github.com/slipway-ci/slipway/internal/usage"
)

// ErrPinned is returned for a deploy or promotion into a pinned environment.
var ErrPinned = errors.New("environment is pinned")

// ErrFrozen is returned for a deploy or promotion into a frozen environment.
var ErrFrozen = errors.New("environment is frozen")

// ErrBadFreezeFile means the freeze file cannot be read; deploys are refused
// (fail closed) until it is fixed or --break-glass is given.
var ErrBadFreezeFile = errors.New("malformed freeze file")

// FreezeFile is where freezes live in the GitOps repository: one source of
// truth that Argo CD users and reviewers can read too.
const FreezeFile = ".slipway/freeze.yaml"

// Freeze stops deploys and promotions into an environment until a time.
type Freeze struct {
	Env    string    `json:"env"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

type freezeDoc struct {
	Freezes []Freeze `json:"freezes"`
}

// envState is what the records say of one environment.
type envState struct {
	last *Record // the effective deploy
	pin  *Record // the rollback that pinned it, when no unpin followed
}

// findState walks the records for an environment: its effective deploy, and
// whether a rollback pinned it (an unpin record or a deploy with --unpin
// after the pin lifts it).
func findState(repo *git.Repository, head plumbing.Hash, app, env string) (envState, bool, error) {
	var st envState
	unpinned := false
	complete, err := walkRecords(repo, head, func(r Record) error {
		if r.App != app || r.Env != env || r.Reverts != "" || r.Reverted {
			return nil
		}
		if r.isControl() {
			unpinned = true
			return nil
		}
		rec := r
		st.last = &rec
		if r.Pinned && !unpinned {
			st.pin = &rec
		}
		return errStopWalk
	})
	if err != nil {
		return envState{}, false, err
	}
	return st, complete || st.last != nil, nil
}

// freezes reads the freeze file at the snapshot's working tree.
func (s *snapshot) freezes() ([]Freeze, error) {
	data, ok := s.readFile(FreezeFile)
	if !ok {
		return nil, nil
	}
	return parseFreezes(data)
}

func parseFreezes(data []byte) ([]Freeze, error) {
	var doc freezeDoc
	if err := yaml.UnmarshalStrict(data, &doc); err != nil {
		return nil, fmt.Errorf("%w %s: %w (want freezes: [{env, until, reason, by, at}])", ErrBadFreezeFile, FreezeFile, err)
	}
	for i := range doc.Freezes {
		f := &doc.Freezes[i]
		switch low := strings.ToLower(f.Env); {
		case f.Env == "":
			return nil, fmt.Errorf("%w %s: freezes[%d] has no env (the environment to freeze)", ErrBadFreezeFile, FreezeFile, i)
		case nameRE.MatchString(low):
			// Environment names are lowercase, so a hand-written
			// "Staging" can only mean staging: freeze it.
			f.Env = low
		default:
			return nil, fmt.Errorf("%w %s: freezes[%d].env %q: want an environment name (lowercase letters, digits, . _ -)", ErrBadFreezeFile, FreezeFile, i, f.Env)
		}
		if f.Until.IsZero() {
			return nil, fmt.Errorf("%w %s: freezes[%d] (%s) has no until (RFC 3339, e.g. 2026-12-27T08:00:00Z)", ErrBadFreezeFile, FreezeFile, i, f.Env)
		}
	}
	return doc.Freezes, nil
}

// activeFreeze is the freeze in force for env at now, if any.
func activeFreeze(fs []Freeze, env string, now time.Time) *Freeze {
	for i := range fs {
		if fs[i].Env == env && now.Before(fs[i].Until) {
			return &fs[i]
		}
	}
	return nil
}

// control refuses a deploy into a pinned or frozen environment.
func (d *Deployer) control(req Request, snap *snapshot, st envState) error {
	if st.pin != nil && !req.Unpin && !req.Pinned {
		p := st.pin
		return fmt.Errorf("%w: %s/%s was pinned to %s by %s at %s (rollback of %s: %s); a deploy would move it on. Lift the pin with `unpin --app %s --env %s --reason …`, or pass --unpin",
			ErrPinned, req.App, req.Env, shortImage(p.Image), p.Author, p.Time.Format(time.RFC3339), short(p.RollbackOf), orNoReason(p.Reason), req.App, req.Env)
	}
	if req.Pinned { // a rollback restores service: freezes do not stop it
		return nil
	}
	fs, err := snap.freezes()
	if err != nil {
		if req.BreakGlass != "" {
			fmt.Fprintf(d.Log, "warning: %v; deploying anyway (--break-glass)\n", err)
			return nil
		}
		return fmt.Errorf("%w; fix it in the GitOps repository, or pass --break-glass \"REASON\"", err)
	}
	if len(fs) == 0 {
		return nil
	}
	if f := activeFreeze(fs, req.Env, d.Now()); f != nil {
		if req.BreakGlass != "" {
			fmt.Fprintf(d.Log, "warning: %s is frozen until %s (%s); deploying anyway: --break-glass %q (recorded)\n", req.Env, f.Until.Format(time.RFC3339), f.Reason, req.BreakGlass)
			return nil
		}
		return fmt.Errorf("%w: %s is frozen until %s by %s (%s); deploys and promotions wait, or pass --break-glass \"REASON\" (recorded in the commit)",
			ErrFrozen, req.Env, f.Until.Format(time.RFC3339), f.By, orNoReason(f.Reason))
	}
	return nil
}

func orNoReason(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// change is one control commit: the file it writes (or "" for none) and its message.
type change struct {
	file    string
	content []byte
	msg     string
	noop    bool // nothing to do (already frozen the same way, not pinned)
}

// commitChange writes a control commit (freeze, unfreeze, unpin) with the
// same compare-and-swap and retry budget as deploys.
func (d *Deployer) commitChange(ctx context.Context, what string, build func(*snapshot) (change, error)) (string, error) {
	d.defaults()
	deadline := time.Now().Add(d.RetryTimeout)
	var snap *snapshot
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			if time.Now().After(deadline) {
				return "", fmt.Errorf("%s in %s: %w (--retry-timeout %s)", what, d.Remote, ErrConflict, d.RetryTimeout)
			}
			if err := sleep(ctx, d.backoff(attempt)); err != nil {
				return "", err
			}
		}
		var err error
		if snap == nil {
			snap, err = d.Remote.cloneBare(ctx, 0)
		} else {
			err = snap.refresh(ctx)
		}
		if err != nil {
			return "", err
		}
		ch, err := build(snap)
		if err != nil {
			return "", err
		}
		if ch.noop {
			return "", nil
		}
		tree := snap.tree.Hash
		var objs []plumbing.Hash
		if ch.file != "" {
			tree, objs, err = snap.writeFile(ch.file, ch.content)
			if err != nil {
				return "", fmt.Errorf("write %s: %w", ch.file, err)
			}
		}
		sig := object.Signature{Name: d.AuthorName, Email: d.AuthorEmail, When: d.Now()}
		h, err := snap.commit(tree, ch.msg, sig, d.Signer)
		if err != nil {
			return "", err
		}
		if err := snap.push(ctx, append(objs, h), d.Remote.Branch, snap.head.Hash, h); err != nil {
			if isConflict(err) {
				continue
			}
			return "", err
		}
		return h.String(), nil
	}
}

// FreezeRequest freezes or unfreezes an environment.
type FreezeRequest struct {
	Env         string
	Until       time.Time // Freeze only
	Reason      string
	PipelineRun string
}

// Freeze records a freeze of an environment in FreezeFile, replacing an
// earlier one for it and dropping expired ones. It returns the commit.
func (d *Deployer) Freeze(ctx context.Context, req FreezeRequest) (string, error) {
	d.defaults()
	if err := checkName("environment", req.Env); err != nil {
		return "", err
	}
	if !req.Until.After(d.Now()) {
		return "", usage.Errorf("--until %s is not in the future", req.Until.Format(time.RFC3339))
	}
	if strings.TrimSpace(req.Reason) == "" {
		return "", usage.Errorf("--reason is required: say why the environment is frozen")
	}
	return d.commitChange(ctx, "freeze "+req.Env, func(s *snapshot) (change, error) {
		// A freeze of an environment that does not exist (a typo) would
		// protect nothing while saying it does.
		if err := d.checkEnv(s, req.Env); err != nil {
			return change{}, err
		}
		fs, err := s.freezes()
		if err != nil {
			return change{}, err
		}
		now := d.Now()
		keep := []Freeze{}
		for _, f := range fs {
			if f.Env != req.Env && now.Before(f.Until) {
				keep = append(keep, f)
			}
		}
		keep = append(keep, Freeze{Env: req.Env, Until: req.Until.UTC(), Reason: oneLine(req.Reason), By: orUnknown(d.Actor), At: now.UTC().Truncate(time.Second)})
		sort.Slice(keep, func(i, j int) bool { return keep[i].Env < keep[j].Env })
		data, err := renderFreezes(keep)
		if err != nil {
			return change{}, err
		}
		msg := fmt.Sprintf("freeze(%s): until %s\n\n%s: %s\nUntil: %s\n%s: %s\n%s: %s\n%s: %s\n", req.Env, req.Until.UTC().Format(time.RFC3339),
			trEnv, req.Env, req.Until.UTC().Format(time.RFC3339), trReason, oneLine(req.Reason), trPipelineRun, orLocal(req.PipelineRun), trActor, orUnknown(d.Actor))
		return change{file: FreezeFile, content: data, msg: msg}, nil
	})
}

// Unfreeze lifts an environment's freeze; "" when it was not frozen.
func (d *Deployer) Unfreeze(ctx context.Context, req FreezeRequest) (string, error) {
	d.defaults()
	if err := checkName("environment", req.Env); err != nil {
		return "", err
	}
	return d.commitChange(ctx, "unfreeze "+req.Env, func(s *snapshot) (change, error) {
		fs, err := s.freezes()
		if err != nil {
			return change{}, err
		}
		frozen := false
		for _, f := range fs {
			frozen = frozen || f.Env == req.Env
		}
		if !frozen {
			if err := d.checkEnv(s, req.Env); err != nil {
				return change{}, err
			}
		}
		now := d.Now()
		keep := []Freeze{}
		found := false
		for _, f := range fs {
			switch {
			case f.Env == req.Env:
				found = found || now.Before(f.Until)
			case now.Before(f.Until):
				keep = append(keep, f)
			}
		}
		if !found {
			return change{noop: true}, nil
		}
		data, err := renderFreezes(keep)
		if err != nil {
			return change{}, err
		}
		msg := fmt.Sprintf("unfreeze(%s)\n\n%s: %s\n%s: %s\n%s: %s\n%s: %s\n", req.Env, trEnv, req.Env, trReason, oneLine(orNoReason(req.Reason)), trPipelineRun, orLocal(req.PipelineRun), trActor, orUnknown(d.Actor))
		return change{file: FreezeFile, content: data, msg: msg}, nil
	})
}

func renderFreezes(fs []Freeze) ([]byte, error) {
	data, err := yaml.Marshal(freezeDoc{Freezes: fs})
	if err != nil {
		return nil, err
	}
	return append([]byte("# Environment freezes, written by `slipway freeze` / `unfreeze`: while an\n# entry's until is in the future, deploys and promotions into env are refused\n# unless --break-glass. Edit through those commands (every change is a commit).\n"), data...), nil
}

func orLocal(s string) string {
	if s == "" {
		return "local"
	}
	return s
}

// Freezes lists the freezes in force at now.
func Freezes(ctx context.Context, r *Remote, now time.Time) ([]Freeze, error) {
	repo, h, err := r.readHead(ctx)
	if err != nil {
		return nil, err
	}
	c, err := repo.CommitObject(h)
	if err != nil {
		return nil, err
	}
	t, err := c.Tree()
	if err != nil {
		return nil, err
	}
	s := &snapshot{repo: repo, head: c, tree: t, remote: r}
	fs, err := s.freezes()
	if err != nil {
		return nil, err
	}
	var out []Freeze
	for _, f := range fs {
		if now.Before(f.Until) {
			out = append(out, f)
		}
	}
	return out, nil
}

// Unpin lifts a rollback's pin with its own record; "" when not pinned.
func (d *Deployer) Unpin(ctx context.Context, app, env, reason, run string) (string, error) {
	d.defaults()
	if err := checkName("app", app); err != nil {
		return "", err
	}
	if err := checkName("environment", env); err != nil {
		return "", err
	}
	if strings.TrimSpace(reason) == "" {
		return "", usage.Errorf("--reason is required: say why the pin is lifted")
	}
	return d.commitChange(ctx, "unpin "+app+"/"+env, func(s *snapshot) (change, error) {
		st, _, err := findState(s.repo, s.head.Hash, app, env)
		if err != nil {
			return change{}, err
		}
		if st.pin == nil {
			if st.last == nil {
				if err := d.checkKnown(s, app, env); err != nil {
					return change{}, err
				}
			}
			return change{noop: true}, nil
		}
		return change{msg: controlMessage("unpin", app, env, reason, run, d.Actor)}, nil
	})
}

// RollbackRequest deploys an earlier digest of an environment on purpose.
type RollbackRequest struct {
	App, Env string
	To       *Image // a digest deployed there before; nil: Steps back
	Steps    int    // how many distinct earlier digests back (default 1)
	Reason   string
	// AllowUnknown lets To be a digest never deployed in the environment
	// (SourceCommit must then be given).
	AllowUnknown bool
	SourceCommit string
	PipelineRun  string
	// Path is the environment's file instead of the layout's (Request.Path).
	Path string
}

// Rollback deploys an earlier digest (from the environment's history) with
// Rollback-Of, Reason and Pinned trailers. The environment stays pinned:
// deploys and promotions are refused until someone unpins it.
func (d *Deployer) Rollback(ctx context.Context, rr RollbackRequest) (*Outcome, error) {
	d.defaults()
	if err := checkName("app", rr.App); err != nil {
		return nil, err
	}
	if err := checkName("environment", rr.Env); err != nil {
		return nil, err
	}
	if strings.TrimSpace(rr.Reason) == "" {
		return nil, usage.Errorf("rollback: --reason is required: say why (it is recorded, and shown with the pin)")
	}
	if rr.Steps < 0 {
		return nil, usage.Errorf("rollback: --steps %d: want 1 or more distinct digests back", rr.Steps)
	}
	recs, err := History(ctx, d.Remote, Filter{App: rr.App, Env: rr.Env})
	if err != nil {
		return nil, err
	}
	var deploys []Record
	for _, r := range recs {
		if r.IsDeploy() && !r.Reverted {
			deploys = append(deploys, r)
		}
	}
	if len(deploys) == 0 {
		return nil, d.noDeploys(ctx, rr.App, rr.Env)
	}
	current := deploys[0]
	cur, _ := ParseImage(current.Image)
	var target *Record
	if rr.To != nil {
		for i := range deploys {
			if strings.HasSuffix(deploys[i].Image, "@"+rr.To.Digest) {
				target = &deploys[i]
				break
			}
		}
		if target == nil {
			if !rr.AllowUnknown {
				return nil, fmt.Errorf("rollback %s/%s: %s was never deployed there; pass --allow-unknown (with --source-commit) to deploy it anyway", rr.App, rr.Env, rr.To)
			}
			if !shaRE.MatchString(rr.SourceCommit) {
				return nil, usage.Errorf("rollback %s/%s: --allow-unknown needs --source-commit (40 hex) for %s", rr.App, rr.Env, rr.To)
			}
			target = &Record{Image: rr.To.String(), SourceCommit: rr.SourceCommit}
		}
	} else {
		steps := rr.Steps
		if steps <= 0 {
			steps = 1
		}
		seen := map[string]bool{cur.Digest: true}
		n := 0
		for i := range deploys {
			img, err := ParseImage(deploys[i].Image)
			if err != nil || seen[img.Digest] {
				continue
			}
			seen[img.Digest] = true
			n++
			if n == steps {
				target = &deploys[i]
				break
			}
		}
		if target == nil {
			return nil, fmt.Errorf("rollback %s/%s: --steps %d goes past the first deploy (%d earlier digests recorded)", rr.App, rr.Env, steps, n)
		}
	}
	img, err := ParseImage(target.Image)
	if err != nil {
		return nil, err
	}
	if img.Digest == cur.Digest {
		return nil, fmt.Errorf("rollback %s/%s: it already runs %s", rr.App, rr.Env, img)
	}
	return d.Deploy(ctx, Request{
		App: rr.App, Env: rr.Env, Image: img, SourceCommit: target.SourceCommit,
		AllowRollback: true, AllowUnknownSource: true, PipelineRun: rr.PipelineRun,
		RollbackOf: current.Commit, Reason: rr.Reason, Pinned: true, Path: rr.Path,
		command: "rollback",
	})
}

// checkKnown refuses an app or environment the repository does not know
// (by its manifests at the head and its records).
func (d *Deployer) checkKnown(s *snapshot, app, env string) error {
	var recs []Record
	if _, err := walkRecords(s.repo, s.head.Hash, func(r Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		return err
	}
	apps, envs := knownNames(s, d.Layout, recs)
	if !contains(apps, app) {
		return unknown("app", app, d.Remote, apps)
	}
	if !contains(envs, env) {
		return unknown("environment", env, d.Remote, envs)
	}
	return nil
}

// noDeploys explains a rollback with nothing to roll back: a name that
// exists nowhere is a usage error naming what does; an environment that
// exists with no deploy recorded is a refusal.
func (d *Deployer) noDeploys(ctx context.Context, app, env string) error {
	snap, err := d.Remote.cloneBare(ctx, 0)
	if err == nil {
		if err := d.checkKnown(snap, app, env); err != nil {
			return fmt.Errorf("rollback %s/%s: %w", app, env, err)
		}
	}
	return fmt.Errorf("rollback %s/%s: no deploy recorded there (apps and environments: see `history`)", app, env)
}

// checkEnv refuses an environment neither the manifests (by the layout) nor
// the records know. When nothing is known at all (a new repository whose
// layout Slipway was not told), there is nothing to check a name against:
// it says so and lets the name through.
func (d *Deployer) checkEnv(s *snapshot, env string) error {
	var recs []Record
	if _, err := walkRecords(s.repo, s.head.Hash, func(r Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		return err
	}
	_, envs := knownNames(s, d.Layout, recs)
	switch {
	case contains(envs, env):
		return nil
	case len(envs) == 0:
		fmt.Fprintf(d.Log, "warning: %s has no environment Slipway can see (no manifest at the layout %q, no deploy record): %q is not checked\n", d.Remote, orDefault(d.Layout), env)
		return nil
	}
	return unknown("environment", env, d.Remote, envs)
}
