package report

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/slipway-ci/slipway/internal/dora"
	"github.com/slipway-ci/slipway/internal/gitops"
)

// BenchmarkReport10k renders the report of 10,000 deploys across 20 apps ×
// 3 environments (60 timelines and histograms, the status of 60 environments).
func BenchmarkReport10k(b *testing.B) {
	envs := []string{"development", "staging", "production"}
	var recs []gitops.Record
	var sts []gitops.EnvStatus
	for i := 9999; i >= 0; i-- {
		app := fmt.Sprintf("app%02d", i%20)
		recs = append(recs, gitops.Record{Time: t0.Add(time.Duration(i) * time.Minute), App: app, Env: envs[(i/20)%3],
			Image: fmt.Sprintf("ghcr.io/acme/%s@sha256:%064x", app, i%997), Commit: fmt.Sprintf("%040x", i), Rollback: i%50 == 49})
	}
	for a := 0; a < 20; a++ {
		for _, e := range envs {
			sts = append(sts, gitops.EnvStatus{App: fmt.Sprintf("app%02d", a), Env: e, Image: fmt.Sprintf("r@sha256:%064x", a), Deployed: t0})
		}
	}
	ms := dora.Compute(context.Background(), recs, nil, dora.Options{Since: t0, Now: t0.Add(8 * 24 * time.Hour)})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := Write(io.Discard, Data{Generated: t0, Metrics: ms, Status: sts}); err != nil {
			b.Fatal(err)
		}
	}
}
