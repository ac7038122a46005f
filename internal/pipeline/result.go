package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/slipway-ci/slipway/internal/safetext"
)

// ResultFile is out/result.json: the machine-readable record of the runs
// that wrote to one out/ directory. Each invocation merges its stages in, so a
// split CI job (one `go run ./ci STAGE` per CI step) ends with one complete file.
const ResultFile = "result.json"

// SummaryFile is out/summary.md, the Markdown summary.
const SummaryFile = "summary.md"

// Result is the content of out/result.json.
type Result struct {
	Version int                    `json:"version"`
	Source  map[string]string      `json:"source,omitempty"` // commit, branch, version
	Stages  map[string]StageResult `json:"stages"`
	// Image is what the pipeline built and pushed: the facts later stages need.
	Image ImageResult `json:"image"`
	// Gate is the scan stage's verdict on one image digest; push reads it,
	// so the gate holds when stages run as separate jobs.
	Gate *GateResult `json:"gate,omitempty"`
	// Deploy is the GitOps commit a deploy stage made.
	Deploy *DeployResult `json:"deploy,omitempty"`
	// Updated is when a stage last wrote this file.
	Updated time.Time `json:"updated"`
}

// ImageResult is the built image.
type ImageResult struct {
	Tarball string   `json:"tarball,omitempty"` // out/image.tar
	Digest  string   `json:"digest,omitempty"`  // manifest digest of the built image
	Ref     string   `json:"ref,omitempty"`     // REPO@sha256:… once pushed
	Tags    []string `json:"tags,omitempty"`
	// Signature is the digest of the signature bundle attached and verified
	// after the push; SignedBy names the signer.
	Signature string `json:"signature,omitempty"`
	SignedBy  string `json:"signed_by,omitempty"`
}

// Gate verdicts.
const (
	GatePassed = "passed"
	GateFailed = "failed"
)

// GateResult is what the scan stage decided about one image.
type GateResult struct {
	Digest  string    `json:"digest"`  // the manifest digest that was scanned
	Verdict string    `json:"verdict"` // "passed" or "failed"
	Summary string    `json:"summary"` // e.g. "2 CRITICAL, 1 HIGH"
	Time    time.Time `json:"time"`
	// SkippedBy is the reason given with push --skip-gate, when push went
	// ahead without a passing verdict for this digest.
	SkippedBy string `json:"skipped_by,omitempty"`
}

// DeployResult is the GitOps commit.
type DeployResult struct {
	App         string `json:"app"`
	Environment string `json:"environment"`
	Commit      string `json:"commit"` // GitOps commit SHA, or "unchanged"
	Repo        string `json:"repo"`   // credentials stripped
}

// LoadResult reads out/result.json; a missing file is an empty result.
func LoadResult(outDir string) (*Result, error) {
	r := &Result{Version: 1, Stages: map[string]StageResult{}}
	data, err := os.ReadFile(filepath.Join(outDir, ResultFile))
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(outDir, ResultFile), err)
	}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("read %s: %w (delete it to start over)", filepath.Join(outDir, ResultFile), err)
	}
	if r.Stages == nil {
		r.Stages = map[string]StageResult{}
	}
	return r, nil
}

// Merge records stage results, replacing earlier results of the same stages.
func (r *Result) Merge(results []StageResult, now time.Time) {
	for _, s := range results {
		r.Stages[s.Name] = s
	}
	r.Updated = now.UTC()
}

// Save writes out/result.json atomically.
func (r *Result) Save(outDir string) error {
	if err := EnsureOut(outDir); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(outDir, ResultFile), append(data, '\n'))
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Ordered returns the recorded stages in the given order, then any others by name.
func (r *Result) Ordered(order []string) []StageResult {
	var out []StageResult
	seen := map[string]bool{}
	for _, n := range order {
		if s, ok := r.Stages[n]; ok {
			out = append(out, s)
			seen[n] = true
		}
	}
	var rest []string
	for n := range r.Stages {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	for _, n := range rest {
		out = append(out, r.Stages[n])
	}
	return out
}

// WriteTable prints the summary table for people.
func WriteTable(w io.Writer, results []StageResult) {
	fmt.Fprintf(w, "\n%-8s %-8s %9s  %s\n", "STAGE", "STATUS", "DURATION", "DETAILS")
	for _, s := range results {
		fmt.Fprintf(w, "%-8s %-8s %9s  %s\n", s.Name, s.Status, fmtDuration(s), safetext.String(detailLine(s)))
	}
}

// Markdown renders the summary for out/summary.md and $GITHUB_STEP_SUMMARY.
func Markdown(r *Result, results []StageResult) string {
	var b strings.Builder
	b.WriteString("## Slipway pipeline\n\n")
	if c := r.Source["commit"]; c != "" {
		fmt.Fprintf(&b, "Source commit `%s`", c)
		if br := r.Source["branch"]; br != "" {
			fmt.Fprintf(&b, " on `%s`", br)
		}
		b.WriteString("\n\n")
	}
	b.WriteString("| stage | status | duration | details |\n|---|---|---:|---|\n")
	for _, s := range results {
		icon := map[Status]string{Passed: "✅", Failed: "❌", Skipped: "⏭️"}[s.Status]
		fmt.Fprintf(&b, "| %s | %s %s | %s | %s |\n", s.Name, icon, s.Status, fmtDuration(s), strings.ReplaceAll(safetext.String(detailLine(s)), "|", `\|`))
	}
	if r.Image.Ref != "" {
		fmt.Fprintf(&b, "\nImage: `%s`\n", r.Image.Ref)
	} else if r.Image.Digest != "" {
		fmt.Fprintf(&b, "\nImage digest (not pushed): `%s`\n", r.Image.Digest)
	}
	if r.Deploy != nil {
		fmt.Fprintf(&b, "\nGitOps: %s → %s, commit `%s`\n", r.Deploy.App, r.Deploy.Environment, r.Deploy.Commit)
	}
	return b.String()
}

func fmtDuration(s StageResult) string {
	if s.Status == Skipped {
		return "-"
	}
	return time.Duration(s.Duration).Round(100 * time.Millisecond).String()
}

func detailLine(s StageResult) string {
	if s.Error != "" {
		line, _, _ := strings.Cut(s.Error, "\n")
		return line
	}
	keys := make([]string, 0, len(s.Details))
	for k := range s.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+s.Details[k])
	}
	return strings.Join(parts, " ")
}

// WriteSummary writes out/summary.md and appends it to $GITHUB_STEP_SUMMARY when set.
func WriteSummary(outDir string, md string) error {
	if err := EnsureOut(outDir); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(outDir, SummaryFile), []byte(md)); err != nil {
		return err
	}
	if p := os.Getenv("GITHUB_STEP_SUMMARY"); p != "" {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("write GITHUB_STEP_SUMMARY: %w", err)
		}
		defer f.Close()
		if _, err := io.WriteString(f, md+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// LineEvents prints one line per stage start and finish.
type LineEvents struct {
	W io.Writer
}

// StageStarted prints "==> lint started".
func (e LineEvents) StageStarted(name string) {
	fmt.Fprintf(e.W, "==> %s started\n", name)
}

// StageFinished prints "==> lint passed in 3.2s" (or the first line of the error).
func (e LineEvents) StageFinished(res StageResult) {
	switch res.Status {
	case Skipped:
		fmt.Fprintf(e.W, "==> %s skipped (%s)\n", res.Name, res.Error)
	case Failed:
		fmt.Fprintf(e.W, "==> %s failed after %s\n%s\n", res.Name, fmtDuration(res), indent(res.Error))
	default:
		fmt.Fprintf(e.W, "==> %s passed in %s\n", res.Name, fmtDuration(res))
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// Owners of the Result fields: a stage that ran replaces its fields, whatever
// its outcome; fields of stages that did not run are kept from the file.
const (
	ownerBuild  = "build"
	ownerPush   = "push"
	ownerScan   = "scan"
	ownerDeploy = "deploy"
)

// SaveMerged writes mine into outDir's result.json under an exclusive file
// lock, re-reading the file first: split runs that share out/ at the same
// time (a Jenkins parallel block running lint and test as two processes)
// each add their stages instead of overwriting each other's. ran lists the
// stages this run executed (their base names: build, push, scan, deploy own
// the image, gate and deploy records). It returns the merged result.
func SaveMerged(outDir string, mine *Result, results []StageResult, now time.Time) (*Result, error) {
	if err := EnsureOut(outDir); err != nil {
		return nil, err
	}
	unlock, err := lockFile(filepath.Join(outDir, ".result.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	cur, err := LoadResult(outDir)
	if err != nil {
		return nil, err
	}
	ran := map[string]bool{}
	for _, s := range results {
		ran[s.Name] = true
	}
	if ran[ownerBuild] {
		cur.Image = mine.Image
	}
	if ran[ownerPush] {
		cur.Image.Ref, cur.Image.Tags = mine.Image.Ref, mine.Image.Tags
		cur.Image.Signature, cur.Image.SignedBy = mine.Image.Signature, mine.Image.SignedBy
		if cur.Image.Tarball == "" {
			cur.Image.Tarball = mine.Image.Tarball
		}
	}
	if ran[ownerScan] || (ran[ownerPush] && mine.Gate != nil && mine.Gate.SkippedBy != "") {
		cur.Gate = mine.Gate
	}
	if ran[ownerDeploy] {
		cur.Deploy = mine.Deploy
	}
	if len(mine.Source) > 0 {
		cur.Source = mine.Source
	}
	cur.Merge(results, now)
	if err := cur.Save(outDir); err != nil {
		return nil, err
	}
	return cur, nil
}
