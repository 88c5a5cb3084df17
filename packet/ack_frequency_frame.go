package packet

import (
	"math"
	"time"
)

// maxDurationMicros is the largest microsecond count a time.Duration
// holds; a Requested Max Ack Delay above it (about 107 days) reads as the
// largest Duration.
const maxDurationMicros = uint64(math.MaxInt64 / int64(time.Microsecond))

// AckFrequencyFrame (type 0x33, docs/PROTOCOL.md section 5, "ACK frequency")
// asks the peer to acknowledge less or more often than RFC 9000's every second
// packet. It may only be sent to an endpoint that announced min_ack_delay; a
// receiver applies a frame only if its Sequence is above every earlier one's,
// since frames can arrive out of order.
type AckFrequencyFrame struct {
	Sequence uint64
	// AckElicitingThreshold is how many ack-eliciting packets may arrive
	// without an ACK being sent at once: the ACK goes out when one more
	// arrives. RFC 9000's policy is 1.
	AckElicitingThreshold uint64
	// RequestedMaxAckDelay replaces the receiver's max_ack_delay; it
	// travels in whole microseconds and must not be below the receiver's
	// min_ack_delay.
	RequestedMaxAckDelay time.Duration
	// ReorderingThreshold: 0 means packets out of order do not make the
	// ACK go at once; 1 means they do, as in RFC 9000; more means only once
	// a hole is that far below the largest packet received.
	ReorderingThreshold uint64
}

// Type returns FrameAckFrequency.
func (f AckFrequencyFrame) Type() FrameType { return FrameAckFrequency }

func (f AckFrequencyFrame) delayMicros() uint64 {
	return uint64(max(f.RequestedMaxAckDelay, 0) / time.Microsecond)
}

// Len is the number of bytes Append writes.
func (f AckFrequencyFrame) Len() int {
	return varintFrameLen(f.Sequence, f.AckElicitingThreshold, f.delayMicros(), f.ReorderingThreshold)
}

// Append appends the frame. Fields above 2^62-1 panic, as in AppendVarint.
func (f AckFrequencyFrame) Append(b []byte) []byte {
	b = AppendVarint(append(b, byte(FrameAckFrequency)), f.Sequence)
	b = AppendVarint(b, f.AckElicitingThreshold)
	b = AppendVarint(b, f.delayMicros())
	return AppendVarint(b, f.ReorderingThreshold)
}

// ParseAckFrequencyFrame parses an ACK_FREQUENCY frame.
func ParseAckFrequencyFrame(b []byte) (AckFrequencyFrame, int, error) {
	if err := checkFrameType(b, FrameAckFrequency); err != nil {
		return AckFrequencyFrame{}, 0, err
	}
	r := frameReader{b: b, off: 1}
	seq, threshold, delay, reorder := r.varint(), r.varint(), r.varint(), r.varint()
	if r.err != nil {
		return AckFrequencyFrame{}, 0, frameErr(FrameAckFrequency, r.err)
	}
	return AckFrequencyFrame{
		Sequence:              seq,
		AckElicitingThreshold: threshold,
		RequestedMaxAckDelay:  time.Duration(min(delay, maxDurationMicros)) * time.Microsecond,
		ReorderingThreshold:   reorder,
	}, r.off, nil
}

// ImmediateAckFrame (type 0x34, docs/PROTOCOL.md section 5, "ACK frequency")
// asks the peer to acknowledge the packet that carries it at once. It may only
// be sent to an endpoint that announced min_ack_delay.
type ImmediateAckFrame struct{}

// Type returns FrameImmediateAck.
func (ImmediateAckFrame) Type() FrameType { return FrameImmediateAck }

// Len is 1.
func (ImmediateAckFrame) Len() int { return 1 }

// Append appends the type byte.
func (ImmediateAckFrame) Append(b []byte) []byte { return append(b, byte(FrameImmediateAck)) }

// ParseImmediateAckFrame parses an IMMEDIATE_ACK frame.
func ParseImmediateAckFrame(b []byte) (ImmediateAckFrame, int, error) {
	if err := checkFrameType(b, FrameImmediateAck); err != nil {
		return ImmediateAckFrame{}, 0, err
	}
	return ImmediateAckFrame{}, 1, nil
}
