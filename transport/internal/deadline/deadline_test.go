package deadline

import (
	"testing"
	"time"
)

func TestDeadline(t *testing.T) {
	for _, tc := range []struct {
		desc       string
		set        time.Duration // relative to now; 0 = zero time
		wantClosed bool
	}{
		{desc: "none", set: 0, wantClosed: false},
		{desc: "past", set: -time.Second, wantClosed: true},
		{desc: "far future", set: time.Hour, wantClosed: false},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			d := New()
			defer d.Stop()
			if tc.set != 0 {
				d.Set(time.Now().Add(tc.set))
			}
			if got := IsClosed(d.Wait()); got != tc.wantClosed {
				t.Errorf("closed = %v, want %v", got, tc.wantClosed)
			}
		})
	}
}

func TestDeadlineRearm(t *testing.T) {
	d := New()
	d.Set(time.Now().Add(-time.Second))
	if !IsClosed(d.Wait()) {
		t.Fatal("past deadline: channel open")
	}
	d.Set(time.Time{})
	if IsClosed(d.Wait()) {
		t.Fatal("cleared deadline: channel still closed")
	}
	d.Set(time.Now().Add(20 * time.Millisecond))
	select {
	case <-d.Wait():
	case <-time.After(5 * time.Second):
		t.Fatal("deadline 20 ms ahead never passed")
	}
}
