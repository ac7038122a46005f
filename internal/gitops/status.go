package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slipway-ci/slipway/internal/render"
	"github.com/slipway-ci/slipway/internal/safetext"
	"github.com/slipway-ci/slipway/internal/usage"
)

// EnvStatus is what one environment runs now: the digest its manifest holds
// at the branch head, and the record that put that digest there.
type EnvStatus struct {
	App          string    `json:"app"`
	Env          string    `json:"env"`
	File         string    `json:"file"`
	Image        string    `json:"image"`                   // REPO@sha256:… from the manifest
	SourceCommit string    `json:"source_commit,omitempty"` // from the record that put Image there
	Deployed     time.Time `json:"deployed,omitempty"`      // that record's time
	Commit       string    `json:"commit,omitempty"`        // that record's GitOps commit
	// Observations are what Argo CD reported about that record's commit
	// (`wait`): the cluster runs it healthy, or not.
	Observations []Observation `json:"observations,omitempty"`
	// Actor is who made that record (Record.Who).
	Actor string `json:"actor,omitempty"`
	// SignatureBundle and SignedBy are that record's Signature-Bundle and
	// Signed-By: the signature a verified deploy checked (empty when the
	// deploy verified nothing).
	SignatureBundle string `json:"signature_bundle,omitempty"`
	SignedBy        string `json:"signed_by,omitempty"`
	// Signature is that record's commit signature state (Record.Signature).
	Signature string `json:"signature,omitempty"`
	// Note names what is not a plain forward deploy: "rollback", "revert of
	// <commit>", "<commit> was reverted", or that no record explains the digest.
	Note string `json:"note,omitempty"`
	// InvalidTrailers is that record's Record.InvalidTrailers: a
	// Source-Commit that named no commit leaves SourceCommit "".
	InvalidTrailers []string `json:"invalid_trailers,omitempty"`
}

// SourceText is the source commit for a table: its short name, "" when
// no record names it, or "invalid" when the record's Source-Commit trailer
// holds something that is not a commit's name.
func (s EnvStatus) SourceText() string {
	if slices.Contains(s.InvalidTrailers, trSource) {
		return "invalid"
	}
	return short(s.SourceCommit)
}

// Status reads what every environment runs at the branch head — every
// app and environment the layout (f.Layout, default APP/overlays/ENV) finds,
// through the resolver deploy uses — and explains each digest from the
// deploy records (the same walker as history and the guard). Manifests are
// the truth: a `git revert` or a hand edit shows as what it did, not as the
// last deploy commit said.
func Status(ctx context.Context, r *Remote, f Filter) ([]EnvStatus, error) {
	_, sts, err := historyAndStatus(ctx, r, f)
	return sts, err
}

// HistoryAndStatus is History (no filter) and Status (through layout,
// rendering charts with charts, as status and promote do) in one read of
// the repository and one walk of its log: what a report needs.
func HistoryAndStatus(ctx context.Context, r *Remote, layout string, charts render.ChartFunc) ([]Record, []EnvStatus, error) {
	return historyAndStatus(ctx, r, Filter{Layout: layout, Charts: charts})
}

func historyAndStatus(ctx context.Context, r *Remote, f Filter) ([]Record, []EnvStatus, error) {
	repo, headHash, err := r.readHead(ctx)
	if err != nil {
		return nil, nil, err
	}
	head, err := repo.CommitObject(headHash)
	if err != nil {
		return nil, nil, fmt.Errorf("status %s: %w", r, err)
	}
	tree, err := head.Tree()
	if err != nil {
		return nil, nil, fmt.Errorf("status %s: %w", r, err)
	}
	snap := &snapshot{repo: repo, head: head, tree: tree, remote: r}
	var all []Record
	if _, err := walkRecords(repo, headHash, func(rec Record) error {
		all = append(all, rec)
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("status %s: %w", r, err)
	}
	r.markSignatures(repo, all)
	fillReverts(all)
	notes, err := r.readNotes(ctx, repo)
	if err != nil {
		return nil, nil, err
	}
	attachNotes(all, notes)
	var out []EnvStatus
	envs := snap.layoutEnvs(ctx, f.Charts, f.Layout, all)
	start := time.Now()
	for i, e := range envs {
		if (f.App != "" && e.App != f.App) || (f.Env != "" && e.Env != f.Env) {
			continue
		}
		out = append(out, envStatusWithin(ctx, snap, all, e, f.Charts))
		if f.Progress != nil && time.Since(start) > ProgressAfter {
			fmt.Fprint(f.Progress, safetext.Sprintf("status: read %d/%d environments (%s/%s), %s so far\n", i+1, len(envs), e.App, e.Env, time.Since(start).Round(time.Second)))
		}
	}
	if err := ctx.Err(); err != nil {
		// Interrupted while rendering: rows of "context canceled" are no
		// status.
		return nil, nil, fmt.Errorf("status %s: %w", r, err)
	}
	if len(out) == 0 && (f.App != "" || f.Env != "") {
		if err := f.check(snap, all); err != nil {
			return nil, nil, fmt.Errorf("status: %w", err)
		}
		return nil, nil, usage.Errorf("status %s: no environment matches app %q env %q in layout %s (apps: %s)", r, f.App, f.Env, orDefault(f.Layout), orNone(layoutApps(envs)))
	}
	return all, out, nil
}

func orDefault(layout string) string {
	if layout == "" {
		return DefaultLayout
	}
	return layout
}

// EnvRenderLimit bounds the time status and the report spend rendering one
// environment: one app whose render takes minutes (a 20 MB ConfigMap) does
// not hold up the others; its row says "not rendered (took longer than
// 20s)".
var EnvRenderLimit = 20 * time.Second

// ProgressAfter is how long status reads before it reports progress
// (Filter.Progress).
var ProgressAfter = 5 * time.Second

// envStatusWithin is envStatus within EnvRenderLimit.
func envStatusWithin(ctx context.Context, snap *snapshot, all []Record, e envFile, charts render.ChartFunc) EnvStatus {
	ectx, cancel := context.WithTimeout(ctx, EnvRenderLimit)
	defer cancel()
	st := envStatus(ectx, snap, all, e, charts)
	if ctx.Err() == nil && errors.Is(ectx.Err(), context.DeadlineExceeded) {
		return EnvStatus{App: e.App, Env: e.Env, File: e.File, Note: fmt.Sprintf("not rendered (took longer than %s)", EnvRenderLimit)}
	}
	return st
}

func envStatus(ctx context.Context, snap *snapshot, all []Record, e envFile, charts render.ChartFunc) (st EnvStatus) {
	app, env, file := e.App, e.Env, e.File
	st = EnvStatus{App: app, Env: env, File: file}
	var mine []Record
	for _, rec := range all {
		if rec.App == app && rec.Env == env {
			mine = append(mine, rec)
		}
	}
	// What the environment renders is what it runs (a deploy through
	// --path into a base, a component or an Argo CD override shows there,
	// not in the layout's file); a file is read only where the render
	// cannot tell, and the note says so. The same reading as promote's.
	rd, err := snap.envImage(ctx, charts, file, file, app, env, nil, mine)
	img := rd.Image
	var fallback string
	switch {
	case err != nil && rd.Rendered:
		// What runs is not a digest (an override or overlay sets a tag),
		// whatever the file holds.
		st.Note = "not deployed by digest: " + firstLine(err.Error())
		return st
	case err != nil && rd.Unrendered == "" && !rd.Rendered:
		// Two images of the app in one render.
		st.Note = firstLine(err.Error())
		if img.Digest != "" {
			st.Image = img.String()
		}
		return st
	case err != nil:
		st.Note = "not deployed by digest (" + rd.Unrendered + ")"
		return st
	case rd.Rendered && rd.Differs != "":
		fallback = "rendered; " + rd.Differs
	case !rd.Rendered:
		fallback = "read from " + rd.File + ", not rendered: " + rd.Unrendered
	}
	st.Image = img.String()
	defer func() {
		if fallback != "" {
			st.Note = strings.TrimPrefix(st.Note+"; ", "; ") + fallback
		}
	}()
	for i, rec := range mine {
		if !rec.puts(img.Digest) {
			continue
		}
		st.SourceCommit, st.Deployed, st.Commit, st.Actor = rec.SourceCommit, rec.Time, rec.Commit, rec.Who()
		st.SignatureBundle, st.SignedBy, st.Signature = rec.SignatureBundle, rec.SignedBy, rec.Signature
		st.InvalidTrailers = rec.InvalidTrailers
		st.Observations = rec.Observations
		switch {
		case rec.Reverts != "":
			st.Note = "revert of " + short(rec.Reverts)
		case rec.RollbackOf != "":
			st.Note = "rollback of " + short(rec.RollbackOf)
		case rec.Rollback:
			st.Note = "rollback"
		}
		if i > 0 && mine[0].Reverts != "" && rec.Reverts == "" {
			st.Note = strings.TrimPrefix(st.Note+"; ", "; ") + short(mine[0].Reverts) + " was reverted in " + short(mine[0].Commit)
		}
		if p := pinNote(mine); p != "" {
			st.Note = strings.TrimPrefix(st.Note+"; ", "; ") + p
		}
		return st
	}
	st.Note = "no deploy record put this digest here (edited by hand?)"
	return st
}

// lastPath is the Path trailer of the environment's newest deploy record
// (the file it edited), or "".
func lastPath(mine []Record) string {
	for _, r := range mine {
		if r.IsDeploy() && !r.Reverted {
			return r.Path
		}
	}
	return ""
}

// pinNote names a pin in force: the newest deploy or unpin record decides.
func pinNote(mine []Record) string {
	for _, r := range mine {
		if r.Reverts != "" || r.Reverted {
			continue
		}
		if r.isControl() {
			return ""
		}
		if r.Pinned {
			return "pinned: " + orNoReason(r.Reason)
		}
		return ""
	}
	return ""
}

// WriteStatusTable prints Status for people.
func WriteStatusTable(w io.Writer, sts []EnvStatus) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tENV\tIMAGE\tSOURCE\tDEPLOYED\tCOMMIT\tACTOR\tRUNNING\tNOTE")
	for _, s := range sts {
		when := ""
		if !s.Deployed.IsZero() {
			when = s.Deployed.Format(time.RFC3339)
		}
		running := Record{Observations: s.Observations}.RunningText()
		note := s.Note
		if s.Signature == SignatureUnverified {
			note = strings.TrimSuffix(unverifiedNote+"; "+note, "; ")
		}
		fmt.Fprint(tw, safetext.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.App, s.Env, orDashStr(shortImage(s.Image)), orDashStr(s.SourceText()), orDashStr(when), orDashStr(short(s.Commit)), orDashStr(s.Actor), orDashStr(running), note))
	}
	return tw.Flush()
}

func orDashStr(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
