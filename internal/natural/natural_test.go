package natural

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"
)

func TestLessOrdersNumbersByValue(t *testing.T) {
	names := []string{"app11", "app2", "app10", "app1", "app", "b1", "app1a", "app01"}
	sort.Slice(names, func(i, j int) bool { return Less(names[i], names[j]) })
	want := "[app app01 app1 app1a app2 app10 app11 b1]"
	if got := fmt.Sprint(names); got != want {
		t.Errorf("order %s, want %s", got, want)
	}
}

// TestLessIsAStrictOrder: over generated names, Less is irreflexive,
// asymmetric and transitive, and distinct names are always ordered one way,
// so sorting with it is deterministic.
func TestLessIsAStrictOrder(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	gen := func() string {
		const chars = "ab0129-."
		n := r.Intn(7)
		b := make([]byte, n)
		for i := range b {
			b[i] = chars[r.Intn(len(chars))]
		}
		return string(b)
	}
	var xs []string
	for i := 0; i < 300; i++ {
		xs = append(xs, gen())
	}
	for _, a := range xs {
		if Less(a, a) {
			t.Fatalf("Less(%q, %q)", a, a)
		}
		for _, b := range xs {
			if a != b && Less(a, b) == Less(b, a) {
				t.Fatalf("%q and %q are not ordered one way", a, b)
			}
			for _, c := range xs[:40] {
				if Less(a, b) && Less(b, c) && !Less(a, c) {
					t.Fatalf("not transitive: %q < %q < %q", a, b, c)
				}
			}
		}
	}
}
