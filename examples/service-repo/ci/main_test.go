package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb strings.Builder
	code := slipway.Run(context.Background(), config(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestPlan(t *testing.T) {
	t.Chdir("..")
	out, stderr, code := run(t, "plan", "--json")
	var plan struct {
		Waves  [][]string
		Images map[string]string
		Apps   []struct{ Name, Main string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &plan) != nil {
		t.Fatalf("plan: exit %d %s", code, stderr)
	}
	if len(plan.Apps) != 1 || plan.Apps[0].Main != "./cmd/payments" || !strings.Contains(plan.Images["postgres"], "@sha256:") {
		t.Errorf("plan: %+v", plan)
	}
	if strings.Join(plan.Waves[1], ",") != "scan,integration" {
		t.Errorf("the integration stage runs in wave %v", plan.Waves)
	}
}

func TestWrappersAreGenerated(t *testing.T) {
	t.Chdir("..")
	for _, w := range []struct{ kind, file string }{{"github-actions", ".github/workflows/ci.yml"}, {"jenkinsfile", "Jenkinsfile"}} {
		if _, stderr, code := run(t, "generate", w.kind, "--check", "--output", w.file); code != 0 {
			t.Errorf("%s: %s", w.file, stderr)
		}
	}
}
