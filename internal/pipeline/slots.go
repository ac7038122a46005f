package pipeline

import (
	"sort"
	"sync"
)

// slots bounds how many stages run at once and, when a slot frees, gives it
// to the waiting stage that comes first in the graph's order (an app's lint,
// test and build before the next app's), not to whichever goroutine the
// scheduler wakes: on a cold engine the first app's compiles fill the
// shared Go build cache that the next app's then reuse, instead of every
// app compiling the standard library and its dependencies at once.
type slots struct {
	mu      sync.Mutex
	free    int
	waiting []waiter // sorted by index
}

type waiter struct {
	index int
	ready chan struct{}
}

func newSlots(n int) *slots { return &slots{free: n} }

// acquire blocks until the stage at index holds a slot.
func (s *slots) acquire(index int) {
	s.mu.Lock()
	if s.free > 0 && len(s.waiting) == 0 {
		s.free--
		s.mu.Unlock()
		return
	}
	w := waiter{index: index, ready: make(chan struct{})}
	i := sort.Search(len(s.waiting), func(i int) bool { return s.waiting[i].index > index })
	s.waiting = append(s.waiting, waiter{})
	copy(s.waiting[i+1:], s.waiting[i:])
	s.waiting[i] = w
	s.grant()
	s.mu.Unlock()
	<-w.ready
}

// release frees a slot for the first waiter.
func (s *slots) release() {
	s.mu.Lock()
	s.free++
	s.grant()
	s.mu.Unlock()
}

// grant hands free slots to the first waiters; s.mu is held.
func (s *slots) grant() {
	for s.free > 0 && len(s.waiting) > 0 {
		s.free--
		close(s.waiting[0].ready)
		s.waiting = s.waiting[1:]
	}
}
