package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/internal/fec"
)

// FuzzConn plays the peer of a real connection, the scripted-peer harness's
// (harness_test.go), with a script decoded from the fuzzer's input: packets
// of frames built from the input (stream data in and out of order, resets,
// flow control, ACKs, connection IDs, path probes, closes, FEC repairs, and
// raw frame bytes), packets the network "drops" and delivers late,
// undecryptable datagrams, stateless resets, key updates, fake-clock
// advances, and the application's calls on its streams.
//
// After every step it checks what must hold whatever the peer does:
//   - nothing panics, and every datagram the connection sends opens with
//     the peer's keys and parses;
//   - the application reads from each stream a prefix of what the peer
//     sent, each byte as the connection first accepted it (RFC 9000 §2.2),
//     and io.EOF only at a final size the peer announced;
//   - stream and connection flow control is never overrun either way, and
//     the connection's own counters stay ordered;
//   - what the connection sends is consistent: stream data is what the
//     application wrote, within the peer's credit and stream limits; ACKs
//     cover only packets that arrived; receipts cover only what was read;
//     PATH_RESPONSE echoes a challenge from where it came;
//   - an ACK of a packet never sent closes the connection (RFC 9000 §13.1);
//   - no call blocks once its deadline passes, and a connection that ends
//     does so with one of the errors of errors.go's table; one that did not
//     end still acknowledges a PING.
//
// The first two input bytes choose the side and the configuration (see
// newConnFuzz); the rest are steps (see connFuzz.step).
func FuzzConn(f *testing.F) {
	for _, seed := range connFuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		synctest.Test(t, func(t *testing.T) {
			fz := newConnFuzz(t, in[0], in[1])
			fz.run(in[2:])
		})
	})
}

// fuzzMaxSteps bounds one execution, so each stays a few milliseconds.
const fuzzMaxSteps = 96

// fuzzMaxPayload keeps the peer's packets within the harness's datagram
// size.
const fuzzMaxPayload = 1300

// Addresses the fuzzing peer sends from: its own, a NAT rebinding, a new
// network, and one whose datagrams are junk the endpoint may answer.
var (
	fuzzPeerAddrs = [4]netip.AddrPort{
		testPeerAddr,
		testPeerAddr,
		netip.MustParseAddrPort("198.51.100.7:6111"),
		netip.MustParseAddrPort("203.0.113.9:7000"),
	}
	fuzzJunkAddr = netip.MustParseAddrPort("192.0.2.200:9999")
)

// Step kinds (the low four bits of a step's first byte; kinds 0 to 4 are
// all packets, so packets are most of a script).
const (
	fzStepPacket  = 0
	fzStepRepair  = 5  // the peer's FEC repair packets for its open group
	fzStepLate    = 6  // the oldest dropped packet arrives after all
	fzStepGarbage = 7  // a datagram that does not open
	fzStepTick    = 8  // advance the clock by up to 64 ms
	fzStepWait    = 9  // advance the clock by up to 127 s
	fzStepTimer   = 10 // advance the clock to the connection's next timer
	fzStepOpen    = 11 // the application opens a stream and writes
	fzStepWrite   = 12 // the application writes to a stream it has
	fzStepRead    = 13 // the application accepts streams and reads
	fzStepStream  = 14 // the application closes or cancels a stream
	fzStepMisc    = 15 // key update, Initial, ECN, close, reset, replay
)

// Frame kinds (the low five bits of a frame's first byte).
const (
	fzFrameStream         = 0 // 0 to 4
	fzFrameResetStream    = 5
	fzFrameStopSending    = 6
	fzFrameMaxData        = 7
	fzFrameMaxStreamData  = 8
	fzFrameMaxStreams     = 9
	fzFrameAck            = 10 // 10 and 11
	fzFrameNewConnID      = 12
	fzFrameRetireConnID   = 13
	fzFramePathChallenge  = 14
	fzFramePathResponse   = 15
	fzFrameClose          = 16
	fzFramePing           = 17
	fzFramePadding        = 18
	fzFrameDataBlocked    = 19
	fzFrameStreamBlocked  = 20
	fzFrameStreamsBlocked = 21
	fzFrameConsumed       = 22
	fzFrameHandshakeDone  = 23
	fzFrameNewToken       = 24
	fzFrameCrypto         = 25
	fzFrameRaw            = 26 // 26 and 27
	fzFrameFECRepair      = 28
	fzFrameStreamInOrder  = 29 // 29 to 31
)

// STREAM frame modifiers (the byte after the stream selector).
const (
	fzStreamInOrder  = 0 // offset: the end of what the peer sent
	fzStreamOverlap  = 1 // offset: u16 below that end
	fzStreamGap      = 2 // offset: that end plus a u8 gap
	fzStreamAbsolute = 3 // offset: u32, or near 2^62 if fzStreamBig
	fzStreamFin      = 1 << 2
	fzStreamConflict = 1 << 3 // bytes that differ from the peer's pattern
	fzStreamBig      = 1 << 4 // length ×4
)

// Stream selectors: the low two bits are the kind, the rest the index.
const (
	fzSelPeerBidi  = 0
	fzSelPeerUni   = 1
	fzSelLocalBidi = 2
	fzSelLocalUni  = 3
)

// fuzzIn reads the script; past its end it reads zeros.
type fuzzIn struct{ b []byte }

func (in *fuzzIn) more() bool { return len(in.b) > 0 }

func (in *fuzzIn) u8() byte {
	if len(in.b) == 0 {
		return 0
	}
	v := in.b[0]
	in.b = in.b[1:]
	return v
}

func (in *fuzzIn) u16() uint16 { return uint16(in.u8())<<8 | uint16(in.u8()) }
func (in *fuzzIn) u32() uint32 { return uint32(in.u16())<<16 | uint32(in.u16()) }

func (in *fuzzIn) take(n int) []byte {
	n = min(n, len(in.b))
	b := bytes.Clone(in.b[:n])
	in.b = in.b[n:]
	return b
}

// fuzzRaw is frame bytes sent as they are, parseable or not.
type fuzzRaw []byte

func (f fuzzRaw) Type() packet.FrameType {
	if len(f) == 0 {
		return packet.FramePadding
	}
	return packet.FrameType(f[0])
}
func (f fuzzRaw) Len() int               { return len(f) }
func (f fuzzRaw) Append(b []byte) []byte { return append(b, f...) }

// fuzzSegment is bytes of a stream at an offset.
type fuzzSegment struct {
	off  int64
	data []byte
}

// fuzzStream is what the fuzzer knows of one stream: what the peer sent,
// what the application did, and what the connection sent.
type fuzzStream struct {
	id packet.StreamID

	// Peer → connection. first holds, by offset, the bytes of the first
	// frames the connection processed: the only bytes it may deliver.
	first      []fuzzSegment
	sentEnd    int64 // end of the furthest frame the peer sent
	finSizes   []int64
	resetCodes []uint64
	stopCodes  []uint64 // the peer's STOP_SENDING codes
	peerMax    int64    // the most MAX_STREAM_DATA the peer granted

	// The application.
	s            *Stream
	read         int64
	eof          bool
	written      int64
	closedWrite  bool
	stoppedRead  bool
	readCodes    []uint64 // CancelRead codes
	writeCodes   []uint64 // CancelWrite codes
	closedStream bool     // Close or CloseRead: reads fail with ErrStreamClosed

	// Connection → peer, on the wire.
	wireEnd     int64
	wireReset   bool
	wireMaxData int64
}

// insert records data at off where the connection had no bytes yet.
func (st *fuzzStream) insert(off int64, data []byte) {
	base, end := off, off+int64(len(data))
	for off < end {
		// The first segment ending after off, and whether it covers it.
		i, _ := slices.BinarySearchFunc(st.first, off, func(s fuzzSegment, o int64) int {
			if s.off+int64(len(s.data)) <= o {
				return -1
			}
			return 1
		})
		if i < len(st.first) && st.first[i].off <= off {
			off = st.first[i].off + int64(len(st.first[i].data))
			continue
		}
		next := end
		if i < len(st.first) {
			next = min(next, st.first[i].off)
		}
		seg := fuzzSegment{off: off, data: bytes.Clone(data[off-base : next-base])}
		st.first = slices.Insert(st.first, i, seg)
		off = next
	}
}

// firstByte is the byte the connection first accepted at off.
func (st *fuzzStream) firstByte(off int64) (byte, bool) {
	i, found := slices.BinarySearchFunc(st.first, off, func(s fuzzSegment, o int64) int {
		if s.off+int64(len(s.data)) <= o {
			return -1
		}
		if s.off > o {
			return 1
		}
		return 0
	})
	if !found {
		return 0, false
	}
	return st.first[i].data[off-st.first[i].off], true
}

// peerByte is the peer's stream data: a pattern of the stream and offset,
// so data delivered at the wrong offset or on the wrong stream shows.
func peerByte(id packet.StreamID, off int64) byte {
	return byte(off*7+off>>8*13) ^ byte(id*29)
}

// appByte is what the application writes.
func appByte(id packet.StreamID, off int64) byte {
	return byte(off*11+off>>8*5) ^ byte(id*17) ^ 0x80
}

// fuzzHeld is a packet the network dropped, which FEC may rebuild or
// which may arrive late.
type fuzzHeld struct {
	pn     packet.PacketNumber
	sealed []byte
	frames []packet.Frame
}

// fuzzIssued is a connection ID the peer issued.
type fuzzIssued struct {
	seq   uint64
	cid   packet.ConnectionID
	token [packet.StatelessResetTokenLen]byte
}

// connFuzz is the peer FuzzConn plays, with what it knows of the
// connection, and the application's side of it.
type connFuzz struct {
	t  *testing.T
	tc *testConn
	c  *Conn

	streams map[packet.StreamID]*fuzzStream
	handles []*fuzzStream // streams the application holds, in order
	opened  [2]uint64     // streams the application opened: uni, bidi

	// Upper bounds from what the peer sent.
	peerMaxData    int64     // MAX_DATA granted
	peerMaxStreams [2]uint64 // MAX_STREAMS granted: uni, bidi
	peerStreamNum  [2]uint64 // highest peer-initiated stream number referenced, +1
	remoteCloses   []packet.ConnectionCloseFrame
	sentReset      bool
	appClose       *packet.ConnectionCloseFrame // the application's Close or CloseWithError

	// Packets.
	ackable    map[packet.PacketNumber]bool // processed or rebuilt: the connection may acknowledge them
	held       []fuzzHeld
	injected   [][]byte // datagrams sent, for replays
	enc        *fec.Encoder
	challenges map[[8]byte][]netip.AddrPort // PATH_CHALLENGE data the connection processed, and from where
	lastAddr   netip.AddrPort

	// Connection IDs.
	peerCIDs   []fuzzIssued                   // sequence 0 first
	connCIDs   map[uint64]packet.ConnectionID // the connection's, by sequence
	retired    map[uint64]bool                // the connection's the peer retired
	connReset  map[[packet.StatelessResetTokenLen]byte]bool
	issuedSeqs map[uint64]bool

	// The connection's output.
	connChallenge [8]byte
	connClose     *packet.ConnectionCloseFrame
	lastMaxData   int64
	doneDrained   bool // the connection had ended when its output was last read
	expectClose   string
	watch         packet.PacketNumber // the peer's last PING, for checkUsable
	watchAcked    bool
}

// newConnFuzz sets up a connection for the fuzzer to drive. c0 and c1 are
// configuration bits:
//
//	c0 bit 0: the Conn is the server (else the client)
//	c0 bit 1: NoDelay
//	c0 bit 2: small receive windows, so the peer overruns them
//	c0 bit 3: the peer grants small windows and few streams
//	c0 bits 4-5: FEC: adaptive, disabled, fixed 4+2 both ways, adaptive both ways
//	c0 bit 6: the Conn accepts two streams of each kind
//	c0 bit 7: path MTU discovery on
//	c1 bit 0: BBR
//	c1 bit 1: the peer's FEC groups are 2 packets, not 4
//	c1 bit 2: ECN off
//	c1 bit 3: the peer holds 4 connection IDs, not 2
func newConnFuzz(t *testing.T, c0, c1 byte) *connFuzz {
	side := clientSide
	if c0&1 != 0 {
		side = serverSide
	}
	cfgOpt := func(cfg *Config) {
		cfg.NoDelay = c0&2 != 0
		if c0&4 != 0 {
			cfg.InitialStreamWindow, cfg.MaxStreamWindow = 1500, 6000
			cfg.InitialConnWindow, cfg.MaxConnWindow = 2500, 10000
		}
		switch c0 >> 4 & 3 {
		case 1:
			cfg.FEC.Disable = true
		case 2:
			cfg.FEC = FECConfig{GroupSize: 4, Repair: 2}
		}
		if c0&0x40 != 0 {
			cfg.MaxIncomingStreams, cfg.MaxIncomingUniStreams = 2, 2
		}
		cfg.DisablePathMTUDiscovery = c0&0x80 == 0
		if c1&1 != 0 {
			cfg.CongestionControl = CongestionBBR
		}
		cfg.DisableECN = c1&4 != 0
	}
	paramsOpt := func(p *packet.TransportParameters) {
		if c0&8 != 0 {
			p.InitialMaxData = 3000
			p.InitialMaxStreamDataBidiLocal, p.InitialMaxStreamDataBidiRemote, p.InitialMaxStreamDataUni = 1000, 1000, 1000
			p.InitialMaxStreamsBidi, p.InitialMaxStreamsUni = 2, 1
		}
		if m := c0 >> 4 & 3; m >= 2 {
			p.FECMaxRepairSymbols = packet.MaxFECRepairSymbols
		}
		if c1&8 != 0 {
			p.ActiveConnIDLimit = 4
		}
	}
	tc := newTestConn(t, side, cfgOpt, paramsOpt)
	fz := &connFuzz{
		t:           t,
		tc:          tc,
		c:           tc.conn,
		streams:     make(map[packet.StreamID]*fuzzStream),
		ackable:     make(map[packet.PacketNumber]bool),
		challenges:  make(map[[8]byte][]netip.AddrPort),
		lastAddr:    tc.peerAddr,
		connCIDs:    map[uint64]packet.ConnectionID{0: tc.connCID},
		retired:     make(map[uint64]bool),
		connReset:   make(map[[packet.StatelessResetTokenLen]byte]bool),
		issuedSeqs:  map[uint64]bool{0: true},
		peerMaxData: tc.peerParams.InitialMaxData,
		peerMaxStreams: [2]uint64{
			tc.peerParams.InitialMaxStreamsUni,
			tc.peerParams.InitialMaxStreamsBidi,
		},
		peerCIDs: []fuzzIssued{{seq: 0, cid: tc.peerCID}},
		watch:    packet.InvalidPacketNumber,
	}
	for pn := range tc.peerSent {
		fz.ackable[pn] = true // the handshake's
	}
	k := 4
	if c1&2 != 0 {
		k = 2
	}
	var err error
	if fz.enc, err = fec.NewEncoder(k, 2); err != nil {
		t.Fatal(err)
	}
	for _, f := range tc.connIssuedCIDs {
		fz.connCIDs[f.SequenceNumber] = f.ConnID
	}
	return fz
}

// run applies the script, checking the invariants after each step, and
// finally that a connection still open is still usable.
func (fz *connFuzz) run(b []byte) {
	in := &fuzzIn{b: b}
	for i := 0; i < fuzzMaxSteps && in.more(); i++ {
		// What the connection sent is read before each step (the peer's
		// ACKs are built from it) and after it.
		fz.drain()
		fz.step(in)
		fz.drain()
		fz.check()
	}
	fz.checkUsable()
}

func (fz *connFuzz) done() bool {
	select {
	case <-fz.c.Done():
		return true
	default:
		return false
	}
}

// step decodes and applies one step.
func (fz *connFuzz) step(in *fuzzIn) {
	tc := fz.tc
	op := in.u8()
	switch op & 0x0f {
	case 0, 1, 2, 3, 4:
		fz.packetStep(in)
	case fzStepRepair:
		fz.repairStep(in.u8())
	case fzStepLate:
		fz.lateStep()
	case fzStepGarbage:
		fz.garbageStep(in)
	case fzStepTick:
		tc.advance(time.Duration(in.u8()) * 250 * time.Microsecond)
	case fzStepWait:
		tc.advance(time.Duration(in.u8()) * 500 * time.Millisecond)
	case fzStepTimer:
		fz.advanceToTimer()
	case fzStepOpen:
		fz.openStep(in)
	case fzStepWrite:
		fz.writeStep(in)
	case fzStepRead:
		fz.readStep(in)
	case fzStepStream:
		fz.streamStep(in)
	case fzStepMisc:
		fz.miscStep(in)
	}
}

func (fz *connFuzz) advanceToTimer() {
	if fz.done() {
		fz.tc.advance(time.Second)
		return
	}
	var next time.Time
	c := fz.c
	if err := c.run(context.Background(), func(now time.Time) { next = c.nextDeadline(now) }); err != nil {
		return
	}
	fz.tc.advance(max(0, time.Until(next)))
}

// --- The peer's packets -----------------------------------------------------

// packetStep sends a packet of frames: a header byte (bits 0-1: frames - 1,
// bits 2-3: source address, bit 4: the network drops it, bits 5-6: its ECN
// codepoint), then the frames.
func (fz *connFuzz) packetStep(in *fuzzIn) {
	hdr := in.u8()
	n := 1 + int(hdr&3)
	addr := fuzzPeerAddrs[hdr>>2&3]
	var frames []packet.Frame
	size := 0
	unsentAck := false
	for i := 0; i < n; i++ {
		fs, unsent := fz.decodeFrame(in, fuzzMaxPayload-size)
		for _, f := range fs {
			frames = append(frames, f)
			size += f.Len()
		}
		unsentAck = unsentAck || unsent
	}
	if len(frames) == 0 {
		frames = append(frames, packet.PingFrame{})
	}
	fz.tc.peerECN = ECN(hdr >> 5 & 3)
	fz.sendPacket(addr, frames, hdr&0x10 != 0, unsentAck)
}

// sendPacket seals frames into the peer's next 1-RTT packet and, unless
// the network drops it, delivers it from addr.
func (fz *connFuzz) sendPacket(addr netip.AddrPort, frames []packet.Frame, drop, unsentAck bool) {
	var payload []byte
	committed := frames // what the connection will take the packet to hold
	source, hasStream, raw := true, false, false
	for _, f := range frames {
		payload = f.Append(payload)
		switch f.(type) {
		case packet.StreamFrame:
			hasStream = true
		case packet.PathChallengeFrame, packet.PathResponseFrame, packet.FECRepairFrame:
			source = false
		case fuzzRaw:
			source, raw = false, true // whatever it holds
		}
	}
	if !source {
		// Raw bytes may run into the frames after them: a raw 0x1c whose
		// reason swallows the next frame is a CONNECTION_CLOSE the peer
		// sent, a raw STREAM frame may swallow an ACK, a raw PATH_CHALLENGE
		// the next frame's bytes as its data. Record every close the whole
		// payload parses to and the unsent ACKs it holds, and, with raw
		// bytes, commit the frames as the connection parses them.
		parsedUnsentAck := false
		var parsed []packet.Frame
		for rest := payload; len(rest) > 0; {
			f, n, err := packet.ParseFrame(rest)
			if err != nil {
				break
			}
			parsed = append(parsed, f)
			switch f := f.(type) {
			case packet.ConnectionCloseFrame:
				f.Reason = bytes.Clone(f.Reason)
				fz.remoteCloses = append(fz.remoteCloses, f)
			case packet.AckFrame:
				parsedUnsentAck = parsedUnsentAck || f.LargestAcked() > fz.tc.largestConnPN
			}
			rest = rest[n:]
		}
		if raw {
			unsentAck = parsedUnsentAck
			committed = parsed
		}
	}
	pn := fz.tc.peerPN
	sealed := fz.tc.seal1RTT(frames)
	if source && hasStream && len(payload) <= fec.MaxPayload {
		// The peer protects what the connection would take as a source
		// (conn_fec.go, fecNoteFrame).
		fz.enc.Add(pn, payload)
	}
	if drop {
		fz.held = append(fz.held, fuzzHeld{pn: pn, sealed: sealed, frames: committed})
		return
	}
	if fz.deliver(addr, sealed) {
		fz.commit(pn, committed, addr)
		if unsentAck {
			fz.expectClose = "an ACK of a packet the connection never sent"
		}
	}
	fz.checkRebuilt()
}

// deliver injects a datagram and reports whether the connection processed
// it as a new packet.
func (fz *connFuzz) deliver(addr netip.AddrPort, b []byte) bool {
	before := fz.c.stats.packetsReceived.Load()
	fz.inject(addr, b)
	fz.lastAddr = addr
	return fz.c.stats.packetsReceived.Load() > before
}

// inject delivers a datagram, first noting the stateless reset a server's
// endpoint would answer it with if no connection takes it.
func (fz *connFuzz) inject(addr netip.AddrPort, b []byte) {
	if len(b) > packet.DefaultConnIDLen && !packet.IsLongHeader(b) {
		fz.connReset[fz.c.ep.resetKey.StatelessResetToken(b[1:1+packet.DefaultConnIDLen])] = true
	}
	fz.injected = append(fz.injected, b)
	fz.tc.writeDatagramFrom(addr, b)
}

// commit records the frames of a packet the connection processed.
func (fz *connFuzz) commit(pn packet.PacketNumber, frames []packet.Frame, from netip.AddrPort) {
	fz.ackable[pn] = true
	for _, f := range frames {
		switch f := f.(type) {
		case packet.StreamFrame:
			fz.stream(f.StreamID).insert(f.Offset, f.Data)
		case packet.PathChallengeFrame:
			fz.challenges[f.Data] = append(fz.challenges[f.Data], from)
		}
	}
}

// checkRebuilt commits the dropped packets the connection rebuilt from
// FEC repairs, in packet-number order, as it processes them.
func (fz *connFuzz) checkRebuilt() {
	if len(fz.held) == 0 {
		return
	}
	var rebuilt []bool
	fz.onLoop(func() {
		rebuilt = make([]bool, len(fz.held))
		for i, h := range fz.held {
			rebuilt[i] = fz.c.fec.dec != nil && fz.c.fec.dec.WasRecovered(h.pn)
		}
	})
	keep := fz.held[:0]
	for i, h := range fz.held {
		if !rebuilt[i] {
			keep = append(keep, h)
			continue
		}
		fz.commit(h.pn, h.frames, fz.lastAddr)
	}
	fz.held = keep
}

// onLoop runs f on the connection's loop, or, once the loop has exited, on
// this goroutine (the loop's state no longer changes).
func (fz *connFuzz) onLoop(f func()) {
	ran := false
	err := fz.c.run(context.Background(), func(time.Time) { f(); ran = true })
	if err != nil || !ran {
		<-fz.c.Done()
		if !ran {
			f()
		}
	}
}

// repairStep sends the repair packets of the peer's open FEC group; bit i of
// drops drops the i'th.
func (fz *connFuzz) repairStep(drops byte) {
	fz.enc.Flush()
	for i := 0; fz.enc.HasRepair(); i++ {
		pn := fz.tc.peerPN
		f := fuzzRaw(fz.enc.AppendRepair(nil, pn))
		if drops>>(i&7)&1 != 0 {
			fz.tc.seal1RTT([]packet.Frame{f}) // lost: only its number is used
			continue
		}
		sealed := fz.tc.seal1RTT([]packet.Frame{f})
		if fz.deliver(fz.lastAddr, sealed) {
			fz.ackable[pn] = true
		}
		fz.checkRebuilt()
	}
}

// lateStep delivers the oldest dropped packet after all.
func (fz *connFuzz) lateStep() {
	if len(fz.held) == 0 {
		return
	}
	h := fz.held[0]
	fz.held = fz.held[1:]
	if fz.deliver(fz.lastAddr, h.sealed) {
		fz.commit(h.pn, h.frames, fz.lastAddr)
	}
	fz.checkRebuilt()
}

// garbageStep sends a datagram that must not open: kind byte, length byte,
// bytes.
func (fz *connFuzz) garbageStep(in *fuzzIn) {
	kind := in.u8()
	n := int(in.u8())
	body := in.take(n)
	tc := fz.tc
	switch kind % 4 {
	case 0: // a short header to the connection
		b := append([]byte{0x40 | kind&0x3f}, tc.connCID.Bytes()...)
		fz.inject(fz.lastAddr, append(b, body...))
	case 1: // a long header to the connection
		b := []byte{0xc0 | kind&0x3f}
		b = binary.BigEndian.AppendUint32(b, uint32(packet.Version)^uint32(kind>>6))
		b = append(b, byte(tc.connCID.Len()))
		b = append(b, tc.connCID.Bytes()...)
		fz.inject(fz.lastAddr, append(b, body...))
	case 2: // anything, from an address the endpoint may answer
		if len(body) > 0 {
			fz.inject(fuzzJunkAddr, body)
		}
	case 3: // a real packet with one bit flipped
		sealed := tc.seal1RTT([]packet.Frame{packet.PingFrame{}})
		bit := (int(kind)<<8 | n) % (len(sealed) * 8)
		sealed[bit/8] ^= 1 << (bit % 8)
		if fz.deliver(fz.lastAddr, sealed) {
			// The flip hit nothing the AEAD protects: only the
			// header's protected bits, which the mask undoes.
			fz.ackable[tc.peerPN-1] = true
		}
	}
}

// --- Frames ----------------------------------------------------------------

// decodeFrame builds a frame of at most room bytes from the script (raw
// bytes may make several), and records what it tells the connection. It
// returns none when they do not fit, and reports an ACK of a packet the
// connection never sent.
func (fz *connFuzz) decodeFrame(in *fuzzIn, room int) ([]packet.Frame, bool) {
	fb := in.u8()
	flags := fb >> 5
	var f packet.Frame
	unsentAck := false
	switch k := fb & 0x1f; {
	case k <= 4:
		f = fz.streamFrame(in, in.u8(), in.u8(), room)
	case k >= fzFrameStreamInOrder:
		f = fz.streamFrame(in, in.u8(), fzStreamInOrder, room)
	case k == fzFrameResetStream:
		st := fz.peerStream(in.u8())
		code := uint64(in.u8())
		size := st.sentEnd
		switch in.u8() % 3 {
		case 1:
			size = int64(in.u16())
		case 2:
			size += int64(in.u8())
		}
		st.resetCodes = append(st.resetCodes, code)
		f = packet.ResetStreamFrame{StreamID: st.id, ErrorCode: code, FinalSize: min(size, packet.MaxVarint)}
	case k == fzFrameStopSending:
		st := fz.peerStream(in.u8())
		code := uint64(in.u8())
		st.stopCodes = append(st.stopCodes, code)
		f = packet.StopSendingFrame{StreamID: st.id, ErrorCode: code}
	case k == fzFrameMaxData:
		v := fz.credit(in, fz.peerMaxData)
		fz.peerMaxData = max(fz.peerMaxData, v)
		f = packet.MaxDataFrame{Max: v}
	case k == fzFrameMaxStreamData:
		st := fz.peerStream(in.u8())
		v := fz.credit(in, st.peerMax)
		st.peerMax = max(st.peerMax, v)
		f = packet.MaxStreamDataFrame{StreamID: st.id, Max: v}
	case k == fzFrameMaxStreams:
		bidi := flags&1 != 0
		v := uint64(in.u8())
		if flags&2 != 0 {
			v = 1<<60 + v // beyond the limit: an error
		}
		fz.peerMaxStreams[b2i(bidi)] = max(fz.peerMaxStreams[b2i(bidi)], v)
		f = packet.MaxStreamsFrame{Bidirectional: bidi, Max: v}
	case k == fzFrameAck || k == fzFrameAck+1:
		f, unsentAck = fz.ackFrame(in)
	case k == fzFrameNewConnID:
		f = fz.newConnIDFrame(in)
	case k == fzFrameRetireConnID:
		seq := uint64(in.u8() % 8)
		fz.retireConnID(seq)
		f = packet.RetireConnectionIDFrame{SequenceNumber: seq}
	case k == fzFramePathChallenge:
		var data [8]byte
		binary.BigEndian.PutUint64(data[:], 0x0101010101010101*uint64(in.u8()))
		f = packet.PathChallengeFrame{Data: data}
	case k == fzFramePathResponse:
		data := fz.connChallenge
		if flags&1 != 0 {
			data[0] ^= in.u8() | 1
		}
		f = packet.PathResponseFrame{Data: data}
	case k == fzFrameClose:
		cf := packet.ConnectionCloseFrame{Application: flags&1 != 0, ErrorCode: uint64(in.u8()), Reason: in.take(int(flags >> 1))}
		if !cf.Application {
			cf.FrameType = packet.FrameType(in.u8())
		}
		fz.remoteCloses = append(fz.remoteCloses, cf)
		f = cf
	case k == fzFramePing:
		switch {
		case flags&1 != 0:
			f = packet.ImmediateAckFrame{}
		case flags&2 != 0:
			// The peer's ACK frequency, with a delay the Conn accepts.
			f = packet.AckFrequencyFrame{
				Sequence:              uint64(in.u8()),
				AckElicitingThreshold: uint64(in.u8()),
				RequestedMaxAckDelay:  minAckDelay + time.Duration(in.u16())*time.Microsecond,
				ReorderingThreshold:   uint64(flags >> 2),
			}
		default:
			f = packet.PingFrame{}
		}
	case k == fzFramePadding:
		f = packet.PaddingFrame{Size: 1 + int(in.u8()%64)}
	case k == fzFrameDataBlocked:
		f = packet.DataBlockedFrame{Limit: int64(in.u16())}
	case k == fzFrameStreamBlocked:
		st := fz.peerStream(in.u8())
		f = packet.StreamDataBlockedFrame{StreamID: st.id, Limit: int64(in.u16())}
	case k == fzFrameStreamsBlocked:
		f = packet.StreamsBlockedFrame{Bidirectional: flags&1 != 0, Limit: uint64(in.u8())}
	case k == fzFrameConsumed:
		st := fz.peerStream(in.u8())
		off := st.wireEnd
		if flags&1 != 0 {
			off = int64(in.u16())
		}
		f = packet.ConsumedFrame{StreamID: st.id, Offset: off}
	case k == fzFrameHandshakeDone:
		f = packet.HandshakeDoneFrame{}
	case k == fzFrameNewToken:
		f = packet.NewTokenFrame{Token: append([]byte{1}, in.take(int(in.u8()%16))...)}
	case k == fzFrameCrypto:
		f = packet.CryptoFrame{Offset: int64(in.u16()), Data: in.take(int(in.u8() % 32))}
	case k == fzFrameRaw || k == fzFrameRaw+1:
		fs := fz.rawFrames(in.take(int(in.u8() % 48)))
		if n := 0; len(fs) > 0 {
			for _, f := range fs {
				n += f.Len()
			}
			if n <= room {
				return fs, false
			}
		}
		return nil, false
	case k == fzFrameFECRepair:
		f = fz.fecRepairFrame(in, flags)
	}
	if f == nil || f.Len() > room {
		return nil, false
	}
	return []packet.Frame{f}, unsentAck
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// credit is a flow-control limit: above the current one, small, or the
// largest the wire carries.
func (fz *connFuzz) credit(in *fuzzIn, cur int64) int64 {
	switch m := in.u8(); m % 3 {
	case 0:
		return min(cur+int64(in.u16()), packet.MaxVarint)
	case 1:
		return int64(in.u16())
	}
	return packet.MaxVarint
}

// streamFrame builds a STREAM frame from a selector, modifiers (see
// fzStreamInOrder) and the script.
func (fz *connFuzz) streamFrame(in *fuzzIn, sel, mods byte, room int) packet.Frame {
	st := fz.peerStream(sel)
	n := int64(in.u8())
	if mods&fzStreamBig != 0 {
		n *= 4
	}
	var off int64
	switch mods & 3 {
	case fzStreamInOrder:
		off = st.sentEnd
	case fzStreamOverlap:
		off = int64(in.u16()) % (st.sentEnd + 1)
	case fzStreamGap:
		off = st.sentEnd + 1 + int64(in.u8())
	case fzStreamAbsolute:
		off = int64(in.u32())
		if mods&fzStreamBig != 0 {
			off = packet.MaxVarint - int64(in.u8())
		}
	}
	off = min(off, packet.MaxVarint)
	n = max(0, min(n, int64(room-24), packet.MaxVarint-off))
	data := make([]byte, n)
	for i := range data {
		data[i] = peerByte(st.id, off+int64(i))
		if mods&fzStreamConflict != 0 {
			data[i] ^= 0xa5
		}
	}
	fin := mods&fzStreamFin != 0
	st.sentEnd = max(st.sentEnd, off+n)
	if fin {
		st.finSizes = append(st.finSizes, off+n)
	}
	return packet.StreamFrame{StreamID: st.id, Offset: off, Data: data, Fin: fin}
}

// ackFrame acknowledges the connection's packets: a mode byte (bits 0-1:
// all, a subset of the last eight, all and some never sent, a range below
// the largest; bit 2: ECN counts; bits 5-7: the ACK Delay's scale) and its
// arguments.
func (fz *connFuzz) ackFrame(in *fuzzIn) (packet.Frame, bool) {
	tc := fz.tc
	m := in.u8()
	var pns []packet.PacketNumber
	largest := tc.largestConnPN
	switch m & 3 {
	case 0:
		pns = tc.connPNs
	case 1:
		mask := in.u8()
		for i, pn := range tc.connPNs[max(0, len(tc.connPNs)-8):] {
			if mask>>i&1 != 0 {
				pns = append(pns, pn)
			}
		}
	case 2:
		pns = slices.Clone(tc.connPNs)
		for i := range 1 + int(in.u8()%4) {
			pns = append(pns, largest+1+packet.PacketNumber(i))
		}
	case 3:
		lo, hi := packet.PacketNumber(in.u8()), packet.PacketNumber(in.u8())
		for pn := max(0, largest-max(lo, hi)); pn <= largest-min(lo, hi); pn++ {
			pns = append(pns, pn)
		}
	}
	if len(pns) == 0 {
		return packet.PingFrame{}, false
	}
	f := ackFor(pns...)
	f.Delay = uint64(in.u8()) << (m >> 5)
	if m&4 != 0 {
		f.HasECN = true
		f.ECN = packet.ECNCounts{ECT0: uint64(in.u8()), ECT1: uint64(in.u8()), CE: uint64(in.u8())}
	}
	return f, f.LargestAcked() > largest
}

// newConnIDFrame issues one of the peer's connection IDs: sequence byte,
// Retire Prior To byte, and a byte choosing the ID's length and content.
func (fz *connFuzz) newConnIDFrame(in *fuzzIn) packet.Frame {
	seq := uint64(in.u8() % 16)
	rpt := uint64(in.u8() % 16)
	v := in.u8()
	n := packet.DefaultConnIDLen
	if v&0x80 != 0 {
		n = 1 + int(v)%packet.MaxConnIDLen
	}
	// Content and token derive from the sequence number and v, so a
	// retransmission is identical and another v is a conflicting reuse.
	raw := make([]byte, n)
	for i := range raw {
		raw[i] = byte(seq*37+uint64(i)*11) ^ v&0x0f ^ 0x5a
	}
	cid, _ := packet.NewConnectionID(raw)
	var token [packet.StatelessResetTokenLen]byte
	for i := range token {
		token[i] = byte(seq*53+uint64(i)*3) ^ v&0x0f ^ 0xc3
	}
	fz.peerCIDs = append(fz.peerCIDs, fuzzIssued{seq: seq, cid: cid, token: token})
	fz.issuedSeqs[seq] = true
	return packet.NewConnectionIDFrame{SequenceNumber: seq, RetirePriorTo: rpt, ConnID: cid, ResetToken: token}
}

// retireConnID retires one of the connection's IDs; if the peer was
// addressing it, the peer moves to another, as RFC 9000 §5.1.2 requires.
func (fz *connFuzz) retireConnID(seq uint64) {
	tc := fz.tc
	cid, ok := fz.connCIDs[seq]
	if !ok {
		return
	}
	fz.retired[seq] = true
	if cid != tc.connCID {
		return
	}
	for s, other := range fz.sortedConnCIDs() {
		if !fz.retired[s] {
			tc.connCID = other
			return
		}
	}
}

// sortedConnCIDs are the connection's IDs by sequence number.
func (fz *connFuzz) sortedConnCIDs() iter.Seq2[uint64, packet.ConnectionID] {
	return func(yield func(uint64, packet.ConnectionID) bool) {
		for _, seq := range slices.Sorted(maps.Keys(fz.connCIDs)) {
			if !yield(seq, fz.connCIDs[seq]) {
				return
			}
		}
	}
}

// rawFrames sends script bytes as frames: the frames packet.ParseFrame
// reads become frames the model knows, and the rest goes as it is.
func (fz *connFuzz) rawFrames(b []byte) []packet.Frame {
	var out []packet.Frame
	for len(b) > 0 {
		f, n, err := packet.ParseFrame(b)
		if err != nil {
			break
		}
		b = b[n:]
		switch g := f.(type) {
		case packet.StreamFrame:
			// Sent with its Length, so the frames after it stay frames;
			// recorded like the peer's other data.
			g.Data = bytes.Clone(g.Data)
			g.OmitLength = false
			st := fz.stream(g.StreamID)
			st.sentEnd = max(st.sentEnd, g.Offset+int64(len(g.Data)))
			if g.Fin {
				st.finSizes = append(st.finSizes, g.Offset+int64(len(g.Data)))
			}
			fz.notePeerStream(g.StreamID)
			f = g
		case packet.ResetStreamFrame:
			st := fz.stream(g.StreamID)
			st.resetCodes = append(st.resetCodes, g.ErrorCode)
			fz.notePeerStream(g.StreamID)
		case packet.StopSendingFrame:
			fz.stream(g.StreamID).stopCodes = append(fz.stream(g.StreamID).stopCodes, g.ErrorCode)
			fz.notePeerStream(g.StreamID)
		case packet.MaxDataFrame:
			fz.peerMaxData = max(fz.peerMaxData, g.Max)
		case packet.MaxStreamDataFrame:
			st := fz.stream(g.StreamID)
			st.peerMax = max(st.peerMax, g.Max)
			fz.notePeerStream(g.StreamID)
		case packet.MaxStreamsFrame:
			fz.peerMaxStreams[b2i(g.Bidirectional)] = max(fz.peerMaxStreams[b2i(g.Bidirectional)], g.Max)
		case packet.ConnectionCloseFrame:
			g.Reason = bytes.Clone(g.Reason)
			fz.remoteCloses = append(fz.remoteCloses, g)
		case packet.NewConnectionIDFrame:
			fz.peerCIDs = append(fz.peerCIDs, fuzzIssued{seq: g.SequenceNumber, cid: g.ConnID, token: g.ResetToken})
			fz.issuedSeqs[g.SequenceNumber] = true
		case packet.RetireConnectionIDFrame:
			fz.retireConnID(g.SequenceNumber)
		case packet.StreamDataBlockedFrame:
			fz.notePeerStream(g.StreamID)
		case packet.ConsumedFrame:
			fz.notePeerStream(g.StreamID)
		}
		out = append(out, f)
	}
	if len(b) > 0 {
		out = append(out, fuzzRaw(b))
	}
	return out
}

// fecRepairFrame is an FEC_REPAIR frame made up from the script: how far
// back its group starts, its size, gaps, index and symbol.
func (fz *connFuzz) fecRepairFrame(in *fuzzIn, flags byte) packet.Frame {
	first := max(0, fz.tc.peerPN-1-packet.PacketNumber(in.u8()%16))
	sources := []packet.PacketNumber{first}
	for range int(flags % 4) {
		sources = append(sources, sources[len(sources)-1]+1+packet.PacketNumber(in.u8()%3))
	}
	return packet.FECRepairFrame{Sources: sources, Index: int(in.u8() % 40), Symbol: in.take(3 + int(in.u8()%64))}
}

// stream is the model of stream id.
func (fz *connFuzz) stream(id packet.StreamID) *fuzzStream {
	st := fz.streams[id]
	if st == nil {
		st = &fuzzStream{id: id}
		st.peerMax = fz.initialPeerCredit(id)
		fz.streams[id] = st
	}
	return st
}

// initialPeerCredit is what the peer's transport parameters let the
// connection send on stream id.
func (fz *connFuzz) initialPeerCredit(id packet.StreamID) int64 {
	p := fz.tc.peerParams
	local := id.ServerInitiated() == (fz.tc.side == serverSide)
	switch {
	case !id.Bidirectional():
		return p.InitialMaxStreamDataUni
	case local:
		return p.InitialMaxStreamDataBidiRemote
	}
	return p.InitialMaxStreamDataBidiLocal
}

// peerStream decodes a stream selector: kind in bits 0-1 (fzSelPeerBidi…),
// the stream's number in the rest; numbers from 48 are far beyond any
// limit.
func (fz *connFuzz) peerStream(sel byte) *fuzzStream {
	n := uint64(sel >> 2)
	if n >= 48 {
		n = 1000 + n
	} else {
		n %= 8
	}
	peerIsServer := fz.tc.side == clientSide
	var id packet.StreamID
	switch sel & 3 {
	case fzSelPeerBidi:
		id = packet.NewStreamID(n, peerIsServer, true)
	case fzSelPeerUni:
		id = packet.NewStreamID(n, peerIsServer, false)
	case fzSelLocalBidi:
		id = packet.NewStreamID(n, !peerIsServer, true)
	case fzSelLocalUni:
		id = packet.NewStreamID(n, !peerIsServer, false)
	}
	fz.notePeerStream(id)
	return fz.stream(id)
}

// notePeerStream records the highest peer-initiated stream a frame named:
// the connection may open every stream up to it, and no other.
func (fz *connFuzz) notePeerStream(id packet.StreamID) {
	if id.ServerInitiated() == (fz.tc.side == serverSide) {
		return
	}
	i := b2i(id.Bidirectional())
	fz.peerStreamNum[i] = max(fz.peerStreamNum[i], id.Num()+1)
}

// --- Other datagrams and events --------------------------------------------

// miscStep: a selector byte, then its arguments.
func (fz *connFuzz) miscStep(in *fuzzIn) {
	tc := fz.tc
	m := in.u8()
	switch m % 8 {
	case 0: // a key update, if the peer may start one
		if tc.keys.InitiateKeyUpdate() == nil {
			fz.sendPacket(fz.lastAddr, []packet.Frame{packet.PingFrame{}}, false, false)
		}
	case 1: // a key update without waiting for the acknowledgement
		tc.keys.OnAcked(uint64(tc.peerPN - 1))
		if tc.keys.InitiateKeyUpdate() == nil {
			fz.sendPacket(fz.lastAddr, []packet.Frame{packet.PingFrame{}}, false, false)
		}
	case 2: // an Initial packet, long after the handshake
		var frames []packet.Frame
		switch m >> 3 % 4 {
		case 0:
			frames = []packet.Frame{packet.CryptoFrame{Offset: int64(in.u8()), Data: in.take(int(in.u8() % 64))}}
		case 1:
			frames = []packet.Frame{ackFor(packet.PacketNumber(in.u8() % 4))}
		case 2:
			frames = []packet.Frame{packet.ConnectionCloseFrame{ErrorCode: uint64(in.u8())}}
			fz.remoteCloses = append(fz.remoteCloses, frames[0].(packet.ConnectionCloseFrame))
		case 3:
			frames = []packet.Frame{packet.PingFrame{}, packet.PaddingFrame{Size: int(in.u8())}}
		}
		padTo := 0
		if tc.side == serverSide {
			padTo = packet.MinInitialDatagramSize
		}
		fz.inject(fz.lastAddr, tc.sealInitial(frames, padTo))
	case 3: // the application closes the connection
		f := packet.ConnectionCloseFrame{ErrorCode: uint64(packet.NoError)}
		if m&0x80 != 0 {
			f = packet.ConnectionCloseFrame{Application: true, ErrorCode: uint64(in.u8())}
		}
		if fz.appClose == nil && !fz.done() {
			fz.appClose = &f
		}
		fz.call(func() {
			if f.Application {
				fz.c.CloseWithError(ApplicationErrorCode(f.ErrorCode), "")
			} else {
				fz.c.Close()
			}
		}, nil)
	case 4: // a stateless reset with a token the peer issued
		if len(fz.peerCIDs) < 2 {
			return
		}
		iss := fz.peerCIDs[1+int(in.u8())%(len(fz.peerCIDs)-1)]
		b := make([]byte, 0, 64)
		b = append(b, 0x40|m&0x3f)
		for i := range 30 + int(m>>3) { // long enough to be taken for a reset
			b = append(b, byte(i*89)^m)
		}
		b = append(b, iss.token[:]...)
		fz.sentReset = true
		fz.inject(fz.lastAddr, b)
	case 5: // the network duplicates a datagram
		if len(fz.injected) == 0 {
			return
		}
		b := fz.injected[len(fz.injected)-1-int(in.u8())%len(fz.injected)]
		fz.inject(fz.lastAddr, b)
	case 6: // a PING from where the path is now
		fz.sendPacket(fz.lastAddr, []packet.Frame{packet.PingFrame{}}, false, false)
	case 7: // path MTU probes: a large PING the peer pads
		fz.sendPacket(fz.lastAddr, []packet.Frame{packet.PingFrame{}, packet.PaddingFrame{Size: 600 + int(in.u8())*2}}, m&8 != 0, false)
	}
}

// --- The application -------------------------------------------------------

// call runs f, which may block, on a goroutine of the bubble; if it is
// still blocked once everything else is, unblock (a deadline or a
// cancellation) must release it.
func (fz *connFuzz) call(f func(), unblock func()) {
	fz.t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	synctest.Wait()
	select {
	case <-done:
		return
	default:
	}
	if unblock == nil {
		fz.t.Fatalf("a call that must not block is blocked")
	}
	unblock()
	synctest.Wait()
	select {
	case <-done:
	default:
		fz.t.Fatalf("a blocked call was not released by its deadline or cancellation")
	}
}

// openStep: flags byte (bit 0: bidirectional, bit 1: flush, bit 2: close
// for writing), length byte; the application opens a stream and writes.
func (fz *connFuzz) openStep(in *fuzzIn) {
	flags := in.u8()
	n := int(in.u8()) * (1 + int(flags>>3))
	bidi := flags&1 != 0
	var s *Stream
	var err error
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fz.call(func() {
		if bidi {
			s, err = fz.c.OpenStream(ctx)
		} else {
			s, err = fz.c.OpenUniStream(ctx)
		}
	}, cancel)
	if err != nil {
		if !errors.Is(err, context.Canceled) && !fz.isConnErr(err) {
			fz.t.Fatalf("OpenStream: %v", err)
		}
		return
	}
	id := s.StreamID()
	want := packet.NewStreamID(fz.opened[b2i(bidi)], fz.tc.side == serverSide, bidi)
	if id != want {
		fz.t.Fatalf("OpenStream (bidirectional %v) = stream %d, want %d", bidi, id, want)
	}
	fz.opened[b2i(bidi)]++
	st := fz.stream(id)
	st.s = s
	fz.handles = append(fz.handles, st)
	fz.write(st, n, flags)
}

// writeStep: selector byte, length byte, flags byte (as openStep's).
func (fz *connFuzz) writeStep(in *fuzzIn) {
	st := fz.handle(in.u8(), func(s *Stream) bool { return s.send != nil })
	n, flags := int(in.u8()), in.u8()
	if st != nil {
		fz.write(st, n*(1+int(flags>>3)), flags)
	}
}

// write has the application write n bytes of its pattern to st.
func (fz *connFuzz) write(st *fuzzStream, n int, flags byte) {
	s := st.s
	if n > 0 {
		data := make([]byte, n)
		for i := range data {
			data[i] = appByte(st.id, st.written+int64(i))
		}
		var wrote int
		var err error
		fz.call(func() { wrote, err = s.Write(data) }, func() { s.SetWriteDeadline(time.Now()) })
		s.SetWriteDeadline(time.Time{})
		st.written += int64(wrote)
		if err != nil {
			fz.checkWriteErr(st, err)
		}
	}
	if flags&2 != 0 {
		if err := s.Flush(); err != nil {
			fz.checkWriteErr(st, err)
		}
	}
	if flags&4 != 0 {
		s.CloseWrite()
		st.closedWrite = true
	}
}

func (fz *connFuzz) checkWriteErr(st *fuzzStream, err error) {
	var se *StreamError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
	case errors.Is(err, ErrStreamClosed) && st.closedWrite:
	case errors.As(err, &se):
		codes := st.writeCodes
		if se.Remote {
			codes = st.stopCodes
		}
		if se.StreamID != st.id || !slices.Contains(codes, uint64(se.Code)) {
			fz.t.Fatalf("Write on stream %d: %v, but no one stopped it with that code", st.id, err)
		}
	case fz.isConnErr(err):
	default:
		fz.t.Fatalf("Write on stream %d: unexpected error %v", st.id, err)
	}
}

// isConnErr reports whether err is the ended connection's error.
func (fz *connFuzz) isConnErr(err error) bool {
	return fz.done() && errors.Is(err, fz.c.Err())
}

// handle picks a stream the application holds.
func (fz *connFuzz) handle(sel byte, ok func(*Stream) bool) *fuzzStream {
	var cands []*fuzzStream
	for _, st := range fz.handles {
		if ok(st.s) {
			cands = append(cands, st)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	return cands[int(sel)%len(cands)]
}

// accept takes every stream the peer opened and the connection queued.
func (fz *connFuzz) accept() {
	ctx, cancel := contextCancelled()
	defer cancel()
	for _, bidi := range []bool{true, false} {
		for {
			var s *Stream
			var err error
			if bidi {
				s, err = fz.c.AcceptStream(ctx)
			} else {
				s, err = fz.c.AcceptUniStream(ctx)
			}
			if err != nil {
				break
			}
			id := s.StreamID()
			st := fz.stream(id)
			if st.s != nil || id.ServerInitiated() == (fz.tc.side == serverSide) || id.Bidirectional() != bidi ||
				id.Num() >= fz.peerStreamNum[b2i(bidi)] {
				fz.t.Fatalf("AcceptStream returned stream %d, which the peer did not open or which was accepted already", id)
			}
			st.s = s
			fz.handles = append(fz.handles, st)
		}
	}
}

// readStep: selector byte, length byte; the application accepts what it
// can and reads from one stream: with Read when the length byte is even,
// with WriteTo into a writer that takes that many bytes when it is odd.
func (fz *connFuzz) readStep(in *fuzzIn) {
	fz.accept()
	st := fz.handle(in.u8(), func(s *Stream) bool { return s.recv != nil })
	lenByte := in.u8()
	n := 1 + int(lenByte)*8
	if st == nil {
		return
	}
	s := st.s
	buf := make([]byte, n)
	var got int
	var err error
	if lenByte&1 == 0 {
		fz.call(func() { got, err = s.Read(buf) }, func() { s.SetReadDeadline(time.Now()) })
	} else {
		w := &fuzzWriter{limit: n}
		fz.call(func() { _, err = s.WriteTo(w) }, func() { s.SetReadDeadline(time.Now()) })
		got = copy(buf, w.got)
		switch {
		case errors.Is(err, errFuzzWriterFull):
			err = nil
		case err == nil:
			err = io.EOF // WriteTo's nil is the end of the stream
		}
	}
	s.SetReadDeadline(time.Time{})
	for i := range got {
		off := st.read + int64(i)
		want, ok := st.firstByte(off)
		if !ok {
			fz.t.Fatalf("stream %d: read byte %d, which the peer never sent (or the connection never took)", st.id, off)
		}
		if buf[i] != want {
			fz.t.Fatalf("stream %d: read %#x at offset %d, the peer's first copy was %#x", st.id, buf[i], off, want)
		}
	}
	st.read += int64(got)
	if got > 0 && st.eof {
		fz.t.Fatalf("stream %d: %d bytes read after io.EOF", st.id, got)
	}
	var se *StreamError
	switch {
	case err == nil:
	case err == io.EOF:
		if !slices.Contains(st.finSizes, st.read) {
			fz.t.Fatalf("stream %d: io.EOF at offset %d, the peer announced final sizes %v", st.id, st.read, st.finSizes)
		}
		st.eof = true
	case errors.Is(err, os.ErrDeadlineExceeded):
	case errors.Is(err, ErrStreamClosed) && st.closedStream:
	case errors.As(err, &se):
		codes := st.readCodes
		if se.Remote {
			codes = st.resetCodes
		}
		if se.StreamID != st.id || !slices.Contains(codes, uint64(se.Code)) {
			fz.t.Fatalf("Read on stream %d: %v, but no one reset it with that code", st.id, err)
		}
	case fz.isConnErr(err):
	default:
		fz.t.Fatalf("Read on stream %d: unexpected error %v", st.id, err)
	}
}

// fuzzWriter takes up to limit bytes, then fails.
type fuzzWriter struct {
	limit int
	got   []byte
}

var errFuzzWriterFull = errors.New("fuzz writer full")

func (w *fuzzWriter) Write(p []byte) (int, error) {
	k := min(len(p), w.limit-len(w.got))
	w.got = append(w.got, p[:k]...)
	if len(w.got) == w.limit {
		return k, errFuzzWriterFull
	}
	return k, nil
}

// streamStep: selector byte, action byte (the low three bits: Close,
// CloseWrite, CloseRead, CancelRead, CancelWrite, Flush; the rest a code).
func (fz *connFuzz) streamStep(in *fuzzIn) {
	st := fz.handle(in.u8(), func(*Stream) bool { return true })
	a := in.u8()
	if st == nil {
		return
	}
	s, code := st.s, ApplicationErrorCode(a>>3)
	switch a & 7 {
	case 0:
		s.Close()
		st.closedWrite, st.stoppedRead, st.closedStream = true, true, true
	case 1:
		s.CloseWrite()
		st.closedWrite = true
	case 2:
		s.CloseRead()
		st.stoppedRead, st.closedStream = true, true
	case 3:
		s.CancelRead(code)
		st.stoppedRead = true
		st.readCodes = append(st.readCodes, uint64(code))
	case 4:
		s.CancelWrite(code)
		st.writeCodes = append(st.writeCodes, uint64(code))
	default:
		if err := s.Flush(); err != nil {
			fz.checkWriteErr(st, err)
		}
	}
}

// --- The connection's output -----------------------------------------------

// drain reads and checks everything the connection sent.
func (fz *connFuzz) drain() {
	tc := fz.tc
	tc.wait()
	wasDone := fz.doneDrained
	fz.doneDrained = fz.done()
	for {
		d, ok := tc.bind.next()
		if !ok {
			return
		}
		if d.to == fuzzJunkAddr {
			continue // the endpoint's answer to junk
		}
		if n := len(d.data); n >= crypto.MinStatelessResetLen-1 && !packet.IsLongHeader(d.data) &&
			fz.connReset[[packet.StatelessResetTokenLen]byte(d.data[n-packet.StatelessResetTokenLen:])] {
			continue // the server's endpoint forgot the ID the peer used
		}
		if !packet.IsLongHeader(d.data) {
			fz.pickPeerCID(d.data)
		}
		td := tc.parseDatagram(d)
		tc.logf("conn → %v: %s", d.to, describeDatagram(td))
		for _, p := range td.packets {
			for _, f := range p.frames {
				if wasDone && f.Type() != packet.FramePadding && f.Type() != packet.FrameConnectionClose && f.Type() != packet.FrameConnectionCloseApp {
					fz.t.Fatalf("the connection had ended, but sent %s", formatFrame(f))
				}
				if p.kind == kind1RTT {
					fz.checkSent(f, td)
				}
			}
		}
	}
}

// pickPeerCID points the harness at the connection ID of the peer's that
// a short-header datagram is addressed to; one the peer never issued fails.
func (fz *connFuzz) pickPeerCID(b []byte) {
	for _, iss := range fz.peerCIDs {
		if bytes.HasPrefix(b[1:], iss.cid.Bytes()) {
			fz.tc.peerCID = iss.cid
			return
		}
	}
	fz.t.Fatalf("the connection sent a 1-RTT datagram to a connection ID the peer never issued: % x", b[:min(len(b), 21)])
}

// checkSent checks one frame the connection sent.
func (fz *connFuzz) checkSent(f packet.Frame, d *testDatagram) {
	t := fz.t
	side := fz.tc.side
	switch f := f.(type) {
	case packet.StreamFrame:
		st := fz.stream(f.StreamID)
		local := f.StreamID.ServerInitiated() == (side == serverSide)
		end := f.Offset + int64(len(f.Data))
		switch {
		case !local && !f.StreamID.Bidirectional():
			t.Fatalf("the connection sent %s on the peer's unidirectional stream", formatFrame(f))
		case local && f.StreamID.Num() >= fz.peerMaxStreams[b2i(f.StreamID.Bidirectional())]:
			t.Fatalf("the connection sent %s beyond the peer's stream limit %d", formatFrame(f), fz.peerMaxStreams[b2i(f.StreamID.Bidirectional())])
		case st.wireReset:
			t.Fatalf("the connection sent %s after RESET_STREAM (RFC 9000 §3.1)", formatFrame(f))
		case end > st.written:
			t.Fatalf("the connection sent %s, beyond the %d bytes written", formatFrame(f), st.written)
		case end > st.peerMax:
			t.Fatalf("the connection sent %s beyond the peer's MAX_STREAM_DATA %d", formatFrame(f), st.peerMax)
		case f.Fin && (end != st.written || !st.closedWrite):
			t.Fatalf("the connection sent %s: FIN, but %d bytes were written (closed: %v)", formatFrame(f), st.written, st.closedWrite)
		}
		for i, b := range f.Data {
			if want := appByte(f.StreamID, f.Offset+int64(i)); b != want {
				t.Fatalf("the connection sent %s: byte %d is %#x, the application wrote %#x", formatFrame(f), f.Offset+int64(i), b, want)
			}
		}
		st.wireEnd = max(st.wireEnd, end)
		var total int64
		for _, s := range fz.streams {
			total += s.wireEnd
		}
		if total > fz.peerMaxData {
			t.Fatalf("the connection sent %d stream bytes, beyond the peer's MAX_DATA %d", total, fz.peerMaxData)
		}
	case packet.ResetStreamFrame:
		st := fz.stream(f.StreamID)
		if !slices.Contains(st.writeCodes, f.ErrorCode) && !slices.Contains(st.stopCodes, f.ErrorCode) {
			t.Fatalf("the connection sent %s, but neither CancelWrite nor the peer's STOP_SENDING asked for that code", formatFrame(f))
		}
		if f.FinalSize < st.wireEnd || f.FinalSize > st.written {
			t.Fatalf("the connection sent %s: final size outside the %d bytes sent and %d written", formatFrame(f), st.wireEnd, st.written)
		}
		st.wireReset = true
	case packet.StopSendingFrame:
		st := fz.stream(f.StreamID)
		if !st.stoppedRead || (f.ErrorCode != 0 && !slices.Contains(st.readCodes, f.ErrorCode)) {
			t.Fatalf("the connection sent %s, but the application did not stop reading with that code", formatFrame(f))
		}
	case packet.ConsumedFrame:
		if st := fz.stream(f.StreamID); f.Offset > st.read {
			t.Fatalf("the connection sent %s, but the application read %d bytes", formatFrame(f), st.read)
		}
	case packet.MaxDataFrame:
		if f.Max < fz.lastMaxData {
			t.Fatalf("the connection sent %s after MAX_DATA %d", formatFrame(f), fz.lastMaxData)
		}
		fz.lastMaxData = f.Max
	case packet.MaxStreamDataFrame:
		st := fz.stream(f.StreamID)
		if f.Max < st.wireMaxData {
			t.Fatalf("the connection sent %s after MAX_STREAM_DATA %d", formatFrame(f), st.wireMaxData)
		}
		st.wireMaxData = f.Max
	case packet.AckFrame:
		for _, r := range f.Ranges {
			for pn := r.Smallest; pn <= r.Largest; pn++ {
				if !fz.ackable[pn] {
					t.Fatalf("the connection sent %s, acknowledging packet %d, which never arrived", formatFrame(f), pn)
				}
			}
		}
		fz.tc.keys.OnAcked(uint64(f.LargestAcked()))
		fz.watchAcked = fz.watchAcked || ackCovers(f, fz.watch)
	case packet.PathChallengeFrame:
		fz.connChallenge = f.Data
	case packet.PathResponseFrame:
		if !slices.Contains(fz.challenges[f.Data], d.to) {
			t.Fatalf("the connection sent %s to %v, but no PATH_CHALLENGE with that data came from there", formatFrame(f), d.to)
		}
	case packet.NewConnectionIDFrame:
		fz.connCIDs[f.SequenceNumber] = f.ConnID
	case packet.RetireConnectionIDFrame:
		if !fz.issuedSeqs[f.SequenceNumber] {
			t.Fatalf("the connection sent %s, but the peer never issued that sequence number", formatFrame(f))
		}
	case packet.ConnectionCloseFrame:
		fz.connClose = &f
	case packet.CryptoFrame:
		t.Fatalf("the connection sent %s in a 1-RTT packet", formatFrame(f))
	case packet.HandshakeDoneFrame:
		if side == clientSide {
			t.Fatalf("the client sent HANDSHAKE_DONE")
		}
	case packet.NewTokenFrame:
		if side == clientSide {
			t.Fatalf("the client sent NEW_TOKEN")
		}
	}
}

// --- Invariants ------------------------------------------------------------

// check verifies the connection's state after a step.
func (fz *connFuzz) check() {
	t := fz.t
	var problems []string
	fz.onLoop(func() { problems = fz.checkState() })
	if len(problems) > 0 {
		t.Fatalf("after the step:\n  %s", strings.Join(problems, "\n  "))
	}
	if !fz.done() {
		if fz.expectClose != "" {
			t.Fatalf("%s did not close the connection", fz.expectClose)
		}
		return
	}
	fz.checkEnd()
}

// checkState checks the flow-control windows and the streams' counters.
// It runs on the loop, so it reports rather than fails.
func (fz *connFuzz) checkState() []string {
	c := fz.c
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if r := c.streams.connRecv; r.Received() > r.Limit() || r.Consumed() < 0 || r.Consumed() > r.Received() {
		add("connection receive window: received %d, consumed %d, limit %d", r.Received(), r.Consumed(), r.Limit())
	}
	if s := c.streams.connSend; s != nil && (s.Used() < 0 || s.Used() > s.Limit()) {
		add("connection send window: used %d of %d", s.Used(), s.Limit())
	}
	if p := &c.path; !p.validated && p.bytesSent > 3*p.bytesRecv {
		add("sent %d bytes to %v, not validated, which sent %d (docs/PROTOCOL.md section 9: at most 3×)", p.bytesSent, p.peer, p.bytesRecv)
	}
	for _, s := range c.streamsSnapshot() {
		s.mu.Lock()
		if r := s.recv; r != nil {
			if r.HighestReceived() > r.Limit() || r.Consumed() > r.HighestReceived() || r.Buffered() < 0 || r.Consumed() < 0 {
				add("stream %d receive: highest %d, limit %d, consumed %d, buffered %d", s.id, r.HighestReceived(), r.Limit(), r.Consumed(), r.Buffered())
			}
		}
		if w := s.send; w != nil {
			if w.BytesAcked() > w.BytesSent() || w.BytesSent() > w.Written() || w.BytesSent() > w.PeerMaxData() ||
				w.PeerConsumed() > w.BytesSent() || w.Buffered() < 0 {
				add("stream %d send: written %d, sent %d, acked %d, consumed %d, peer limit %d, buffered %d",
					s.id, w.Written(), w.BytesSent(), w.BytesAcked(), w.PeerConsumed(), w.PeerMaxData(), w.Buffered())
			}
		}
		s.mu.Unlock()
	}
	return out
}

// checkEnd checks why the connection ended.
func (fz *connFuzz) checkEnd() {
	t := fz.t
	err := fz.c.Err()
	var te *TransportError
	var ae *ApplicationError
	var ie *IdleTimeoutError
	switch {
	case errors.As(err, &te) && te.Remote:
		if !slices.ContainsFunc(fz.remoteCloses, func(f packet.ConnectionCloseFrame) bool {
			return !f.Application && f.ErrorCode == uint64(te.Code)
		}) {
			t.Fatalf("the connection ended with %v, but the peer sent no such CONNECTION_CLOSE", err)
		}
	case errors.As(err, &te):
		switch {
		case te.Code == InternalError:
			t.Fatalf("the connection ended with an internal error: %v", err)
		case te.Code == NoError && (fz.appClose == nil || fz.appClose.Application):
			t.Fatalf("the connection ended with %v, but the application did not close it", err)
		case fz.connClose != nil && (fz.connClose.Application || fz.connClose.ErrorCode != uint64(te.Code)):
			t.Fatalf("the connection ended with %v, but told the peer %s", err, formatFrame(*fz.connClose))
		}
	case errors.As(err, &ae) && ae.Remote:
		if !slices.ContainsFunc(fz.remoteCloses, func(f packet.ConnectionCloseFrame) bool {
			return f.Application && f.ErrorCode == uint64(ae.Code)
		}) {
			t.Fatalf("the connection ended with %v, but the peer sent no such CONNECTION_CLOSE", err)
		}
	case errors.As(err, &ae):
		if fz.appClose == nil || !fz.appClose.Application || fz.appClose.ErrorCode != uint64(ae.Code) {
			t.Fatalf("the connection ended with %v, but the application did not close it so", err)
		}
	case errors.As(err, &ie):
	case errors.Is(err, ErrStatelessReset):
		if !fz.sentReset {
			t.Fatalf("the connection ended with %v, but the peer sent no stateless reset", err)
		}
	default:
		t.Fatalf("the connection ended with %v (%T), not one of the connection errors of errors.go", err, err)
	}
}

// checkUsable: a connection that did not end acknowledges a PING sent to
// an ID it still routes.
func (fz *connFuzz) checkUsable() {
	if fz.done() {
		return
	}
	tc := fz.tc
	routed := false
	for s, cid := range fz.sortedConnCIDs() {
		if !fz.retired[s] {
			tc.connCID, routed = cid, true
			break
		}
	}
	if !routed {
		return
	}
	fz.drain()
	fz.watch = tc.peerPN
	// Padded, so that a path not yet validated allows the answer.
	fz.sendPacket(fz.lastAddr, []packet.Frame{packet.PingFrame{}, packet.PaddingFrame{Size: 1000}}, false, false)
	tc.advance(time.Second)
	fz.drain()
	if !fz.watchAcked && !fz.done() {
		fz.t.Fatalf("the connection is open but did not acknowledge a PING (pn %d) within a second", fz.watch)
	}
}

// --- Seeds -----------------------------------------------------------------

// connSeed writes a script in the encoding FuzzConn decodes.
type connSeed []byte

func newConnSeed(c0, c1 byte) connSeed { return connSeed{c0, c1} }

func (s connSeed) add(b ...byte) connSeed { return append(s, b...) }

// packet is a packet step: hdr's address, drop and ECN bits, and one to
// four frames.
func (s connSeed) packet(hdr byte, frames ...[]byte) connSeed {
	s = append(s, fzStepPacket, hdr|byte(len(frames)-1))
	for _, f := range frames {
		s = append(s, f...)
	}
	return s
}

// Frame encodings for seeds.
func seedStream(sel, mods, n byte, off ...byte) []byte {
	return append([]byte{fzFrameStream, sel, mods, n}, off...)
}
func seedInOrder(sel, n byte) []byte { return []byte{fzFrameStreamInOrder, sel, n} }
func seedAckAll() []byte             { return []byte{fzFrameAck, 0, 0} }
func seedRaw(b []byte) []byte        { return append([]byte{fzFrameRaw, byte(len(b))}, b...) }

const (
	fzHdrRebound = 2 << 2 // from a new port
	fzHdrNewNet  = 3 << 2 // from a new address
	fzHdrDrop    = 1 << 4
)

// connFuzzSeeds covers each kind of step on both sides.
func connFuzzSeeds() [][]byte {
	var seeds [][]byte
	peerBidi0, peerBidi1, peerUni0 := byte(fzSelPeerBidi), byte(fzSelPeerBidi|1<<2), byte(fzSelPeerUni)
	localBidi0 := byte(fzSelLocalBidi)
	for side := byte(0); side < 2; side++ {
		seeds = append(seeds,
			// Stream data in order, FIN, reads to io.EOF.
			newConnSeed(side, 0).
				packet(0, seedInOrder(peerBidi0, 100)).
				packet(0, seedStream(peerBidi0, fzStreamInOrder|fzStreamFin, 100)).
				add(fzStepRead, 0, 255, fzStepRead, 0, 1, fzStepTimer),
			// Out of order, overlapping, then conflicting data.
			newConnSeed(side, 0).
				packet(0, seedStream(peerBidi0, fzStreamGap, 50, 49)).
				add(fzStepRead, 0, 10).
				packet(0, seedStream(peerBidi0, fzStreamOverlap, 50, 0, 0)).
				add(fzStepRead, 0, 4).
				packet(0, seedStream(peerBidi0, fzStreamOverlap|fzStreamConflict, 100, 0, 20), seedInOrder(peerBidi0, 30)).
				add(fzStepRead, 0, 255),
			// Data, RESET_STREAM, reads; a uni stream and a second bidi one.
			newConnSeed(side, 0).
				packet(0, seedInOrder(peerBidi0, 30), seedInOrder(peerUni0, 40), seedInOrder(peerBidi1, 5)).
				packet(0, []byte{fzFrameResetStream, peerBidi0, 7, 0}).
				add(fzStepRead, 0, 255, fzStepRead, 0, 255, fzStepRead, 1, 255, fzStepRead, 2, 255),
			// STOP_SENDING on a stream the application writes.
			newConnSeed(side, 0).
				add(fzStepOpen, 1|2, 200).
				packet(0, seedAckAll(), []byte{fzFrameStopSending, localBidi0, 9}).
				add(fzStepWrite, 0, 10, 0, fzStepTimer, fzStepTimer),
			// MAX_DATA and MAX_STREAM_DATA with small windows both ways.
			newConnSeed(side|4|8, 0).
				add(fzStepOpen, 1|3<<3, 250, fzStepOpen, 1|4|3<<3, 250, fzStepTick, 8).
				packet(0, seedAckAll(), []byte{fzFrameMaxData, 0, 0x10, 0}, []byte{fzFrameMaxStreamData, localBidi0, 0, 0x10, 0}).
				add(fzStepTimer).
				packet(0, seedAckAll()).
				packet(0, seedStream(peerBidi0, fzStreamInOrder|fzStreamBig, 250), seedStream(peerBidi0, fzStreamInOrder|fzStreamBig, 250)).
				add(fzStepRead, 0, 255, fzStepTimer).
				packet(0, seedStream(peerBidi0, fzStreamInOrder|fzStreamBig, 250), seedStream(peerBidi0, fzStreamInOrder|fzStreamBig, 250)),
			// ACKs of what was sent, then of a subset, with ECN counts.
			newConnSeed(side|2, 0).
				add(fzStepOpen, 1, 100, fzStepOpen, 0, 100, fzStepWrite, 0, 100, 0, fzStepTick, 4).
				packet(0, seedAckAll()).
				add(fzStepWrite, 1, 100, 2, fzStepTimer).
				packet(0, []byte{fzFrameAck, 1 | 4, 0x55, 3, 1, 0, 0}).
				add(fzStepTimer, fzStepTimer),
			// An ACK of packets never sent.
			newConnSeed(side, 0).
				add(fzStepOpen, 1, 10).
				packet(0, []byte{fzFrameAck, 2, 1, 0}),
			// NEW_CONNECTION_ID, Retire Prior To, RETIRE_CONNECTION_ID.
			newConnSeed(side, 8).
				packet(0, []byte{fzFrameNewConnID, 1, 0, 0}, []byte{fzFrameNewConnID, 2, 0, 0x85}).
				packet(0, []byte{fzFrameNewConnID, 3, 2, 0}).
				add(fzStepOpen, 1|2, 20).
				packet(0, []byte{fzFrameRetireConnID, 1}, seedAckAll()).
				add(fzStepTimer).
				packet(0, []byte{fzFrameRetireConnID, 0}).
				add(fzStepTimer, fzStepMisc, 4, 1),
			// PATH_CHALLENGE from another address; the connection's
			// challenge answered; a move to a network that never answers.
			newConnSeed(side, 0).
				packet(0, []byte{fzFrameNewConnID, 1, 0, 0}).
				packet(fzHdrRebound, []byte{fzFramePathChallenge, 0x11}).
				packet(fzHdrRebound, []byte{fzFramePathResponse}).
				add(fzStepTick, 4).
				packet(fzHdrNewNet, []byte{fzFramePing}).
				add(fzStepTimer, fzStepTimer, fzStepTimer, fzStepMisc, 6),
			// CONNECTION_CLOSE with a transport error code.
			newConnSeed(side, 0).
				packet(0, []byte{fzFrameClose | 4<<5, 0x0a, 'b', 'y', 0x08}).
				add(fzStepTimer, fzStepRead, 0, 1),
			// CONNECTION_CLOSE with an application code.
			newConnSeed(side, 0).
				packet(0, seedInOrder(peerBidi0, 10), []byte{fzFrameClose | 1<<5, 42}).
				add(fzStepRead, 0, 255, fzStepRead, 0, 255),
			// Datagrams that do not open.
			newConnSeed(side, 0).
				add(fzStepGarbage, 0, 40).add(make([]byte, 40)...).
				add(fzStepGarbage, 1, 60).add(bytes.Repeat([]byte{0xee}, 60)...).
				add(fzStepGarbage, 2, 50).add(bytes.Repeat([]byte{0x41}, 50)...).
				add(fzStepGarbage, 3, 77).
				add(fzStepGarbage, 7, 9).
				packet(0, []byte{fzFramePing}).
				add(fzStepTimer),
			// Time: a little, the keepalive, the next timers, the idle timeout.
			newConnSeed(side, 0).
				add(fzStepOpen, 1, 50, fzStepTick, 40, fzStepWait, 20, fzStepTimer, fzStepTimer, fzStepWait, 255, fzStepWait, 255),
			// FEC: a dropped packet rebuilt from the peer's repairs, one
			// delivered late.
			newConnSeed(side, 2).
				packet(0, seedInOrder(peerBidi0, 100)).
				packet(fzHdrDrop, seedInOrder(peerBidi0, 100)).
				add(fzStepRepair, 0, fzStepRead, 0, 255).
				packet(fzHdrDrop, seedInOrder(peerBidi0, 80)).
				packet(0, seedInOrder(peerBidi0, 80)).
				add(fzStepLate, fzStepRead, 0, 255),
			// FEC both ways, with a made-up repair frame.
			newConnSeed(side|2<<4, 0).
				add(fzStepOpen, 1|2, 200, fzStepOpen, 1|2, 200, fzStepTick, 4).
				packet(0, []byte{fzFrameFECRepair | 1<<5, 0, 0, 1, 4, 1, 2, 3, 4, 5, 6, 7}),
			// Key updates, an Initial, ECN marks, a stateless reset, a
			// duplicate.
			newConnSeed(side, 0).
				packet(0, seedInOrder(peerBidi0, 10)).
				add(fzStepTick, 100, fzStepMisc, 0, fzStepTick, 100).
				add(fzStepMisc, 2, 0, 10).add(bytes.Repeat([]byte{1}, 10)...).
				packet(2<<5, []byte{fzFramePing}).
				add(fzStepMisc, 5, 0, fzStepMisc, 1).
				packet(0, []byte{fzFrameNewConnID, 1, 0, 0}).
				add(fzStepMisc, 4, 0),
			// The application cancels and closes streams.
			newConnSeed(side, 0).
				packet(0, seedInOrder(peerBidi0, 100), seedInOrder(peerBidi1, 100), seedInOrder(peerUni0, 10)).
				add(fzStepRead, 0, 1, fzStepStream, 0, 3|5<<3, fzStepStream, 1, 2, fzStepStream, 2, 0).
				add(fzStepOpen, 1|2, 100, fzStepStream, 3, 4|6<<3, fzStepOpen, 1, 10, fzStepStream, 4, 1, fzStepTimer).
				packet(0, seedInOrder(peerBidi0, 10), seedAckAll()).
				add(fzStepTimer, fzStepMisc, 3|0x80, 5),
			// Raw frame bytes: a STREAM frame, then an unknown type.
			newConnSeed(side, 0).
				packet(0, seedRaw(packet.StreamFrame{StreamID: packet.NewStreamID(0, side == 0, true), Data: []byte("hello")}.Append(nil))).
				add(fzStepRead, 0, 10).
				packet(0, seedRaw([]byte{0x40, 0x21, 0})),
			// Stream limits: the peer allows two; MAX_STREAMS lets more open.
			newConnSeed(side|8|0x40, 0).
				add(fzStepOpen, 1, 1, fzStepOpen, 1, 1, fzStepOpen, 1, 1).
				packet(0, []byte{fzFrameMaxStreams | 1<<5, 4}).
				add(fzStepOpen, 1, 1).
				packet(0, seedInOrder(peerBidi0, 1), seedInOrder(byte(fzSelPeerBidi|5<<2), 1)).
				add(fzStepRead, 0, 0),
			// A slow first acknowledgement (a long probe timeout, whose
			// backoff soon reaches its cap), packets still in flight, then a
			// small packet from a new address: the connection may send
			// almost nothing there (3× what came) and must wait, without
			// spinning, for the peer or for the path's validation to fail.
			newConnSeed(side, 0).
				add(fzStepOpen, 1|2, 100, fzStepTick, 255, fzStepTick, 255, fzStepTick, 255, fzStepTick, 255, fzStepTick, 255, fzStepTick, 255).
				packet(0, []byte{fzFrameAck, 3, 4, 4, 0}).
				packet(fzHdrNewNet, []byte{fzFramePing}).
				add(fzStepTimer, fzStepTimer, fzStepTimer, fzStepTimer),
			// Path MTU discovery, BBR, a large padded PING.
			newConnSeed(side|0x80, 1).
				add(fzStepOpen, 1, 250, fzStepTick, 10, fzStepMisc, 7, 200, fzStepTimer, fzStepTimer),
		)
	}
	return seeds
}
