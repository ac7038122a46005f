// Package report renders Slipway's deployment report: one self-contained
// HTML file (no scripts, fonts or images from anywhere: inline CSS and SVG
// generated here) that a platform lead reads on a phone or prints. Per app
// and environment: the four DORA figures with their band, a timeline of
// deploys (rollbacks, re-deployments and break-glass marked by shape and
// label, not only colour), the lead-time distribution; what runs now in each
// environment; and the promotions waiting (what one environment runs that the
// next does not).
package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/template/parse"
	"time"

	"github.com/slipway-ci/slipway/internal/dora"
	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/natural"
	"github.com/slipway-ci/slipway/internal/safetext"
)

// Data is what the report shows.
type Data struct {
	Title     string
	Repo      string // the GitOps repository, credentials stripped
	Generated time.Time
	Metrics   []dora.Metrics
	Status    []gitops.EnvStatus
	Freezes   []gitops.Freeze
	// EnvOrder is the promotion order (default development, staging, production).
	EnvOrder []string
}

// Pending is a promotion waiting: From runs an image To does not.
type Pending struct {
	App, From, To    string
	FromImage        string
	ToImage          string
	FromSource       string
	FromDeployed     time.Time
	FromDeployedText string
}

type view struct {
	Data
	Blocks  []block
	Now     []nowRow
	Pending []Pending
	Freezes []freezeRow
}

type block struct {
	ID       string
	M        dora.Metrics
	Timeline template.HTML
	LeadHist template.HTML
	Figures  []figure
}

type figure struct {
	Name, Value, Band, Help string
}

type nowRow struct {
	gitops.EnvStatus
	Age    string
	Signed string
	// Cluster is committed → synced → healthy, as Argo CD reported it.
	Cluster string
}

// leadHelp says where lead time ends: at running (Argo CD healthy) when
// observed, else at the GitOps commit.
func leadHelp(l dora.LeadTime) string {
	switch {
	case l.ToRunning > 0 && l.ToCommitted == 0:
		return "commit → running (Argo CD synced and healthy), every commit shipped"
	case l.ToRunning > 0:
		return fmt.Sprintf("commit → running for %d deploys Argo CD reported healthy, → GitOps commit for %d not observed", l.ToRunning, l.ToCommitted)
	}
	return "commit → GitOps commit (no wait observed the cluster), every commit shipped"
}

// clusterTimeline is committed → synced → healthy for what an environment
// runs, from the observations `wait` recorded; "" when none.
func clusterTimeline(s gitops.EnvStatus) string {
	if len(s.Observations) == 0 || s.Deployed.IsZero() {
		return ""
	}
	rec := gitops.Record{Observations: s.Observations}
	var synced time.Time
	for _, o := range rec.Latest() {
		if o.SyncedAt.After(synced) {
			synced = o.SyncedAt
		}
	}
	out := "committed " + s.Deployed.UTC().Format(time.RFC3339)
	if !synced.IsZero() {
		out += " → synced " + synced.UTC().Format(time.RFC3339)
	}
	if at, ok, _ := rec.Running(); ok {
		return out + " → healthy " + at.UTC().Format(time.RFC3339)
	}
	return out + " → " + rec.RunningText()
}

type freezeRow struct {
	Env, Until, Reason, By string
}

// Write renders the report.
func Write(w io.Writer, d Data) error {
	if d.Title == "" {
		d.Title = "Slipway deployments"
	}
	if len(d.EnvOrder) == 0 {
		d.EnvOrder = []string{"development", "staging", "production"}
	}
	// Apps as people count them (app2 before app10), environments in
	// promotion order.
	rank := func(env string) int {
		for i, e := range d.EnvOrder {
			if e == env {
				return i
			}
		}
		return len(d.EnvOrder)
	}
	less := func(a1, e1, a2, e2 string) bool {
		switch {
		case a1 != a2:
			return natural.Less(a1, a2)
		case rank(e1) != rank(e2):
			return rank(e1) < rank(e2)
		}
		return natural.Less(e1, e2)
	}
	d.Metrics = append([]dora.Metrics(nil), d.Metrics...)
	sort.SliceStable(d.Metrics, func(i, j int) bool {
		return less(d.Metrics[i].App, d.Metrics[i].Env, d.Metrics[j].App, d.Metrics[j].Env)
	})
	d.Status = append([]gitops.EnvStatus(nil), d.Status...)
	sort.SliceStable(d.Status, func(i, j int) bool {
		return less(d.Status[i].App, d.Status[i].Env, d.Status[j].App, d.Status[j].Env)
	})
	v := view{Data: d}
	for i, m := range d.Metrics {
		v.Blocks = append(v.Blocks, block{
			ID: fmt.Sprintf("m%d", i), M: m,
			Timeline: timeline(fmt.Sprintf("t%d", i), m),
			LeadHist: leadHistogram(fmt.Sprintf("h%d", i), m),
			Figures: []figure{
				{"Deployment frequency", fmt.Sprintf("%.2f / day (%.1f / week, %d deploys)", m.PerDay, m.PerWeek, m.Deploys), m.Frequency, "deploys in the window"},
				{"Lead time for changes", hoursText(m.LeadTime.MedianHours, len(m.LeadTime.Hours)) + fmt.Sprintf(" median, %s p90 (%d commits)", hoursText(m.LeadTime.P90Hours, len(m.LeadTime.Hours)), m.LeadTime.Commits), m.LeadTime.Band, leadHelp(m.LeadTime)},
				{"Change failure rate", fmt.Sprintf("%.0f%% (%d of %d)", m.Failure.Rate*100, m.Failure.Failed, m.Deploys), m.Failure.Band, "deploys followed by a rollback, revert or fix, or that Argo CD never reported healthy"},
				{"Failed deployment recovery", hoursText(m.Recovery.MedianHours, m.Recovery.Count) + fmt.Sprintf(" median (%d recoveries)", m.Recovery.Count), m.Recovery.Band, "failed deploy → the deploy that restored service"},
			},
		})
	}
	for _, s := range d.Status {
		row := nowRow{EnvStatus: s, Signed: signedText(s), Cluster: clusterTimeline(s)}
		if !s.Deployed.IsZero() {
			row.Age = age(d.Generated.Sub(s.Deployed))
		}
		v.Now = append(v.Now, row)
	}
	v.Pending = pending(d.Status, d.EnvOrder)
	for _, f := range d.Freezes {
		v.Freezes = append(v.Freezes, freezeRow{Env: f.Env, Until: f.Until.Format(time.RFC3339), Reason: f.Reason, By: f.By})
	}
	return page.Execute(w, v)
}

// signedText says what the deploy record knows of the signature: a deploy
// that verified it records the bundle and the signer (Signature-Bundle,
// Signed-By); one that did not verify says nothing about whether the image
// is signed, and neither does the report.
func signedText(s gitops.EnvStatus) string {
	switch {
	case s.Signature == gitops.SignatureUnverified:
		// Its trailers cannot be trusted, Signed-By included.
		return "unverified record: its commit is not signed by the GitOps commit key"
	case s.SignedBy != "":
		return fmt.Sprintf("verified at deploy: signed by %s (bundle %s)", s.SignedBy, shortDigest(s.SignatureBundle))
	case s.Commit == "":
		return "unknown (no deploy record for this digest)"
	}
	return "not verified at deploy (no policy)"
}

func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12] + "…"
	}
	return d
}

// pending lists, per app, each environment whose image the next one in the
// promotion order does not run yet.
func pending(sts []gitops.EnvStatus, order []string) []Pending {
	rank := map[string]int{}
	for i, e := range order {
		rank[e] = i
	}
	byApp := map[string][]gitops.EnvStatus{}
	for _, s := range sts {
		if _, ok := rank[s.Env]; ok && s.Image != "" {
			byApp[s.App] = append(byApp[s.App], s)
		}
	}
	apps := make([]string, 0, len(byApp))
	for a := range byApp {
		apps = append(apps, a)
	}
	sort.Strings(apps)
	var out []Pending
	for _, a := range apps {
		envs := byApp[a]
		sort.Slice(envs, func(i, j int) bool { return rank[envs[i].Env] < rank[envs[j].Env] })
		for i := 0; i+1 < len(envs); i++ {
			from, to := envs[i], envs[i+1]
			if digestOf(from.Image) != digestOf(to.Image) {
				p := Pending{App: a, From: from.Env, To: to.Env, FromImage: from.Image, ToImage: to.Image, FromSource: from.SourceCommit, FromDeployed: from.Deployed}
				if slices.Contains(from.InvalidTrailers, "Source-Commit") {
					p.FromSource = "invalid"
				}
				if !from.Deployed.IsZero() {
					p.FromDeployedText = from.Deployed.Format(time.RFC3339)
				}
				out = append(out, p)
			}
		}
	}
	return out
}

func digestOf(image string) string {
	if i := strings.LastIndex(image, "@"); i >= 0 {
		return image[i+1:]
	}
	return image
}

func hoursText(h float64, n int) string {
	if n == 0 {
		return "n/a"
	}
	switch {
	case h < 1:
		return fmt.Sprintf("%.0f min", h*60)
	case h < 48:
		return fmt.Sprintf("%.1f h", h)
	}
	return fmt.Sprintf("%.1f days", h/24)
}

func age(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%.0f h", d.Hours())
	}
	return fmt.Sprintf("%.0f days", d.Hours()/24)
}

// marker shapes by kind: colour is never the only signal.
func marker(kind string, x, y float64) string {
	switch kind {
	case "rollback": // triangle pointing left
		return fmt.Sprintf(`<path class="k-rollback" d="M%.1f %.1f l9 -6 v12 z"/>`, x-4.5, y)
	case "redeploy": // square
		return fmt.Sprintf(`<rect class="k-redeploy" x="%.1f" y="%.1f" width="9" height="9"/>`, x-4.5, y-4.5)
	case "break-glass": // diamond
		return fmt.Sprintf(`<path class="k-break" d="M%.1f %.1f l6 6 l-6 6 l-6 -6 z"/>`, x, y-6)
	}
	return fmt.Sprintf(`<circle class="k-deploy" cx="%.1f" cy="%.1f" r="4.5"/>`, x, y)
}

// timeline draws the window with one marker per deploy.
func timeline(id string, m dora.Metrics) template.HTML {
	const w, h, pad = 640.0, 70.0, 20.0
	span := m.To.Sub(m.From).Seconds()
	if span <= 0 {
		span = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="%s-title %s-desc" class="chart"><title id="%s-title">Deploys of %s to %s over time</title><desc id="%s-desc">%d deploys from %s to %s: %d rollbacks, %d re-deployments, %d through a freeze.</desc>`,
		w, h, id, id, id, esc(m.App), esc(m.Env), id, m.Deploys, m.From.Format("2006-01-02"), m.To.Format("2006-01-02"), m.Rollbacks, len(m.Redeploys), len(m.BreakGlass))
	fmt.Fprintf(&b, `<line class="axis" x1="%.0f" y1="40" x2="%.0f" y2="40"/>`, pad, w-pad)
	fmt.Fprintf(&b, `<text x="%.0f" y="62" class="lbl">%s</text><text x="%.0f" y="62" class="lbl" text-anchor="end">%s</text>`, pad, m.From.Format("Jan 2"), w-pad, m.To.Format("Jan 2"))
	breakGlass := map[string]bool{}
	for _, e := range m.BreakGlass {
		breakGlass[e.Commit] = true
	}
	for _, e := range m.DeployTimes {
		x := pad + (w-2*pad)*math.Max(0, math.Min(1, e.Time.Sub(m.From).Seconds()/span))
		kind := e.Kind
		if breakGlass[e.Commit] {
			kind = "break-glass"
		}
		when := "committed " + e.Time.Format(time.RFC3339)
		if !e.SyncedAt.IsZero() {
			when += " → synced " + e.SyncedAt.UTC().Format(time.RFC3339)
		}
		if !e.HealthyAt.IsZero() {
			when += " → healthy " + e.HealthyAt.UTC().Format(time.RFC3339)
		} else if e.Cluster != "" {
			when += " → " + e.Cluster
		}
		fmt.Fprintf(&b, `<g><title>%s %s %s (source %s)</title>%s</g>`, kind, esc(when), esc(shortImage(e.Image)), esc(shortSHA(e.Source)), marker(kind, x, 30))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped values above
}

var leadBins = []struct {
	label string
	max   float64
}{{"< 1 h", 1}, {"1–6 h", 6}, {"6–24 h", 24}, {"1–7 days", 24 * 7}, {"> 7 days", math.Inf(1)}}

// leadHistogram draws the lead-time distribution as labelled bars.
func leadHistogram(id string, m dora.Metrics) template.HTML {
	counts := make([]int, len(leadBins))
	for _, h := range m.LeadTime.Hours {
		for i, bin := range leadBins {
			if h < bin.max {
				counts[i]++
				break
			}
		}
	}
	maxC := 1
	for _, c := range counts {
		if c > maxC {
			maxC = c
		}
	}
	const w, h = 640.0, 150.0
	var desc []string
	for i, bin := range leadBins {
		desc = append(desc, fmt.Sprintf("%s: %d", bin.label, counts[i]))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="%s-title %s-desc" class="chart"><title id="%s-title">Lead time for changes of %s in %s</title><desc id="%s-desc">Commits by lead time: %s.</desc>`,
		w, h, id, id, id, esc(m.App), esc(m.Env), id, strings.Join(desc, ", "))
	bw := (w - 40) / float64(len(leadBins))
	for i, bin := range leadBins {
		bh := 90 * float64(counts[i]) / float64(maxC)
		x := 20 + float64(i)*bw
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/><text class="lbl" x="%.1f" y="%.1f" text-anchor="middle">%d</text><text class="lbl" x="%.1f" y="140" text-anchor="middle">%s</text>`,
			x+6, 115-bh, bw-12, bh, x+bw/2, 110-bh, counts[i], x+bw/2, bin.label)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped values above
}

func shortImage(s string) string {
	if i := strings.LastIndex(s, "@sha256:"); i >= 0 && len(s) >= i+8+12 {
		return s[:i+8+12]
	}
	return s
}

// shortSHA is a commit's name cut to 12 characters; what is not one is
// never cut to look like one: it shows as "invalid".
func shortSHA(s string) string {
	switch {
	case gitops.IsCommitName(s):
		return s[:12]
	case s == "" || s == "unknown" || s == "invalid":
		return s
	}
	return "invalid"
}

// esc is s for HTML text built outside the template: every control,
// bidirectional and line-separator character written visibly (as history
// and status print it), then HTML-escaped.
func esc(s string) string {
	return template.HTMLEscapeString(safetext.String(s))
}

// visible is the last command of every printing action of the page (see
// everyActionVisible): text from the records (an actor, a freeze reason, a
// note) shows its control and bidirectional characters as escapes, the
// way history and status print them, instead of reaching the browser raw.
// HTML the report built itself is passed through (esc made it).
func visible(v any) any {
	if h, ok := v.(template.HTML); ok {
		return h
	}
	return safetext.Args(v)[0]
}

// everyActionVisible ends every printing action of t ({{.X}}, {{short .X}})
// with visible, so no field, present or added later, can skip it. It runs
// before the first Execute, so html/template's escaping comes after it.
func everyActionVisible(t *template.Template) *template.Template {
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			if len(n.Pipe.Decl) == 0 {
				n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: n.Pos,
					Args: []parse.Node{parse.NewIdentifier("visible").SetPos(n.Pos)}})
			}
		case *parse.IfNode:
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.List)
			walk(n.ElseList)
		}
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			walk(tt.Tree.Root)
		}
	}
	return t
}

var page = everyActionVisible(template.Must(template.New("report").Funcs(template.FuncMap{
	"visible": visible,
	"short":   shortSHA,
	"img":     shortImage,
	"rfc":     func(t time.Time) string { return t.Format(time.RFC3339) },
	"pct":     func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"upper":   strings.ToUpper,
	"cls":     func(b string) string { return strings.ReplaceAll(b, "/", "") },
	"nonzro":  func(t time.Time) bool { return !t.IsZero() },
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
:root { --fg:#1b1f24; --muted:#57606a; --line:#d0d7de; --bg:#fff; --elite:#1a7f37; --high:#0969da; --medium:#9a6700; --low:#cf222e; }
* { box-sizing: border-box; }
/* A long path, URL or digest (no space, no hyphen) wraps instead of widening the page past a phone's screen. */
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto; padding: 1rem; max-width: 60rem; overflow-wrap: anywhere; }
h1 { font-size: 1.5rem; margin: .2rem 0; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid var(--line); } h3 { font-size: 1.05rem; }
.muted, .lbl { color: var(--muted); fill: var(--muted); font-size: 12px; }
.figs { display: flex; flex-wrap: wrap; gap: .5rem; }
.fig { flex: 1 1 13rem; border: 1px solid var(--line); border-radius: 6px; padding: .5rem .7rem; }
.fig .v { font-size: 1.05rem; font-weight: 600; }
.band { display: inline-block; font-size: 12px; font-weight: 700; padding: 0 .4rem; border-radius: 1rem; border: 1px solid; }
.band-elite { color: var(--elite); } .band-high { color: var(--high); } .band-medium { color: var(--medium); } .band-low { color: var(--low); } .band-na { color: var(--muted); }
.chart { width: 100%; height: auto; max-height: 170px; }
.axis { stroke: var(--line); stroke-width: 2; }
.k-deploy { fill: var(--high); } .k-rollback { fill: var(--low); } .k-redeploy { fill: var(--medium); } .k-break { fill: #8250df; }
.bar { fill: var(--high); }
table { border-collapse: collapse; width: 100%; font-size: 13px; } caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { text-align: left; padding: .3rem .4rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td code { word-break: break-all; }
.legend { display: flex; flex-wrap: wrap; gap: .1rem 1rem; }
.legend span { white-space: nowrap; }
@media (max-width: 40rem) {
  body { padding: .5rem; }
  /* A phone shows each row as a card of label: value lines, so no column is cut or pushed off the screen. */
  table.rows, table.rows caption, table.rows tbody, table.rows tr, table.rows td { display: block; width: 100%; }
  table.rows thead, table.rows thead tr { display: block; position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
  table.rows tr { border-bottom: 1px solid var(--line); padding: .3rem 0; }
  table.rows td { border: 0; padding: .1rem 0; display: flex; gap: .5rem; overflow-wrap: anywhere; }
  table.rows td::before { content: attr(data-label); flex: 0 0 7rem; color: var(--muted); font-weight: 600; }
}
@media print { body { max-width: none; } .fig, section { break-inside: avoid; } a { color: inherit; } }
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<p class="muted">GitOps repository {{.Repo}} · generated {{rfc .Generated}} · every figure is computed from the deploy records (commit trailers) of that repository.</p>
</header>
<main>
{{if .Freezes}}<section aria-labelledby="freezes"><h2 id="freezes">Freezes in force</h2>
<table class="rows"><caption>Deploys and promotions into these environments are refused unless --break-glass</caption><thead><tr><th scope="col">Environment</th><th scope="col">Until</th><th scope="col">Reason</th><th scope="col">By</th></tr></thead><tbody>
{{range .Freezes}}<tr><td data-label="Environment">{{.Env}}</td><td data-label="Until">{{.Until}}</td><td data-label="Reason">{{.Reason}}</td><td data-label="By">{{.By}}</td></tr>{{end}}
</tbody></table></section>{{end}}
<section aria-labelledby="now"><h2 id="now">What runs now</h2>
<table class="rows"><caption>Read from the manifests at the branch head</caption><thead><tr><th scope="col">App</th><th scope="col">Environment</th><th scope="col">Image</th><th scope="col">Source commit</th><th scope="col">Age</th><th scope="col">Deployed by</th><th scope="col">Signed</th><th scope="col">In the cluster (Argo CD)</th><th scope="col">Note</th></tr></thead><tbody>
{{range .Now}}<tr><td data-label="App">{{.App}}</td><td data-label="Environment">{{.Env}}</td><td data-label="Image"><code>{{img .Image}}</code></td><td data-label="Source commit"><code>{{.SourceText}}</code></td><td data-label="Age">{{.Age}}</td><td data-label="Deployed by">{{.Actor}}</td><td data-label="Signed">{{.Signed}}</td><td data-label="In the cluster">{{if .Cluster}}{{.Cluster}}{{else}}not observed{{end}}</td><td data-label="Note">{{.Note}}</td></tr>{{else}}<tr><td colspan="9">No environments found.</td></tr>{{end}}
</tbody></table></section>
<section aria-labelledby="pending"><h2 id="pending">Pending promotions</h2>
{{if .Pending}}<table class="rows"><caption>What an environment runs that the next one does not</caption><thead><tr><th scope="col">App</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Waiting image</th><th scope="col">Deployed to the first</th><th scope="col">The second runs</th></tr></thead><tbody>
{{range .Pending}}<tr><td data-label="App">{{.App}}</td><td data-label="From">{{.From}}</td><td data-label="To">{{.To}}</td><td data-label="Waiting image"><span><code>{{img .FromImage}}</code> (source <code>{{short .FromSource}}</code>)</span></td><td data-label="Deployed to the first">{{.FromDeployedText}}</td><td data-label="The second runs"><code>{{img .ToImage}}</code></td></tr>{{end}}
</tbody></table>{{else}}<p>Nothing waits: every environment runs what the one before it runs.</p>{{end}}
</section>
<section aria-labelledby="dora"><h2 id="dora">DORA metrics</h2>
<p class="legend muted">Timeline markers: <span>● deploy</span><span>◀ rollback</span><span>■ re-deployment of a digest deployed before</span><span>◆ through a freeze (break-glass)</span></p>
{{range .Blocks}}<article aria-labelledby="{{.ID}}">
<h3 id="{{.ID}}">{{.M.App}} · {{.M.Env}}</h3>
<p class="muted">{{rfc .M.From}} – {{rfc .M.To}}{{if .M.WindowNote}} · {{.M.WindowNote}}{{end}}</p>
<div class="figs">{{range .Figures}}<div class="fig"><div class="muted">{{.Name}}</div><div class="v">{{.Value}}</div><span class="band band-{{cls .Band}}">{{upper .Band}}</span> <span class="muted">{{.Help}}</span></div>{{end}}</div>
{{.Timeline}}
{{.LeadHist}}
{{if .M.Redeploys}}<p>Re-deployments: {{range .M.Redeploys}}<code>{{img .Image}}</code> at {{rfc .Time}}; {{end}}</p>{{end}}
{{if .M.LeadTime.FutureDated}}<p>{{.M.LeadTime.FutureDated}} shipped commit(s) dated after their deploy give no lead time: {{range .M.LeadTime.FutureDatedCommits}}<code>{{short .}}</code> {{end}}</p>{{end}}
{{if .M.BreakGlass}}<p>Through a freeze: {{range .M.BreakGlass}}{{rfc .Time}} ({{.Note}}); {{end}}</p>{{end}}
</article>{{else}}<p>No deploys recorded in the window.</p>{{end}}
</section>
</main>
</body>
</html>
`)))
