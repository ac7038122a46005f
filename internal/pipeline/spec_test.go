package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
)

// genSpecs makes a random stage configuration: an acyclic need relation over
// n stages in shuffled definition order (forward needs included), some
// publish-only, one gate (push) and one shared stage (deploy) needing it,
// some stages after deploy (notify), some opting out of the gate.
func genSpecs(rng *rand.Rand, n int) []Spec {
	specs := make([]Spec, n)
	for i := range specs {
		specs[i].Name = fmt.Sprintf("s%d", i)
		for j := 0; j < i; j++ {
			if rng.Intn(4) == 0 {
				specs[i].Needs = append(specs[i].Needs, specs[j].Name)
			}
		}
		specs[i].Ungated = rng.Intn(5) == 0
	}
	gate := rng.Intn(n)
	specs[gate].Gate, specs[gate].Publish = true, true
	specs = append(specs, Spec{Name: "deploy", Needs: []string{specs[gate].Name}, Publish: true, Shared: true})
	for i := range specs[:n] {
		if i > gate && rng.Intn(4) == 0 {
			specs[i].Needs = append(specs[i].Needs, "deploy") // runs after deploy
		}
	}
	rng.Shuffle(len(specs), func(i, j int) { specs[i], specs[j] = specs[j], specs[i] })
	return specs
}

// TestOrderBindOnGeneratedStageGraphs: for random stage configurations bound
// to 1..3 apps, the run graph keeps every declared need (plan waves put a
// stage after all it needs, and the runner starts it only after they
// finished), and each app's gate waits for every stage of its app that is
// not publish-only, not opted out and not after it.
func TestOrderBindOnGeneratedStageGraphs(t *testing.T) {
	for seed := int64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewSource(seed))
		specs := genSpecs(rng, 2+rng.Intn(8))
		ordered, err := Order(specs)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		prefixes := []string{""}
		if k := rng.Intn(3); k > 0 {
			prefixes = nil
			for a := 0; a <= k; a++ {
				prefixes = append(prefixes, fmt.Sprintf("app%d/", a))
			}
		}
		var (
			mu       sync.Mutex
			finished = map[string]bool{}
			bad      []string
		)
		var stages []Stage
		bound := Bind(ordered, prefixes)
		for _, b := range bound {
			b := b
			stages = append(stages, Stage{Name: b.Name, Needs: b.Needs, Run: func(context.Context, *Record) error {
				mu.Lock()
				defer mu.Unlock()
				for _, n := range b.Needs {
					if !finished[n] {
						bad = append(bad, b.Name+" started before "+n)
					}
				}
				finished[b.Name] = true
				return nil
			}})
		}
		g, err := NewGraph(stages...)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		level := map[string]int{}
		for l, w := range g.Waves() {
			for _, n := range w {
				level[n] = l
			}
		}
		reach := func(from string) map[string]bool { // everything from needs, transitively
			seen := map[string]bool{}
			var walk func(string)
			walk = func(n string) {
				for _, s := range stages {
					if s.Name == n {
						for _, m := range s.Needs {
							if !seen[m] {
								seen[m] = true
								walk(m)
							}
						}
					}
				}
			}
			walk(from)
			return seen
		}
		byName := map[string]Spec{}
		for _, s := range specs {
			byName[s.Name] = s
		}
		for _, p := range prefixes {
			for _, s := range specs {
				if s.Shared {
					continue
				}
				for _, n := range s.Needs {
					need := p + n
					if byName[n].Shared {
						need = n
					}
					if level[p+s.Name] <= level[need] {
						t.Fatalf("seed %d: %s (wave %d) does not come after its need %s (wave %d)", seed, p+s.Name, level[p+s.Name], need, level[need])
					}
				}
			}
			for _, s := range specs {
				if !s.Gate {
					continue
				}
				gateNeeds := reach(p + s.Name)
				for _, o := range specs {
					if o.Shared || o.Publish || o.Ungated || o.Name == s.Name || reach(p + o.Name)[p+s.Name] {
						continue
					}
					if !gateNeeds[p+o.Name] {
						t.Fatalf("seed %d: %s does not wait for %s", seed, p+s.Name, p+o.Name)
					}
				}
			}
		}
		for _, s := range specs {
			if s.Shared {
				for _, p := range prefixes {
					for _, n := range s.Needs {
						if level["deploy"] <= level[p+n] {
							t.Fatalf("seed %d: deploy does not come after %s", seed, p+n)
						}
					}
				}
			}
		}
		for _, r := range (Runner{}).Run(context.Background(), g) {
			if r.Status != Passed {
				t.Fatalf("seed %d: %s %s", seed, r.Name, r.Status)
			}
		}
		if len(bad) > 0 {
			t.Fatalf("seed %d: %s", seed, strings.Join(bad, "; "))
		}
	}
}

// TestOrderRefusesGeneratedCycles: a random configuration with one need
// added that closes a cycle is refused, and the error names a real cycle
// (each named stage needs the next, the last the first).
func TestOrderRefusesGeneratedCycles(t *testing.T) {
	for seed := int64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewSource(seed))
		specs := genSpecs(rng, 2+rng.Intn(8))
		// Close a cycle: pick a need edge a -> b and make b need a.
		from, to := -1, -1
		for i, s := range specs {
			if len(s.Needs) > 0 {
				from = i
				need := s.Needs[rng.Intn(len(s.Needs))]
				for j, o := range specs {
					if o.Name == need {
						to = j
					}
				}
				break
			}
		}
		if from < 0 {
			continue
		}
		specs[to].Needs = append(specs[to].Needs, specs[from].Name)
		_, err := Order(specs)
		var cyc *CycleError
		if !errors.As(err, &cyc) || !strings.Contains(err.Error(), "cycle") {
			t.Fatalf("seed %d: cycle %s <-> %s accepted: %v", seed, specs[from].Name, specs[to].Name, err)
		}
		needs := map[string][]string{}
		for _, s := range specs {
			needs[s.Name] = s.Needs
		}
		for k, n := range cyc.Stages {
			next := cyc.Stages[(k+1)%len(cyc.Stages)]
			if !contains(needs[n], next) {
				t.Fatalf("seed %d: %v is not a cycle: %s does not need %s", seed, cyc.Stages, n, next)
			}
		}
	}
}
