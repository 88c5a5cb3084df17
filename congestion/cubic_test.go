package congestion

import (
	"math"
	"testing"
	"time"
)

// driver feeds a Cubic hand-written events at explicit times.
type driver struct {
	t      *testing.T
	c      *Cubic
	rtt    RTTStats
	now    time.Time
	nextPN int64
	mss    int
}

// sent is a packet the driver has sent.
type sent struct {
	pn   int64
	at   time.Time
	size int
}

func newDriver(t *testing.T, opts CubicOptions) *driver {
	t.Helper()
	c := NewCubic(opts)
	return &driver{t: t, c: c, now: simEpoch, mss: c.MaxDatagramSize()}
}

func (d *driver) advance(dt time.Duration) { d.now = d.now.Add(dt) }

// send sends n maximum-size datagrams at d.now.
func (d *driver) send(n int) []sent {
	out := make([]sent, n)
	for i := range out {
		out[i] = sent{pn: d.nextPN, at: d.now, size: d.mss}
		d.c.OnPacketSent(d.now, d.nextPN, d.mss)
		d.nextPN++
	}
	return out
}

// ack delivers one ACK frame for pkts at d.now with the bytes in flight
// before it, taking an RTT sample from the newest packet.
func (d *driver) ack(priorInFlight int, pkts ...sent) {
	if len(pkts) > 0 {
		newest := pkts[0]
		for _, p := range pkts {
			if p.pn > newest.pn {
				newest = p
			}
		}
		d.rtt.Update(d.now.Sub(newest.at), 0, true)
	}
	for _, p := range pkts {
		d.c.OnPacketAcked(d.now, p.pn, p.size, p.at)
	}
	d.c.OnAckProcessed(d.now, priorInFlight, &d.rtt)
}

// growTo runs slow start with window-limited single-packet ACKs until the
// window is exactly w bytes: a short datagram first if w - Window() is not
// a multiple of the datagram size.
func (d *driver) growTo(w int) {
	d.t.Helper()
	if w < d.c.Window() {
		d.t.Fatalf("growTo(%d) from %d: the window only grows", w, d.c.Window())
	}
	if r := (w - d.c.Window()) % d.mss; r != 0 {
		p := sent{pn: d.nextPN, at: d.now, size: r}
		d.c.OnPacketSent(d.now, d.nextPN, r)
		d.nextPN++
		d.advance(time.Millisecond)
		d.ack(d.c.Window(), p)
	}
	for d.c.Window() < w {
		p := d.send(1)
		d.advance(time.Millisecond)
		d.ack(d.c.Window(), p...)
	}
	if got := d.c.Window(); got != w {
		d.t.Fatalf("window after growTo: got %d, want %d", got, w)
	}
}

// loseOne declares one datagram sent at sentAt lost at d.now.
func (d *driver) loseOne(sentAt time.Time) {
	d.c.OnLoss(d.now, d.mss, sentAt)
}

func TestInitialAndMinimumWindow(t *testing.T) {
	tests := []struct {
		desc        string
		size        int
		wantInitial int
		wantMinimum int
	}{
		{desc: "QUIC minimum datagram: 14720 bytes all the same", size: 1200, wantInitial: 14720, wantMinimum: 2400},
		{desc: "default datagram", size: 1252, wantInitial: 14720, wantMinimum: 2504},
		{desc: "IPv4 Ethernet datagram", size: 1472, wantInitial: 14720, wantMinimum: 2944},
		{desc: "14720 caps ten Ethernet-sized datagrams", size: 1500, wantInitial: 14720, wantMinimum: 3000},
		{desc: "two datagrams from 7360 bytes", size: 8000, wantInitial: 16000, wantMinimum: 16000},
		{desc: "jumbo datagrams get two", size: 9000, wantInitial: 18000, wantMinimum: 18000},
	}
	for _, tt := range tests {
		if got := InitialWindow(tt.size); got != tt.wantInitial {
			t.Errorf("%s: InitialWindow(%d): got %d, want %d", tt.desc, tt.size, got, tt.wantInitial)
		}
		if got := MinimumWindow(tt.size); got != tt.wantMinimum {
			t.Errorf("%s: MinimumWindow(%d): got %d, want %d", tt.desc, tt.size, got, tt.wantMinimum)
		}
		c := NewCubic(CubicOptions{MaxDatagramSize: tt.size})
		if got := c.Window(); got != tt.wantInitial {
			t.Errorf("%s: NewCubic window: got %d, want %d", tt.desc, got, tt.wantInitial)
		}
	}
}

func TestNewCubicDefaults(t *testing.T) {
	c := NewCubic(CubicOptions{})
	if got, want := c.MaxDatagramSize(), DefaultMaxDatagramSize; got != want {
		t.Errorf("MaxDatagramSize: got %d, want %d", got, want)
	}
	if got, want := c.Window(), 14720; got != want {
		t.Errorf("Window: got %d, want %d", got, want)
	}
	if got, want := c.SlowStartThreshold(), math.MaxInt; got != want {
		t.Errorf("SlowStartThreshold: got %d, want %d", got, want)
	}
	if !c.InSlowStart() || c.InRecovery() || c.Phase() != PhaseSlowStart {
		t.Errorf("state: InSlowStart %v, InRecovery %v, Phase %v; want true, false, slow_start", c.InSlowStart(), c.InRecovery(), c.Phase())
	}
	huge := NewCubic(CubicOptions{MaxDatagramSize: math.MaxInt, MaxWindow: math.MaxInt})
	if got, want := huge.MaxDatagramSize(), MaxDatagramSizeLimit; got != want {
		t.Errorf("oversized datagram: got %d, want it clamped to %d", got, want)
	}
	if got, want := huge.maxWindow, maxWindowLimit; got != want {
		t.Errorf("oversized MaxWindow: got %d, want it clamped to %d", got, want)
	}
}

func TestCanSend(t *testing.T) {
	c := NewCubic(CubicOptions{MaxDatagramSize: 1472}) // window 14720
	tests := []struct {
		desc     string
		inFlight int
		want     bool
	}{
		{desc: "empty", inFlight: 0, want: true},
		{desc: "room for exactly one more datagram", inFlight: 13248, want: true},
		{desc: "a datagram would overshoot by a byte", inFlight: 13249, want: false},
		{desc: "window full", inFlight: 14720, want: false},
	}
	for _, tt := range tests {
		if got := c.CanSend(tt.inFlight); got != tt.want {
			t.Errorf("%s: CanSend(%d): got %v, want %v", tt.desc, tt.inFlight, got, tt.want)
		}
	}
}

func TestSlowStartGrowth(t *testing.T) {
	const mss = 1000
	iw := InitialWindow(mss) // 14720
	tests := []struct {
		desc          string
		opts          CubicOptions
		packets       int // datagrams acknowledged by one ACK frame
		priorInFlight int
		want          int
	}{
		{desc: "grows by the bytes acknowledged", packets: 3, priorInFlight: iw, want: iw + 3000},
		{desc: "paced: one ACK may grow by many datagrams (L = infinity)", packets: 20, priorInFlight: 20000, want: iw + 20000},
		{desc: "unpaced: L = 8 datagrams per ACK", opts: CubicOptions{Unpaced: true}, packets: 20, priorInFlight: 20000, want: iw + 8000},
		{desc: "half the window in flight still counts as window-limited", packets: 1, priorInFlight: iw / 2, want: iw + 1000},
		{desc: "less than half in flight: application-limited", packets: 1, priorInFlight: iw/2 - 1, want: iw},
	}
	for _, tt := range tests {
		tt.opts.MaxDatagramSize = mss
		d := newDriver(t, tt.opts)
		pkts := d.send(tt.packets)
		d.advance(100 * time.Millisecond)
		d.ack(tt.priorInFlight, pkts...)
		if got := d.c.Window(); got != tt.want {
			t.Errorf("%s: window: got %d, want %d", tt.desc, got, tt.want)
		}
	}
}

func TestLossReduction(t *testing.T) {
	const mss = 1000
	tests := []struct {
		desc       string
		window     int     // window when the loss is declared
		prevWMax   float64 // W_max from an earlier loss, 0 for none
		wantWindow int
		wantWMax   float64
	}{
		{desc: "first loss: β·cwnd, W_max = cwnd", window: 100000, wantWindow: 70000, wantWMax: 100000},
		{desc: "fractional bytes are dropped", window: 100009, wantWindow: 70006, wantWMax: 100009},
		{desc: "never below the minimum window", window: 2500, wantWindow: 2000, wantWMax: 2500},
		{desc: "fast convergence: below the previous W_max", window: 100000, prevWMax: 120000, wantWindow: 70000, wantWMax: 85000},
		{desc: "at the previous W_max: no fast convergence", window: 100000, prevWMax: 100000, wantWindow: 70000, wantWMax: 100000},
		{desc: "above the previous W_max: W_max = cwnd", window: 100000, prevWMax: 90000, wantWindow: 70000, wantWMax: 100000},
	}
	for _, tt := range tests {
		c := NewCubic(CubicOptions{MaxDatagramSize: mss})
		c.cwnd = tt.window
		c.wMax = tt.prevWMax
		now := simEpoch.Add(time.Second)
		c.OnLoss(now, mss, now.Add(-time.Millisecond))
		if got := c.Window(); got != tt.wantWindow {
			t.Errorf("%s: window: got %d, want %d", tt.desc, got, tt.wantWindow)
		}
		if got := c.SlowStartThreshold(); got != tt.wantWindow {
			t.Errorf("%s: ssthresh: got %d, want %d", tt.desc, got, tt.wantWindow)
		}
		if math.Abs(c.wMax-tt.wantWMax) > 1e-9 {
			t.Errorf("%s: W_max: got %f, want %f", tt.desc, c.wMax, tt.wantWMax)
		}
		if got := c.cwndPrior; got != tt.window {
			t.Errorf("%s: cwnd_prior: got %d, want %d", tt.desc, got, tt.window)
		}
		if !c.InRecovery() || c.Phase() != PhaseRecovery {
			t.Errorf("%s: InRecovery %v, Phase %v; want true, recovery", tt.desc, c.InRecovery(), c.Phase())
		}
	}
}

func TestOneReductionPerRecoveryPeriod(t *testing.T) {
	const mss = 1000
	d := newDriver(t, CubicOptions{MaxDatagramSize: mss, DisableHyStart: true})
	d.growTo(100000)
	old := d.send(50) // sent before the loss
	d.advance(50 * time.Millisecond)

	d.loseOne(old[0].at)
	if got, want := d.c.Window(), 70000; got != want {
		t.Fatalf("after the first loss: window %d, want %d", got, want)
	}
	recoveryStart := d.now

	// More losses among packets sent before recovery began: same episode.
	d.advance(time.Millisecond)
	d.loseOne(old[10].at)
	d.c.OnLoss(d.now, 20*mss, old[49].at)
	if got, want := d.c.Window(), 70000; got != want {
		t.Fatalf("after losses from the same episode: window %d, want %d", got, want)
	}

	// ACKs for packets sent before recovery began neither grow the window
	// nor end recovery.
	d.ack(100000, old[20:30]...)
	if got, want := d.c.Window(), 70000; got != want {
		t.Fatalf("after ACKs of pre-recovery packets: window %d, want %d", got, want)
	}
	if !d.c.InRecovery() {
		t.Fatalf("recovery ended by an ACK of a packet sent before it began")
	}

	// A packet sent exactly at the recovery start still counts as before
	// it (RFC 9002: sent_time <= congestion_recovery_start_time).
	d.c.OnLoss(d.now, mss, recoveryStart)
	if got, want := d.c.Window(), 70000; got != want {
		t.Fatalf("after losing a packet sent at recovery start: window %d, want %d", got, want)
	}

	// The first ACK of a packet sent after recovery began ends it.
	fresh := d.send(1)
	d.advance(50 * time.Millisecond)
	d.ack(70000, fresh...)
	if d.c.InRecovery() {
		t.Fatalf("still in recovery after an ACK of a packet sent after it began")
	}
	if got := d.c.Phase(); got != PhaseCongestionAvoidance {
		t.Fatalf("phase after recovery: got %v, want congestion_avoidance", got)
	}
	afterRecovery := d.c.Window()
	if afterRecovery <= 70000 {
		t.Fatalf("window after the first post-recovery ACK: got %d, want growth above 70000", afterRecovery)
	}

	// A loss of a packet sent after recovery began is a new episode.
	newer := d.send(1)
	d.advance(10 * time.Millisecond)
	d.loseOne(newer[0].at)
	if got, want := d.c.Window(), afterRecovery*7/10; got != want {
		t.Fatalf("after a loss in a new episode: window %d, want %d", got, want)
	}
}

func TestLossInSameACKAsGrowthDiscardsGrowth(t *testing.T) {
	const mss = 1000
	d := newDriver(t, CubicOptions{MaxDatagramSize: mss, DisableHyStart: true})
	d.growTo(20000)
	pkts := d.send(3)
	d.advance(50 * time.Millisecond)
	// Loss detection may report the acknowledged packets before the loss;
	// those packets were sent before the recovery period the loss starts.
	d.c.OnPacketAcked(d.now, pkts[1].pn, mss, pkts[1].at)
	d.c.OnPacketAcked(d.now, pkts[2].pn, mss, pkts[2].at)
	d.loseOne(pkts[0].at)
	d.c.OnAckProcessed(d.now, 20000, &d.rtt)
	if got, want := d.c.Window(), 14000; got != want {
		t.Fatalf("window: got %d, want %d (no growth from packets sent before the loss)", got, want)
	}
}

func TestPersistentCongestion(t *testing.T) {
	const mss = 1000
	d := newDriver(t, CubicOptions{MaxDatagramSize: mss})
	d.growTo(100000)
	pkts := d.send(10)
	d.advance(3 * time.Second)
	d.c.OnLoss(d.now, 10*mss, pkts[9].at)
	d.c.OnPersistentCongestion(d.now)
	if got, want := d.c.Window(), 2000; got != want {
		t.Fatalf("window after persistent congestion: got %d, want the minimum %d", got, want)
	}
	if got, want := d.c.SlowStartThreshold(), 70000; got != want {
		t.Fatalf("ssthresh after persistent congestion: got %d, want %d", got, want)
	}
	if d.c.InRecovery() || d.c.Phase() != PhaseSlowStart {
		t.Fatalf("InRecovery %v, Phase %v; want false, slow_start", d.c.InRecovery(), d.c.Phase())
	}

	// Slow start (without HyStart++, which only runs in the initial slow
	// start) climbs back to ssthresh.
	d.growTo(70000)
	if got := d.c.Phase(); got != PhaseCongestionAvoidance {
		t.Fatalf("phase at ssthresh: got %v, want congestion_avoidance", got)
	}
	if d.c.hs.phase == PhaseConservativeSlowStart {
		t.Fatalf("HyStart++ ran in a slow start after persistent congestion")
	}

	// The first epoch after it starts a fresh curve at the current window
	// (RFC 9438 §4.8): K = 0 and W_max = cwnd_epoch.
	p := d.send(1)
	d.advance(10 * time.Millisecond)
	d.ack(70000, p...)
	if !d.c.epochStarted || d.c.k != 0 || d.c.wMax != 70000 || d.c.wEst < 70000 {
		t.Fatalf("first epoch after persistent congestion: started %v, K %v, W_max %v, W_est %v; want true, 0, 70000, >= 70000",
			d.c.epochStarted, d.c.k, d.c.wMax, d.c.wEst)
	}
}

func TestPersistentCongestionWithoutPriorLoss(t *testing.T) {
	const mss = 1000
	d := newDriver(t, CubicOptions{MaxDatagramSize: mss})
	d.growTo(50000)
	d.c.OnPersistentCongestion(d.now)
	if got, want := d.c.Window(), 2000; got != want {
		t.Errorf("window: got %d, want %d", got, want)
	}
	if got, want := d.c.SlowStartThreshold(), 35000; got != want {
		t.Errorf("ssthresh: got %d, want %d", got, want)
	}
}

// caDriver returns a driver in congestion avoidance at window 70000 with
// an epoch that started at the returned time.
func caDriver(t *testing.T) (*driver, time.Time) {
	t.Helper()
	const mss = 1000
	d := newDriver(t, CubicOptions{MaxDatagramSize: mss, DisableHyStart: true})
	d.growTo(100000)
	pkts := d.send(1)
	d.advance(100 * time.Millisecond)
	d.loseOne(pkts[0].at)
	d.advance(time.Millisecond)
	p := d.send(1)
	d.advance(100 * time.Millisecond)
	d.ack(70000, p...)
	if !d.c.epochStarted || !d.c.epochStart.Equal(d.now) {
		t.Fatalf("epoch not started by the first ACK after recovery")
	}
	return d, d.now
}

func TestAppLimitedFreezesCurve(t *testing.T) {
	d, epoch := caDriver(t)
	c := d.c

	d.advance(time.Second)
	p := d.send(1)
	d.ack(c.Window(), p...)
	grown := c.Window()

	// One datagram in flight of a window of many: application-limited.
	for range 3 {
		d.advance(time.Second)
		d.ack(d.mss, d.send(1)...)
	}
	if got := c.Window(); got != grown {
		t.Fatalf("window while application-limited: got %d, want %d", got, grown)
	}
	if got, want := c.epochStart, epoch.Add(3*time.Second); !got.Equal(want) {
		t.Fatalf("epoch start after 3 s application-limited: got +%v, want +%v", got.Sub(epoch), want.Sub(epoch))
	}

	// A flight a few datagrams below the window is application-limited too.
	d.advance(time.Second)
	d.ack(c.Window()-4*d.mss, d.send(1)...)
	if got := c.Window(); got != grown {
		t.Fatalf("window after an ACK with 4 datagrams unused: got %d, want %d", got, grown)
	}
	if got, want := c.epochStart, epoch.Add(4*time.Second); !got.Equal(want) {
		t.Fatalf("epoch start: got +%v, want +%v", got.Sub(epoch), want.Sub(epoch))
	}

	// Within three datagrams of the window is window-limited, and growth
	// resumes on the curve as if the unused time had not passed.
	d.advance(time.Second)
	d.ack(c.Window()-3*d.mss, d.send(1)...)
	if c.Window() <= grown {
		t.Fatalf("window after a window-limited ACK: got %d, want growth above %d", c.Window(), grown)
	}
}

func TestTargetCappedAtOneAndAHalfWindows(t *testing.T) {
	d, _ := caDriver(t)
	c := d.c
	// 100 s into the epoch W_cubic(t+RTT) is far above 1.5·cwnd, so one
	// ACK of a datagram adds (1.5·cwnd − cwnd)·MSS/cwnd = MSS/2.
	d.advance(100 * time.Second)
	before := c.Window()
	d.ack(before, d.send(1)...)
	if got, want := c.Window()-before, d.mss/2; got != want {
		t.Fatalf("growth from one ACK far up the curve: got %d, want %d", got, want)
	}
}

func TestMaxWindowCap(t *testing.T) {
	d := newDriver(t, CubicOptions{MaxDatagramSize: 1000, MaxWindow: 15500})
	d.ack(10000, d.send(10)...)
	if got, want := d.c.Window(), 15500; got != want {
		t.Fatalf("window: got %d, want the cap %d", got, want)
	}
}

func TestSetMaxDatagramSize(t *testing.T) {
	tests := []struct {
		desc       string
		grow       bool // grow the window before the change
		size       int
		wantSize   int
		wantWindow int
	}{
		{desc: "untouched window becomes the new initial window", size: 9000, wantSize: 9000, wantWindow: 18000},
		{desc: "the initial window is 14720 bytes up to 7360-byte datagrams", size: 1452, wantSize: 1452, wantWindow: 14720},
		{desc: "shrinking an untouched window too", grow: false, size: 1200, wantSize: 1200, wantWindow: 14720},
		{desc: "grown window is kept", grow: true, size: 1452, wantSize: 1452, wantWindow: 20000},
		{desc: "grown window is raised to the new minimum", grow: true, size: 12000, wantSize: 12000, wantWindow: 24000},
		{desc: "non-positive size is ignored", size: 0, wantSize: 1000, wantWindow: 14720},
		{desc: "oversized is clamped", size: 1 << 20, wantSize: MaxDatagramSizeLimit, wantWindow: 2 * MaxDatagramSizeLimit},
	}
	for _, tt := range tests {
		d := newDriver(t, CubicOptions{MaxDatagramSize: 1000})
		if tt.grow {
			d.growTo(20000)
		}
		d.c.SetMaxDatagramSize(tt.size)
		if got := d.c.MaxDatagramSize(); got != tt.wantSize {
			t.Errorf("%s: MaxDatagramSize: got %d, want %d", tt.desc, got, tt.wantSize)
		}
		if got := d.c.Window(); got != tt.wantWindow {
			t.Errorf("%s: Window: got %d, want %d", tt.desc, got, tt.wantWindow)
		}
	}
}

func TestReset(t *testing.T) {
	d, _ := caDriver(t)
	d.c.Reset(d.now)
	c := d.c
	if c.Window() != InitialWindow(1000) || c.SlowStartThreshold() != math.MaxInt || c.InRecovery() || c.Phase() != PhaseSlowStart ||
		c.epochStarted || c.wMax != 0 {
		t.Fatalf("after Reset: window %d, ssthresh %d, recovery %v, phase %v, epoch %v, W_max %v; want the initial state",
			c.Window(), c.SlowStartThreshold(), c.InRecovery(), c.Phase(), c.epochStarted, c.wMax)
	}
	// A loss of a packet sent before the reset starts a fresh episode.
	c.OnLoss(d.now, 1000, d.now.Add(-time.Hour))
	if got, want := c.Window(), InitialWindow(1000)*7/10; got != want {
		t.Fatalf("loss after Reset: window %d, want %d", got, want)
	}
}

func TestPhaseString(t *testing.T) {
	tests := []struct {
		phase Phase
		want  string
	}{
		{PhaseSlowStart, "slow_start"},
		{PhaseConservativeSlowStart, "conservative_slow_start"},
		{PhaseCongestionAvoidance, "congestion_avoidance"},
		{PhaseRecovery, "recovery"},
		{Phase(200), "unknown_phase"},
	}
	for _, tt := range tests {
		if got := tt.phase.String(); got != tt.want {
			t.Errorf("Phase(%d).String(): got %q, want %q", uint8(tt.phase), got, tt.want)
		}
	}
}

func TestIgnoresEmptyLoss(t *testing.T) {
	c := NewCubic(CubicOptions{})
	c.OnLoss(simEpoch, 0, simEpoch)
	if c.InRecovery() || c.Window() != InitialWindow(DefaultMaxDatagramSize) {
		t.Fatalf("a loss of zero bytes changed the state: window %d, recovery %v", c.Window(), c.InRecovery())
	}
}
