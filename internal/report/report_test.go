package report

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slipway-ci/slipway/internal/dora"
	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/gittest"
	"github.com/slipway-ci/slipway/internal/safetext"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func sourceRepo(t testing.TB, n int) (string, []string) { return gittest.SourceRepo(t, n, t0) }

func img(n int) gitops.Image {
	return gitops.Image{Repo: "ghcr.io/acme/sample-app", Digest: fmt.Sprintf("sha256:%064x", n)}
}

// history builds a real GitOps history: deploys to development, staging and
// production, a rollback, a re-deployment and a break-glass deploy, in a
// repository whose path is long.
func history(t *testing.T) (Data, string) {
	src, shas := sourceRepo(t, 6)
	// A path without a break opportunity, longer than a phone is wide: the
	// report shows it and must still fit (whatever TMPDIR is).
	gdir := filepath.Join(t.TempDir(), strings.Repeat("x", 120), "gitops.git")
	if _, err := gitops.EnsureLocal(gdir, "../../sample-app/deploy", "sample-app", "main", t0); err != nil {
		t.Fatal(err)
	}
	r, _ := gitops.NewRemote(gdir, "main", func(string) string { return "" })
	now := t0
	d := &gitops.Deployer{Remote: r, Now: func() time.Time { return now }}
	ctx := context.Background()
	deploy := func(at time.Duration, env string, n int, sha, breakGlass string) {
		now = t0.Add(at)
		if _, err := d.Deploy(ctx, gitops.Request{App: "sample-app", Env: env, Image: img(n), SourceCommit: sha, SourceRepo: src, BreakGlass: breakGlass}); err != nil {
			t.Fatal(err)
		}
	}
	deploy(2*time.Hour, "development", 1, shas[1], "")
	deploy(3*time.Hour, "staging", 1, shas[1], "")
	deploy(4*time.Hour, "production", 1, shas[1], "")
	deploy(6*time.Hour, "development", 2, shas[3], "")
	deploy(7*time.Hour, "production", 2, shas[3], "")
	now = t0.Add(7*time.Hour + 30*time.Minute)
	if _, err := d.Rollback(ctx, gitops.RollbackRequest{App: "sample-app", Env: "production", Steps: 1, Reason: "5xx spike"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Unpin(ctx, "sample-app", "production", "fixed", ""); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(8 * time.Hour)
	if _, err := d.Freeze(ctx, gitops.FreezeRequest{Env: "production", Until: t0.Add(72 * time.Hour), Reason: "year-end close"}); err != nil {
		t.Fatal(err)
	}
	// The break-glass deploy verified its image under a policy: its record
	// carries Signature-Bundle and Signed-By.
	d.Verify = func(context.Context, gitops.Request) (*gitops.Verification, error) {
		return &gitops.Verification{Bundle: "sha256:d5c5" + strings.Repeat("0", 60), Signer: "key sha256:9b2e"}, nil
	}
	deploy(9*time.Hour, "production", 3, shas[5], "INC-7 hotfix")
	d.Verify = nil
	deploy(10*time.Hour, "development", 3, shas[5], "")
	recs, err := gitops.History(ctx, r, gitops.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	gen := t0.Add(12 * time.Hour)
	sts, err := gitops.Status(ctx, r, gitops.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	fz, err := gitops.Freezes(ctx, r, gen)
	if err != nil {
		t.Fatal(err)
	}
	return Data{
		Repo: r.String(), Generated: gen, Status: sts, Freezes: fz,
		// A 90-day window over a history of half a day, as `report` asks by
		// default: the window is clamped to the data.
		Metrics: dora.Compute(ctx, recs, &dora.GitSource{Dir: src}, dora.Options{Since: gen.Add(-90 * 24 * time.Hour), Now: gen}),
	}, r.String()
}

// The report loads in real headless Chromium with no console error and no
// network request, shows the expected figures, fits a phone, and is
// screenshotted as a test artifact.
func TestReportInChromium(t *testing.T) {
	b := startBrowser(t)
	data, _ := history(t)
	dir := os.Getenv("SLIPWAY_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	os.MkdirAll(dir, 0o755)
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(f, data); err != nil {
		t.Fatal(err)
	}
	f.Close()
	url := "file://" + page
	for _, vp := range []struct {
		name   string
		width  int
		mobile bool
	}{{"desktop", 1280, false}, {"phone", 390, true}} {
		p := b.open(url, vp.width, vp.mobile)
		if len(p.errors) > 0 {
			t.Errorf("%s: console errors: %v", vp.name, p.errors)
		}
		for _, u := range p.requests {
			if u != url {
				t.Errorf("%s: the page requested %s (it must load nothing)", vp.name, u)
			}
		}
		var text string
		b.eval(p, "document.body.innerText", &text)
		for _, want := range []string{
			"sample-app · production", "Deployment frequency", "Change failure rate", "25% (1 of 4)",
			"Failed deployment recovery", "30 min median (1 recoveries)", "year-end close", "INC-7 hotfix",
			"Pending promotions", "development", "ELITE", "LOW",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: the page does not show %q", vp.name, want)
			}
		}
		var svgs int
		b.eval(p, `document.querySelectorAll('svg[role=img] > title').length`, &svgs)
		if svgs != 2*len(data.Metrics) {
			t.Errorf("%s: %d titled charts, want %d", vp.name, svgs, 2*len(data.Metrics))
		}
		// The device's width, not innerWidth: a mobile browser widens its
		// layout viewport (and zooms out) to fit content wider than the screen.
		var pageWidth float64
		b.eval(p, "document.documentElement.scrollWidth", &pageWidth)
		if pageWidth > float64(vp.width)+1 {
			t.Errorf("%s: the page is %.0f px wide on a %d px screen", vp.name, pageWidth, vp.width)
		}
		// No table cell is cut or pushed off the screen.
		var cut []string
		b.eval(p, `[...document.querySelectorAll('table td, table caption')].filter(c => {
			const r = c.getBoundingClientRect();
			return r.width > 0 && (r.left < -1 || r.right > `+fmt.Sprint(vp.width)+` + 1 || c.scrollWidth > c.clientWidth + 1);
		}).map(c => (c.dataset.label || c.tagName) + ": " + c.innerText.slice(0, 40))`, &cut)
		if len(cut) > 0 {
			t.Errorf("%s: %d table cells reach past the screen or are cut, e.g. %q", vp.name, len(cut), cut[0])
		}
		checkTimelines(t, b, p, vp.name, data.Metrics)
		if !strings.Contains(text, "verified at deploy: signed by key sha256:9b2e") || strings.Contains(text, "not signed") {
			t.Errorf("%s: the Signed column does not say what the records say", vp.name)
		}
		shot := filepath.Join(dir, "report-"+vp.name+".png")
		b.screenshot(p, shot)
		t.Logf("screenshot: %s", shot)
	}
}

func TestPendingPromotions(t *testing.T) {
	sts := []gitops.EnvStatus{
		{App: "a", Env: "production", Image: "r@sha256:1"},
		{App: "a", Env: "staging", Image: "r@sha256:2", SourceCommit: "c2"},
		{App: "a", Env: "development", Image: "r@sha256:2"},
		{App: "b", Env: "development", Image: "r@sha256:5"},
		{App: "b", Env: "staging", Image: "r@sha256:5"},
	}
	got := pending(sts, []string{"development", "staging", "production"})
	if len(got) != 1 || got[0].App != "a" || got[0].From != "staging" || got[0].To != "production" || got[0].FromSource != "c2" {
		t.Errorf("pending %+v", got)
	}
}

// checkTimelines: every timeline marker sits where its deploy's time puts it
// on the axis (From at the left end, To at the right), in time order, and an
// environment with deploys at different times does not have them all at one
// edge.
func checkTimelines(t *testing.T, b *browser, p *pageLoad, vp string, ms []dora.Metrics) {
	t.Helper()
	var charts []struct {
		Title string
		Xs    []float64
	}
	b.eval(p, `[...document.querySelectorAll('svg.chart')].filter(s => s.querySelector('title').textContent.startsWith('Deploys of')).map(s => {
		const a = s.querySelector('line.axis').getBoundingClientRect();
		return {Title: s.querySelector('title').textContent, Xs: [...s.querySelectorAll('g > :not(title)')].map(m => {
			const r = m.getBoundingClientRect();
			return (r.left + r.width / 2 - a.left) / a.width;
		})};
	})`, &charts)
	if len(charts) != len(ms) {
		t.Fatalf("%s: %d timelines, want %d", vp, len(charts), len(ms))
	}
	for _, m := range ms {
		var xs []float64
		found := false
		for _, c := range charts {
			if c.Title == fmt.Sprintf("Deploys of %s to %s over time", m.App, m.Env) {
				xs, found = c.Xs, true
			}
		}
		if !found || len(xs) != len(m.DeployTimes) {
			t.Errorf("%s: %s/%s: %d markers, want %d", vp, m.App, m.Env, len(xs), len(m.DeployTimes))
			continue
		}
		span := m.To.Sub(m.From).Seconds()
		lo, hi := 1.0, 0.0
		for j, e := range m.DeployTimes {
			want := e.Time.Sub(m.From).Seconds() / span
			if got := xs[j]; math.Abs(got-want) > 0.02 {
				t.Errorf("%s: %s/%s: marker %d at %.3f of the axis, want %.3f (%s in %s – %s)", vp, m.App, m.Env, j, got, want, e.Time, m.From, m.To)
			}
			lo, hi = math.Min(lo, xs[j]), math.Max(hi, xs[j])
		}
		if len(m.DeployTimes) > 1 && hi-lo < 0.2 {
			t.Errorf("%s: %s/%s: all %d markers within %.0f%% of the axis (%.2f–%.2f)", vp, m.App, m.Env, len(m.DeployTimes), (hi-lo)*100, lo, hi)
		}
	}
}

// TestReportOrder: apps as people count them (app2 before app10), each
// app's environments in promotion order, in both tables and DORA blocks.
func TestReportOrder(t *testing.T) {
	var sts []gitops.EnvStatus
	var ms []dora.Metrics
	for _, app := range []string{"app11", "app2", "app10", "app1"} {
		for _, env := range []string{"production", "development", "staging"} {
			sts = append(sts, gitops.EnvStatus{App: app, Env: env, Image: "r@sha256:1"})
			ms = append(ms, dora.Metrics{App: app, Env: env, From: t0, To: t0.Add(time.Hour)})
		}
	}
	var b strings.Builder
	if err := Write(&b, Data{Generated: t0, Status: sts, Metrics: ms}); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	var order []string
	for _, app := range []string{"app1", "app2", "app10", "app11"} {
		for _, env := range []string{"development", "staging", "production"} {
			order = append(order, `<td data-label="App">`+app+`</td><td data-label="Environment">`+env+`<`, app+" · "+env+"<")
		}
	}
	last := -1
	for i := 0; i < len(order); i += 2 {
		at := strings.Index(html, order[i])
		if at < last {
			t.Errorf("%q is out of order in the status table", order[i])
		}
		last = at
	}
	last = -1
	for i := 1; i < len(order); i += 2 {
		at := strings.Index(html, order[i])
		if at < 0 || at < last {
			t.Errorf("%q is missing or out of order in the DORA blocks", order[i])
		}
		last = at
	}
}

// Text from the records (an actor, a freeze reason, a note, an app name,
// an image, a source commit) shows its control, bidirectional and
// line-separator characters as escapes, as history and status print them:
// no such character, nor a byte that is not UTF-8, reaches the page, in the
// tables, the DORA blocks or the SVG charts.
func TestReportShowsControlCharactersEscaped(t *testing.T) {
	var hostile []rune
	for r := rune(0); r < 0xa0; r++ {
		if safetext.Unsafe(r) {
			hostile = append(hostile, r)
		}
	}
	hostile = append(hostile, 0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0xfeff)
	h := "x" + string(hostile) + "\xff" + "\x1b[2Kresult: ok\u202e\a"
	ev := dora.Event{Time: t0, Commit: h, Image: "r@sha256:" + h, Source: h, Note: h, Kind: "deploy", Cluster: h}
	d := Data{
		Title: h, Repo: h, Generated: t0.Add(48 * time.Hour),
		Status: []gitops.EnvStatus{
			{App: h, Env: "production", Image: "r@sha256:" + h, SourceCommit: h, Commit: h, Actor: h, Note: h, SignedBy: h, SignatureBundle: h, Deployed: t0},
			{App: h, Env: "staging", Image: "r@sha256:1" + h, SourceCommit: h, Actor: h, Deployed: t0},
		},
		Freezes: []gitops.Freeze{{Env: h, Until: t0.Add(time.Hour), Reason: h, By: h}},
		Metrics: []dora.Metrics{{App: h, Env: h, From: t0, To: t0.Add(time.Hour), WindowNote: h, Deploys: 1,
			Redeploys: []dora.Event{ev}, BreakGlass: []dora.Event{ev}, DeployTimes: []dora.Event{ev},
			LeadTime: dora.LeadTime{FutureDated: 1, FutureDatedCommits: []string{h}}}},
	}
	var b strings.Builder
	if err := Write(&b, d); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if !utf8.ValidString(page) {
		t.Error("the page holds bytes that are not UTF-8")
	}
	for i, r := range page {
		if r != '\n' && safetext.Unsafe(r) {
			t.Errorf("raw U+%04X at byte %d: …%q…", r, i, page[max(0, i-40):min(len(page), i+40)])
		}
	}
	for _, want := range []string{`\u001b[2Kresult: ok\u202e\u0007`, `<td data-label="Reason">x\u0000`, `\xff`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
