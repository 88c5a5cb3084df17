package ackframes

import (
	"slices"
	"testing"
	"time"
)

func newTestDetector(t *testing.T, cfg LossConfig) *LossDetector[int] {
	t.Helper()
	return NewLossDetector[int](cfg)
}

func sendIn(t *testing.T, d *LossDetector[int], s Space, p SentPacket[int]) {
	t.Helper()
	if err := d.OnPacketSent(s, p); err != nil {
		t.Fatalf("OnPacketSent(%v, %d): %v", s, p.Number, err)
	}
}

func TestLossDetectorPTOBackoff(t *testing.T) {
	d := newTestDetector(t, LossConfig{})
	sendIn(t, d, SpaceApplication, sent(0, t0))

	if got := d.Deadline(steadyRTT); !got.Equal(t0.Add(ms(165))) {
		t.Fatalf("Deadline() = t0+%v, want t0+165ms", got.Sub(t0))
	}
	if _, to := d.OnTimeout(t0.Add(ms(164)), steadyRTT, nil); to.Kind != TimeoutNone || d.PTOCount() != 0 {
		t.Fatalf("OnTimeout before the deadline = %+v, PTOCount %d; want none, 0", to, d.PTOCount())
	}
	// Each expiry doubles the period until the cap: 165, 330, 660, 1320,
	// 2640 ms, then 3 s for ever.
	wantPeriods := []time.Duration{ms(165), ms(330), ms(660), ms(1320), ms(2640), 3 * time.Second, 3 * time.Second}
	for i, want := range wantPeriods {
		at := d.Deadline(steadyRTT)
		if !at.Equal(t0.Add(want)) {
			t.Fatalf("after %d expiries Deadline() = t0+%v, want t0+%v", i, at.Sub(t0), want)
		}
		lost, to := d.OnTimeout(at, steadyRTT, nil)
		if to != (Timeout{Kind: TimeoutPTO, Space: SpaceApplication}) || len(lost) != 0 {
			t.Fatalf("expiry %d: OnTimeout = %+v, lost %v; want a PTO in the Application space", i, to, numbers(lost))
		}
		if d.PTOCount() != i+1 {
			t.Fatalf("PTOCount() = %d, want %d", d.PTOCount(), i+1)
		}
	}

	// An ACK that acknowledges something new restarts the backoff.
	d.OnAck(SpaceApplication, ackOf(rg(0, 0)), t0.Add(10*time.Second), nil)
	if d.PTOCount() != 0 {
		t.Fatalf("PTOCount() = %d after a new acknowledgement, want 0", d.PTOCount())
	}
	if got := d.Deadline(steadyRTT); !got.IsZero() {
		t.Fatalf("Deadline() = t0+%v with nothing in flight, want zero", got.Sub(t0))
	}
	sendIn(t, d, SpaceApplication, sent(1, t0.Add(10*time.Second)))
	if got, want := d.Deadline(steadyRTT), t0.Add(10*time.Second+ms(165)); !got.Equal(want) {
		t.Fatalf("Deadline() = t0+%v, want t0+%v", got.Sub(t0), want.Sub(t0))
	}
	d.OnTimeout(t0.Add(10*time.Second+ms(165)), steadyRTT, nil)
	// One that acknowledges nothing new leaves it alone.
	d.OnAck(SpaceApplication, ackOf(rg(0, 0)), t0.Add(11*time.Second), nil)
	if d.PTOCount() != 1 {
		t.Errorf("PTOCount() = %d after an ACK of nothing new, want 1", d.PTOCount())
	}
}

func TestLossDetectorConfiguredCapAndAckDelay(t *testing.T) {
	d := newTestDetector(t, LossConfig{MaxPTOInterval: ms(500), PeerMaxAckDelay: ms(60)})
	sendIn(t, d, SpaceApplication, sent(0, t0))
	// 100 + 4·10 + 60 = 200 ms, then 400, then capped at 500.
	for i, want := range []time.Duration{ms(200), ms(400), ms(500), ms(500)} {
		at := d.Deadline(steadyRTT)
		if !at.Equal(t0.Add(want)) {
			t.Fatalf("after %d expiries Deadline() = t0+%v, want t0+%v", i, at.Sub(t0), want)
		}
		d.OnTimeout(at, steadyRTT, nil)
	}
	d.ResetPTOCount()
	d.SetPeerMaxAckDelay(ms(100))
	if got := d.Deadline(steadyRTT); !got.Equal(t0.Add(ms(240))) {
		t.Errorf("with max_ack_delay 100ms Deadline() = t0+%v, want t0+240ms", got.Sub(t0))
	}
}

func TestLossDetectorSpaces(t *testing.T) {
	tests := []struct {
		desc         string
		initialAt    time.Duration // -1: nothing sent in the space
		appAt        time.Duration
		wantDeadline time.Duration
		wantSpace    Space
	}{
		// The Initial space's PTO has no max_ack_delay: 100 + 40 = 140 ms.
		{desc: "Initial only", initialAt: 0, appAt: -1, wantDeadline: ms(140), wantSpace: SpaceInitial},
		{desc: "Application only", initialAt: -1, appAt: 0, wantDeadline: ms(165), wantSpace: SpaceApplication},
		{desc: "the earlier of the two", initialAt: ms(50), appAt: 0, wantDeadline: ms(165), wantSpace: SpaceApplication},
		{desc: "the earlier of the two, other way", initialAt: ms(20), appAt: ms(10), wantDeadline: ms(160), wantSpace: SpaceInitial},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			d := newTestDetector(t, LossConfig{})
			if tt.initialAt >= 0 {
				sendIn(t, d, SpaceInitial, sent(0, t0.Add(tt.initialAt)))
			}
			if tt.appAt >= 0 {
				sendIn(t, d, SpaceApplication, sent(0, t0.Add(tt.appAt)))
			}
			at := d.Deadline(steadyRTT)
			if !at.Equal(t0.Add(tt.wantDeadline)) {
				t.Fatalf("Deadline() = t0+%v, want t0+%v", at.Sub(t0), tt.wantDeadline)
			}
			if _, to := d.OnTimeout(at, steadyRTT, nil); to.Kind != TimeoutPTO || to.Space != tt.wantSpace {
				t.Errorf("OnTimeout = %+v, want a PTO in %v", to, tt.wantSpace)
			}
		})
	}
}

func TestLossDetectorNothingInFlight(t *testing.T) {
	d := newTestDetector(t, LossConfig{})
	if got := d.Deadline(steadyRTT); !got.IsZero() {
		t.Fatalf("Deadline() with nothing sent = t0+%v, want zero", got.Sub(t0))
	}
	if _, to := d.OnTimeout(t0.Add(time.Hour), steadyRTT, nil); to.Kind != TimeoutNone {
		t.Errorf("OnTimeout = %+v, want none", to)
	}
}

func TestLossDetectorLossTimeFirst(t *testing.T) {
	d := newTestDetector(t, LossConfig{})
	sendIn(t, d, SpaceApplication, sent(0, t0))
	sendIn(t, d, SpaceApplication, sent(1, t0.Add(ms(10))))
	sendIn(t, d, SpaceApplication, sent(2, t0.Add(ms(20))))
	now := t0.Add(ms(100))
	acked, res := d.OnAck(SpaceApplication, ackOf(rg(1, 1)), now, nil)
	if got := numbers(acked); !slices.Equal(got, []pn{1}) || !res.HasRTTSample || res.RTTSample != ms(90) {
		t.Fatalf("OnAck: acked %v, result %+v; want [1] with a 90ms sample", got, res)
	}
	if lost, _ := d.DetectLost(SpaceApplication, now, steadyRTT, nil); len(lost) != 0 {
		t.Fatalf("lost %v at t0+100ms, want none", numbers(lost))
	}
	// Packet 0 becomes lost by time at t0+112.5ms, before the PTO of
	// packet 2 (t0+20ms+165ms).
	lossAt := t0.Add(112500 * time.Microsecond)
	if got := d.Deadline(steadyRTT); !got.Equal(lossAt) {
		t.Fatalf("Deadline() = t0+%v, want the loss time t0+112.5ms", got.Sub(t0))
	}
	lost, to := d.OnTimeout(lossAt, steadyRTT, nil)
	if to != (Timeout{Kind: TimeoutLoss, Space: SpaceApplication}) {
		t.Fatalf("OnTimeout = %+v, want a loss timeout", to)
	}
	if got := numbers(lost); !slices.Equal(got, []pn{0}) {
		t.Fatalf("lost %v, want [0]", got)
	}
	if d.PTOCount() != 0 {
		t.Errorf("PTOCount() = %d after a loss timeout, want 0", d.PTOCount())
	}
	if got := d.Deadline(steadyRTT); !got.Equal(t0.Add(ms(185))) {
		t.Errorf("Deadline() = t0+%v, want packet 2's PTO at t0+185ms", got.Sub(t0))
	}
}

func TestLossDetectorDiscardSpace(t *testing.T) {
	d := newTestDetector(t, LossConfig{})
	for n := pn(0); n < 2; n++ {
		p := sent(n, t0)
		p.Size = 1200
		sendIn(t, d, SpaceInitial, p)
	}
	sendIn(t, d, SpaceApplication, sent(0, t0.Add(ms(300))))
	if d.BytesInFlight() != 3400 {
		t.Fatalf("BytesInFlight() = %d, want 3400", d.BytesInFlight())
	}
	d.OnTimeout(d.Deadline(steadyRTT), steadyRTT, nil)
	if d.PTOCount() != 1 {
		t.Fatalf("PTOCount() = %d, want 1", d.PTOCount())
	}
	out := d.DiscardSpace(SpaceInitial, nil)
	if got := numbers(out); !slices.Equal(got, []pn{0, 1}) {
		t.Errorf("DiscardSpace returned %v, want [0 1]", got)
	}
	if d.BytesInFlight() != 1000 || d.PTOCount() != 0 || d.History(SpaceInitial).Len() != 0 {
		t.Errorf("after DiscardSpace: BytesInFlight %d, PTOCount %d, Initial Len %d; want 1000, 0, 0",
			d.BytesInFlight(), d.PTOCount(), d.History(SpaceInitial).Len())
	}
	if got := d.Deadline(steadyRTT); !got.Equal(t0.Add(ms(465))) {
		t.Errorf("Deadline() = t0+%v, want the Application PTO at t0+465ms", got.Sub(t0))
	}
}

func TestLossDetectorFirstRTTSampleIsConnectionWide(t *testing.T) {
	d := newTestDetector(t, LossConfig{})
	sendIn(t, d, SpaceInitial, sent(0, t0))
	d.OnAck(SpaceInitial, ackOf(rg(0, 0)), t0.Add(ms(100)), nil)
	// Application packets sent after the Initial sample can establish
	// persistent congestion although the Application space has no sample
	// of its own yet: the RTT estimate is the connection's.
	for n := pn(0); n < 8; n++ {
		sendIn(t, d, SpaceApplication, sent(n, t0.Add(ms(200)+time.Duration(n)*ms(100))))
	}
	sendIn(t, d, SpaceApplication, sent(8, t0.Add(ms(1000))))
	now := t0.Add(ms(1100))
	d.OnAck(SpaceApplication, ackOf(rg(8, 8)), now, nil)
	lost, persistent := d.DetectLost(SpaceApplication, now, steadyRTT, nil)
	if got := numbers(lost); !slices.Equal(got, []pn{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("lost %v, want 0..7", got)
	}
	if !persistent {
		t.Error("persistent congestion = false, want true: 700ms of losses after the first sample")
	}
}

func TestEnumStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{SpaceInitial.String(), "Initial"},
		{SpaceApplication.String(), "Application"},
		{Space(7).String(), "Space(7)"},
		{TimeoutNone.String(), "none"},
		{TimeoutLoss.String(), "loss"},
		{TimeoutPTO.String(), "PTO"},
		{TimeoutKind(9).String(), "TimeoutKind(9)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
}
