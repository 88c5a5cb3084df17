package streams

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRangeSetAddRemove(t *testing.T) {
	type op struct {
		remove     bool
		start, end int64
	}
	tests := []struct {
		desc string
		ops  []op
		want rangeSet
	}{
		{"empty add is ignored", []op{{false, 5, 5}}, nil},
		{"disjoint stay apart", []op{{false, 10, 20}, {false, 0, 5}, {false, 30, 40}}, rangeSet{{0, 5}, {10, 20}, {30, 40}}},
		{"adjacent merge", []op{{false, 0, 5}, {false, 5, 10}}, rangeSet{{0, 10}}},
		{"bridge merges three", []op{{false, 0, 5}, {false, 10, 15}, {false, 20, 25}, {false, 3, 22}}, rangeSet{{0, 25}}},
		{"contained add is a no-op", []op{{false, 0, 50}, {false, 10, 20}}, rangeSet{{0, 50}}},
		{"remove middle splits", []op{{false, 0, 50}, {true, 10, 20}}, rangeSet{{0, 10}, {20, 50}}},
		{"remove across ranges trims both ends", []op{{false, 0, 10}, {false, 20, 30}, {false, 40, 50}, {true, 5, 45}}, rangeSet{{0, 5}, {45, 50}}},
		{"remove exact range", []op{{false, 0, 10}, {false, 20, 30}, {true, 20, 30}}, rangeSet{{0, 10}}},
		{"remove touching edges only", []op{{false, 10, 20}, {true, 0, 10}, {true, 20, 30}}, rangeSet{{10, 20}}},
		{"remove everything", []op{{false, 0, 10}, {false, 20, 30}, {true, 0, 100}}, rangeSet{}},
		{"remove splits first of many", []op{{false, 0, 10}, {false, 20, 30}, {true, 2, 4}}, rangeSet{{0, 2}, {4, 10}, {20, 30}}},
		{"remove spanning with both remainders", []op{{false, 0, 10}, {false, 20, 30}, {true, 5, 25}}, rangeSet{{0, 5}, {25, 30}}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var s rangeSet
			for _, o := range tt.ops {
				if o.remove {
					s.remove(o.start, o.end)
				} else {
					s.add(o.start, o.end)
				}
			}
			if len(s) != len(tt.want) || (len(s) > 0 && !slices.Equal(s, tt.want)) {
				t.Errorf("got %v, want %v", s, tt.want)
			}
		})
	}
}

func TestRangeSetAddExcept(t *testing.T) {
	except := rangeSet{{10, 20}, {30, 40}}
	var s rangeSet
	s.addExcept(5, 35, except)
	want := rangeSet{{5, 10}, {20, 30}}
	if !slices.Equal(s, want) {
		t.Errorf("got %v, want %v", s, want)
	}
}

// TestRangeSetMatchesModel checks random operations against a byte-per-offset
// model, including the invariant that ranges are sorted, disjoint and not
// adjacent.
func TestRangeSetMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const span = 300
	var s rangeSet
	var model [span]bool
	for i := range 5000 {
		a := rng.Int64N(span)
		b := a + rng.Int64N(40)
		b = min(b, span)
		switch rng.IntN(3) {
		case 0, 1:
			s.add(a, b)
			for o := a; o < b; o++ {
				model[o] = true
			}
		default:
			s.remove(a, b)
			for o := a; o < b; o++ {
				model[o] = false
			}
		}
		var got [span]bool
		for j, r := range s {
			if r.start >= r.end || (j > 0 && s[j-1].end >= r.start) {
				t.Fatalf("op %d: malformed set %v", i, s)
			}
			for o := r.start; o < r.end; o++ {
				got[o] = true
			}
		}
		if got != model {
			t.Fatalf("op %d: set %v disagrees with model", i, s)
		}
	}
}
