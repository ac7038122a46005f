package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/dora"
	"github.com/slipway-ci/slipway/internal/gitops"
	"github.com/slipway-ci/slipway/internal/gittest"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func sourceRepo(t testing.TB, n int) (string, []string) { return gittest.SourceRepo(t, n, t0) }

func img(n int) gitops.Image {
	return gitops.Image{Repo: "ghcr.io/acme/sample-app", Digest: fmt.Sprintf("sha256:%064x", n)}
}

// history builds a real GitOps history: deploys to development, staging and
// production, a rollback, a re-deployment and a break-glass deploy.
func history(t *testing.T) (Data, string) {
	src, shas := sourceRepo(t, 6)
	gdir := filepath.Join(t.TempDir(), "gitops.git")
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
	deploy(9*time.Hour, "production", 3, shas[5], "INC-7 hotfix")
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
		Metrics: dora.Compute(ctx, recs, &dora.GitSource{Dir: src}, dora.Options{Since: t0, Now: gen}),
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
		var fits bool
		b.eval(p, "document.documentElement.scrollWidth <= window.innerWidth + 1", &fits)
		if !fits {
			t.Errorf("%s: the page scrolls sideways", vp.name)
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
