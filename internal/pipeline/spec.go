package pipeline

import (
	"fmt"
	"strings"
)

// Spec is a stage as the configuration declares it, before it is bound to
// apps: every app gets one of each, except a Shared stage (deploy), of which
// there is one for all apps.
type Spec struct {
	Name  string
	Needs []string
	// Publish marks a stage that runs only when publishing (push, deploy).
	Publish bool
	// Shared is one stage for every app; it needs its Needs of every app,
	// and an app's stage that needs it waits for it.
	Shared bool
	// Gate marks the stage that publishes an app (push): besides its own
	// Needs it waits for every other stage of its app that is not Publish,
	// not Ungated and does not itself come after the gate.
	Gate bool
	// Ungated opts a stage out of holding back the Gate stage.
	Ungated bool
}

// Order checks that every need names a stage and that the needs form no
// cycle (an error naming one), adds the Gate stage's implicit needs, and
// returns the specs in an order where every stage comes after what it
// needs (stable otherwise: definition order wins among ready stages).
func Order(specs []Spec) ([]Spec, error) {
	byName := map[string]int{}
	for i, s := range specs {
		if _, dup := byName[s.Name]; dup {
			return nil, fmt.Errorf("stage %q defined twice", s.Name)
		}
		byName[s.Name] = i
	}
	needs := make([][]int, len(specs))
	for i, s := range specs {
		for _, n := range s.Needs {
			j, ok := byName[n]
			if !ok {
				return nil, fmt.Errorf("stage %q needs %q, which is not defined", s.Name, n)
			}
			needs[i] = append(needs[i], j)
		}
	}
	if cyc := findCycle(needs); cyc != nil {
		names := make([]string, len(cyc))
		for k, i := range cyc {
			names[k] = specs[i].Name
		}
		return nil, &CycleError{Stages: names}
	}
	out := make([]Spec, len(specs))
	copy(out, specs)
	for g, s := range specs {
		if !s.Gate {
			continue
		}
		after := dependents(needs, g)
		extra := append([]string(nil), s.Needs...)
		for i, o := range specs {
			if i == g || o.Publish || o.Ungated || after[i] || contains(extra, o.Name) {
				continue
			}
			extra = append(extra, o.Name)
			needs[g] = append(needs[g], i)
		}
		out[g].Needs = extra
	}
	order, err := topo(needs)
	if err != nil {
		return nil, err // not reached: the implicit needs add no cycle
	}
	sorted := make([]Spec, len(order))
	for k, i := range order {
		sorted[k] = out[i]
	}
	return sorted, nil
}

// CycleError names stages whose needs form a cycle, in need order: each
// needs the next, the last needs the first.
type CycleError struct{ Stages []string }

func (e *CycleError) Error() string {
	return "the Needs form a cycle " + strings.Join(append(append([]string(nil), e.Stages...), e.Stages[0]), " -> ") + "; remove one of those needs"
}

// findCycle returns the indexes of one cycle of the need relation, or nil.
func findCycle(needs [][]int) []int {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]int, len(needs))
	var path []int
	var visit func(int) []int
	visit = func(i int) []int {
		state[i] = onPath
		path = append(path, i)
		for _, j := range needs[i] {
			switch state[j] {
			case onPath:
				for k, p := range path {
					if p == j {
						return append([]int(nil), path[k:]...)
					}
				}
			case unseen:
				if c := visit(j); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[i] = done
		return nil
	}
	for i := range needs {
		if state[i] == unseen {
			if c := visit(i); c != nil {
				return c
			}
		}
	}
	return nil
}

// dependents marks every stage that needs g, directly or not.
func dependents(needs [][]int, g int) []bool {
	after := make([]bool, len(needs))
	for changed := true; changed; {
		changed = false
		for i, ns := range needs {
			if after[i] {
				continue
			}
			for _, j := range ns {
				if j == g || after[j] {
					after[i], changed = true, true
					break
				}
			}
		}
	}
	return after
}

// topo is Kahn's algorithm, always taking the earliest ready stage.
func topo(needs [][]int) ([]int, error) {
	placed := make([]bool, len(needs))
	var order []int
	for len(order) < len(needs) {
		progressed := false
		for i, ns := range needs {
			if placed[i] {
				continue
			}
			ready := true
			for _, j := range ns {
				if !placed[j] {
					ready = false
					break
				}
			}
			if ready {
				placed[i] = true
				order = append(order, i)
				progressed = true
				break
			}
		}
		if !progressed {
			return nil, fmt.Errorf("the needs form a cycle")
		}
	}
	return order, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Bound is one stage of a run: spec Spec of app App (-1 for a Shared
// stage), named Name, needing Needs (graph names).
type Bound struct {
	Spec  int
	App   int
	Name  string
	Needs []string
}

// Bind expands specs for apps, each given by the prefix its stage names
// carry ("" for a single app, "APP/" with several): an app's stage needs its
// own app's stages and Shared stages by their plain name; a Shared stage
// needs its Needs of every app. The result lists each app's stages, app by
// app, then the Shared ones; NewGraph puts them in dependency order.
func Bind(specs []Spec, prefixes []string) []Bound {
	shared := map[string]bool{}
	for _, s := range specs {
		if s.Shared {
			shared[s.Name] = true
		}
	}
	name := func(prefix, n string) string {
		if shared[n] {
			return n
		}
		return prefix + n
	}
	var out []Bound
	for a, p := range prefixes {
		for i, s := range specs {
			if s.Shared {
				continue
			}
			b := Bound{Spec: i, App: a, Name: p + s.Name}
			for _, n := range s.Needs {
				b.Needs = append(b.Needs, name(p, n))
			}
			out = append(out, b)
		}
	}
	for i, s := range specs {
		if !s.Shared || len(prefixes) == 0 {
			continue
		}
		b := Bound{Spec: i, App: -1, Name: s.Name}
		for _, p := range prefixes {
			for _, n := range s.Needs {
				if n := name(p, n); !contains(b.Needs, n) {
					b.Needs = append(b.Needs, n)
				}
			}
		}
		out = append(out, b)
	}
	return out
}
