package netsim

import (
	"slices"
	"testing"
)

func TestImpairMTUDropsLargerDatagrams(t *testing.T) {
	type write struct {
		size   int
		setMTU int // before the write, if not -1
	}
	tests := []struct {
		desc       string
		mtu        int
		writes     []write
		wantSizes  []int
		wantTooBig uint64
	}{
		{
			desc:       "no MTU passes everything",
			writes:     []write{{size: 1200, setMTU: -1}, {size: 9000, setMTU: -1}},
			wantSizes:  []int{1200, 9000},
			wantTooBig: 0,
		},
		{
			desc:       "Config.MTU is the largest that passes",
			mtu:        1200,
			writes:     []write{{size: 1200, setMTU: -1}, {size: 1201, setMTU: -1}, {size: 100, setMTU: -1}, {size: 1500, setMTU: -1}},
			wantSizes:  []int{1200, 100},
			wantTooBig: 2,
		},
		{
			desc: "SetMTU lowers and lifts the limit mid-flow",
			writes: []write{
				{size: 1452, setMTU: -1},
				{size: 1452, setMTU: 1280}, // the path shrinks: a black hole for full-size datagrams
				{size: 1280, setMTU: -1},
				{size: 1452, setMTU: 0}, // no limit again
			},
			wantSizes:  []int{1452, 1280, 1452},
			wantTooBig: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			rec := newRecorder()
			c := Impair(rec, Config{MTU: tt.mtu})
			defer c.Close()
			for i, w := range tt.writes {
				if w.setMTU >= 0 {
					c.SetMTU(w.setMTU)
				}
				if n, err := c.WriteTo(indexed(i, w.size), peerAddr); err != nil || n != w.size {
					t.Fatalf("WriteTo #%d: got (%d, %v), want (%d, nil): the drop is silent", i, n, err, w.size)
				}
			}
			var sizes []int
			for _, d := range rec.datagrams() {
				sizes = append(sizes, len(d))
			}
			if !slices.Equal(sizes, tt.wantSizes) {
				t.Errorf("sizes that arrived: got %v, want %v", sizes, tt.wantSizes)
			}
			stats := c.Stats()
			if stats.TooBig != tt.wantTooBig || stats.Dropped != 0 {
				t.Errorf("Stats: got TooBig %d, Dropped %d; want %d, 0", stats.TooBig, stats.Dropped, tt.wantTooBig)
			}
		})
	}
}

func TestImpairMTUDoesNotShiftLoss(t *testing.T) {
	const count = 2000
	_, lossOnly := runImpaired(t, Config{Seed: 7, Loss: 0.1}, count)

	// Every third datagram is too big: the others must meet the same fate
	// as without the MTU.
	rec := newRecorder()
	c := Impair(rec, Config{Seed: 7, Loss: 0.1, MTU: 100})
	defer c.Close()
	var want []int
	for _, i := range lossOnly {
		if i%3 != 0 {
			want = append(want, i)
		}
	}
	for i := range count {
		size := 16
		if i%3 == 0 {
			size = 101
		}
		if _, err := c.WriteTo(indexed(i, size), peerAddr); err != nil {
			t.Fatal(err)
		}
	}
	if got := indexes(rec.datagrams()); !slices.Equal(got, want) {
		t.Errorf("survivors with an MTU differ from loss alone less the oversize datagrams (%d vs %d)", len(got), len(want))
	}
	if got, want := c.Stats().TooBig, uint64((count+2)/3); got != want {
		t.Errorf("TooBig: got %d, want %d", got, want)
	}
}
