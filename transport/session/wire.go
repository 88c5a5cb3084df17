package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/limpetnet/limpet/packet"
)

// The session protocol runs over ordinary limpet streams
// (docs/PROTOCOL.md section 13). Each stream a session opens starts with
// one preamble byte: the control stream, which the client opens first on
// every connection, or a carrier of one session stream, followed by that
// stream's ID as 8 bytes big-endian.
const (
	preambleControl  byte = 0x01
	preambleCarrier  byte = 0x02
	carrierHeaderLen      = 9
)

// Control messages: a type byte, the payload length as a QUIC varint, and
// the payload.
const (
	msgHello    byte = 0x01 // client → server, first on every connection
	msgWelcome  byte = 0x02 // server → client: the session is carried here
	msgRecvDone byte = 0x03 // either way: this side has finished reading a stream
	msgReset    byte = 0x04 // either way: this side abandoned sending on a stream
)

// maxControlMessage bounds a control message, maxStateStreams the
// streams one state lists (each at most 27 bytes), and maxStreamsLimit
// the max_streams an end grants or takes (docs/PROTOCOL.md section 13.2).
const (
	maxControlMessage = 1 << 20
	maxStateStreams   = 1 << 15
	maxStreamsLimit   = 1 << 14
)

// maxHelloLen bounds the hello a server reads before it knows the
// client: a resumption lists at most the streams the server allows the
// client plus those it opened itself.
const maxHelloLen = 64 + 2*maxStreamsLimit*27

// protocolVersion is the session protocol's version, carried in hello.
const protocolVersion = 1

// idLen is the length of a session ID; proofLen of a resumption proof.
const (
	idLen    = 16
	proofLen = 32
)

// errMalformed is what every parse failure wraps.
var errMalformed = errors.New("limpet/session: malformed control message")

// streamState is one stream as one end sees it, in a resumption.
type streamState struct {
	id       uint64
	readOff  uint64 // bytes of it the application has read
	recvDone bool   // the application read its end, or stopped reading
	stop     uint64 // 0, or 1 + the code it stopped reading with
}

// endState is what one end tells the other when a connection starts
// carrying the session: how far it read every stream it still holds.
// A stream absent from streams whose number is below the watermark of
// its opener (opened for the sender's own streams, seen for the peer's)
// was finished in both directions and forgotten.
type endState struct {
	opened  uint64 // streams this end opened: numbers 0 … opened-1
	seen    uint64 // peer's streams this end has heard of: 0 … seen-1
	streams []streamState
}

// hello opens every connection of a session.
type hello struct {
	version    uint64
	resume     bool
	id         [idLen]byte    // resume only
	proof      [proofLen]byte // resume only
	maxStreams uint64         // how many of the server's streams the client takes at once
	state      endState       // resume only
}

// welcome accepts a hello.
type welcome struct {
	id         [idLen]byte
	maxStreams uint64
	state      endState // resume only; empty for a new session
}

// recvDone says the sender has finished reading a stream: it read the
// end (stop 0), took the peer's reset (stop 0), or stopped reading with
// a code (stop = 1 + code).
type recvDone struct {
	id      uint64
	stop    uint64
	readOff uint64 // how far the sender's application read: exact receipts
}

// reset says the sender abandoned a stream's data with a code.
type reset struct {
	id   uint64
	code uint64
}

// reader parses a payload; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errMalformed, what)
	}
	r.b = nil
}

func (r *reader) varint(what string) uint64 {
	v, n, err := packet.ParseVarint(r.b)
	if err != nil {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(dst []byte, what string) {
	if len(r.b) < len(dst) {
		r.fail(what)
		return
	}
	copy(dst, r.b)
	r.b = r.b[len(dst):]
}

func (r *reader) byte(what string) byte {
	var b [1]byte
	r.bytes(b[:], what)
	return b[0]
}

func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	return r.err
}

func (s *endState) append(b []byte) []byte {
	b = packet.AppendVarint(b, s.opened)
	b = packet.AppendVarint(b, s.seen)
	b = packet.AppendVarint(b, uint64(len(s.streams)))
	for _, st := range s.streams {
		b = packet.AppendVarint(b, st.id)
		b = packet.AppendVarint(b, st.readOff)
		flags := byte(0)
		if st.recvDone {
			flags = 1
		}
		b = append(b, flags)
		b = packet.AppendVarint(b, st.stop)
	}
	return b
}

func (s *endState) parse(r *reader) {
	s.opened = r.varint("opened")
	s.seen = r.varint("seen")
	n := r.varint("stream count")
	if n > maxStateStreams || n > uint64(len(r.b))/4 {
		r.fail("stream count")
		return
	}
	s.streams = make([]streamState, 0, n)
	last := uint64(0)
	for i := uint64(0); i < n && r.err == nil; i++ {
		var st streamState
		st.id = r.varint("stream id")
		st.readOff = r.varint("read offset")
		switch r.byte("flags") {
		case 0:
		case 1:
			st.recvDone = true
		default:
			r.fail("flags")
		}
		st.stop = r.varint("stop")
		if i > 0 && st.id <= last {
			// Sorted and unique, so a peer cannot make a receiver
			// apply two states to one stream.
			r.fail("stream ids not ascending")
		}
		last = st.id
		s.streams = append(s.streams, st)
	}
}

func (h *hello) append(b []byte) []byte {
	b = packet.AppendVarint(b, h.version)
	if !h.resume {
		b = append(b, 0)
		return packet.AppendVarint(b, h.maxStreams)
	}
	b = append(b, 1)
	b = packet.AppendVarint(b, h.maxStreams)
	b = append(b, h.id[:]...)
	b = append(b, h.proof[:]...)
	return h.state.append(b)
}

func parseHello(p []byte) (hello, error) {
	r := reader{b: p}
	var h hello
	h.version = r.varint("version")
	if r.err == nil && h.version != protocolVersion {
		return h, fmt.Errorf("%w: version %d, want %d", errMalformed, h.version, protocolVersion)
	}
	switch r.byte("kind") {
	case 0:
		h.maxStreams = r.varint("max streams")
	case 1:
		h.resume = true
		h.maxStreams = r.varint("max streams")
		r.bytes(h.id[:], "session id")
		r.bytes(h.proof[:], "proof")
		h.state.parse(&r)
	default:
		r.fail("kind")
	}
	return h, r.end()
}

func (w *welcome) append(b []byte) []byte {
	b = append(b, w.id[:]...)
	b = packet.AppendVarint(b, w.maxStreams)
	return w.state.append(b)
}

func parseWelcome(p []byte) (welcome, error) {
	r := reader{b: p}
	var w welcome
	r.bytes(w.id[:], "session id")
	w.maxStreams = r.varint("max streams")
	w.state.parse(&r)
	return w, r.end()
}

func (d *recvDone) append(b []byte) []byte {
	b = packet.AppendVarint(packet.AppendVarint(b, d.id), d.stop)
	return packet.AppendVarint(b, d.readOff)
}

func parseRecvDone(p []byte) (recvDone, error) {
	r := reader{b: p}
	d := recvDone{id: r.varint("stream id")}
	d.stop = r.varint("stop")
	d.readOff = r.varint("read offset")
	return d, r.end()
}

func (m *reset) append(b []byte) []byte {
	return packet.AppendVarint(packet.AppendVarint(b, m.id), m.code)
}

func parseReset(p []byte) (reset, error) {
	r := reader{b: p}
	m := reset{id: r.varint("stream id")}
	m.code = r.varint("code")
	return m, r.end()
}

// appendCarrierHeader appends a carrier's preamble for session stream id.
func appendCarrierHeader(b []byte, id uint64) []byte {
	b = append(b, preambleCarrier)
	return binary.BigEndian.AppendUint64(b, id)
}

// parseCarrierHeader returns the session stream ID of a carrier's
// preamble, carrierHeaderLen bytes.
func parseCarrierHeader(b []byte) (uint64, error) {
	if len(b) != carrierHeaderLen || b[0] != preambleCarrier {
		return 0, fmt.Errorf("stream preamble % x", b[:min(len(b), 1)])
	}
	return binary.BigEndian.Uint64(b[1:]), nil
}

// appendMessage frames one control message.
func appendMessage(b []byte, typ byte, payload []byte) []byte {
	b = append(b, typ)
	b = packet.AppendVarint(b, uint64(len(payload)))
	return append(b, payload...)
}

// readMessage reads one control message of at most limit bytes, growing
// its buffer only as the bytes arrive.
func readMessage(r io.Reader, limit int) (typ byte, payload []byte, err error) {
	var hdr [9]byte
	if _, err := io.ReadFull(r, hdr[:2]); err != nil {
		return 0, nil, err
	}
	typ = hdr[0]
	n := 1 << (hdr[1] >> 6)
	if n > 1 {
		if _, err := io.ReadFull(r, hdr[2:1+n]); err != nil {
			return 0, nil, err
		}
	}
	lr := reader{b: hdr[1 : 1+n]}
	length := lr.varint("length")
	if length > uint64(limit) {
		return 0, nil, fmt.Errorf("%w: %d-byte message", errMalformed, length)
	}
	payload = make([]byte, 0, min(length, 4096))
	for uint64(len(payload)) < length {
		chunk := min(length-uint64(len(payload)), 64<<10)
		payload = slices.Grow(payload, int(chunk))
		n, err := io.ReadFull(r, payload[len(payload):len(payload)+int(chunk)])
		payload = payload[:len(payload)+n]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, err
		}
	}
	return typ, payload, nil
}
