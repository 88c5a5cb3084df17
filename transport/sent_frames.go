package transport

import "github.com/limpetnet/limpet/packet"

// sentFrameKind says what a sent frame was, so that when its packet is
// acknowledged or declared lost the connection can tell the owner of that
// data (docs/PROTOCOL.md, "Packet numbers": frames, never packets, are
// retransmitted, always in new packets).
type sentFrameKind uint8

const (
	sentStream             sentFrameKind = iota + 1 // stream data: id, offset, length, fin
	sentResetStream                                 // RESET_STREAM for id
	sentStopSending                                 // STOP_SENDING for id
	sentMaxStreamData                               // MAX_STREAM_DATA for id with value offset
	sentStreamDataBlocked                           // STREAM_DATA_BLOCKED for id at offset
	sentConsumed                                    // CONSUMED for id at offset
	sentMaxData                                     // MAX_DATA with value offset
	sentDataBlocked                                 // DATA_BLOCKED at offset
	sentMaxStreamsBidi                              // MAX_STREAMS (bidi) with value offset
	sentMaxStreamsUni                               // MAX_STREAMS (uni) with value offset
	sentStreamsBlockedBidi                          // STREAMS_BLOCKED (bidi) at offset
	sentStreamsBlockedUni                           // STREAMS_BLOCKED (uni) at offset
	sentHandshakeDone                               // HANDSHAKE_DONE
	sentAck                                         // ACK whose largest acknowledged is offset
	sentNewConnID                                   // NEW_CONNECTION_ID with sequence number offset
	sentRetireConnID                                // RETIRE_CONNECTION_ID with sequence number offset
	sentPathChallenge                               // PATH_CHALLENGE
	sentAckFrequency                                // ACK_FREQUENCY with sequence number offset
)

// sentFrame is one frame's record in a sent packet.
type sentFrame struct {
	kind   sentFrameKind
	fin    bool
	id     packet.StreamID
	offset int64
	length int
}

// sentFrames is what one sent packet carried. A full-size data packet
// usually has one or two records, which stay inline; only packets with more
// spill into the overflow slice, which is reused across packets.
type sentFrames struct {
	n      uint8
	inline [3]sentFrame
	more   []sentFrame
	// fecGroup is the FEC group the packet is a source of, 0 for none
	// (docs/PROTOCOL.md section 10).
	fecGroup uint64
	// fecRepair marks a repair packet, whose loss alone is no congestion
	// signal (conn_recv.go, onLost).
	fecRepair bool
	// mtuProbe marks a path MTU probe (conn_mtu.go); ecnMarked, a packet
	// sent ECT(0) (conn_ecn.go).
	mtuProbe, ecnMarked bool
}

func (s *sentFrames) add(f sentFrame) {
	if int(s.n) < len(s.inline) {
		s.inline[s.n] = f
		s.n++
		return
	}
	s.more = append(s.more, f)
}

// len is the number of frame records.
func (s *sentFrames) len() int { return int(s.n) + len(s.more) }

// at returns the i'th record (0 ≤ i < len()). Index loops over at, rather
// than a callback, keep the hot path free of closures that would make
// records escape to the heap.
func (s *sentFrames) at(i int) *sentFrame {
	if i < len(s.inline) {
		return &s.inline[i]
	}
	return &s.more[i-len(s.inline)]
}

// each calls fn for every frame record, in the order they were added.
func (s *sentFrames) each(fn func(f *sentFrame)) {
	for i := 0; i < s.len(); i++ {
		fn(s.at(i))
	}
}

// keep copies s for the sent-packet history. Its overflow slice, when
// there is one, comes from spares: packets with more than three frames
// would otherwise cost an allocation each.
func (s *sentFrames) keep(spares *frameSpares) sentFrames {
	c := *s
	c.more = nil
	if len(s.more) > 0 {
		c.more = append(spares.take(), s.more...)
	}
	return c
}

// frameSpares are the overflow slices of resolved packets' records, for
// keep to reuse; at most maxFrameSpares of them.
type frameSpares [][]sentFrame

const maxFrameSpares = 64

func (sp *frameSpares) take() []sentFrame {
	n := len(*sp)
	if n == 0 {
		return nil
	}
	b := (*sp)[n-1]
	(*sp)[n-1] = nil
	*sp = (*sp)[:n-1]
	return b
}

// release resets fs, a record nothing else refers to any more (its packet
// was acknowledged or declared lost and its frames handled), and keeps its
// overflow slice for reuse.
func (sp *frameSpares) release(fs *sentFrames) {
	if cap(fs.more) > 0 && len(*sp) < maxFrameSpares {
		*sp = append(*sp, fs.more[:0])
	}
	fs.more = nil
	fs.reset()
}

func (s *sentFrames) reset() {
	s.n = 0
	s.more = s.more[:0]
	s.fecGroup = 0
	s.fecRepair = false
	s.mtuProbe, s.ecnMarked = false, false
}
