package ackframes

import (
	"testing"
	"time"
)

// TestReceiverAckFrequency checks the policy the peer's ACK_FREQUENCY sets
// (docs/PROTOCOL.md section 5, "ACK frequency"): the ACK goes out at once only
// when one more ack-eliciting packet than the threshold has arrived, otherwise
// at the requested max_ack_delay; reordering 0 stops gaps from sending it at
// once, and any other value keeps RFC 9000's rule.
func TestReceiverAckFrequency(t *testing.T) {
	const none = time.Duration(-1)
	tests := []struct {
		desc                  string
		threshold, reordering uint64
		delay                 time.Duration
		pns                   []pn // each arriving 1 ms after the one before, from t0
		want                  time.Duration
	}{
		{"nine in order wait for the delay", 9, 1, ms(5), []pn{0, 1, 2, 3, 4, 5, 6, 7, 8}, ms(5)},
		{"the tenth sends it at once", 9, 1, ms(25), []pn{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, ms(9)},
		{"a gap sends it at once", 9, 1, ms(5), []pn{0, 1, 3}, ms(2)},
		{"reordering 3 lets a hole of 1 wait", 9, 3, ms(5), []pn{0, 1, 3}, ms(5)},
		{"reordering 3 acknowledges a hole 3 deep", 9, 3, ms(25), []pn{0, 1, 3, 4, 5}, ms(4)},
		{"reordering 0 ignores the gap", 9, 0, ms(5), []pn{0, 1, 3}, ms(5)},
		{"reordering 0 ignores a late packet", 9, 0, ms(20), []pn{0, 2, 1}, ms(20)},
		{"threshold 0 acknowledges every packet", 0, 1, ms(5), []pn{0}, 0},
		{"threshold 1 is RFC 9000's", 1, 1, ms(25), []pn{0, 1}, ms(1)},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := NewReceiver(DefaultMaxAckDelay, 0)
			r.SetAckFrequency(tt.threshold, tt.delay, tt.reordering)
			if got := r.MaxAckDelay(); got != tt.delay {
				t.Fatalf("MaxAckDelay() = %v, want %v", got, tt.delay)
			}
			for i, n := range tt.pns {
				r.OnPacketReceived(n, true, t0.Add(ms(i)))
			}
			got := r.AckDeadline()
			if tt.want == none {
				if !got.IsZero() {
					t.Fatalf("AckDeadline() = t0+%v, want none", got.Sub(t0))
				}
				return
			}
			if want := t0.Add(tt.want); !got.Equal(want) {
				t.Fatalf("AckDeadline() = t0+%v, want t0+%v", got.Sub(t0), tt.want)
			}
		})
	}
}

// TestReceiverAckFrequencyLowered checks that lowering the threshold below
// what has already arrived makes the ACK due at once, and that after an ACK
// the count starts again.
func TestReceiverAckFrequencyLowered(t *testing.T) {
	r := NewReceiver(DefaultMaxAckDelay, 0)
	r.SetAckFrequency(9, ms(25), 1)
	for i := range 4 {
		r.OnPacketReceived(pn(i), true, t0.Add(ms(i)))
	}
	if got, want := r.AckDeadline(), t0.Add(ms(25)); !got.Equal(want) {
		t.Fatalf("with threshold 9: AckDeadline() = t0+%v, want t0+25ms", got.Sub(t0))
	}
	r.SetAckFrequency(1, ms(25), 1)
	if got, want := r.AckDeadline(), t0.Add(ms(3)); !got.Equal(want) {
		t.Fatalf("threshold lowered to 1 after 4 packets: AckDeadline() = t0+%v, want t0+3ms (due)", got.Sub(t0))
	}
	r.OnAckSent()
	r.SetAckFrequency(9, ms(25), 1)
	for i := 4; i < 13; i++ {
		r.OnPacketReceived(pn(i), true, t0.Add(ms(i)))
	}
	if got, want := r.AckDeadline(), t0.Add(ms(4+25)); !got.Equal(want) {
		t.Fatalf("9 packets after the ACK: AckDeadline() = t0+%v, want t0+29ms", got.Sub(t0))
	}
	r.OnPacketReceived(13, true, t0.Add(ms(13)))
	if got, want := r.AckDeadline(), t0.Add(ms(13)); !got.Equal(want) {
		t.Fatalf("the tenth after the ACK: AckDeadline() = t0+%v, want t0+13ms", got.Sub(t0))
	}
}

// TestReceiverReorderingThreshold replays the ACK frequency draft's
// examples (draft-ietf-quic-ack-frequency, section 6.2.1): with ACKs sent
// only for reordering, which arrivals send one at once.
func TestReceiverReorderingThreshold(t *testing.T) {
	tests := []struct {
		reordering uint64
		pns        []pn
		acks       []bool // whether each arrival makes the ACK due at once
	}{
		{3, []pn{0, 1, 3, 4, 5, 8, 9, 10}, []bool{false, false, false, false, true, false, true, true}},
		{5, []pn{0, 1, 3, 5, 6, 7, 8, 9}, []bool{false, false, false, false, false, true, false, true}},
		// A packet at least R below the last ACK's largest: the sender may
		// have declared it lost already.
		{3, []pn{0, 1, 3, 4, 5, 2}, []bool{false, false, false, false, true, true}},
	}
	for _, tt := range tests {
		r := NewReceiver(time.Hour, 0)
		r.SetAckFrequency(1<<40, time.Hour, tt.reordering)
		for i, n := range tt.pns {
			now := t0.Add(ms(i))
			r.OnPacketReceived(n, true, now)
			due := r.ShouldAckNow(now)
			if due != tt.acks[i] {
				t.Fatalf("reordering %d, packets %v: after %d the ACK is due = %v, want %v", tt.reordering, tt.pns[:i+1], n, due, tt.acks[i])
			}
			if due {
				r.OnAckSent()
			}
		}
	}
}

// TestReceiverCongestionExperienced: with a threshold above 1 only the first
// CE mark of a run makes the ACK due at once; under RFC 9000's policy every
// one does; a packet that is not ack-eliciting never does.
func TestReceiverCongestionExperienced(t *testing.T) {
	r := NewReceiver(DefaultMaxAckDelay, 0)
	r.SetAckFrequency(9, ms(25), 1)
	step := func(n pn, ce, eliciting, wantDue bool) {
		t.Helper()
		now := t0.Add(ms(int(n)))
		r.OnPacketReceived(n, eliciting, now)
		r.OnCongestionExperienced(ce, eliciting, now)
		if due := r.ShouldAckNow(now); due != wantDue {
			t.Fatalf("packet %d (CE %v, ack-eliciting %v): due = %v, want %v", n, ce, eliciting, due, wantDue)
		}
		if wantDue {
			r.OnAckSent()
		}
	}
	step(0, false, true, false)
	step(1, true, false, false) // not ack-eliciting: never by itself
	step(2, true, true, false)  // the previous packet was marked already
	step(3, false, true, false)
	step(4, true, true, true) // the first of a run
	step(5, true, true, false)
	r.SetAckFrequency(1, ms(25), 1)
	step(6, true, true, true) // RFC 9000's policy: every CE mark
}

// TestReceiverAckFrequencyDelayLowered: a pending ACK's deadline moves
// forward when the peer asks for a shorter delay.
func TestReceiverAckFrequencyDelayLowered(t *testing.T) {
	r := NewReceiver(DefaultMaxAckDelay, 0)
	r.OnPacketReceived(0, true, t0)
	if got, want := r.AckDeadline(), t0.Add(ms(25)); !got.Equal(want) {
		t.Fatalf("AckDeadline() = t0+%v, want t0+25ms", got.Sub(t0))
	}
	r.SetAckFrequency(9, ms(5), 1)
	if got, want := r.AckDeadline(), t0.Add(ms(5)); !got.Equal(want) {
		t.Fatalf("after lowering the delay to 5 ms: AckDeadline() = t0+%v, want t0+5ms", got.Sub(t0))
	}
	r.SetAckFrequency(9, ms(20), 1)
	if got, want := r.AckDeadline(), t0.Add(ms(5)); !got.Equal(want) {
		t.Fatalf("after raising it again: AckDeadline() = t0+%v, want t0+5ms (a deadline never moves later)", got.Sub(t0))
	}
}
