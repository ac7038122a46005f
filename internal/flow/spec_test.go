package flow

import "testing"

// Issue 19.6: parallelism is bounded by cores, not by apps, unless the
// configuration says otherwise.
func TestStageBound(t *testing.T) {
	for _, c := range []struct{ apps, concurrency, cores, want int }{
		{1, 0, 2, 0}, {1, 4, 64, 0},
		{2, 0, 2, 3}, {10, 0, 2, 3}, {2, 0, 1, 3}, {10, 0, 8, 9},
		{2, 2, 2, 6}, {10, 1, 64, 3},
	} {
		if got := stageBound(c.apps, c.concurrency, c.cores); got != c.want {
			t.Errorf("%d apps, Concurrency %d, %d cores: %d stages at once, want %d", c.apps, c.concurrency, c.cores, got, c.want)
		}
	}
}
