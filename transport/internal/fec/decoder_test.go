package fec

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/limpetnet/limpet/packet"
)

// testGroup is one encoded group: its sources and repair frames as sent.
type testGroup struct {
	pns      []packet.PacketNumber
	payloads [][]byte
	repairs  []packet.FECRepairFrame
	repairPN []packet.PacketNumber
}

// encodeGroup encodes k payloads in packets numbered from first, with
// gaps, and its r repair frames in the packets after them.
func encodeGroup(t *testing.T, r *rand.Rand, k, rr int, first packet.PacketNumber) testGroup {
	t.Helper()
	e, err := NewEncoder(k, rr)
	if err != nil {
		t.Fatal(err)
	}
	g := testGroup{payloads: testPayloads(r, k)}
	pn := first
	for _, p := range g.payloads {
		e.Add(pn, p)
		g.pns = append(g.pns, pn)
		pn += 1 + packet.PacketNumber(r.IntN(3)) // ACK-only packets or skipped numbers between
	}
	g.repairs = drainRepairs(t, e, pn)
	for i := range g.repairs {
		g.repairPN = append(g.repairPN, pn+packet.PacketNumber(i))
	}
	return g
}

// erasurePatterns calls fn with every subset of n symbols of size at most
// m, as a bitmask of the erased ones.
func erasurePatterns(n, m int, fn func(erased uint64)) {
	var rec func(start, left int, mask uint64)
	rec = func(start, left int, mask uint64) {
		fn(mask)
		if left == 0 {
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, left-1, mask|1<<i)
		}
	}
	rec(0, m, 0)
}

// TestDecoderRecoversEveryErasurePattern: for several K and R, every way
// of losing up to R of a group's K+R packets gives back each lost source
// payload byte for byte, whether the repair frames come before or after
// the surviving sources.
func TestDecoderRecoversEveryErasurePattern(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, shape := range []struct{ k, r int }{{1, 1}, {2, 2}, {4, 1}, {5, 3}, {8, 2}, {10, 4}, {32, 1}, {32, 2}} {
		t.Run(fmt.Sprintf("K=%d,R=%d", shape.k, shape.r), func(t *testing.T) {
			g := encodeGroup(t, r, shape.k, shape.r, 1000)
			patterns := 0
			erasurePatterns(shape.k+shape.r, shape.r, func(erased uint64) {
				patterns++
				repairsFirst := patterns%2 == 0
				got := feedGroup(t, NewDecoder(DecoderConfig{}), g, erased, repairsFirst)
				// Every lost source comes back. When repair frames arrive
				// first, sources still on their way may be rebuilt before
				// they arrive too (they are then duplicates).
				recovered := make(map[packet.PacketNumber]bool)
				for _, x := range got {
					j := slices.Index(g.pns, x.PN)
					if j < 0 || recovered[x.PN] || !bytes.Equal(x.Payload, g.payloads[j]) {
						t.Fatalf("erased %0*b (repairs first %v): recovered %s: packet %d unknown, repeated or not byte-exact", shape.k+shape.r, erased, repairsFirst, describe(got), x.PN)
					}
					recovered[x.PN] = true
				}
				for j := range shape.k {
					if erased&(1<<j) != 0 && !recovered[g.pns[j]] {
						t.Fatalf("erased %0*b (repairs first %v): recovered %s, missing packet %d", shape.k+shape.r, erased, repairsFirst, describe(got), g.pns[j])
					}
				}
				if !repairsFirst && len(got) != bits.OnesCount64(erased&(1<<shape.k-1)) {
					t.Fatalf("erased %0*b: recovered %s, want only the lost sources", shape.k+shape.r, erased, describe(got))
				}
			})
			t.Logf("%d erasure patterns", patterns)
		})
	}
}

// feedGroup gives d the symbols of g that erased does not mark (bit j for
// source j, bit K+i for repair i) and returns everything it recovered,
// copied.
func feedGroup(t *testing.T, d *Decoder, g testGroup, erased uint64, repairsFirst bool) []Recovered {
	t.Helper()
	k := len(g.pns)
	var got []Recovered
	fed := make(map[packet.PacketNumber]bool)
	collect := func(rec []Recovered, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("erased %b: %v", erased, err)
		}
		for _, x := range rec {
			if fed[x.PN] {
				t.Fatalf("erased %b: rebuilt packet %d, which had arrived", erased, x.PN)
			}
			got = append(got, Recovered{PN: x.PN, Payload: bytes.Clone(x.Payload)})
		}
	}
	sources := func() {
		for j := range k {
			if erased&(1<<j) == 0 {
				fed[g.pns[j]] = true
				collect(d.AddSource(g.pns[j], g.payloads[j]))
			}
		}
	}
	repairs := func() {
		for i, f := range g.repairs {
			if erased&(1<<(k+i)) == 0 {
				collect(d.AddRepair(g.repairPN[i], f))
			}
		}
	}
	if repairsFirst {
		repairs()
		sources()
	} else {
		sources()
		repairs()
	}
	return got
}

// TestDecoderTooManyLosses: with more than R of a group's packets lost,
// nothing is recovered, nothing fails, and the group waits (bounded) in
// case a late source arrives, which then completes it.
func TestDecoderTooManyLosses(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	g := encodeGroup(t, r, 8, 2, 50)
	d := NewDecoder(DecoderConfig{})
	erased := uint64(0b111) // three sources, R = 2
	if got := feedGroup(t, d, g, erased, false); len(got) != 0 {
		t.Fatalf("three of 8 sources lost with R=2: recovered %s, want nothing", describe(got))
	}
	if _, _, groups, _ := d.Usage(); groups != 1 {
		t.Fatalf("%d groups waiting, want the one short of a symbol", groups)
	}
	got, err := d.AddSource(g.pns[0], g.payloads[0])
	if err != nil || !equalRecovered(got, []Recovered{{g.pns[1], g.payloads[1]}, {g.pns[2], g.payloads[2]}}) {
		t.Fatalf("late source 0: recovered %s, %v; want sources 1 and 2", describe(got), err)
	}
	if _, _, groups, repairBytes := d.Usage(); groups != 0 || repairBytes != 0 {
		t.Errorf("after recovery: %d groups, %d repair bytes held; want none", groups, repairBytes)
	}
	if !d.WasRecovered(g.pns[1]) || d.WasRecovered(g.pns[0]) {
		t.Errorf("WasRecovered: source 1 %v (want true), source 0 %v (want false)", d.WasRecovered(g.pns[1]), d.WasRecovered(g.pns[0]))
	}
	// Further repair frames of the finished group are ignored.
	if got, err := d.AddRepair(g.repairPN[1], g.repairs[1]); err != nil || len(got) != 0 {
		t.Errorf("repair of a finished group: %s, %v; want nothing", describe(got), err)
	}
}

// TestDecoderMemoryBounds: payloads, groups and repair bytes stay within
// the configured bounds however much arrives; the oldest go first.
func TestDecoderMemoryBounds(t *testing.T) {
	cfg := DecoderConfig{MaxSources: 20, MaxSourceBytes: 8 << 10, MaxGroups: 3, MaxRepairBytes: 6 << 10}
	d := NewDecoder(cfg)
	r := rand.New(rand.NewPCG(7, 8))
	pn := packet.PacketNumber(0)
	for range 200 {
		if _, err := d.AddSource(pn, randBytes(r, 1+r.IntN(1400))); err != nil {
			t.Fatal(err)
		}
		pn++
		sources, sourceBytes, _, _ := d.Usage()
		if sources > cfg.MaxSources || sourceBytes > cfg.MaxSourceBytes {
			t.Fatalf("holding %d payloads, %d bytes; bounds %d, %d", sources, sourceBytes, cfg.MaxSources, cfg.MaxSourceBytes)
		}
	}
	// Groups that each lost two sources but got one repair symbol wait for
	// more; only the newest MaxGroups (and MaxRepairBytes) are kept.
	for i := range 10 {
		g := encodeGroup(t, r, 4, 1, pn)
		pn = g.repairPN[len(g.repairPN)-1] + 1
		feedGroup(t, d, g, 0b11, false)
		_, _, groups, repairBytes := d.Usage()
		if groups > cfg.MaxGroups || repairBytes > cfg.MaxRepairBytes {
			t.Fatalf("after group %d: %d groups, %d repair bytes; bounds %d, %d", i, groups, repairBytes, cfg.MaxGroups, cfg.MaxRepairBytes)
		}
	}
	// The defaults bound a Decoder too.
	d = NewDecoder(DecoderConfig{})
	for range 2000 {
		d.AddSource(pn, randBytes(r, 1400))
		pn++
	}
	if sources, sourceBytes, _, _ := d.Usage(); sources > defaultMaxSources || sourceBytes > defaultMaxSourceBytes {
		t.Errorf("defaults: %d payloads, %d bytes held", sources, sourceBytes)
	}
}

// TestDecoderCountsWhatItHolds: a repair symbol of three bytes is held in
// a buffer of MaxSymbolLen, and counts as that against MaxRepairBytes, so a
// peer sending tiny symbols cannot make the Decoder hold more memory than
// its bounds say (an audit held 1.1 MiB while the count said 1.5 KB).
func TestDecoderCountsWhatItHolds(t *testing.T) {
	cfg := DecoderConfig{MaxGroups: 16, MaxRepairBytes: 4 * MaxSymbolLen}
	d := NewDecoder(cfg)
	for i := range 10 {
		first := packet.PacketNumber(10 * i)
		f := packet.FECRepairFrame{Sources: []packet.PacketNumber{first, first + 1}, Index: 0, Symbol: []byte{1, 2, 3}}
		if _, err := d.AddRepair(first+5, f); err != nil {
			t.Fatal(err)
		}
		_, _, groups, repairBytes := d.Usage()
		if repairBytes > cfg.MaxRepairBytes || groups > 4 || repairBytes != groups*MaxSymbolLen {
			t.Fatalf("after %d groups of one 3-byte symbol: %d groups, %d repair bytes counted; want at most 4 groups, each counted as %d", i+1, groups, repairBytes, MaxSymbolLen)
		}
	}
}

// TestDecoderRejectsInconsistentRepairs: repair frames that break the
// rules of docs/PROTOCOL.md section 10 fail with ErrInconsistent, and
// never panic.
func TestDecoderRejectsInconsistentRepairs(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	g := encodeGroup(t, r, 4, 2, 100) // sources 100.., repairs after
	f0, f1 := g.repairs[0], g.repairs[1]
	with := func(f packet.FECRepairFrame, edit func(*packet.FECRepairFrame)) packet.FECRepairFrame {
		f.Sources = slices.Clone(f.Sources)
		f.Symbol = bytes.Clone(f.Symbol)
		edit(&f)
		return f
	}
	tests := []struct {
		desc  string
		cfg   DecoderConfig
		setup func(d *Decoder) // earlier, valid input
		pn    packet.PacketNumber
		f     packet.FECRepairFrame
	}{{
		desc: "repair index not below the announced maximum",
		cfg:  DecoderConfig{MaxRepair: 1},
		pn:   g.repairPN[1], f: f1,
	}, {
		desc: "symbol longer than MaxSymbolLen",
		pn:   g.repairPN[0], f: with(f0, func(f *packet.FECRepairFrame) { f.Symbol = make([]byte, MaxSymbolLen+1) }),
	}, {
		desc: "source at the repair packet's own number",
		pn:   groupEnd(f0.Sources), f: f0,
	}, {
		desc:  "same group, another source count",
		setup: func(d *Decoder) { d.AddRepair(g.repairPN[0], f0) },
		pn:    g.repairPN[1], f: with(f1, func(f *packet.FECRepairFrame) { f.Sources = f.Sources[:3] }),
	}, {
		desc:  "same group, another symbol length",
		setup: func(d *Decoder) { d.AddRepair(g.repairPN[0], f0) },
		pn:    g.repairPN[1], f: with(f1, func(f *packet.FECRepairFrame) { f.Symbol = append(f.Symbol, 0) }),
	}, {
		desc:  "group overlapping a waiting group",
		setup: func(d *Decoder) { d.AddRepair(g.repairPN[0], f0) },
		pn:    g.repairPN[1], f: with(f1, func(f *packet.FECRepairFrame) {
			f.Sources = append([]packet.PacketNumber{f.Sources[0] - 1}, f.Sources[1:]...)
		}),
	}, {
		desc: "group overlapping a finished group",
		setup: func(d *Decoder) {
			for j, pn := range g.pns {
				d.AddSource(pn, g.payloads[j])
			}
			d.AddRepair(g.repairPN[0], f0) // complete: finished
		},
		pn: g.repairPN[1], f: with(f1, func(f *packet.FECRepairFrame) { f.Sources = f.Sources[1:] }),
	}, {
		desc: "received source longer than the symbol",
		setup: func(d *Decoder) {
			d.AddSource(g.pns[0], make([]byte, len(f0.Symbol)))
		},
		pn: g.repairPN[0], f: f0,
	}, {
		desc: "symbols that rebuild a bad length prefix",
		setup: func(d *Decoder) {
			for j := 1; j < len(g.pns); j++ {
				d.AddSource(g.pns[j], g.payloads[j])
			}
		},
		pn: g.repairPN[0], f: with(f0, func(f *packet.FECRepairFrame) { f.Symbol[0] ^= 0xff }),
	}, {
		desc: "symbols that rebuild non-zero padding",
		setup: func(d *Decoder) {
			for j := 0; j < len(g.pns)-1; j++ {
				d.AddSource(g.pns[j], g.payloads[j])
			}
		},
		pn: g.repairPN[0], f: with(f0, func(f *packet.FECRepairFrame) {
			f.Symbol = append(f.Symbol, make([]byte, 8)...) // the rebuilt payload keeps its length; its padding is not zero
			f.Symbol[len(f.Symbol)-1] = 1
		}),
	}}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			d := NewDecoder(tc.cfg)
			if tc.setup != nil {
				tc.setup(d)
			}
			got, err := d.AddRepair(tc.pn, tc.f)
			if !errors.Is(err, ErrInconsistent) {
				t.Fatalf("AddRepair = %s, %v; want ErrInconsistent", describe(got), err)
			}
		})
	}
}

func equalRecovered(got, want []Recovered) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].PN != want[i].PN || !bytes.Equal(got[i].Payload, want[i].Payload) {
			return false
		}
	}
	return true
}

func describe(rs []Recovered) string {
	s := "["
	for i, r := range rs {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%d:%dB", r.PN, len(r.Payload))
	}
	return s + "]"
}

// TestDecoderSteadyStateDoesNotAllocate: once a Decoder holds as many
// sources as it may, each new one, small or full-size, reuses the buffer
// of the source it evicts.
func TestDecoderSteadyStateDoesNotAllocate(t *testing.T) {
	d := NewDecoder(DecoderConfig{MaxSources: 32})
	small, large := bytes.Repeat([]byte{1}, 100), bytes.Repeat([]byte{2}, 1400)
	pn := packet.PacketNumber(0)
	// Each run adds one of each (AllocsPerRun rounds down).
	add := func() {
		for _, p := range [][]byte{small, large} {
			if _, err := d.AddSource(pn, p); err != nil {
				t.Fatal(err)
			}
			pn++
		}
	}
	for range 500 {
		add()
	}
	if allocs := testing.AllocsPerRun(1000, add); allocs != 0 {
		t.Errorf("%.0f allocations per pair of sources in steady state, want 0", allocs)
	}
}
