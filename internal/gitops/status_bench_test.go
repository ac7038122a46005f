package gitops

import (
	"context"
	"testing"
)

// BenchmarkStatus: status over 20 apps × 3 environments (kustomize
// overlays over a base, 600 deploy commits): every environment is rendered
// to read what it runs.
func BenchmarkStatus(b *testing.B) {
	dir := bigRepo(b, 20, 600)
	r, err := NewRemote(dir, "main", env(nil))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sts, err := Status(ctx, r, Filter{})
		if err != nil {
			b.Fatal(err)
		}
		if len(sts) != 60 {
			b.Fatalf("%d environments, want 60", len(sts))
		}
	}
}
