package gitops

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/slipway-ci/slipway/internal/usage"
)

// TestFreezeEntryNames: a freeze file entry is judged by what is wrong with
// it. An environment spelled with capitals (`env: Staging`, a hand edit)
// freezes that environment, the only one it can mean; an entry whose env is
// missing, not a name, or whose until is missing fails closed with a message
// naming that field and value, never "needs env and until" for an entry that
// has both.
func TestFreezeEntryNames(t *testing.T) {
	r := rand.New(rand.NewSource(15))
	until := "2030-01-02T03:04:05Z"
	for i := 0; i < 300; i++ {
		env := randomEnvSpelling(r)
		doc := fmt.Sprintf("freezes:\n- env: %q\n  until: %s\n  reason: x\n", env, until)
		fs, err := parseFreezes([]byte(doc))
		low := strings.ToLower(env)
		switch {
		case nameRE.MatchString(low):
			if err != nil || len(fs) != 1 || fs[0].Env != low {
				t.Errorf("env %q: %+v, %v; want the freeze of %q", env, fs, err, low)
			}
		default:
			if !errors.Is(err, ErrBadFreezeFile) || !strings.Contains(err.Error(), fmt.Sprintf("%q", env)) || strings.Contains(err.Error(), "needs env and until") {
				t.Errorf("env %q: %v; want a malformed-file error naming the value", env, err)
			}
		}
	}
	for _, c := range []struct{ doc, want string }{
		{"freezes: [{until: " + until + "}]\n", "freezes[0] has no env"},
		{"freezes: [{env: staging}]\n", "freezes[0] (staging) has no until"},
		{"freezes: [{env: production, until: " + until + "}, {env: Prod/1, until: " + until + "}]\n", `freezes[1].env "Prod/1"`},
	} {
		if _, err := parseFreezes([]byte(c.doc)); !errors.Is(err, ErrBadFreezeFile) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v; want %q", c.doc, err, c.want)
		}
	}
}

// randomEnvSpelling is a valid environment name in random case, or, one time
// in three, a string with characters no name has.
func randomEnvSpelling(r *rand.Rand) string {
	letters := []rune("abcdefghijklmnopqrstuvwxyz0123456789-._")
	if r.Intn(3) == 0 {
		letters = append(letters, []rune("/ :é~")...)
	}
	n := 1 + r.Intn(12)
	var b strings.Builder
	for i := 0; i < n; i++ {
		c := letters[r.Intn(len(letters))]
		if r.Intn(2) == 0 {
			c = unicode.ToUpper(c)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// TestFreezeEntryCapitalisedEnvFreezes: a hand-written `env: Staging`
// freezes staging and nothing else.
func TestFreezeEntryCapitalisedEnvFreezes(t *testing.T) {
	dir, r := localGitOps(t)
	src, shas := sourceRepo(t, 2)
	now := time.Date(2026, 12, 20, 10, 0, 0, 0, time.UTC)
	d := &Deployer{Remote: r, Now: func() time.Time { return now }}
	ctx := context.Background()
	wt := workClone(t, dir)
	if err := os.MkdirAll(filepath.Join(wt, ".slipway"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wt, FreezeFile), []byte("freezes:\n- env: Staging\n  until: 2026-12-27T08:00:00Z\n  reason: audit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitCLI(t, wt, "add", ".")
	gitCLI(t, wt, "commit", "-qm", "hand edit")
	gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "staging", Image: digest(1), SourceCommit: shas[1], SourceRepo: src}); !errors.Is(err, ErrFrozen) {
		t.Fatalf("deploy into staging under `env: Staging`: %v; want frozen", err)
	}
	if _, err := d.Deploy(ctx, Request{App: "sample-app", Env: "production", Image: digest(1), SourceCommit: shas[1], SourceRepo: src}); err != nil {
		t.Fatalf("production is not frozen: %v", err)
	}
}

// TestFreezeKnowsEveryLayout: `freeze` refuses an environment the
// repository does not have (exit 2 naming those it has), reading the
// environments through the configured layout: kustomize overlays, Flux's
// apps/{env}, a clusters/{env}/{app} tree, with any kustomization file name.
func TestFreezeKnowsEveryLayout(t *testing.T) {
	until := time.Date(2026, 12, 27, 8, 0, 0, 0, time.UTC)
	now := func() time.Time { return time.Date(2026, 12, 20, 10, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		layout string
		files  []string
		envs   string
	}{
		{"", nil, "development, production, staging"},
		{"apps/{env}/kustomization.yaml", []string{"apps/prod-eu/kustomization.yaml", "apps/qa/kustomization.yml"}, "prod-eu, qa"},
		{"clusters/{env}/{app}/kustomization.yaml", []string{"clusters/edge/sample-app/Kustomization", "clusters/core/ledger/kustomization.yaml"}, "core, edge"},
		{"{app}/{env}.yaml", []string{"sample-app/canary.yaml", "sample-app/README.md"}, "canary"},
	} {
		dir, r := localGitOps(t)
		if len(c.files) > 0 {
			wt := workClone(t, dir)
			for _, f := range c.files {
				if err := os.MkdirAll(filepath.Join(wt, filepath.Dir(f)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(wt, f), []byte("resources: []\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			gitCLI(t, wt, "add", ".")
			gitCLI(t, wt, "commit", "-qm", "layout")
			gitCLI(t, wt, "push", "-q", "origin", "HEAD:main")
		}
		d := &Deployer{Remote: r, Layout: c.layout, Now: now}
		first := strings.Split(c.envs, ", ")[0]
		if _, err := d.Freeze(context.Background(), FreezeRequest{Env: first, Until: until, Reason: "x"}); err != nil {
			t.Errorf("layout %q: freeze %s: %v", c.layout, first, err)
		}
		_, err := d.Freeze(context.Background(), FreezeRequest{Env: "prodcution", Until: until, Reason: "x"})                                    //nolint:misspell // the reported typo
		if !usage.Is(err) || !strings.Contains(err.Error(), `"prodcution"`) || !strings.Contains(err.Error(), "("+"environments: "+c.envs+")") { //nolint:misspell
			t.Errorf("layout %q: freeze of an unknown environment: %v; want a usage error naming %s", c.layout, err, c.envs)
		}
	}
}

// TestFreezeWithNothingToCheckAgainst: a repository where the layout finds no
// environment and no record names one lets the name through, with a warning
// that it could not be checked.
func TestFreezeWithNothingToCheckAgainst(t *testing.T) {
	_, r := localGitOps(t)
	var log strings.Builder
	d := &Deployer{Remote: r, Layout: "fleet/{env}/{app}.yaml", Log: &log, Now: func() time.Time { return time.Date(2026, 12, 20, 10, 0, 0, 0, time.UTC) }}
	if _, err := d.Freeze(context.Background(), FreezeRequest{Env: "edge", Until: time.Date(2026, 12, 27, 8, 0, 0, 0, time.UTC), Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), `"edge" is not checked`) {
		t.Errorf("no warning: %q", log.String())
	}
}
