package svgplot

import (
	"reflect"
	"testing"
)

func TestDownsample(t *testing.T) {
	// A cumulative curve sampled every millisecond for 10 s with a stall
	// from 4 s to 6 s: the thinned line keeps both ends and both ends of
	// the stall.
	var pts []Point
	for ms := 0; ms <= 10000; ms++ {
		if ms > 4000 && ms < 6000 {
			continue
		}
		pts = append(pts, Point{X: float64(ms) / 1000, Y: float64(ms)})
	}
	got := Downsample(pts, 200)
	if len(got) > 200 || len(got) < 150 {
		t.Fatalf("%d points, want at most 200 and most of them", len(got))
	}
	for _, want := range []Point{pts[0], {4, 4000}, {6, 6000}, pts[len(pts)-1]} {
		if !containsPoint(got, want) {
			t.Errorf("point %v lost", want)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].X <= got[i-1].X {
			t.Fatalf("points out of order at %d: %v then %v", i, got[i-1], got[i])
		}
	}

	few := pts[:10]
	if got := Downsample(few, 200); !reflect.DeepEqual(got, few) {
		t.Errorf("Downsample of 10 points changed them: %v", got)
	}
	if got := Downsample([]Point{{1, 1}, {1, 2}, {1, 3}}, 2); !reflect.DeepEqual(got, []Point{{1, 1}, {1, 3}}) {
		t.Errorf("Downsample of points at one X = %v, want the first and last", got)
	}
}

func containsPoint(pts []Point, p Point) bool {
	for _, q := range pts {
		if q == p {
			return true
		}
	}
	return false
}
