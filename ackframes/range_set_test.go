package ackframes

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/limpetnet/limpet/packet"
)

type pn = packet.PacketNumber

// rangeModel is a brute-force RangeSet: a plain set of numbers and a floor,
// with the ranges recomputed from scratch whenever they are needed.
type rangeModel struct {
	received map[pn]bool
	floor    pn
	limit    int
}

func newRangeModel(limit int) *rangeModel {
	return &rangeModel{received: map[pn]bool{}, limit: limit}
}

func (m *rangeModel) add(n pn) bool {
	if n < m.floor || m.received[n] {
		return false
	}
	m.received[n] = true
	for {
		rs := m.ranges()
		if len(rs) <= m.limit {
			return true
		}
		for x := rs[0].Smallest; x <= rs[0].Largest; x++ {
			delete(m.received, x)
		}
		m.floor = rs[0].Largest + 1
	}
}

// ranges lists the received numbers as maximal runs, in increasing order.
func (m *rangeModel) ranges() []packet.AckRange {
	nums := make([]pn, 0, len(m.received))
	for n := range m.received {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	var rs []packet.AckRange
	for _, n := range nums {
		if len(rs) > 0 && rs[len(rs)-1].Largest+1 == n {
			rs[len(rs)-1].Largest = n
			continue
		}
		rs = append(rs, packet.AckRange{Smallest: n, Largest: n})
	}
	return rs
}

// checkRangeSet compares s with the model over [lo, hi) and checks the
// structural invariants.
func checkRangeSet(t *testing.T, s *RangeSet, m *rangeModel, lo, hi pn) {
	t.Helper()
	want := m.ranges()
	got := make([]packet.AckRange, s.Len())
	for i := range got {
		got[len(got)-1-i] = s.At(i) // At counts from the top
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ranges = %v, want %v", got, want)
	}
	if s.Len() > m.limit {
		t.Fatalf("Len() = %d, above the limit %d", s.Len(), m.limit)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Smallest <= got[i-1].Largest+1 {
			t.Fatalf("ranges %v and %v overlap or touch", got[i-1], got[i])
		}
	}
	for _, r := range got {
		if r.Smallest > r.Largest || r.Smallest < s.Floor() {
			t.Fatalf("range %v malformed or below floor %d", r, s.Floor())
		}
	}
	if s.Floor() != m.floor {
		t.Fatalf("Floor() = %d, want %d", s.Floor(), m.floor)
	}
	wantLargest := packet.InvalidPacketNumber
	if len(want) > 0 {
		wantLargest = want[len(want)-1].Largest
	}
	if s.Largest() != wantLargest {
		t.Fatalf("Largest() = %d, want %d", s.Largest(), wantLargest)
	}
	for n := lo; n < hi; n++ {
		if got, want := s.Contains(n), m.received[n]; got != want {
			t.Fatalf("Contains(%d) = %v, want %v", n, got, want)
		}
		if got, want := s.Seen(n), n < m.floor || m.received[n]; got != want {
			t.Fatalf("Seen(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestRangeSetMatchesModel(t *testing.T) {
	tests := []struct {
		desc  string
		seed  uint64
		limit int
		// next draws the next packet number to add.
		next func(r *rand.Rand, i int) pn
	}{
		{
			desc: "mostly in order with reordering and loss", seed: 1, limit: DefaultMaxAckRanges,
			next: func(r *rand.Rand, i int) pn { return pn(i) + pn(r.IntN(24)) - 16 },
		},
		{
			desc: "mostly in order, tight limit", seed: 2, limit: 4,
			next: func(r *rand.Rand, i int) pn { return pn(i) + pn(r.IntN(24)) - 16 },
		},
		{
			desc: "uniform in a small window", seed: 3, limit: 8,
			next: func(r *rand.Rand, i int) pn { return pn(r.IntN(300)) },
		},
		{
			desc: "uniform, single range", seed: 4, limit: 1,
			next: func(r *rand.Rand, i int) pn { return pn(r.IntN(200)) },
		},
		{
			desc: "every other number, forcing drops", seed: 5, limit: 16,
			next: func(r *rand.Rand, i int) pn { return pn(2*i + r.IntN(3)) },
		},
		{
			desc: "descending with gaps", seed: 6, limit: 10,
			next: func(r *rand.Rand, i int) pn { return pn(5000 - i - r.IntN(4)) },
		},
	}
	const ops = 3000
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := rand.New(rand.NewPCG(tt.seed, 0x1234))
			s := NewRangeSet(tt.limit)
			m := newRangeModel(tt.limit)
			lo, hi := pn(0), pn(0)
			for i := 0; i < ops; i++ {
				n := tt.next(r, i)
				if got, want := s.Add(n), m.add(n); got != want {
					t.Fatalf("op %d: Add(%d) = %v, want %v", i, n, got, want)
				}
				lo, hi = min(lo, n-2), max(hi, n+3)
				if i%97 == 0 || i == ops-1 {
					checkRangeSet(t, s, m, lo, hi)
				}
			}
		})
	}
}

func TestRangeSetAdd(t *testing.T) {
	tests := []struct {
		desc      string
		limit     int
		add       []pn
		wantAdded []bool
		want      []packet.AckRange // increasing
		wantFloor pn
	}{
		{
			desc: "in order extends one range", limit: 4,
			add: []pn{0, 1, 2}, wantAdded: []bool{true, true, true},
			want: []packet.AckRange{{Smallest: 0, Largest: 2}},
		},
		{
			desc: "duplicate is rejected", limit: 4,
			add: []pn{5, 5}, wantAdded: []bool{true, false},
			want: []packet.AckRange{{Smallest: 5, Largest: 5}},
		},
		{
			desc: "filling a gap merges two ranges", limit: 4,
			add: []pn{1, 3, 2}, wantAdded: []bool{true, true, true},
			want: []packet.AckRange{{Smallest: 1, Largest: 3}},
		},
		{
			desc: "extending a range downwards", limit: 4,
			add: []pn{1, 5, 4}, wantAdded: []bool{true, true, true},
			want: []packet.AckRange{{Smallest: 1, Largest: 1}, {Smallest: 4, Largest: 5}},
		},
		{
			desc: "negative numbers are rejected", limit: 4,
			add: []pn{-1}, wantAdded: []bool{false},
		},
		{
			desc: "over the limit the lowest range is forgotten", limit: 2,
			add: []pn{0, 1, 4, 8}, wantAdded: []bool{true, true, true, true},
			want:      []packet.AckRange{{Smallest: 4, Largest: 4}, {Smallest: 8, Largest: 8}},
			wantFloor: 2,
		},
		{
			desc: "below the floor counts as seen", limit: 2,
			add: []pn{0, 4, 8, 0, 2, 2}, wantAdded: []bool{true, true, true, false, true, false},
			// 0 is below the floor (1) left by forgetting {0}. 2 is new and
			// accepted, but it would be the lowest of three ranges, so it is
			// forgotten at once and the floor rises above it.
			want:      []packet.AckRange{{Smallest: 4, Largest: 4}, {Smallest: 8, Largest: 8}},
			wantFloor: 3,
		},
		{
			desc: "a gap-filler that merges needs no drop", limit: 2,
			add: []pn{0, 4, 8, 3}, wantAdded: []bool{true, true, true, true},
			want:      []packet.AckRange{{Smallest: 3, Largest: 4}, {Smallest: 8, Largest: 8}},
			wantFloor: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			s := NewRangeSet(tt.limit)
			for i, n := range tt.add {
				if got := s.Add(n); got != tt.wantAdded[i] {
					t.Errorf("Add(%d) = %v, want %v", n, got, tt.wantAdded[i])
				}
			}
			var got []packet.AckRange
			for i := s.Len() - 1; i >= 0; i-- {
				got = append(got, s.At(i))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ranges = %v, want %v", got, tt.want)
			}
			if s.Floor() != tt.wantFloor {
				t.Errorf("Floor() = %d, want %d", s.Floor(), tt.wantFloor)
			}
		})
	}
}

func TestRangeSetZeroValue(t *testing.T) {
	var s RangeSet
	if s.Contains(0) || s.Seen(0) || s.Len() != 0 || s.Largest() != packet.InvalidPacketNumber {
		t.Fatalf("empty zero RangeSet: Contains(0)=%v Seen(0)=%v Len()=%d Largest()=%d",
			s.Contains(0), s.Seen(0), s.Len(), s.Largest())
	}
	for i := 0; i < DefaultMaxAckRanges+5; i++ {
		s.Add(pn(2 * i))
	}
	if s.Len() != DefaultMaxAckRanges {
		t.Errorf("Len() = %d, want %d", s.Len(), DefaultMaxAckRanges)
	}
	if got, want := s.Floor(), pn(9); got != want {
		t.Errorf("Floor() = %d, want %d", got, want)
	}
}

func TestRangeSetAddDoesNotAllocate(t *testing.T) {
	s := NewRangeSet(8)
	r := rand.New(rand.NewPCG(7, 7))
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		s.Add(pn(i + r.IntN(20)))
		i += 3
	})
	if allocs != 0 {
		t.Errorf("Add allocates %v times per call, want 0", allocs)
	}
}

func TestRangeSetSmallestMissingAbove(t *testing.T) {
	s := NewRangeSet(0)
	for _, n := range []pn{0, 1, 2, 5, 6, 9} {
		s.Add(n)
	}
	for _, tt := range []struct {
		f    pn
		want pn
		ok   bool
	}{{-1, 3, true}, {2, 3, true}, {3, 4, true}, {4, 7, true}, {5, 7, true}, {7, 8, true}, {8, 0, false}, {9, 0, false}, {100, 0, false}} {
		got, ok := s.SmallestMissingAbove(tt.f)
		if got != tt.want || ok != tt.ok {
			t.Errorf("SmallestMissingAbove(%d) = %d, %v; want %d, %v", tt.f, got, ok, tt.want, tt.ok)
		}
	}
	if _, ok := NewRangeSet(0).SmallestMissingAbove(-1); ok {
		t.Error("an empty set has a hole")
	}
}
