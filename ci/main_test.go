package main

import (
	"context"
	"strings"
	"testing"

	"github.com/slipway-ci/slipway"
)

// This repository's wrappers are generated from config(): they must match.
func TestWrappersAreGenerated(t *testing.T) {
	t.Chdir("..") // the pipeline runs from the repository root
	for _, w := range []struct{ kind, file string }{
		{"github-actions", ".github/workflows/ci.yml"},
		{"jenkinsfile", "Jenkinsfile"},
	} {
		var out, errb strings.Builder
		if code := slipway.Run(context.Background(), config(), []string{"generate", w.kind, "--check", "--output", w.file}, &out, &errb); code != 0 {
			t.Errorf("%s: exit %d: %s (run `go run ./ci generate %s`)", w.file, code, errb.String(), w.kind)
		}
	}
}

func TestConfigIsValid(t *testing.T) {
	t.Chdir("..")
	if err := config().Validate(); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if code := slipway.Run(context.Background(), config(), []string{"plan", "--json"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"ledger"`) {
		t.Fatalf("plan: exit %d %s", code, errb.String())
	}
}
