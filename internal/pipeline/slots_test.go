package pipeline

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Issue 19.6: with a bound, stages start in the graph's order (an app's
// stages before the next app's), whatever order their goroutines wake in.
func TestBoundedStagesStartInGraphOrder(t *testing.T) {
	for round := 0; round < 20; round++ {
		var mu sync.Mutex
		var started []string
		var stages []Stage
		for i := 0; i < 8; i++ {
			name := fmt.Sprintf("s%d", i)
			stages = append(stages, Stage{Name: name, Run: func(context.Context, *Record) error {
				mu.Lock()
				started = append(started, name)
				mu.Unlock()
				time.Sleep(time.Millisecond) // the others queue meanwhile
				return nil
			}})
		}
		g, err := NewGraph(stages...)
		if err != nil {
			t.Fatal(err)
		}
		Runner{MaxParallel: 1}.Run(context.Background(), g)
		for i := 0; i < len(started); i++ {
			if started[i] != fmt.Sprintf("s%d", i) {
				t.Fatalf("round %d: start order %v", round, started)
			}
		}
	}
}

func TestSlotsBound(t *testing.T) {
	s := newSlots(2)
	var mu sync.Mutex
	running, peak := 0, 0
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s.acquire(i)
			mu.Lock()
			running++
			peak = max(peak, running)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			running--
			mu.Unlock()
			s.release()
		}(i)
	}
	wg.Wait()
	if peak != 2 {
		t.Errorf("peak %d stages at once, bound 2", peak)
	}
}
