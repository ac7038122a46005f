package gitops

import (
	"bufio"
	"container/heap"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Record is one deployment, as the commit trailers tell it, or the revert of one.
type Record struct {
	Time         time.Time `json:"time"`
	App          string    `json:"app"`
	Env          string    `json:"env"`
	Image        string    `json:"image"`
	SourceCommit string    `json:"source_commit"`
	Commit       string    `json:"commit"`
	Author       string    `json:"author"`
	// Reverts is set on a `git revert` of a deploy commit: the commit it
	// undid. Image and SourceCommit are then what the environment runs again
	// (filled from the record before the reverted one, when known).
	Reverts string `json:"reverts,omitempty"`
	// Rollback marks a deploy of a source commit that does not contain the
	// running one (older or diverged), let through with --allow-rollback.
	Rollback bool `json:"rollback,omitempty"`
	// SourceDirty marks an image built from a modified working tree.
	SourceDirty bool `json:"source_dirty,omitempty"`
	// Reverted is true when a later commit reverted this deploy.
	Reverted bool `json:"reverted,omitempty"`
	// RollbackOf is the deploy commit a `rollback` undid.
	RollbackOf string `json:"rollback_of,omitempty"`
	// Reason is the reason given to rollback, unpin or --break-glass.
	Reason string `json:"reason,omitempty"`
	// Pinned: a rollback pins the environment until someone unpins it.
	Pinned bool `json:"pinned,omitempty"`
	// Unpin marks an `unpin` record (no image), or a deploy made with --unpin.
	Unpin bool `json:"unpin,omitempty"`
	// BreakGlass is the reason a deploy went through a freeze.
	BreakGlass string `json:"break_glass,omitempty"`
	// Fix marks a deploy made to repair a failed one (--fix): the deploy it
	// follows counts as a failure in DORA's change failure rate.
	Fix bool `json:"fix,omitempty"`
	// SignatureBundle is the digest of the Sigstore bundle whose signature
	// was verified before this deploy; SignedBy names its signer.
	SignatureBundle string `json:"signature_bundle,omitempty"`
	SignedBy        string `json:"signed_by,omitempty"`
	// Signature is whether the record's commit carries a signature of the
	// configured commit key (Remote.CommitKey): "verified", or
	// "unverified" for a commit that is unsigned or signed otherwise (a
	// forged record, or one from before signing). Empty: no key configured,
	// nothing checked.
	Signature string `json:"signature,omitempty"`
	// Observations are what Argo CD reported after the deploy (git notes
	// under NotesRef, written by `wait`): synced, healthy, or not; every
	// look, oldest first per Application (Latest is the newest of each).
	Observations []Observation `json:"observations,omitempty"`
	// Actor is who made the change, as the CI environment names them
	// (`Actor:` trailer; see Actor); "" on records older than the trailer.
	Actor string `json:"actor,omitempty"`
	// Path is the file the deploy edited (`Path:` trailer), recorded when
	// the deploy went through --path or a layout other than the default;
	// "" when it edited the default layout's file (or the record is older
	// than the trailer).
	Path string `json:"path,omitempty"`
	// InvalidTrailers names the trailers that must name a commit (40 or 64
	// lowercase hex) and hold something else (a hand-pushed or damaged
	// record): Source-Commit is then "" (unknown), never the junk cut to
	// look like a SHA; Rollback-Of keeps what it holds and shows "invalid".
	InvalidTrailers []string `json:"invalid_trailers,omitempty"`
}

// commitNameRE is a commit's object name: SHA-1 or SHA-256, as git writes it.
var commitNameRE = regexp.MustCompile(`^(?:[0-9a-f]{40}|[0-9a-f]{64})$`)

// IsCommitName reports whether s is a commit's object name (40 or 64
// lowercase hex).
func IsCommitName(s string) bool { return commitNameRE.MatchString(s) }

// sourceInvalid reports whether the record's Source-Commit trailer held
// something that is not a commit's name.
func (r Record) sourceInvalid() bool { return slices.Contains(r.InvalidTrailers, trSource) }

// sourceText is the record's source commit for a table: its short name,
// "unknown", or "invalid".
func (r Record) sourceText() string {
	if r.sourceInvalid() {
		return "invalid"
	}
	return short(orUnknown(r.SourceCommit))
}

// IsDeploy reports whether the record put an image into the environment (a
// deploy, a rollback; not a revert, not an unpin).
func (r Record) IsDeploy() bool { return r.Reverts == "" && r.Image != "" }

// IsRollback reports whether the record deliberately went back to an older
// build: `rollback`, or a deploy let through with --allow-rollback.
func (r Record) IsRollback() bool { return r.RollbackOf != "" || r.Rollback }

// Trailer keys of the contract.
const (
	trImage       = "Image"
	trSource      = "Source-Commit"
	trApp         = "App"
	trEnv         = "Environment"
	trPipelineRun = "Pipeline-Run"
	trDirty       = "Source-Dirty"
	trRollback    = "Rollback"
	trRollbackOf  = "Rollback-Of"
	trReason      = "Reason"
	trPinned      = "Pinned"
	trUnpin       = "Unpin"
	trBreakGlass  = "Break-Glass"
	trFix         = "Fix"
	trBundle      = "Signature-Bundle"
	trSignedBy    = "Signed-By"
	trActor       = "Actor"
	trPath        = "Path"
)

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Message renders the commit message of a deployment.
func Message(app, env string, img Image, sourceCommit, pipelineRun string) string {
	return message(messageFields{App: app, Env: env, Image: img, SourceCommit: sourceCommit, PipelineRun: pipelineRun})
}

type messageFields struct {
	App, Env     string
	Image        Image
	SourceCommit string
	PipelineRun  string
	Dirty        bool
	Rollback     bool
	RollbackOf   string
	Reason       string
	Pinned       bool
	Unpin        bool
	BreakGlass   string
	Fix          bool
	Verified     *Verification
	Actor        string
	Path         string
}

func message(m messageFields) string {
	run := m.PipelineRun
	if run == "" {
		run = "local"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "deploy(%s): %s -> sha256:%s\n\n%s: %s\n%s: %s\n%s: %s\n%s: %s\n%s: %s\n",
		m.App, m.Env, m.Image.Short(),
		trImage, m.Image.String(),
		trSource, orUnknown(m.SourceCommit),
		trApp, m.App,
		trEnv, m.Env,
		trPipelineRun, run)
	fmt.Fprintf(&b, "%s: %s\n", trActor, orUnknown(m.Actor))
	if m.Path != "" {
		fmt.Fprintf(&b, "%s: %s\n", trPath, oneLine(m.Path))
	}
	if m.Dirty {
		fmt.Fprintf(&b, "%s: true\n", trDirty)
	}
	if m.Rollback {
		fmt.Fprintf(&b, "%s: true\n", trRollback)
	}
	if m.RollbackOf != "" {
		fmt.Fprintf(&b, "%s: %s\n", trRollbackOf, m.RollbackOf)
	}
	if m.Pinned {
		fmt.Fprintf(&b, "%s: true\n", trPinned)
	}
	if m.Unpin {
		fmt.Fprintf(&b, "%s: true\n", trUnpin)
	}
	if m.Fix {
		fmt.Fprintf(&b, "%s: true\n", trFix)
	}
	if m.BreakGlass != "" {
		fmt.Fprintf(&b, "%s: %s\n", trBreakGlass, oneLine(m.BreakGlass))
	}
	if m.Reason != "" {
		fmt.Fprintf(&b, "%s: %s\n", trReason, oneLine(m.Reason))
	}
	if v := m.Verified; v != nil {
		fmt.Fprintf(&b, "%s: %s\n%s: %s\n", trBundle, v.Bundle, trSignedBy, oneLine(v.Signer))
	}
	return b.String()
}

// oneLine keeps a free-text trailer on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// controlMessage renders a record that changes no manifest: unpin.
func controlMessage(kind, app, env, reason, run, actor string) string {
	if run == "" {
		run = "local"
	}
	return fmt.Sprintf("%s(%s): %s\n\n%s: %s\n%s: %s\n%s: true\n%s: %s\n%s: %s\n%s: %s\n",
		kind, app, env, trApp, app, trEnv, env, trUnpin, trReason, oneLine(reason), trPipelineRun, run, trActor, orUnknown(actor))
}

// orUnknown: an actor nobody named is recorded as "unknown", not guessed.
func orUnknown(s string) string {
	if s = oneLine(s); s == "" {
		return "unknown"
	}
	return s
}

// trailers reads "Key: Value" lines of the message's last paragraph.
func trailers(msg string) map[string]string {
	msg = strings.TrimRight(msg, "\n")
	if i := strings.LastIndex(msg, "\n\n"); i >= 0 {
		msg = msg[i+2:]
	} else {
		return nil
	}
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(msg))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok || strings.ContainsAny(k, " \t") {
			continue
		}
		out[k] = strings.TrimSpace(v)
	}
	return out
}

// deploySubjectRE matches our subject, also as GitHub's squash merge leaves
// it ("deploy(app): env -> sha256:… (#12)").
var deploySubjectRE = regexp.MustCompile(`^deploy\(([^)]+)\): (\S+) -> sha256:[0-9a-f]{12}`)

// unpinSubjectRE matches an unpin record.
var unpinSubjectRE = regexp.MustCompile(`^unpin\(([^)]+)\): (\S+)\n`)

// revertRE matches `git revert` of a deploy commit.
var (
	revertSubjectRE = regexp.MustCompile(`^Revert "(?:Revert ")?deploy\(([^)]+)\): (\S+) -> sha256:[0-9a-f]{12}`)
	revertsRE       = regexp.MustCompile(`This reverts commit ([0-9a-f]{40})`)
)

// recordOf returns the deployment (or revert of one) a commit records. This is
// the only parser of deploy records: the guard, history, status and promote
// all read records through it and through walkRecords.
func recordOf(c *object.Commit) (Record, bool) {
	base := Record{
		Time:   c.Committer.When.UTC(),
		Commit: c.Hash.String(),
		Author: c.Author.Name + " <" + c.Author.Email + ">",
	}
	if m := revertSubjectRE.FindStringSubmatch(c.Message); m != nil {
		r := revertsRE.FindStringSubmatch(c.Message)
		if r == nil {
			return Record{}, false
		}
		base.App, base.Env, base.Reverts = m[1], m[2], r[1]
		return base, true
	}
	if m := unpinSubjectRE.FindStringSubmatch(c.Message); m != nil {
		t := trailers(c.Message)
		if t[trApp] != m[1] || t[trEnv] != m[2] {
			return Record{}, false
		}
		base.App, base.Env, base.Unpin, base.Reason = m[1], m[2], true, t[trReason]
		base.Actor = t[trActor]
		return base, true
	}
	if !deploySubjectRE.MatchString(c.Message) {
		return Record{}, false
	}
	t := trailers(c.Message)
	if t[trApp] == "" || t[trEnv] == "" || t[trImage] == "" {
		return Record{}, false
	}
	base.App, base.Env, base.Image, base.SourceCommit = t[trApp], t[trEnv], t[trImage], t[trSource]
	if base.SourceCommit == "unknown" {
		base.SourceCommit = "" // a deploy of an image nobody could name a commit for
	}
	base.SourceDirty = t[trDirty] == "true"
	base.Rollback = t[trRollback] == "true"
	base.RollbackOf, base.Reason, base.BreakGlass = t[trRollbackOf], t[trReason], t[trBreakGlass]
	base.Pinned, base.Unpin, base.Fix = t[trPinned] == "true", t[trUnpin] == "true", t[trFix] == "true"
	base.SignatureBundle, base.SignedBy = t[trBundle], t[trSignedBy]
	base.Actor = t[trActor]
	base.Path = t[trPath]
	if base.SourceCommit != "" && !IsCommitName(base.SourceCommit) {
		base.SourceCommit = ""
		base.InvalidTrailers = append(base.InvalidTrailers, trSource)
	}
	if base.RollbackOf != "" && !IsCommitName(base.RollbackOf) {
		base.InvalidTrailers = append(base.InvalidTrailers, trRollbackOf)
	}
	return base, true
}

// commitQueue orders commits newest first by committer time.
type commitQueue []*object.Commit

func (q commitQueue) Len() int { return len(q) }
func (q commitQueue) Less(i, j int) bool {
	return q[i].Committer.When.After(q[j].Committer.When)
}
func (q commitQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)   { *q = append(*q, x.(*object.Commit)) }
func (q *commitQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// errStopWalk ends a walk early without an error.
var errStopWalk = errors.New("stop walk")

// walkRecords visits every deploy record reachable from head through all
// parents (merge commits included: a promotion merged with --no-ff, squashed
// or rebased is found either way), newest first by committer time. Records
// that a later revert undid are visited with Reverted set. visit returns
// errStopWalk to stop. complete is false when the walk reached the edge of a
// shallow clone, so older records may exist.
func walkRecords(repo *git.Repository, head plumbing.Hash, visit func(Record) error) (complete bool, err error) {
	first, err := repo.CommitObject(head)
	if err != nil {
		return false, err
	}
	complete = true
	seen := map[plumbing.Hash]bool{head: true}
	reverted := map[string]bool{}
	q := &commitQueue{first}
	for q.Len() > 0 {
		c := heap.Pop(q).(*object.Commit)
		if rec, ok := recordOf(c); ok {
			if reverted[rec.Commit] {
				rec.Reverted = true
			} else if rec.Reverts != "" {
				reverted[rec.Reverts] = true
			}
			if err := visit(rec); err != nil {
				if errors.Is(err, errStopWalk) {
					return complete, nil
				}
				return complete, err
			}
		}
		for _, p := range c.ParentHashes {
			if seen[p] {
				continue
			}
			seen[p] = true
			pc, err := repo.CommitObject(p)
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				complete = false // the edge of a shallow clone
				continue
			}
			if err != nil {
				return complete, err
			}
			heap.Push(q, pc)
		}
	}
	return complete, nil
}

// Who is the record's Actor; for a record without the trailer (older than
// it, or a commit made by hand) the commit's author, marked as such.
func (r Record) Who() string {
	if r.Actor != "" {
		return r.Actor
	}
	return "author " + r.Author
}

// puts reports whether the record put digest into its environment (a
// deploy, a rollback, or a revert restoring it): the one rule status and
// promote use to explain what a manifest holds.
func (r Record) puts(digest string) bool { return strings.HasSuffix(r.Image, "@"+digest) }

// recordPutting is the newest of an environment's records (newest first)
// that put digest there, nil when none did (a hand edit).
func recordPutting(mine []Record, digest string) *Record {
	for i := range mine {
		if mine[i].puts(digest) {
			return &mine[i]
		}
	}
	return nil
}

// isControl: a record that changes no manifest (unpin).
func (r Record) isControl() bool { return r.Unpin && r.Image == "" }

// Actor names who made a change, from the CI environment, in this order:
// GitHub Actions' GITHUB_TRIGGERING_ACTOR (who started this run or re-run),
// then GITHUB_ACTOR; Jenkins' BUILD_USER_ID (the build-user-vars plugin);
// GitLab's GITLAB_USER_LOGIN; else gitEmail (`git config user.email` where
// Slipway runs, which the user asserts); else "unknown". The source is named
// with the value ("octocat (GitHub)"), so an auditor knows what vouches for it.
func Actor(getenv func(string) string, gitEmail func() string) string {
	for _, c := range []struct{ env, via string }{
		{"GITHUB_TRIGGERING_ACTOR", "GitHub"},
		{"GITHUB_ACTOR", "GitHub"},
		{"BUILD_USER_ID", "Jenkins"},
		{"GITLAB_USER_LOGIN", "GitLab"},
	} {
		if v := oneLine(getenv(c.env)); v != "" {
			return v + " (" + c.via + ")"
		}
	}
	if gitEmail != nil {
		if v := oneLine(gitEmail()); v != "" {
			return v + " (git config user.email)"
		}
	}
	return "unknown"
}

// PipelineRun is the CI run URL from the environment, or "local".
func PipelineRun(getenv func(string) string) string {
	if id := getenv("GITHUB_RUN_ID"); id != "" && getenv("GITHUB_REPOSITORY") != "" {
		server := getenv("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		u := fmt.Sprintf("%s/%s/actions/runs/%s", strings.TrimSuffix(server, "/"), getenv("GITHUB_REPOSITORY"), id)
		if a := getenv("GITHUB_RUN_ATTEMPT"); a != "" && a != "1" {
			u += "/attempts/" + a
		}
		return u
	}
	if u := getenv("BUILD_URL"); u != "" { // Jenkins
		return u
	}
	if u := getenv("CI_PIPELINE_URL"); u != "" { // GitLab
		return u
	}
	return "local"
}
