package ackframes

import (
	"math"
	"time"
)

// MaxAckDelayExponent is the largest ack_delay_exponent transport parameter
// an endpoint may send (RFC 9000 §18.2; docs/PROTOCOL.md, "Transport
// parameters").
const MaxAckDelayExponent = 20

// EncodeAckDelay converts the time an ACK was held back into the ACK Delay
// field: whole microseconds shifted right by the sender's own
// ack_delay_exponent (RFC 9000 §19.3). Negative delays, which only a clock
// running backwards could produce, encode as 0.
func EncodeAckDelay(d time.Duration, exponent uint8) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64(d/time.Microsecond) >> exponent
}

// DecodeAckDelay turns the ACK Delay field of a received frame back into a
// duration using the peer's ack_delay_exponent. The field is a varint the
// peer chose freely, so the result saturates at the largest Duration
// instead of overflowing; RTT estimation clamps it to max_ack_delay anyway
// once the handshake is confirmed (RFC 9002 §5.3).
func DecodeAckDelay(field uint64, exponent uint8) time.Duration {
	if exponent > 63 {
		exponent = 63
	}
	const maxMicros = uint64(math.MaxInt64 / int64(time.Microsecond))
	if field > maxMicros>>exponent {
		return math.MaxInt64
	}
	return time.Duration(field<<exponent) * time.Microsecond
}
