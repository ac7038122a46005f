package slipway_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway"
)

// Issue 17.8: every Needs is honoured (a stage that needs deploy runs after
// it), and push waits for every non-publish stage of its app unless the stage
// is Advisory.
func TestCustomStageNeedsAndPublishGate(t *testing.T) {
	stages := append(slipway.DefaultStages(),
		slipway.Stage{Name: "integration", Needs: []string{"test"}, Host: true, Run: noop},
		slipway.Stage{Name: "notify", Needs: []string{"deploy"}, Host: true, Run: noop},
		slipway.Stage{Name: "bench", Host: true, Advisory: true, Run: noop},
	)
	for _, apps := range [][]slipway.App{
		{{Name: "sample-app", Source: "sample-app"}},
		{{Name: "sample-app", Source: "sample-app"}, {Name: "ledger", Source: "ledger"}},
	} {
		var out, errb strings.Builder
		if code := slipway.Run(context.Background(), slipway.Config{Apps: apps, Stages: stages}, []string{"plan", "--json"}, &out, &errb); code != 0 {
			t.Fatalf("plan: exit %d %s", code, errb.String())
		}
		var plan struct {
			Waves  [][]string
			Stages []struct {
				Name  string
				Needs []string
			}
		}
		if err := json.Unmarshal([]byte(out.String()), &plan); err != nil {
			t.Fatal(err)
		}
		wave, needs := map[string]int{}, map[string][]string{}
		for i, w := range plan.Waves {
			for _, n := range w {
				wave[n] = i
			}
		}
		for _, s := range plan.Stages {
			needs[s.Name] = s.Needs
		}
		for _, a := range apps {
			p := ""
			if len(apps) > 1 {
				p = a.Name + "/"
			}
			if got := strings.Join(needs[p+"notify"], ","); got != "deploy" || wave[p+"notify"] <= wave["deploy"] {
				t.Errorf("%d apps: %snotify needs %q in wave %d, deploy in wave %d (waves %v)", len(apps), p, got, wave[p+"notify"], wave["deploy"], plan.Waves)
			}
			push := "," + strings.Join(needs[p+"push"], ",") + ","
			for _, n := range []string{"lint", "test", "scan", "build", "integration"} {
				if !strings.Contains(push, ","+p+n+",") || wave[p+"push"] <= wave[p+n] {
					t.Errorf("%d apps: %spush does not wait for %s: needs %s, waves %v", len(apps), p, n, push, plan.Waves)
				}
			}
			if strings.Contains(push, "bench") || strings.Contains(push, "notify") {
				t.Errorf("%d apps: %spush waits for an advisory or later stage: %s", len(apps), p, push)
			}
		}
	}

	// A failing integration test holds back publishing.
	t.Setenv("CI", "")
	fail := append(slipway.DefaultStages(), slipway.Stage{Name: "integration", Needs: []string{"test"}, Host: true,
		Run: func(context.Context, *slipway.StageContext) error { return errors.New("integration failed") }})
	var out, errb strings.Builder
	cfg := slipway.Config{Apps: []slipway.App{{Name: "sample-app", Source: "sample-app"}}, Stages: fail}
	code := slipway.Run(context.Background(), cfg, []string{"run", "integration", "push", "--out", t.TempDir()}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "not started: needs integration") {
		t.Fatalf("push after a failed integration stage: exit %d\n%s", code, errb.String())
	}
}
