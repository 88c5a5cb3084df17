package crypto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ErrHandshakeMessage reports a handshake message or payload that is
// malformed: too short, too long, or with fields out of range.
var ErrHandshakeMessage = errors.New("crypto: malformed handshake message")

const (
	// MaxTransportParamsLen bounds the transport parameters an endpoint
	// sends or accepts in a handshake payload. Real ones are around 100
	// bytes; the bound keeps handshake messages small enough to buffer.
	MaxTransportParamsLen = 4096
	// maxSuites is the most suites a ClientHello payload may list.
	maxSuites = 16
	// maxTimestampSeconds rejects timestamps that time.Unix cannot
	// represent faithfully (about the year 36,800).
	maxTimestampSeconds = 1 << 40

	clientHelloFixedLen = 8 + 4 + 1
	serverHelloFixedLen = 1

	noiseKeyLen = 32
	noiseTagLen = 16
	// minClientHelloMessageLen is Noise's e (32) || encrypted s (48) ||
	// encrypted payload with one suite.
	minClientHelloMessageLen = noiseKeyLen + noiseKeyLen + noiseTagLen + clientHelloFixedLen + 1 + noiseTagLen
	minServerHelloMessageLen = noiseKeyLen + serverHelloFixedLen + noiseTagLen

	// MaxHandshakeMessageLen is the longest handshake message (1 or 2) that
	// limpet sends or accepts: message 1 with the most suites and the
	// longest transport parameters. The transport uses it to bound the
	// CRYPTO data it buffers.
	MaxHandshakeMessageLen = noiseKeyLen + noiseKeyLen + noiseTagLen + clientHelloFixedLen + maxSuites + MaxTransportParamsLen + noiseTagLen
)

// ClientHello is the payload of handshake message 1 (docs/PROTOCOL.md section
// 4.5).
type ClientHello struct {
	// Timestamp is the client's clock when it built the message; the server
	// uses it to bound how long it must remember the message for replay
	// defence.
	Timestamp time.Time
	// Suites lists the suites the client supports, preferred first. It may
	// hold values unknown to this implementation; servers skip those.
	Suites []Suite
	// TransportParams are the client's encoded transport parameters
	// (docs/PROTOCOL.md section 6), opaque here.
	TransportParams []byte
}

// Append appends the encoded payload to b.
func (h ClientHello) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(h.Timestamp.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(h.Timestamp.Nanosecond()))
	b = append(b, byte(len(h.Suites)))
	for _, s := range h.Suites {
		b = append(b, byte(s))
	}
	return append(b, h.TransportParams...)
}

// ParseClientHelloPayload decodes a ClientHello payload from untrusted bytes.
// The returned TransportParams aliases b. Any malformation is
// ErrHandshakeMessage.
func ParseClientHelloPayload(b []byte) (ClientHello, error) {
	if len(b) < clientHelloFixedLen {
		return ClientHello{}, fmt.Errorf("%w: ClientHello payload of %d bytes is too short", ErrHandshakeMessage, len(b))
	}
	secs := binary.BigEndian.Uint64(b)
	nanos := binary.BigEndian.Uint32(b[8:])
	if secs > maxTimestampSeconds || nanos >= uint32(time.Second) {
		return ClientHello{}, fmt.Errorf("%w: ClientHello timestamp %d.%d out of range", ErrHandshakeMessage, secs, nanos)
	}
	n := int(b[12])
	rest := b[clientHelloFixedLen:]
	if n == 0 || n > maxSuites || len(rest) < n {
		return ClientHello{}, fmt.Errorf("%w: ClientHello lists %d suites in %d bytes", ErrHandshakeMessage, n, len(rest))
	}
	if len(rest)-n > MaxTransportParamsLen {
		return ClientHello{}, fmt.Errorf("%w: %d bytes of transport parameters exceed %d", ErrHandshakeMessage, len(rest)-n, MaxTransportParamsLen)
	}
	suites := make([]Suite, n)
	for i := range suites {
		suites[i] = Suite(rest[i])
	}
	return ClientHello{
		Timestamp:       time.Unix(int64(secs), int64(nanos)),
		Suites:          suites,
		TransportParams: rest[n:],
	}, nil
}

// ServerHello is the payload of handshake message 2 (docs/PROTOCOL.md section
// 4.5).
type ServerHello struct {
	// Suite is the server's choice from the client's list.
	Suite Suite
	// TransportParams are the server's encoded transport parameters.
	TransportParams []byte
}

// Append appends the encoded payload to b.
func (h ServerHello) Append(b []byte) []byte {
	b = append(b, byte(h.Suite))
	return append(b, h.TransportParams...)
}

// ParseServerHelloPayload decodes a ServerHello payload from untrusted bytes.
// The returned TransportParams aliases b. Whether the suite is acceptable is
// for the caller to decide.
func ParseServerHelloPayload(b []byte) (ServerHello, error) {
	if len(b) < serverHelloFixedLen {
		return ServerHello{}, fmt.Errorf("%w: empty ServerHello payload", ErrHandshakeMessage)
	}
	if len(b)-serverHelloFixedLen > MaxTransportParamsLen {
		return ServerHello{}, fmt.Errorf("%w: %d bytes of transport parameters exceed %d", ErrHandshakeMessage, len(b)-1, MaxTransportParamsLen)
	}
	return ServerHello{Suite: Suite(b[0]), TransportParams: b[1:]}, nil
}
