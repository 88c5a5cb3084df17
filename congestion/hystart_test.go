package congestion

import (
	"math"
	"testing"
	"time"
)

// roundDriver feeds a hystart rounds of a fixed number of packets. It
// sends the next round's packets right after the first ACK of the current
// round, so each round is exactly the packets the driver meant.
type roundDriver struct {
	t       *testing.T
	h       hystart
	size    int
	next    int64
	pending []int64
}

func newRoundDriver(t *testing.T, size int) *roundDriver {
	t.Helper()
	d := &roundDriver{t: t, size: size}
	d.h.reset()
	d.sendRound()
	return d
}

func (d *roundDriver) sendRound() {
	d.pending = d.pending[:0]
	for range d.size {
		d.h.onPacketSent(d.next)
		d.pending = append(d.pending, d.next)
		d.next++
	}
}

// round acknowledges the current round's packets with the given RTT
// samples, one per packet, and returns the phase after the last ACK.
func (d *roundDriver) round(samples ...time.Duration) Phase {
	d.t.Helper()
	if len(samples) != d.size {
		d.t.Fatalf("round with %d samples for %d packets", len(samples), d.size)
	}
	acked := append([]int64(nil), d.pending...)
	var phase Phase
	for i, pn := range acked {
		phase = d.h.onAck(pn, samples[i], true)
		if i == 0 {
			d.sendRound()
		}
	}
	return phase
}

// flat is n samples of one RTT.
func flat(n int, rtt time.Duration) []time.Duration {
	s := make([]time.Duration, n)
	for i := range s {
		s[i] = rtt
	}
	return s
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

func TestHyStartExitThreshold(t *testing.T) {
	tests := []struct {
		desc   string
		size   int // samples per round
		first  []time.Duration
		second []time.Duration
		want   Phase
	}{
		{desc: "flat RTT stays in slow start", size: 8, first: flat(8, ms(100)), second: flat(8, ms(100)), want: PhaseSlowStart},
		{desc: "rise just below RTT/8 (12.5 ms) stays", size: 8, first: flat(8, ms(100)), second: flat(8, ms(112.499)), want: PhaseSlowStart},
		{desc: "rise of RTT/8 enters CSS", size: 8, first: flat(8, ms(100)), second: flat(8, ms(112.5)), want: PhaseConservativeSlowStart},
		{desc: "short RTT: 4 ms floor, 3.999 ms stays", size: 8, first: flat(8, ms(20)), second: flat(8, ms(23.999)), want: PhaseSlowStart},
		{desc: "short RTT: 4 ms floor, 4 ms enters CSS", size: 8, first: flat(8, ms(20)), second: flat(8, ms(24)), want: PhaseConservativeSlowStart},
		{desc: "long RTT: 16 ms cap, 15.999 ms stays", size: 8, first: flat(8, ms(200)), second: flat(8, ms(215.999)), want: PhaseSlowStart},
		{desc: "long RTT: 16 ms cap, 16 ms enters CSS", size: 8, first: flat(8, ms(200)), second: flat(8, ms(216)), want: PhaseConservativeSlowStart},
		{desc: "seven samples a round never decide", size: 7, first: flat(7, ms(100)), second: flat(7, ms(300)), want: PhaseSlowStart},
		{desc: "one low sample keeps the round minimum down", size: 8, first: flat(8, ms(100)),
			second: []time.Duration{ms(130), ms(130), ms(130), ms(130), ms(130), ms(130), ms(130), ms(100)}, want: PhaseSlowStart},
		{desc: "the first round has no baseline", size: 8, first: flat(8, ms(300)), second: flat(8, ms(300)), want: PhaseSlowStart},
	}
	for _, tt := range tests {
		d := newRoundDriver(t, tt.size)
		if got := d.round(tt.first...); got != PhaseSlowStart {
			t.Errorf("%s: after the first round: got %v, want slow_start", tt.desc, got)
			continue
		}
		if got := d.round(tt.second...); got != tt.want {
			t.Errorf("%s: after the second round: got %v, want %v", tt.desc, got, tt.want)
		}
	}
}

func TestHyStartConservativeSlowStartRounds(t *testing.T) {
	d := newRoundDriver(t, 8)
	steps := []struct {
		desc string
		rtt  time.Duration
		want Phase
	}{
		{desc: "baseline round", rtt: ms(100), want: PhaseSlowStart},
		{desc: "RTT up 20 ms: CSS at the round's 8th sample", rtt: ms(120), want: PhaseConservativeSlowStart},
		{desc: "first complete CSS round", rtt: ms(120), want: PhaseConservativeSlowStart},
		{desc: "RTT back below the CSS baseline: slow start again", rtt: ms(100), want: PhaseSlowStart},
		{desc: "new baseline round", rtt: ms(100), want: PhaseSlowStart},
		{desc: "RTT up 25 ms: CSS again", rtt: ms(125), want: PhaseConservativeSlowStart},
		{desc: "complete CSS round 1", rtt: ms(125), want: PhaseConservativeSlowStart},
		{desc: "complete CSS round 2", rtt: ms(125), want: PhaseConservativeSlowStart},
		{desc: "complete CSS round 3", rtt: ms(125), want: PhaseConservativeSlowStart},
		{desc: "complete CSS round 4", rtt: ms(125), want: PhaseConservativeSlowStart},
		{desc: "complete CSS round 5: congestion avoidance", rtt: ms(125), want: PhaseCongestionAvoidance},
		{desc: "done: later samples change nothing", rtt: ms(10), want: PhaseCongestionAvoidance},
	}
	for i, st := range steps {
		if got := d.round(flat(8, st.rtt)...); got != st.want {
			t.Fatalf("round %d (%s): got %v, want %v", i+1, st.desc, got, st.want)
		}
	}
}

func TestHyStartRTTThreshold(t *testing.T) {
	tests := []struct {
		desc string
		last time.Duration
		want time.Duration
	}{
		{desc: "floor", last: ms(1), want: ms(4)},
		{desc: "eighth", last: ms(80), want: ms(10)},
		{desc: "cap", last: ms(1000), want: ms(16)},
	}
	for _, tt := range tests {
		if got := rttThreshold(tt.last); got != tt.want {
			t.Errorf("%s: rttThreshold(%v): got %v, want %v", tt.desc, tt.last, got, tt.want)
		}
	}
}

func TestHyStartLeavesSlowStartOnRTTIncrease(t *testing.T) {
	const mss = 1400
	c := NewCubic(CubicOptions{MaxDatagramSize: mss})
	s := newPathSim(t, c, mss, 0)
	s.rttOf = func(sent time.Time) time.Duration {
		if sent.Sub(simEpoch) < 500*time.Millisecond {
			return 100 * time.Millisecond
		}
		return 120 * time.Millisecond
	}
	phases := []Phase{PhaseSlowStart}
	var cssEntryWindow, exitWindow, cssACKs int
	prevWindow := c.Window()
	s.onAck = func(s *pathSim, p simPacket, lost bool) {
		if lost {
			t.Fatalf("unexpected loss")
		}
		if phases[len(phases)-1] == PhaseConservativeSlowStart && c.Window() != prevWindow {
			// In CSS each one-datagram ACK grows the window by a quarter
			// datagram (RFC 9406 §4.2), exactly.
			if got, want := c.Window()-prevWindow, mss/4; got != want {
				t.Fatalf("at %v: CSS growth per ACK: got %d, want %d", s.now.Sub(simEpoch), got, want)
			}
			cssACKs++
		}
		prevWindow = c.Window()
		if ph := c.Phase(); ph != phases[len(phases)-1] {
			phases = append(phases, ph)
			switch ph {
			case PhaseConservativeSlowStart:
				cssEntryWindow = c.Window()
			case PhaseCongestionAvoidance:
				exitWindow = c.Window()
			}
		}
	}
	s.run(simEpoch.Add(2 * time.Second))

	want := []Phase{PhaseSlowStart, PhaseConservativeSlowStart, PhaseCongestionAvoidance}
	if !equalPhases(phases, want) {
		t.Fatalf("phases: got %v, want %v", phases, want)
	}
	if got := c.SlowStartThreshold(); got != exitWindow {
		t.Fatalf("ssthresh after CSS: got %d, want the window at exit %d", got, exitWindow)
	}
	// Five complete CSS rounds at 1.25× each, plus part of the entry round.
	if ratio := float64(exitWindow) / float64(cssEntryWindow); ratio < math.Pow(1.25, 5)*0.9 || ratio > math.Pow(1.25, 6) {
		t.Fatalf("window grew %.2f× in CSS (%d to %d); want about 1.25 per round for 5 to 6 rounds", ratio, cssEntryWindow, exitWindow)
	}
	if cssACKs == 0 {
		t.Fatalf("no ACKs observed in CSS")
	}
	// Leaving slow start without a loss starts the curve at the current
	// window (RFC 9438 §4.10).
	if !c.epochStarted || c.k != 0 || c.wMax != float64(exitWindow) || c.cwndPrior != exitWindow {
		t.Fatalf("first epoch: started %v, K %v, W_max %v, cwnd_prior %v; want true, 0, %d, %d", c.epochStarted, c.k, c.wMax, c.cwndPrior, exitWindow, exitWindow)
	}
}

func TestHyStartResumesSlowStartWhenRTTFalls(t *testing.T) {
	const mss = 1400
	c := NewCubic(CubicOptions{MaxDatagramSize: mss})
	s := newPathSim(t, c, mss, 0)
	s.rttOf = func(sent time.Time) time.Duration {
		if at := sent.Sub(simEpoch); at >= 500*time.Millisecond && at < 750*time.Millisecond {
			return 120 * time.Millisecond
		}
		return 100 * time.Millisecond
	}
	phases := []Phase{PhaseSlowStart}
	s.onAck = func(s *pathSim, p simPacket, lost bool) {
		if ph := c.Phase(); ph != phases[len(phases)-1] {
			phases = append(phases, ph)
		}
	}
	s.run(simEpoch.Add(1200 * time.Millisecond))
	want := []Phase{PhaseSlowStart, PhaseConservativeSlowStart, PhaseSlowStart}
	if !equalPhases(phases, want) {
		t.Fatalf("phases: got %v, want %v", phases, want)
	}
	if got := c.SlowStartThreshold(); got != math.MaxInt {
		t.Fatalf("ssthresh: got %d, want unset", got)
	}
}

func TestHyStartFlatRTTStaysInSlowStart(t *testing.T) {
	const mss = 1400
	c := NewCubic(CubicOptions{MaxDatagramSize: mss})
	s := newPathSim(t, c, mss, 100*time.Millisecond)
	s.onAck = func(s *pathSim, p simPacket, lost bool) {
		if ph := c.Phase(); ph != PhaseSlowStart {
			t.Fatalf("at %v: phase %v with a flat RTT; want slow_start", s.now.Sub(simEpoch), ph)
		}
	}
	s.run(simEpoch.Add(1200 * time.Millisecond))
	// Twelve rounds of doubling from ten datagrams, give or take the
	// round in flight.
	if got, low := c.Window(), 10*mss<<10; got < low {
		t.Fatalf("window after 12 flat rounds: got %d, want at least %d", got, low)
	}
}

func TestLossInConservativeSlowStart(t *testing.T) {
	const mss = 1000
	d := newDriver(t, CubicOptions{MaxDatagramSize: mss})
	// Drive the controller's HyStart++ into CSS through its rounds: 10
	// packets a round, the next round sent on the first ACK of the
	// current one, RTT 100 ms then 150 ms.
	pending := d.send(10)
	round := func(rtt time.Duration) {
		d.advance(rtt)
		current := pending
		for i, p := range current {
			d.ack(d.c.Window(), p)
			if i == 0 {
				pending = d.send(10)
			}
		}
	}
	round(100 * time.Millisecond)
	round(150 * time.Millisecond)
	if got := d.c.Phase(); got != PhaseConservativeSlowStart {
		t.Fatalf("phase: got %v, want conservative_slow_start", got)
	}
	before := d.c.Window()
	p := d.send(1)
	d.advance(time.Millisecond)
	d.ack(d.c.Window(), p...)
	if got, want := d.c.Window()-before, mss/4; got != want {
		t.Fatalf("CSS growth for one datagram: got %d, want %d", got, want)
	}
	w := d.c.Window()
	d.loseOne(p[0].at)
	if got, want := d.c.Window(), w*7/10; got != want {
		t.Fatalf("window after a loss in CSS: got %d, want %d", got, want)
	}
	if !d.c.hs.done() {
		t.Fatalf("HyStart++ still running after a loss")
	}
}

func equalPhases(a, b []Phase) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHyStartEntryRoundDoesNotFlap feeds a round whose RTT samples enter
// CSS at the eighth and then fall a little, staying well above the
// threshold: the rest of the round stays in CSS, with the round's minimum
// as the baseline, and a following round at that minimum stays there too.
func TestHyStartEntryRoundDoesNotFlap(t *testing.T) {
	h, send := afterBaselineRound()
	samples := []time.Duration{ms(125), ms(125), ms(125), ms(125), ms(125), ms(125), ms(125), ms(125),
		ms(124), ms(123), ms(122), ms(121), ms(120), ms(119), ms(118), ms(117)}
	changes, phase := 0, h.phase
	for i, rtt := range samples {
		if got := h.onAck(16+int64(i), rtt, true); got != phase {
			changes++
			phase = got
		}
		if i == 0 {
			send(8)
		}
	}
	if phase != PhaseConservativeSlowStart || changes != 1 {
		t.Fatalf("after the round: %v with %d phase changes, want conservative_slow_start after 1", phase, changes)
	}
	for i := range int64(8) {
		if got := h.onAck(32+i, ms(117), true); got != PhaseConservativeSlowStart {
			t.Fatalf("a round at the entry round's minimum: got %v, want conservative_slow_start", got)
		}
	}
}

// TestHyStartEntryRoundFallsBelowThreshold: in the round that entered
// CSS, a sample below the threshold that triggered it (last round's
// minimum plus RttThresh) shows the increase was not a queue: slow start
// resumes, and the rest of the round does not re-enter CSS.
func TestHyStartEntryRoundFallsBelowThreshold(t *testing.T) {
	h, _ := afterBaselineRound()
	// Threshold 112.5 ms: eight samples at 113 enter CSS, then 101.
	for i := range int64(8) {
		h.onAck(16+i, ms(113), true)
	}
	if h.phase != PhaseConservativeSlowStart {
		t.Fatalf("after eight samples at 113 ms: %v, want conservative_slow_start", h.phase)
	}
	if got := h.onAck(24, ms(101), true); got != PhaseSlowStart {
		t.Fatalf("a 101 ms sample in the entry round: %v, want slow_start", got)
	}
	for i := int64(25); i < 32; i++ {
		if got := h.onAck(i, ms(113), true); got != PhaseSlowStart {
			t.Fatalf("the rest of the round at 113 ms (minimum 101): %v, want slow_start", got)
		}
	}
}

// afterBaselineRound returns a hystart that has seen one round of 16
// packets at 100 ms, with the second round's 16 packets (numbers 16–31)
// sent at the first ACK of the first, and a function that sends the next
// n packets. Each round's packets go out at the first ACK of the round
// before, as a window-limited sender's do.
func afterBaselineRound() (*hystart, func(n int)) {
	h := new(hystart)
	h.reset()
	var pn int64
	send := func(n int) {
		for range n {
			h.onPacketSent(pn)
			pn++
		}
	}
	send(16)
	for i := range int64(16) {
		h.onAck(i, ms(100), true)
		if i == 0 {
			send(16)
		}
	}
	return h, send
}
