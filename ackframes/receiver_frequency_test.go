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
		{"a threshold above 1 for reordering is 1", 9, 7, ms(5), []pn{0, 1, 3}, ms(2)},
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
