package streams

import (
	"testing"

	"github.com/limpetnet/limpet/packet"
)

// drain runs n turns in which every stream always has more data and sends
// a packet's worth, and counts the turns per stream.
func drain(s *Scheduler, n, packetSize int) map[packet.StreamID]int {
	turns := make(map[packet.StreamID]int)
	for range n {
		id, ok := s.Next()
		if !ok {
			break
		}
		turns[id]++
		s.Sent(id, packetSize, true)
	}
	return turns
}

func TestSchedulerRoundRobinIsFair(t *testing.T) {
	s := NewScheduler(1200)
	ids := []packet.StreamID{0, 4, 8, 12, 16, 20, 24}
	for _, id := range ids {
		s.Push(id)
	}
	turns := drain(s, 10_003, 1200)
	lo, hi := 1<<30, 0
	for _, id := range ids {
		lo, hi = min(lo, turns[id]), max(hi, turns[id])
	}
	if hi-lo > 1 {
		t.Errorf("turns per stream %v: spread %d, want at most 1", turns, hi-lo)
	}
}

func TestSchedulerQuantum(t *testing.T) {
	s := NewScheduler(3000)
	s.Push(0)
	s.Push(4)
	var order []packet.StreamID
	for range 6 {
		id, _ := s.Next()
		order = append(order, id)
		s.Sent(id, 1000, true)
	}
	want := []packet.StreamID{0, 0, 0, 4, 4, 4}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("got order %v, want %v", order, want)
		}
	}
}

func TestSchedulerNewStreamIsNotStarved(t *testing.T) {
	s := NewScheduler(1200)
	s.Push(0)
	drain(s, 100, 1200) // a long transfer alone
	s.Push(4)
	turns := drain(s, 10, 1200)
	if turns[0] != 5 || turns[4] != 5 {
		t.Errorf("got turns %v, want 5 each", turns)
	}
}

func TestSchedulerPriority(t *testing.T) {
	s := NewScheduler(1200)
	for _, id := range []packet.StreamID{0, 4, 8, 12} {
		s.Push(id)
	}
	s.SetPriority(8, 1)
	s.SetPriority(12, 1)
	s.SetPriority(4, 6)
	// Urgency 1 streams alternate until they run out, then 3, then 6.
	var order []packet.StreamID
	remaining := map[packet.StreamID]int{0: 2, 4: 2, 8: 2, 12: 2}
	for {
		id, ok := s.Next()
		if !ok {
			break
		}
		order = append(order, id)
		remaining[id]--
		s.Sent(id, 1200, remaining[id] > 0)
	}
	want := []packet.StreamID{8, 12, 8, 12, 0, 0, 4, 4}
	if len(order) != len(want) {
		t.Fatalf("got order %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("got order %v, want %v", order, want)
		}
	}
	if s.Len() != 0 {
		t.Errorf("got Len %d after every stream finished, want 0", s.Len())
	}
}

func TestSchedulerPushRemoveAndPriority(t *testing.T) {
	s := NewScheduler(1200)
	s.Push(0)
	s.Push(4)
	s.Push(0) // already waiting: keeps its place
	if id, _ := s.Next(); id != 0 || s.Len() != 2 {
		t.Fatalf("got Next %d Len %d, want 0 and 2", id, s.Len())
	}
	s.Remove(0)
	if id, _ := s.Next(); id != 4 || s.Len() != 1 {
		t.Fatalf("after Remove got Next %d Len %d, want 4 and 1", id, s.Len())
	}
	s.SetPriority(8, 0) // priority before any data
	s.Push(8)
	if id, _ := s.Next(); id != 8 {
		t.Fatalf("got Next %d, want urgent stream 8", id)
	}
	if got := s.Priority(8); got != 0 {
		t.Errorf("got Priority %d, want 0", got)
	}
	s.SetPriority(8, 200)
	if got := s.Priority(8); got != MaxUrgency {
		t.Errorf("got Priority %d, want clamp to %d", got, MaxUrgency)
	}
	if id, _ := s.Next(); id != 4 {
		t.Fatalf("after demoting 8 got Next %d, want 4", id)
	}
	s.Sent(4, 10, false)
	s.Sent(8, 10, false)
	if _, ok := s.Next(); ok || s.Len() != 0 {
		t.Fatalf("streams without data still scheduled (Len %d)", s.Len())
	}
}

func TestSchedulerSteadyStateDoesNotAllocate(t *testing.T) {
	s := NewScheduler(1200)
	for id := range packet.StreamID(16) {
		s.Push(id * 4)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		id, _ := s.Next()
		s.Sent(id, 1200, false)
		s.Push(id)
		s.Remove(id)
		s.Push(id)
	})
	if allocs != 0 {
		t.Errorf("got %v allocations per round, want 0", allocs)
	}
}
