package ackframes

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// rxStep is one event in an ACK-policy script: a packet arriving at t0+at,
// or (with ackSent) an ACK frame going out.
type rxStep struct {
	pn           pn
	ackEliciting bool
	at           time.Duration
	ackSent      bool
	wantDup      bool
}

func recv(n pn, ackEliciting bool, at time.Duration) rxStep {
	return rxStep{pn: n, ackEliciting: ackEliciting, at: at}
}

func TestReceiverAckPolicy(t *testing.T) {
	const none = time.Duration(-1)
	tests := []struct {
		desc        string
		maxAckDelay time.Duration
		steps       []rxStep
		// wantDeadline is the ACK deadline after the steps, relative to
		// t0, or none.
		wantDeadline time.Duration
	}{
		{
			desc:         "a single ack-eliciting packet waits max_ack_delay",
			maxAckDelay:  ms(25),
			steps:        []rxStep{recv(0, true, ms(10))},
			wantDeadline: ms(35),
		},
		{
			desc:         "the second ack-eliciting packet is acknowledged at once",
			maxAckDelay:  ms(25),
			steps:        []rxStep{recv(0, true, ms(10)), recv(1, true, ms(12))},
			wantDeadline: ms(12),
		},
		{
			desc:         "non-ack-eliciting packets alone never need an ACK",
			maxAckDelay:  ms(25),
			steps:        []rxStep{recv(0, false, 0), recv(1, false, ms(1)), recv(5, false, ms(2)), recv(3, false, ms(3))},
			wantDeadline: none,
		},
		{
			desc:         "a non-ack-eliciting packet does not count towards the second",
			maxAckDelay:  ms(25),
			steps:        []rxStep{recv(0, false, 0), recv(1, true, ms(4))},
			wantDeadline: ms(29),
		},
		{
			desc:        "a packet above a gap is acknowledged at once",
			maxAckDelay: ms(25),
			steps: []rxStep{
				recv(0, true, 0), {ackSent: true},
				recv(2, true, ms(7)),
			},
			wantDeadline: ms(7),
		},
		{
			desc:        "a packet filling a gap is acknowledged at once",
			maxAckDelay: ms(25),
			steps: []rxStep{
				recv(0, true, 0), recv(2, true, ms(1)), {ackSent: true},
				recv(1, true, ms(3)),
			},
			wantDeadline: ms(3),
		},
		{
			desc:         "a first packet with numbers missing below it is acknowledged at once",
			maxAckDelay:  ms(25),
			steps:        []rxStep{recv(3, true, ms(2))},
			wantDeadline: ms(2),
		},
		{
			desc:        "reordering of non-ack-eliciting packets triggers nothing",
			maxAckDelay: ms(25),
			steps: []rxStep{
				recv(0, true, 0), {ackSent: true},
				recv(3, false, ms(1)), recv(1, false, ms(2)),
			},
			wantDeadline: none,
		},
		{
			desc:        "a duplicate does not count as the second packet",
			maxAckDelay: ms(25),
			steps: []rxStep{
				recv(0, true, 0), {pn: 0, ackEliciting: true, at: ms(5), wantDup: true},
			},
			wantDeadline: ms(25),
		},
		{
			desc:        "sending an ACK clears the deadline",
			maxAckDelay: ms(25),
			steps: []rxStep{
				recv(0, true, 0), {ackSent: true},
			},
			wantDeadline: none,
		},
		{
			desc:        "after an ACK the next lone packet starts a new delay",
			maxAckDelay: ms(25),
			steps: []rxStep{
				recv(0, true, 0), recv(1, true, ms(1)), {ackSent: true},
				recv(2, true, ms(40)),
			},
			wantDeadline: ms(65),
		},
		{
			desc:        "the delay runs from the first unacknowledged packet",
			maxAckDelay: ms(25),
			steps: []rxStep{
				recv(0, false, 0), recv(1, true, ms(10)), recv(2, false, ms(30)),
			},
			wantDeadline: ms(35),
		},
		{
			desc:         "the Initial space acknowledges immediately",
			maxAckDelay:  0,
			steps:        []rxStep{recv(0, true, ms(3))},
			wantDeadline: ms(3),
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := NewReceiver(tt.maxAckDelay, 0)
			for i, st := range tt.steps {
				if st.ackSent {
					r.OnAckSent()
					continue
				}
				if got := r.OnPacketReceived(st.pn, st.ackEliciting, t0.Add(st.at)); got != st.wantDup {
					t.Fatalf("step %d: OnPacketReceived(%d) duplicate = %v, want %v", i, st.pn, got, st.wantDup)
				}
			}
			got := r.AckDeadline()
			if tt.wantDeadline == none {
				if !got.IsZero() {
					t.Fatalf("AckDeadline() = t0+%v, want none", got.Sub(t0))
				}
				if r.ShouldAckNow(t0.Add(time.Hour)) {
					t.Errorf("ShouldAckNow(t0+1h) = true, want false")
				}
				return
			}
			want := t0.Add(tt.wantDeadline)
			if !got.Equal(want) {
				t.Fatalf("AckDeadline() = t0+%v, want t0+%v", got.Sub(t0), tt.wantDeadline)
			}
			if r.ShouldAckNow(want.Add(-time.Nanosecond)) {
				t.Errorf("ShouldAckNow(deadline-1ns) = true, want false")
			}
			if !r.ShouldAckNow(want) {
				t.Errorf("ShouldAckNow(deadline) = false, want true")
			}
		})
	}
}

func TestReceiverHasUnacked(t *testing.T) {
	r := NewReceiver(DefaultMaxAckDelay, 0)
	if r.HasUnacked() {
		t.Fatal("HasUnacked() = true before any packet")
	}
	r.OnPacketReceived(0, false, t0)
	if !r.HasUnacked() {
		t.Fatal("HasUnacked() = false after a non-ack-eliciting packet")
	}
	r.OnAckSent()
	if r.HasUnacked() {
		t.Fatal("HasUnacked() = true after OnAckSent")
	}
}

// receiverWith returns a receiver that has received every number in the
// given ranges, the largest at t0.
func receiverWith(t *testing.T, maxRanges int, ranges ...packet.AckRange) *Receiver {
	t.Helper()
	r := NewReceiver(DefaultMaxAckDelay, maxRanges)
	for _, rg := range ranges {
		for n := rg.Smallest; n <= rg.Largest; n++ {
			if r.OnPacketReceived(n, true, t0) {
				t.Fatalf("OnPacketReceived(%d) reported a duplicate", n)
			}
		}
	}
	return r
}

func TestBuildAckByteBudget(t *testing.T) {
	// Five ranges of ten numbers: 0-9, 20-29, 40-49, 60-69, 80-89.
	var in []packet.AckRange
	for i := 0; i < 5; i++ {
		in = append(in, packet.AckRange{Smallest: pn(20 * i), Largest: pn(20*i + 9)})
	}
	// Type (1) + Largest 89 (2) + Delay 0 (1) + Range Count (1) + First
	// Range 9 (1) = 6 bytes; each further range is Gap 9 (1) + Length 9 (1).
	all := []packet.AckRange{
		{Smallest: 80, Largest: 89}, {Smallest: 60, Largest: 69}, {Smallest: 40, Largest: 49},
		{Smallest: 20, Largest: 29}, {Smallest: 0, Largest: 9},
	}
	tests := []struct {
		desc     string
		maxBytes int
		wantOK   bool
		want     []packet.AckRange
		wantLen  int
	}{
		{desc: "too small for the top range", maxBytes: 5, wantOK: false},
		{desc: "exactly the top range", maxBytes: 6, wantOK: true, want: all[:1], wantLen: 6},
		{desc: "one byte short of a second range", maxBytes: 7, wantOK: true, want: all[:1], wantLen: 6},
		{desc: "exactly two ranges", maxBytes: 8, wantOK: true, want: all[:2], wantLen: 8},
		{desc: "exactly four ranges", maxBytes: 12, wantOK: true, want: all[:4], wantLen: 12},
		{desc: "exactly all ranges", maxBytes: 14, wantOK: true, want: all, wantLen: 14},
		{desc: "plenty of room", maxBytes: 1200, wantOK: true, want: all, wantLen: 14},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := receiverWith(t, 0, in...)
			buf := make([]packet.AckRange, 0, 8)
			f, ok := r.BuildAck(t0, 3, tt.maxBytes, buf)
			if ok != tt.wantOK {
				t.Fatalf("BuildAck ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if !slices.Equal(f.Ranges, tt.want) {
				t.Errorf("ranges = %v, want %v", f.Ranges, tt.want)
			}
			if got := f.Len(); got != tt.wantLen {
				t.Errorf("encoded length = %d, want %d", got, tt.wantLen)
			}
			if f.Delay != 0 || f.HasECN {
				t.Errorf("Delay = %d, HasECN = %v, want 0, false", f.Delay, f.HasECN)
			}
		})
	}
}

func TestBuildAckRangeCountGrows(t *testing.T) {
	// 71 single-number ranges 0, 2, …, 140. The top one costs Type (1) +
	// Largest 140 (2) + Delay (1) + First Range 0 (1) = 5 bytes, each
	// further one Gap 0 (1) + Length 0 (1), and the Range Count takes a
	// second byte from 64 further ranges on: 63 further ranges take
	// 5+1+126 = 132 bytes, 64 take 5+2+128 = 135.
	var in []packet.AckRange
	for i := 0; i <= 70; i++ {
		in = append(in, packet.AckRange{Smallest: pn(2 * i), Largest: pn(2 * i)})
	}
	tests := []struct {
		desc      string
		maxBytes  int
		wantCount int // ranges in the frame
	}{
		{desc: "63 further ranges fill 132 bytes", maxBytes: 132, wantCount: 64},
		{desc: "134 bytes cannot hold the 64th further range", maxBytes: 134, wantCount: 64},
		{desc: "135 bytes hold 64 further ranges", maxBytes: 135, wantCount: 65},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := receiverWith(t, 100, in...)
			f, ok := r.BuildAck(t0, 3, tt.maxBytes, make([]packet.AckRange, 0, 100))
			if !ok {
				t.Fatal("BuildAck ok = false, want true")
			}
			if len(f.Ranges) != tt.wantCount {
				t.Fatalf("got %d ranges, want %d", len(f.Ranges), tt.wantCount)
			}
			if got := f.Ranges[0]; got != (packet.AckRange{Smallest: 140, Largest: 140}) {
				t.Errorf("top range = %v, want 140-140", got)
			}
			wantLen := 132
			if tt.wantCount == 65 {
				wantLen = 135
			}
			if got := f.Len(); got != wantLen {
				t.Errorf("encoded length = %d, want %d", got, wantLen)
			}
		})
	}
}

// TestBuildAckFitsBudget builds ACK frames for random receive histories and
// budgets and checks that each frame lists the highest reportable ranges,
// fits, could not take one more range, and survives an encode/parse round
// trip through the packet codec.
func TestBuildAckFitsBudget(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		rnd := rand.New(rand.NewPCG(seed, 77))
		r := NewReceiver(DefaultMaxAckDelay, 0)
		now := t0
		buf := make([]packet.AckRange, 0, DefaultMaxAckRanges)
		parsed := make([]packet.AckRange, 0, DefaultMaxAckRanges)
		var wire []byte
		next := pn(0)
		for trial := 0; trial < 400; trial++ {
			// Receive a burst with holes, sometimes large jumps so that
			// varint sizes vary.
			for i := rnd.IntN(20); i > 0; i-- {
				next += pn(1 + rnd.IntN(3))
				if rnd.IntN(50) == 0 {
					next += pn(rnd.IntN(40000))
				}
				now = now.Add(time.Duration(rnd.IntN(5000)) * time.Microsecond)
				r.OnPacketReceived(next, rnd.IntN(4) > 0, now)
			}
			if rnd.IntN(30) == 0 {
				r.OnAckAcked(next - pn(rnd.IntN(200)))
			}
			now = now.Add(time.Duration(rnd.IntN(30000)) * time.Microsecond)
			exp := uint8(rnd.IntN(MaxAckDelayExponent + 1))
			maxBytes := rnd.IntN(200)

			// What could be reported, top down.
			var want []packet.AckRange
			for i := 0; i < r.received.Len(); i++ {
				if rg, ok := r.trim(r.received.At(i)); ok {
					want = append(want, rg)
				}
			}
			delay := EncodeAckDelay(now.Sub(r.largestTime), exp)

			f, ok := r.BuildAck(now, exp, maxBytes, buf)
			if !ok {
				if len(want) > 0 && (packet.AckFrame{Ranges: want[:1], Delay: delay}).Len() <= maxBytes {
					t.Fatalf("seed %d trial %d: no frame although the top range %v fits %d bytes", seed, trial, want[0], maxBytes)
				}
				continue
			}
			k := len(f.Ranges)
			if k == 0 || k > len(want) || !slices.Equal(f.Ranges, want[:k]) {
				t.Fatalf("seed %d trial %d: ranges %v, want a prefix of %v", seed, trial, f.Ranges, want)
			}
			if f.Delay != delay || f.HasECN {
				t.Fatalf("seed %d trial %d: Delay %d HasECN %v, want %d false", seed, trial, f.Delay, f.HasECN, delay)
			}
			if f.Len() > maxBytes {
				t.Fatalf("seed %d trial %d: frame of %d bytes over a budget of %d", seed, trial, f.Len(), maxBytes)
			}
			if k < len(want) {
				if bigger := (packet.AckFrame{Ranges: want[:k+1], Delay: delay}); bigger.Len() <= maxBytes {
					t.Fatalf("seed %d trial %d: stopped at %d ranges, but %d fit in %d bytes", seed, trial, k, k+1, maxBytes)
				}
			}
			wire = f.Append(wire[:0])
			if len(wire) != f.Len() {
				t.Fatalf("seed %d trial %d: Append wrote %d bytes, Len() says %d", seed, trial, len(wire), f.Len())
			}
			back, n, err := packet.ParseAckFrame(wire, parsed)
			if err != nil || n != len(wire) || !slices.Equal(back.Ranges, f.Ranges) || back.Delay != f.Delay {
				t.Fatalf("seed %d trial %d: round trip gave %+v, %d, %v; want %+v", seed, trial, back, n, err, f)
			}
			if rnd.IntN(2) == 0 {
				r.OnAckSent()
			}
		}
	}
}

func TestBuildAckDelay(t *testing.T) {
	tests := []struct {
		desc     string
		exponent uint8
		// the largest packet arrives at t0+arrive, the ACK is built at t0+build
		arrive, build time.Duration
		want          uint64
	}{
		{desc: "default exponent", exponent: 3, arrive: ms(5), build: ms(15), want: 10000 >> 3},
		{desc: "exponent 0", exponent: 0, arrive: 0, build: ms(25), want: 25000},
		{desc: "sub-microsecond truncates", exponent: 0, arrive: 0, build: 999 * time.Nanosecond, want: 0},
		{desc: "maximum exponent", exponent: MaxAckDelayExponent, arrive: 0, build: 3 * time.Second, want: 2},
		{desc: "measured from the largest, not the latest", exponent: 3, arrive: ms(20), build: ms(28), want: 8000 >> 3},
		{desc: "a clock running backwards gives 0", exponent: 3, arrive: ms(20), build: ms(10), want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := NewReceiver(DefaultMaxAckDelay, 0)
			r.OnPacketReceived(10, true, t0.Add(tt.arrive))
			// A reordered lower packet arriving later must not move the
			// reference point.
			r.OnPacketReceived(7, true, t0.Add(tt.arrive+ms(1)))
			f, ok := r.BuildAck(t0.Add(tt.build), tt.exponent, 100, nil)
			if !ok {
				t.Fatal("BuildAck ok = false")
			}
			if f.Delay != tt.want {
				t.Errorf("Delay = %d, want %d", f.Delay, tt.want)
			}
		})
	}
}

func TestBuildAckEmpty(t *testing.T) {
	r := NewReceiver(DefaultMaxAckDelay, 0)
	if _, ok := r.BuildAck(t0, 3, 100, nil); ok {
		t.Error("BuildAck on an empty receiver: ok = true, want false")
	}
}

func TestReceiverAckOfAck(t *testing.T) {
	tests := []struct {
		desc       string
		received   []packet.AckRange
		ackAcked   pn
		then       []pn // further packets received after OnAckAcked
		wantOK     bool
		want       []packet.AckRange
		wantDups   []pn // numbers IsDuplicate must report
		wantFreshs []pn // numbers IsDuplicate must not report
	}{
		{
			desc:     "everything acknowledged: nothing left to report",
			received: []packet.AckRange{{Smallest: 0, Largest: 9}},
			ackAcked: 9,
			wantOK:   false,
			wantDups: []pn{0, 5, 9},
		},
		{
			desc:     "a range straddling the floor is trimmed",
			received: []packet.AckRange{{Smallest: 0, Largest: 9}},
			ackAcked: 5,
			wantOK:   true,
			want:     []packet.AckRange{{Smallest: 6, Largest: 9}},
			wantDups: []pn{3, 5, 6},
		},
		{
			desc:       "lower ranges are dropped, new packets reported",
			received:   []packet.AckRange{{Smallest: 0, Largest: 3}, {Smallest: 6, Largest: 9}},
			ackAcked:   9,
			then:       []pn{10, 12},
			wantOK:     true,
			want:       []packet.AckRange{{Smallest: 12, Largest: 12}, {Smallest: 10, Largest: 10}},
			wantDups:   []pn{1, 7, 10, 12},
			wantFreshs: []pn{4, 5, 11},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := receiverWith(t, 0, tt.received...)
			r.OnAckSent()
			r.OnAckAcked(tt.ackAcked)
			// An older ACK being acknowledged late must not lower the floor.
			r.OnAckAcked(tt.ackAcked - 3)
			for _, n := range tt.then {
				r.OnPacketReceived(n, true, t0)
			}
			f, ok := r.BuildAck(t0, 3, 1000, nil)
			if ok != tt.wantOK {
				t.Fatalf("BuildAck ok = %v, want %v (ranges %v)", ok, tt.wantOK, f.Ranges)
			}
			if ok && !slices.Equal(f.Ranges, tt.want) {
				t.Errorf("ranges = %v, want %v", f.Ranges, tt.want)
			}
			for _, n := range tt.wantDups {
				if !r.IsDuplicate(n) {
					t.Errorf("IsDuplicate(%d) = false, want true", n)
				}
			}
			for _, n := range tt.wantFreshs {
				if r.IsDuplicate(n) {
					t.Errorf("IsDuplicate(%d) = true, want false", n)
				}
			}
		})
	}
}

func TestReceiverLatePacketBelowReportFloor(t *testing.T) {
	r := receiverWith(t, 0, packet.AckRange{Smallest: 0, Largest: 3}, packet.AckRange{Smallest: 5, Largest: 9})
	r.OnAckSent()
	r.OnAckAcked(9)
	if dup := r.OnPacketReceived(4, true, t0.Add(ms(1))); dup {
		t.Fatal("OnPacketReceived(4) = duplicate, want new: it never arrived")
	}
	if !r.AckDeadline().IsZero() {
		t.Errorf("AckDeadline() = t0+%v, want none: 4 cannot be reported", r.AckDeadline().Sub(t0))
	}
	if _, ok := r.BuildAck(t0, 3, 1000, nil); ok {
		t.Error("BuildAck ok = true, want false")
	}
	if dup := r.OnPacketReceived(4, true, t0.Add(ms(2))); !dup {
		t.Error("second OnPacketReceived(4) = new, want duplicate")
	}
	if got := r.LargestReceived(); got != 9 {
		t.Errorf("LargestReceived() = %d, want 9", got)
	}
}

func TestReceiverSteadyStateDoesNotAllocate(t *testing.T) {
	r := NewReceiver(DefaultMaxAckDelay, 32)
	buf := make([]packet.AckRange, 0, 32)
	n := pn(0)
	now := t0
	allocs := testing.AllocsPerRun(1000, func() {
		if n%7 == 0 {
			n++ // leave a gap
		}
		r.OnPacketReceived(n, true, now)
		n++
		now = now.Add(time.Microsecond)
		if r.ShouldAckNow(now) {
			f, ok := r.BuildAck(now, 3, 1000, buf)
			if !ok || len(f.Ranges) == 0 {
				panic("no ACK built")
			}
			r.OnAckSent()
		}
	})
	if allocs != 0 {
		t.Errorf("allocations per packet = %v, want 0", allocs)
	}
}
