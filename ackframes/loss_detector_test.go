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

func sendIn(t *testing.T, d *LossDetector[int], p SentPacket[int]) {
	t.Helper()
	if err := d.OnPacketSent(p); err != nil {
		t.Fatalf("OnPacketSent(%d): %v", p.Number, err)
	}
}

func TestLossDetectorPTOBackoff(t *testing.T) {
	d := newTestDetector(t, LossConfig{})
	sendIn(t, d, sent(0, t0))

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
		if to != (Timeout{Kind: TimeoutPTO}) || len(lost) != 0 {
			t.Fatalf("expiry %d: OnTimeout = %+v, lost %v; want a PTO in the Application space", i, to, numbers(lost))
		}
		if d.PTOCount() != i+1 {
			t.Fatalf("PTOCount() = %d, want %d", d.PTOCount(), i+1)
		}
	}

	// An ACK that acknowledges something new restarts the backoff.
	d.OnAck(ackOf(rg(0, 0)), t0.Add(10*time.Second), nil)
	if d.PTOCount() != 0 {
		t.Fatalf("PTOCount() = %d after a new acknowledgement, want 0", d.PTOCount())
	}
	if got := d.Deadline(steadyRTT); !got.IsZero() {
		t.Fatalf("Deadline() = t0+%v with nothing in flight, want zero", got.Sub(t0))
	}
	sendIn(t, d, sent(1, t0.Add(10*time.Second)))
	if got, want := d.Deadline(steadyRTT), t0.Add(10*time.Second+ms(165)); !got.Equal(want) {
		t.Fatalf("Deadline() = t0+%v, want t0+%v", got.Sub(t0), want.Sub(t0))
	}
	d.OnTimeout(t0.Add(10*time.Second+ms(165)), steadyRTT, nil)
	// One that acknowledges nothing new leaves it alone.
	d.OnAck(ackOf(rg(0, 0)), t0.Add(11*time.Second), nil)
	if d.PTOCount() != 1 {
		t.Errorf("PTOCount() = %d after an ACK of nothing new, want 1", d.PTOCount())
	}
}

func TestLossDetectorConfiguredCapAndAckDelay(t *testing.T) {
	d := newTestDetector(t, LossConfig{MaxPTOInterval: ms(500), PeerMaxAckDelay: ms(60)})
	sendIn(t, d, sent(0, t0))
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
	sendIn(t, d, sent(0, t0))
	sendIn(t, d, sent(1, t0.Add(ms(10))))
	sendIn(t, d, sent(2, t0.Add(ms(20))))
	now := t0.Add(ms(100))
	acked, res := d.OnAck(ackOf(rg(1, 1)), now, nil)
	if got := numbers(acked); !slices.Equal(got, []pn{1}) || !res.HasRTTSample || res.RTTSample != ms(90) {
		t.Fatalf("OnAck: acked %v, result %+v; want [1] with a 90ms sample", got, res)
	}
	if lost, _ := d.DetectLost(now, steadyRTT, nil); len(lost) != 0 {
		t.Fatalf("lost %v at t0+100ms, want none", numbers(lost))
	}
	// Packet 0 becomes lost by time at t0+112.5ms, before the PTO of
	// packet 2 (t0+20ms+165ms).
	lossAt := t0.Add(112500 * time.Microsecond)
	if got := d.Deadline(steadyRTT); !got.Equal(lossAt) {
		t.Fatalf("Deadline() = t0+%v, want the loss time t0+112.5ms", got.Sub(t0))
	}
	lost, to := d.OnTimeout(lossAt, steadyRTT, nil)
	if to != (Timeout{Kind: TimeoutLoss}) {
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

func TestEnumStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
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
