package transport

// This file is the scripted-peer harness (../shared/style.md, point 7): a real *Conn,
// client or server, runs on an in-memory Bind inside a testing/synctest
// bubble, and the test plays the peer. The harness holds the peer's keys, so
// the test speaks the wire protocol directly: it runs the peer's half of the
// Noise IK handshake with package crypto, seals the packets it injects, and
// opens and parses every packet the Conn sends.
//
// Time is synctest's fake clock. The Conn's timers fire only when the test
// advances the clock (advance, advanceTo, advanceToTimer), so every timing
// rule can be checked to the nanosecond.
//
// Typical use:
//
//	synctest.Test(t, func(t *testing.T) {
//		tc := newTestConn(t, clientSide) // handshake done, all quiet
//		s := tc.openStream(true)
//		s.Write([]byte("hi"))
//		tc.wantFrame("the write goes out at once",
//			packet.StreamFrame{StreamID: 0, Data: []byte("hi")})
//		tc.advanceToTimer() // the PTO: the data comes again
//		...
//	})
//
// Run with -args -harness.verbose (or LIMPET_HARNESS_VERBOSE=1) to log every
// datagram in both directions and its frames.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

var harnessVerbose = flag.Bool("harness.verbose", false, "log every datagram the scripted-peer harness sends and receives, with its frames")

func harnessLogging() bool {
	return *harnessVerbose || os.Getenv("LIMPET_HARNESS_VERBOSE") != ""
}

// Addresses of the two ends. The Conn under test sits at testConnAddr; the
// peer the harness plays sends from testPeerAddr unless a test picks another
// source (writeDatagramFrom), as a NAT rebinding or a migration would.
var (
	testConnAddr = netip.MustParseAddrPort("192.0.2.1:4000")
	testPeerAddr = netip.MustParseAddrPort("198.51.100.7:5000")
)

// testRTT is the round trip the harness simulates during the handshake: it
// waits this long before acknowledging the Conn's first 1-RTT packet, so the
// Conn's first RTT sample is exactly testRTT (and its PTO is predictable).
const testRTT = 10 * time.Millisecond

// testPTO is the Conn's probe timeout after the harness's handshake
// (RFC 9002 §6.2.1): one RTT sample of testRTT gives smoothed_rtt = testRTT
// and rttvar = testRTT/2, so PTO = testRTT + 4·testRTT/2 + max_ack_delay.
const testPTO = testRTT + 4*(testRTT/2) + 25*time.Millisecond

// --- Fake Bind --------------------------------------------------------------

// fakeBind is an in-memory Bind. ReadBatch delivers the datagrams the test
// injects, from whatever source address it chose; WriteBatch records every
// datagram with its destination and the fake-clock time it was sent. Every
// channel it blocks on is created inside the test's synctest bubble, so a
// reader waiting for input is durably blocked and the fake clock can move.
type fakeBind struct {
	local netip.AddrPort

	in        chan Datagram // injected by the test, delivered by ReadBatch
	closed    chan struct{}
	closeOnce sync.Once
	sentCh    chan struct{} // one-slot signal: WriteBatch recorded something

	mu       sync.Mutex
	queue    []fakeSent // sent datagrams the test has not read yet
	all      []fakeSent // every sent datagram, for accounting
	sentTo   map[netip.AddrPort]int64
	recvFrom map[netip.AddrPort]int64
}

// fakeSent is one datagram the Conn sent.
type fakeSent struct {
	at    time.Time
	to    netip.AddrPort
	data  []byte
	ecn   ECN
	local netip.Addr
}

func newFakeBind(local netip.AddrPort) *fakeBind {
	return &fakeBind{
		local:    local,
		in:       make(chan Datagram, 256),
		closed:   make(chan struct{}),
		sentCh:   make(chan struct{}, 1),
		sentTo:   make(map[netip.AddrPort]int64),
		recvFrom: make(map[netip.AddrPort]int64),
	}
}

func (b *fakeBind) ReadBatch(dgrams []Datagram) (int, error) {
	if len(dgrams) == 0 {
		return 0, nil
	}
	select {
	case d := <-b.in:
		b.deliver(&dgrams[0], d)
	case <-b.closed:
		return 0, net.ErrClosed
	}
	n := 1
	for n < len(dgrams) {
		select {
		case d := <-b.in:
			b.deliver(&dgrams[n], d)
			n++
			continue
		default:
		}
		break
	}
	return n, nil
}

func (b *fakeBind) deliver(dst *Datagram, d Datagram) {
	dst.N = copy(dst.Buf, d.Buf)
	dst.Addr = d.Addr
	dst.SegmentSize = 0
	dst.ECN, dst.Local = d.ECN, d.Local
}

func (b *fakeBind) WriteBatch(dgrams []Datagram) error {
	now := time.Now()
	b.mu.Lock()
	for i := range dgrams {
		d := &dgrams[i]
		if d.N < 0 || d.N > len(d.Buf) {
			continue
		}
		for s := 0; s < d.NumSegments(); s++ {
			data := bytes.Clone(d.Segment(s))
			rec := fakeSent{at: now, to: d.Addr, data: data, ecn: d.ECN, local: d.Local}
			b.queue = append(b.queue, rec)
			b.all = append(b.all, rec)
			b.sentTo[d.Addr] += int64(len(data))
		}
	}
	b.mu.Unlock()
	select {
	case b.sentCh <- struct{}{}:
	default:
	}
	return nil
}

func (b *fakeBind) LocalAddr() netip.AddrPort { return b.local }
func (b *fakeBind) DontFragment() bool        { return true }
func (b *fakeBind) BatchSize() int            { return 8 }
func (b *fakeBind) MaxSegments() int          { return 1 }

func (b *fakeBind) Close() error {
	b.closeOnce.Do(func() { close(b.closed) })
	return nil
}

// inject queues a datagram from `from` for the Conn's endpoint to read.
func (b *fakeBind) inject(from netip.AddrPort, data []byte, mark ECN) {
	b.mu.Lock()
	b.recvFrom[from] += int64(len(data))
	b.mu.Unlock()
	b.in <- Datagram{Buf: bytes.Clone(data), N: len(data), Addr: from, ECN: mark}
}

// next pops the oldest sent datagram the test has not read.
func (b *fakeBind) next() (fakeSent, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		return fakeSent{}, false
	}
	d := b.queue[0]
	b.queue = b.queue[1:]
	return d, true
}

// pending is how many sent datagrams the test has not read.
func (b *fakeBind) pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// bytesSentTo is how many bytes the Conn sent to addr so far.
func (b *fakeBind) bytesSentTo(addr netip.AddrPort) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sentTo[addr]
}

// bytesReceivedFrom is how many bytes the test injected from addr so far.
func (b *fakeBind) bytesReceivedFrom(addr netip.AddrPort) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.recvFrom[addr]
}

var _ Bind = (*fakeBind)(nil)

// --- The test connection ----------------------------------------------------

// connSide says which end of the connection the Conn under test is.
type connSide int

const (
	clientSide connSide = iota // the Conn dialled; the harness plays the server
	serverSide                 // the Conn was accepted; the harness plays the client
)

func (s connSide) String() string {
	if s == clientSide {
		return "client"
	}
	return "server"
}

// packetKind tells Initial from 1-RTT packets in the harness's records.
type packetKind int

const (
	kindInitial packetKind = iota
	kind1RTT
	kindRetry
)

func (k packetKind) String() string {
	switch k {
	case kindInitial:
		return "Initial"
	case kindRetry:
		return "Retry"
	}
	return "1-RTT"
}

// testPacket is one packet the Conn sent, opened with the peer's keys.
type testPacket struct {
	kind   packetKind
	pn     packet.PacketNumber
	dcid   packet.ConnectionID
	scid   packet.ConnectionID // Initial and Retry only
	token  []byte              // Initial and Retry only
	frames []packet.Frame      // PADDING included
	raw    []byte              // Retry and 1-RTT: the packet as sent
	// payload is a 1-RTT packet's plaintext, the frames as encoded: what
	// an FEC source symbol holds (docs/PROTOCOL.md section 10).
	payload []byte
}

// ackEliciting reports whether p carries a frame other than ACK, PADDING and
// CONNECTION_CLOSE.
func (p *testPacket) ackEliciting() bool {
	for _, f := range p.frames {
		if f.Type().AckEliciting() {
			return true
		}
	}
	return false
}

// testDatagram is one datagram the Conn sent, with its packets.
type testDatagram struct {
	at      time.Time
	to      netip.AddrPort
	size    int
	ecn     ECN
	local   netip.Addr
	packets []*testPacket
}

// sentProbe is an MTU probe the Conn sent during the handshake helper.
type sentProbe struct {
	pn   packet.PacketNumber
	size int
}

// testConn is a Conn under test and the peer the test plays.
type testConn struct {
	t     *testing.T
	side  connSide
	start time.Time // fake-clock time the Conn was created

	conn     *Conn
	bind     *fakeBind
	listener *Listener // serverSide only

	cfg        Config                     // the Conn's configuration (as passed)
	peerParams packet.TransportParameters // what the peer announces
	connParams packet.TransportParameters // what the Conn announced

	// peerAddr is the default source of injected datagrams and the address
	// the Conn is expected to send to.
	peerAddr netip.AddrPort

	// Keys and connection IDs. The server's static key is the peer's on
	// clientSide and the Conn's on serverSide; the harness knows it either
	// way.
	serverKey crypto.PrivateKey
	clientKey crypto.PrivateKey
	server    *crypto.Server          // clientSide: the peer's handshake state
	clientHS  *crypto.ClientHandshake // serverSide: the peer's handshake state
	msg1      []byte                  // message 1 (sent or received)
	msg2      []byte                  // message 2 (sent or received)
	origDCID  packet.ConnectionID     // DCID of the client's first Initial
	retrySCID packet.ConnectionID     // SCID of the Retry the client followed, if any
	token     []byte                  // in the peer's Initials: the Retry token the client echoes (or a server's, to test its refusal)
	connCID   packet.ConnectionID     // the CID the Conn issued (peer → Conn)
	peerCID   packet.ConnectionID     // the CID the peer issued (Conn → peer)
	initSeal  *crypto.Sealer          // the peer's Initial keys
	initOpen  *crypto.Opener
	keys      *crypto.AppKeys // the peer's 1-RTT keys

	// Packet numbers. The peer numbers its own packets; the harness tracks
	// the Conn's to reconstruct them and to acknowledge them.
	peerInitialPN     packet.PacketNumber
	peerPN            packet.PacketNumber // next 1-RTT packet number the peer sends
	largestConnInitPN packet.PacketNumber
	largestConnPN     packet.PacketNumber
	connPNs           []packet.PacketNumber        // 1-RTT packets received from the Conn, sorted
	peerSent          map[packet.PacketNumber]bool // 1-RTT packet numbers the peer used
	// closePacket is the 1-RTT packet that carried the Conn's
	// CONNECTION_CLOSE, which it may send again unchanged.
	closePacket *testPacket
	// connIssuedCIDs are the NEW_CONNECTION_ID frames the Conn sent, in
	// order: further CIDs the peer may address it by (migration tests).
	connIssuedCIDs []packet.NewConnectionIDFrame

	lastWrite time.Time // when the peer last injected a datagram

	// reservedBits are set in the first byte of the peer's 1-RTT packets
	// (0x18 are the reserved bits), to test that the Conn rejects them.
	reservedBits byte
	// initialZeros, if set, pads the peer's Initial datagrams to 1200
	// bytes with zero bytes after the packet instead of inside it.
	initialZeros bool

	// Output the test has parsed but not consumed.
	cur       *testDatagram
	curPacket int // index into cur.packets of the packet being read
	curFrame  int // index into cur.packets[curPacket].frames
	lastPkt   *testPacket
	lastDgram *testDatagram
	// probes are the MTU probes the Conn sent while handshake() ran.
	probes []sentProbe
	// peerECN is the ECN codepoint the peer's datagrams arrive with.
	peerECN ECN
	// reportECN makes ackAll carry ecnCounts, the codepoints of the
	// Conn's 1-RTT datagrams read so far, as an ECN-capable peer's ACKs
	// do; by default the peer is ECN-blind.
	reportECN bool
	ecnCounts packet.ECNCounts
	ignore    map[packet.FrameType]bool

	// Client side: Dial runs in a goroutine until the handshake completes.
	dialCh     chan dialOutcome
	cancelDial context.CancelFunc
	dialDone   bool
	dialErr    error
}

type dialOutcome struct {
	c   *Conn
	err error
}

// errHarnessDone ends a Conn that is still open when its test returns.
var errHarnessDone = errors.New("harness: test finished")

// newTestConn starts a Conn on side and completes the handshake with it:
// message 1 and 2, the client's first 1-RTT packet, HANDSHAKE_DONE and the
// ACKs of all of it, with a simulated RTT of testRTT. It returns once the
// Conn is quiet, with everything it sent read. opts may be func(*Config),
// adjusting the Conn's configuration, and func(*packet.TransportParameters),
// adjusting what the peer announces. It must run inside synctest.Test.
func newTestConn(t *testing.T, side connSide, opts ...any) *testConn {
	t.Helper()
	tc := startTestConn(t, side, opts...)
	tc.handshake()
	return tc
}

// startTestConn starts a Conn on side (Dial for a client, Listen for a
// server) and leaves the handshake to the test. A client has sent its first
// Initial when it returns; a server is waiting for one.
func startTestConn(t *testing.T, side connSide, opts ...any) *testConn {
	t.Helper()
	tc := &testConn{
		t:                 t,
		side:              side,
		start:             time.Now(),
		bind:              newFakeBind(testConnAddr),
		peerAddr:          testPeerAddr,
		largestConnInitPN: packet.InvalidPacketNumber,
		largestConnPN:     packet.InvalidPacketNumber,
		ignore:            make(map[packet.FrameType]bool),
		peerSent:          make(map[packet.PacketNumber]bool),
	}
	var err error
	if tc.serverKey, err = crypto.GenerateKey(); err != nil {
		t.Fatal(err)
	}
	if tc.clientKey, err = crypto.GenerateKey(); err != nil {
		t.Fatal(err)
	}
	tc.peerCID = testRandomCID(t)
	tc.peerParams = packet.DefaultTransportParameters()
	tc.peerParams.InitialMaxData = 1 << 20
	tc.peerParams.InitialMaxStreamDataBidiLocal = 1 << 20
	tc.peerParams.InitialMaxStreamDataBidiRemote = 1 << 20
	tc.peerParams.InitialMaxStreamDataUni = 1 << 20
	tc.peerParams.InitialMaxStreamsBidi = 100
	tc.peerParams.InitialMaxStreamsUni = 100
	tc.peerParams.MaxUDPPayloadSize = maxRxDatagram
	tc.peerParams.InitialSrcConnID = tc.peerCID
	tc.peerParams.HasInitialSrcConnID = true
	// Extra connection IDs are the migration tests' business; other tests
	// need not list them.
	tc.ignoreFrame(packet.FrameNewConnectionID)
	// Packets of a fixed, Ethernet size, and no MTU probes among them:
	// path MTU discovery's tests turn it on.
	tc.cfg.DisablePathMTUDiscovery = true
	tc.cfg.MaxDatagramSize = packet.DefaultMaxUDPPayload
	for _, o := range opts {
		switch o := o.(type) {
		case func(*Config):
			o(&tc.cfg)
		case func(*packet.TransportParameters):
			o(&tc.peerParams)
		case func(*testConn):
			o(tc)
		default:
			t.Fatalf("startTestConn: unknown option type %T", o)
		}
	}
	t.Cleanup(tc.cleanup)

	switch side {
	case clientSide:
		srv, err := crypto.NewServer(crypto.ServerConfig{StaticKey: tc.serverKey})
		if err != nil {
			t.Fatal(err)
		}
		tc.server = srv
		cfg := tc.cfg
		cfg.ServerKey = tc.serverKey.Public()
		if cfg.PrivateKey.IsZero() {
			cfg.PrivateKey = tc.clientKey
		}
		tc.clientKey = cfg.PrivateKey
		ctx, cancel := context.WithCancel(context.Background())
		tc.cancelDial = cancel
		tc.dialCh = make(chan dialOutcome, 1)
		go func() {
			c, err := DialBind(ctx, tc.bind, tc.peerAddr, &cfg)
			tc.dialCh <- dialOutcome{c, err}
		}()
	case serverSide:
		cfg := tc.cfg
		cfg.PrivateKey = tc.serverKey
		ln, err := ListenBind(tc.bind, &cfg)
		if err != nil {
			t.Fatalf("ListenBind: %v", err)
		}
		tc.listener = ln
		tc.origDCID = testRandomCID(t)
		tc.initSeal, tc.initOpen = crypto.NewInitialKeys(tc.serverKey.Public(), tc.origDCID.Bytes(), true)
	}
	tc.wait()
	return tc
}

func testRandomCID(t *testing.T) packet.ConnectionID {
	t.Helper()
	return newConnID()
}

// cleanup ends whatever the test left running, so that the synctest bubble
// has no goroutines left: a pending Dial is cancelled, an open Conn is ended
// on its own loop without sending anything, and a Listener is closed.
func (tc *testConn) cleanup() {
	if harnessLogging() {
		for tc.bind.pending() > 0 {
			d, _ := tc.bind.next()
			tc.logf("(unread) %s", tc.describeSent(d))
		}
	}
	if tc.cancelDial != nil {
		tc.cancelDial()
	}
	if tc.dialCh != nil && !tc.dialDone {
		o := <-tc.dialCh
		tc.dialDone, tc.conn, tc.dialErr = true, o.c, o.err
	}
	if tc.conn != nil {
		c := tc.conn
		c.run(context.Background(), func(now time.Time) { c.terminate(errHarnessDone) })
		<-c.done
	}
	if tc.listener != nil {
		tc.listener.Close()
	}
	tc.bind.Close()
}

func (tc *testConn) logf(format string, args ...any) {
	if harnessLogging() {
		tc.t.Logf("[%v] "+format, append([]any{tc.elapsed()}, args...)...)
	}
}

// elapsed is the fake time since the Conn was created.
func (tc *testConn) elapsed() time.Duration { return time.Since(tc.start) }

// --- Time -------------------------------------------------------------------

// wait lets every goroutine of the bubble (the Conn's loop, the endpoint's
// reader, the test's own) run until it blocks.
func (tc *testConn) wait() { synctest.Wait() }

// advance moves the fake clock forward by d, letting the Conn's timers fire
// on the way at their exact times.
func (tc *testConn) advance(d time.Duration) {
	tc.t.Helper()
	if d < 0 {
		tc.t.Fatalf("advance(%v): negative", d)
	}
	time.Sleep(d)
	tc.wait()
}

// advanceTo moves the fake clock to t.
func (tc *testConn) advanceTo(t time.Time) {
	tc.t.Helper()
	now := time.Now()
	if t.Before(now) {
		tc.t.Fatalf("advanceTo(%v): that is %v in the past", t.Sub(tc.start), now.Sub(t))
	}
	tc.advance(t.Sub(now))
}

// advanceToTimer moves the fake clock to the Conn's next timer (loss, PTO,
// ACK delay, keepalive, idle, …) and lets it fire. Before Dial has returned
// the harness cannot see the Conn's timers; it then advances until the Conn
// sends something, at most an hour.
func (tc *testConn) advanceToTimer() {
	tc.t.Helper()
	if tc.conn == nil {
		tc.advanceUntilSent(time.Hour)
		return
	}
	var next time.Time
	c := tc.conn
	if err := c.run(context.Background(), func(now time.Time) { next = c.nextDeadline(now) }); err != nil {
		tc.t.Fatalf("advanceToTimer: the connection has ended: %v", err)
	}
	tc.logf("advancing to the next timer at %v", next.Sub(tc.start))
	if now := time.Now(); next.After(now) {
		tc.advanceTo(next)
	} else {
		tc.wait()
	}
}

// advanceUntilSent moves the fake clock until the Conn sends a datagram, at
// most by limit, and reports whether it sent one.
func (tc *testConn) advanceUntilSent(limit time.Duration) bool {
	tc.t.Helper()
	tc.wait()
	if tc.bind.pending() > 0 {
		return true
	}
	select {
	case <-tc.bind.sentCh:
	default:
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-tc.bind.sentCh:
	case <-timer.C:
	}
	tc.wait()
	return tc.bind.pending() > 0
}

// --- Writing (peer → Conn) --------------------------------------------------

// writeDatagram delivers b to the Conn from the peer's address.
func (tc *testConn) writeDatagram(b []byte) {
	tc.t.Helper()
	tc.writeDatagramFrom(tc.peerAddr, b)
}

// writeDatagramFrom delivers b to the Conn from the source address from.
func (tc *testConn) writeDatagramFrom(from netip.AddrPort, b []byte) {
	tc.t.Helper()
	tc.lastWrite = time.Now()
	tc.bind.inject(from, b, tc.peerECN)
	tc.wait()
}

// writeFrames seals frames into a 1-RTT packet with the peer's next packet
// number and delivers it from the peer's address.
func (tc *testConn) writeFrames(frames ...packet.Frame) {
	tc.t.Helper()
	tc.writeFramesFrom(tc.peerAddr, frames...)
}

// writeFramesFrom is writeFrames from another source address.
func (tc *testConn) writeFramesFrom(from netip.AddrPort, frames ...packet.Frame) {
	tc.t.Helper()
	b := tc.seal1RTT(frames)
	tc.writeDatagramFrom(from, b)
}

// seal1RTT builds a protected 1-RTT packet from the peer and advances the
// peer's packet number.
func (tc *testConn) seal1RTT(frames []packet.Frame) []byte {
	tc.t.Helper()
	if tc.keys == nil {
		tc.t.Fatalf("writeFrames: the peer has no 1-RTT keys yet")
	}
	const pnLen = 4
	pn := tc.peerPN
	tc.peerPN++
	tc.peerSent[pn] = true
	b, pnOffset := packet.AppendShortHeader(nil, tc.connCID, tc.keys.KeyPhase(), pnLen)
	b[0] |= tc.reservedBits
	b = packet.AppendPacketNumber(b, pn, pnLen)
	for _, f := range frames {
		b = f.Append(b)
	}
	for len(b) < pnOffset+4 {
		b = append(b, 0) // room for the header-protection sample
	}
	b = slices.Grow(b, crypto.TagLen)
	b, err := tc.keys.Seal(b, pnOffset, pnLen, uint64(pn))
	if err != nil {
		tc.t.Fatalf("seal 1-RTT packet: %v", err)
	}
	if len(b) > packet.DefaultMaxUDPPayload {
		tc.t.Fatalf("writeFrames: a %d-byte packet exceeds %d-byte datagrams; split the frames", len(b), packet.DefaultMaxUDPPayload)
	}
	tc.logf("peer → conn: 1-RTT pn=%d (%d bytes) %s", pn, len(b), formatFrames(frames))
	return b
}

// skipPeerPacketNumbers makes the peer skip n packet numbers, leaving a gap
// in what the Conn receives.
func (tc *testConn) skipPeerPacketNumbers(n int) { tc.peerPN += packet.PacketNumber(n) }

// writeInitialFrames seals frames into an Initial packet from the peer and
// delivers it. When the harness plays the client, the datagram is padded to
// 1200 bytes as docs/PROTOCOL.md section 2 requires.
func (tc *testConn) writeInitialFrames(frames ...packet.Frame) {
	tc.t.Helper()
	padTo := 0
	if tc.side == serverSide {
		padTo = packet.MinInitialDatagramSize
	}
	if tc.initialZeros {
		b := tc.sealInitial(frames, 0)
		tc.writeDatagram(append(b, make([]byte, max(packet.MinInitialDatagramSize-len(b), 0))...))
		return
	}
	tc.writeDatagram(tc.sealInitial(frames, padTo))
}

// sealInitial builds a protected Initial packet from the peer, its datagram
// padded to padTo bytes, and advances the peer's Initial packet number.
func (tc *testConn) sealInitial(frames []packet.Frame, padTo int) []byte {
	tc.t.Helper()
	if tc.initSeal == nil {
		tc.t.Fatalf("sealInitial: the peer has no Initial keys yet")
	}
	const pnLen = 4
	dcid := tc.connCID
	if dcid.Len() == 0 {
		dcid = tc.initialDCID() // the client has not heard from the server yet
	}
	h := packet.LongHeader{Type: packet.LongTypeInitial, Version: packet.Version, DstConnID: dcid, SrcConnID: tc.peerCID, Token: tc.token}
	var payload []byte
	for _, f := range frames {
		payload = f.Append(payload)
	}
	payloadLen := len(payload)
	if padTo > 0 {
		payloadLen = max(payloadLen, padTo-packet.LongHeaderLen(h, pnLen, padTo)-crypto.TagLen)
	}
	pn := tc.peerInitialPN
	tc.peerInitialPN++
	b, pnOffset := packet.AppendLongHeader(nil, h, pnLen, payloadLen+crypto.TagLen)
	b = packet.AppendPacketNumber(b, pn, pnLen)
	b = append(b, payload...)
	for len(b) < pnOffset+pnLen+payloadLen {
		b = append(b, 0)
	}
	b = slices.Grow(b, crypto.TagLen)
	b = tc.initSeal.Seal(b, pnOffset, pnLen, uint64(pn))
	tc.logf("peer → conn: Initial pn=%d (%d bytes) %s", pn, len(b), formatFrames(frames))
	return b
}

// --- The handshake ----------------------------------------------------------

// handshake plays the peer's side of the whole handshake (see newTestConn).
func (tc *testConn) handshake() {
	tc.t.Helper()
	switch tc.side {
	case clientSide:
		msg1 := tc.wantClientHello("the client starts the handshake with message 1")
		tc.writeServerHello(msg1)
		tc.waitDial()
		if tc.dialErr != nil {
			tc.t.Fatalf("Dial: %v", tc.dialErr)
		}
		p := tc.readPacket()
		if p == nil || p.kind != kind1RTT || !p.ackEliciting() {
			tc.t.Fatalf("after message 2: got %v, want an ack-eliciting 1-RTT packet from the client", p)
		}
		// A client may probe the path MTU as soon as it has the keys:
		// the test answers the probes, or not.
		for ; p != nil; p = tc.readPacket() {
			if isProbe(p) {
				tc.probes = append(tc.probes, sentProbe{p.pn, tc.cur.size})
			}
		}
		tc.discardUnread()
		tc.advance(testRTT)
		tc.writeFrames(tc.ackAllButProbes(), packet.HandshakeDoneFrame{})
	case serverSide:
		tc.writeClientHello()
		tc.wantServerHello("the server answers message 1 with message 2")
		tc.discardUnread()
		tc.writeFrames(packet.PingFrame{})
		p := tc.readPacket()
		for p != nil && !slices.ContainsFunc(p.frames, func(f packet.Frame) bool { return f.Type() == packet.FrameHandshakeDone }) {
			if isProbe(p) {
				tc.probes = append(tc.probes, sentProbe{p.pn, tc.cur.size})
			}
			p = tc.readPacket()
		}
		if p == nil {
			tc.t.Fatalf("after the client's first 1-RTT packet: want HANDSHAKE_DONE from the server, got nothing")
		}
		tc.discardUnread()
		tc.advance(testRTT)
		tc.writeFrames(tc.ackAllButProbes())
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // the confirmed connection is queued already: Accept must not wait
		c, err := tc.listener.Accept(ctx)
		if err != nil {
			tc.t.Fatalf("Accept after the handshake: %v", err)
		}
		tc.conn = c
	}
	// Let the Conn's delayed ACK of the peer's last ack-eliciting packet go
	// out, and acknowledge whatever else it sent to set the connection up
	// (NEW_CONNECTION_ID), so the test starts from silence.
	tc.advance(25 * time.Millisecond)
	for round := 0; ; round++ {
		needAck := false
		for p := tc.readPacket(); p != nil; p = tc.readPacket() {
			for _, f := range p.frames {
				switch f.Type() {
				case packet.FrameAck, packet.FrameAckECN, packet.FramePadding:
				case packet.FramePing:
					if tc.cfg.DisablePathMTUDiscovery {
						tc.t.Fatalf("after the handshake: the %v sent a PING", tc.side)
					}
					// An MTU probe: the test answers it, or not.
					tc.probes = append(tc.probes, sentProbe{p.pn, tc.cur.size})
				case packet.FrameNewConnectionID:
					needAck = true
				default:
					tc.t.Fatalf("after the handshake: the %v sent unexpected %v", tc.side, formatFrame(f))
				}
			}
		}
		if !needAck {
			break
		}
		if round > 3 {
			tc.t.Fatalf("after the handshake: the %v keeps sending", tc.side)
		}
		tc.writeFrames(tc.ackAllButProbes())
	}
	tc.discardUnread()
	tc.logf("handshake complete; the test starts here")
}

// wantClientHello reads the client's Initial and returns message 1 (the
// harness plays the server).
func (tc *testConn) wantClientHello(reason string) []byte {
	tc.t.Helper()
	f, ok := tc.wantFrameType(reason, packet.FrameCrypto).(packet.CryptoFrame)
	if !ok || tc.lastPkt.kind != kindInitial || f.Offset != 0 {
		tc.t.Fatalf("%s: got %v in a %v packet, want CRYPTO at offset 0 in an Initial", reason, formatFrame(f), tc.lastPkt.kind)
	}
	tc.msg1 = bytes.Clone(f.Data)
	return tc.msg1
}

// writeServerHello accepts message 1 with the peer's crypto.Server and sends
// message 2 in an Initial packet. The peer has 1-RTT keys from then on.
func (tc *testConn) writeServerHello(msg1 []byte) {
	tc.t.Helper()
	var clientParams []byte
	dcid := tc.initialDCID()
	msg2, res, err := tc.server.Accept(msg1, dcid.Bytes(), time.Now(), func(raw []byte) ([]byte, error) {
		clientParams = bytes.Clone(raw)
		return tc.peerParams.Append(nil), nil
	})
	if err != nil {
		tc.t.Fatalf("server Accept of message 1: %v", err)
	}
	if tc.connParams, err = packet.ParseTransportParameters(clientParams, false); err != nil {
		tc.t.Fatalf("client transport parameters: %v", err)
	}
	tc.keys = res.Keys
	tc.msg2 = bytes.Clone(msg2)
	tc.writeInitialFrames(packet.CryptoFrame{Offset: 0, Data: msg2})
}

// waitDial collects Dial's result once it has returned.
func (tc *testConn) waitDial() {
	tc.t.Helper()
	tc.wait()
	if tc.dialDone {
		return
	}
	select {
	case o := <-tc.dialCh:
		tc.dialDone, tc.conn, tc.dialErr = true, o.c, o.err
	default:
		tc.t.Fatalf("Dial has not returned")
	}
}

// dialReturned reports whether Dial has returned (and records its result).
func (tc *testConn) dialReturned() bool {
	tc.wait()
	if tc.dialDone {
		return true
	}
	select {
	case o := <-tc.dialCh:
		tc.dialDone, tc.conn, tc.dialErr = true, o.c, o.err
		return true
	default:
		return false
	}
}

// initialDCID is the DCID that seeds the Initial keys and the handshake
// prologue of the current attempt: the original DCID, or after a Retry the
// Retry's SCID (docs/PROTOCOL.md section 2.2).
func (tc *testConn) initialDCID() packet.ConnectionID {
	if tc.retrySCID.Len() > 0 {
		return tc.retrySCID
	}
	return tc.origDCID
}

// retryPacket builds a Retry from the server (the harness) to the client
// Conn: DCID the Conn's CID, SCID scid, the token, and a valid integrity
// tag for the original DCID (docs/PROTOCOL.md section 4.4).
func (tc *testConn) retryPacket(scid packet.ConnectionID, token []byte) []byte {
	tc.t.Helper()
	b := packet.AppendRetry(nil, packet.Version, tc.connCID, scid, token)
	tag := crypto.RetryTag(tc.origDCID.Bytes(), b, tc.serverKey.Public())
	return append(b, tag[:]...)
}

// useRetry switches the harness to the attempt a Retry with SCID scid
// starts: the Initial keys and the prologue derive from scid, the client
// builds a new message 1, and (when the harness plays the client) its
// Initials carry token.
func (tc *testConn) useRetry(scid packet.ConnectionID, token []byte) {
	tc.t.Helper()
	tc.retrySCID = scid
	isClient := tc.side == serverSide
	tc.initSeal, tc.initOpen = crypto.NewInitialKeys(tc.serverKey.Public(), scid.Bytes(), isClient)
	if isClient {
		tc.token = bytes.Clone(token)
		tc.msg1, tc.clientHS = nil, nil
	}
}

// wantRetry reads the next datagram, fails unless it is one Retry to the
// peer's CID whose integrity tag verifies for the original DCID, and
// returns it (the harness plays the client).
func (tc *testConn) wantRetry(reason string) packet.Retry {
	tc.t.Helper()
	d := tc.readDatagram()
	if d == nil {
		tc.t.Fatalf("%s: got nothing sent, want a Retry", reason)
	}
	if len(d.packets) != 1 || d.packets[0].kind != kindRetry {
		tc.t.Fatalf("%s: got %s, want one Retry", reason, describeDatagram(d))
	}
	p := d.packets[0]
	tc.discardUnread()
	if p.dcid != tc.peerCID {
		tc.t.Fatalf("%s: Retry to DCID %v, want the client's SCID %v", reason, p.dcid, tc.peerCID)
	}
	if !crypto.VerifyRetryTag(tc.origDCID.Bytes(), p.raw, tc.serverKey.Public()) {
		tc.t.Fatalf("%s: the Retry's integrity tag does not verify for the original DCID %v", reason, tc.origDCID)
	}
	r, err := packet.ParseRetry(p.raw)
	if err != nil {
		tc.t.Fatalf("%s: ParseRetry: %v", reason, err)
	}
	return r
}

// clientHello builds message 1 with the peer's crypto.ClientHandshake (the
// harness plays the client).
func (tc *testConn) clientHello() []byte {
	tc.t.Helper()
	if tc.msg1 != nil {
		return tc.msg1
	}
	dcid := tc.initialDCID()
	hs, msg1, err := crypto.NewClientHandshake(crypto.ClientConfig{
		StaticKey:       tc.clientKey,
		ServerKey:       tc.serverKey.Public(),
		TransportParams: tc.peerParams.Append(nil),
	}, dcid.Bytes(), time.Now())
	if err != nil {
		tc.t.Fatalf("NewClientHandshake: %v", err)
	}
	tc.clientHS, tc.msg1 = hs, msg1
	return msg1
}

// writeClientHello sends message 1 in a padded Initial packet.
func (tc *testConn) writeClientHello() {
	tc.t.Helper()
	tc.writeInitialFrames(packet.CryptoFrame{Offset: 0, Data: tc.clientHello()})
}

// wantServerHello reads the server's Initial carrying message 2 and
// completes the peer's handshake with it.
func (tc *testConn) wantServerHello(reason string) {
	tc.t.Helper()
	f, ok := tc.wantFrameType(reason, packet.FrameCrypto).(packet.CryptoFrame)
	if !ok || tc.lastPkt.kind != kindInitial || f.Offset != 0 {
		tc.t.Fatalf("%s: got %v in a %v packet, want CRYPTO at offset 0 in an Initial", reason, formatFrame(f), tc.lastPkt.kind)
	}
	if tc.keys != nil {
		return // a repeated message 2
	}
	tc.msg2 = bytes.Clone(f.Data)
	res, err := tc.clientHS.ReadServerHello(f.Data)
	if err != nil {
		tc.t.Fatalf("%s: ReadServerHello: %v", reason, err)
	}
	if tc.connParams, err = packet.ParseTransportParameters(res.PeerTransportParams, true); err != nil {
		tc.t.Fatalf("server transport parameters: %v", err)
	}
	tc.keys = res.Keys
}

// --- Reading (Conn → peer) --------------------------------------------------

// readDatagram returns the next datagram the Conn sent, parsed and opened,
// or nil if it has sent nothing more. Whatever was left unread of the
// previous datagram is dropped. readPacket and readFrame continue with the
// returned datagram's first packet, and wantIdle counts its frames as unread
// until they are read.
func (tc *testConn) readDatagram() *testDatagram {
	tc.t.Helper()
	tc.wait()
	tc.cur = nil
	d, ok := tc.bind.next()
	if !ok {
		return nil
	}
	td := tc.parseDatagram(d)
	if len(td.packets) > 0 && td.packets[len(td.packets)-1].kind == kind1RTT {
		switch td.ecn {
		case packet.ECNECT0:
			tc.ecnCounts.ECT0++
		case packet.ECNECT1:
			tc.ecnCounts.ECT1++
		case packet.ECNCE:
			tc.ecnCounts.CE++
		}
	}
	if harnessLogging() {
		tc.t.Logf("[%v] conn → %v: %s", d.at.Sub(tc.start), d.to, describeDatagram(td))
	}
	tc.cur, tc.curPacket, tc.curFrame = td, 0, 0
	tc.lastDgram = td
	return td
}

// readPacket returns the next packet the Conn sent, or nil. Unread frames of
// the current packet are dropped.
func (tc *testConn) readPacket() *testPacket {
	tc.t.Helper()
	if tc.cur != nil && tc.curFrame > 0 {
		tc.curPacket++
		tc.curFrame = 0
	}
	if tc.cur == nil || tc.curPacket >= len(tc.cur.packets) {
		if tc.readDatagram() == nil {
			return nil
		}
	}
	p := tc.cur.packets[tc.curPacket]
	tc.curPacket++
	tc.curFrame = 0
	tc.lastPkt = p
	return p
}

// readFrame returns the next frame the Conn sent, skipping PADDING and the
// types ignoreFrame named. It reports false when the Conn sent nothing more.
func (tc *testConn) readFrame() (packet.Frame, bool) {
	tc.t.Helper()
	if tc.cur == nil {
		tc.wait()
	}
	for {
		if tc.cur == nil || tc.curPacket >= len(tc.cur.packets) {
			if tc.readDatagram() == nil {
				return nil, false
			}
			continue
		}
		p := tc.cur.packets[tc.curPacket]
		if tc.curFrame >= len(p.frames) {
			tc.curPacket++
			tc.curFrame = 0
			continue
		}
		f := p.frames[tc.curFrame]
		tc.curFrame++
		tc.lastPkt = p
		if f.Type() == packet.FramePadding || tc.ignore[f.Type()] {
			continue
		}
		return f, true
	}
}

// discardUnread drops the rest of the current datagram.
func (tc *testConn) discardUnread() { tc.cur = nil }

// ignoreFrame makes readFrame and the want helpers skip frames of type ft
// (both ACK types for FrameAck). NEW_CONNECTION_ID is ignored from the start.
func (tc *testConn) ignoreFrame(ft packet.FrameType) {
	tc.ignore[ft] = true
	if ft == packet.FrameAck {
		tc.ignore[packet.FrameAckECN] = true
	}
}

// wantFrame reads the next frame and fails unless it equals want (see
// framesEqual: ACKs compare ranges, STREAM frames compare data).
func (tc *testConn) wantFrame(reason string, want packet.Frame) {
	tc.t.Helper()
	got, ok := tc.readFrame()
	if !ok {
		tc.t.Fatalf("%s:\ngot  nothing sent\nwant %s", reason, formatFrame(want))
	}
	if !framesEqual(got, want) {
		tc.t.Fatalf("%s:\ngot  %s\nwant %s", reason, formatFrame(got), formatFrame(want))
	}
}

// wantAck reads the next frame and fails unless it is an ACK whose largest
// acknowledged is the largest of pns, that covers every one of pns, and that
// covers no packet number the peer did not send. Lower ranges the Conn has
// stopped reporting (because the peer acknowledged its ACKs) may be absent.
func (tc *testConn) wantAck(reason string, pns ...packet.PacketNumber) packet.AckFrame {
	tc.t.Helper()
	f := tc.wantFrameType(reason, packet.FrameAck).(packet.AckFrame)
	largest := slices.Max(pns)
	if f.LargestAcked() != largest {
		tc.t.Fatalf("%s:\ngot  %s\nwant largest acknowledged %d", reason, formatFrame(f), largest)
	}
	covers := func(pn packet.PacketNumber) bool {
		for _, r := range f.Ranges {
			if r.Smallest <= pn && pn <= r.Largest {
				return true
			}
		}
		return false
	}
	for _, pn := range pns {
		if !covers(pn) {
			tc.t.Fatalf("%s:\ngot  %s\nwant it to acknowledge %d", reason, formatFrame(f), pn)
		}
	}
	for _, r := range f.Ranges {
		for pn := r.Smallest; pn <= r.Largest; pn++ {
			if !tc.peerSent[pn] {
				tc.t.Fatalf("%s:\ngot  %s: it acknowledges %d, which the peer never sent", reason, formatFrame(f), pn)
			}
		}
	}
	return f
}

// wantFrameType reads the next frame, fails unless it has type ft (any
// STREAM type for a STREAM type, either ACK type for FrameAck), and returns
// it for the test to inspect.
func (tc *testConn) wantFrameType(reason string, ft packet.FrameType) packet.Frame {
	tc.t.Helper()
	got, ok := tc.readFrame()
	if !ok {
		tc.t.Fatalf("%s:\ngot  nothing sent\nwant a %v frame", reason, ft)
	}
	if !frameTypeMatches(got.Type(), ft) {
		tc.t.Fatalf("%s:\ngot  %s\nwant a %v frame (type %#x)", reason, formatFrame(got), ft, uint64(ft))
	}
	return got
}

// wantNoFrame fails if the Conn sent any more frames other than PADDING and
// the ignored types.
func (tc *testConn) wantNoFrame(reason string) {
	tc.t.Helper()
	if f, ok := tc.readFrame(); ok {
		tc.t.Fatalf("%s:\ngot  %s (in a %v packet)\nwant no frame", reason, formatFrame(f), tc.lastPkt.kind)
	}
}

// wantIdle fails if the Conn sent any datagram the test has not read, even
// one holding only ignored frame types: a stricter wantNoFrame. Of the
// datagram being read, only frames readFrame would return count.
func (tc *testConn) wantIdle(reason string) {
	tc.t.Helper()
	tc.wait()
	var unread []string
	if tc.cur != nil {
		for i := tc.curPacket; i < len(tc.cur.packets); i++ {
			p := tc.cur.packets[i]
			start := 0
			if i == tc.curPacket {
				start = tc.curFrame
			}
			for _, f := range p.frames[min(start, len(p.frames)):] {
				// The rest of a datagram the test has begun to read obeys
				// ignoreFrame; any further datagram counts whole.
				if f.Type() != packet.FramePadding && !tc.ignore[f.Type()] {
					unread = append(unread, formatFrame(f))
				}
			}
		}
		tc.cur = nil
	}
	for {
		d := tc.readDatagram()
		if d == nil {
			break
		}
		unread = append(unread, describeDatagram(d))
		tc.cur = nil
	}
	if len(unread) > 0 {
		tc.t.Fatalf("%s: want nothing sent, got:\n  %s", reason, strings.Join(unread, "\n  "))
	}
}

// parseDatagram opens every packet of a sent datagram with the peer's keys.
func (tc *testConn) parseDatagram(d fakeSent) *testDatagram {
	tc.t.Helper()
	td := &testDatagram{at: d.at, to: d.to, size: len(d.data), ecn: d.ecn, local: d.local}
	b := bytes.Clone(d.data)
	for len(b) > 0 {
		if packet.IsLongHeader(b) {
			h, err := packet.ParseLongHeader(b)
			if err != nil {
				tc.t.Fatalf("the %v sent a malformed long header: %v", tc.side, err)
			}
			if h.Type == packet.LongTypeRetry {
				td.packets = append(td.packets, &testPacket{kind: kindRetry, dcid: h.DstConnID, scid: h.SrcConnID, token: h.Token, raw: b})
				break // a Retry fills its datagram
			}
			td.packets = append(td.packets, tc.openInitial(b[:h.PacketLen], h))
			b = b[h.PacketLen:]
			continue
		}
		td.packets = append(td.packets, tc.open1RTT(b))
		break
	}
	return td
}

func (tc *testConn) openInitial(pkt []byte, h packet.LongHeader) *testPacket {
	tc.t.Helper()
	if h.Type != packet.LongTypeInitial {
		tc.t.Fatalf("the %v sent a %v packet", tc.side, h.Type)
	}
	if tc.initOpen == nil {
		if tc.side != clientSide {
			tc.t.Fatalf("the peer has no Initial keys")
		}
		// The client's first Initial: its DCID seeds the Initial keys
		// (docs/PROTOCOL.md section 4.3) and its SCID is the Conn's CID.
		tc.origDCID = h.DstConnID
		tc.connCID = h.SrcConnID
		tc.initSeal, tc.initOpen = crypto.NewInitialKeys(tc.serverKey.Public(), tc.origDCID.Bytes(), false)
	}
	if tc.side == serverSide && tc.connCID.Len() == 0 {
		tc.connCID = h.SrcConnID
	}
	pnLen, trunc, _, err := tc.initOpen.UnprotectHeader(pkt, h.PNOffset)
	if err != nil {
		tc.t.Fatalf("Initial from the %v: header protection: %v", tc.side, err)
	}
	pn := packet.DecodePacketNumber(tc.largestConnInitPN, trunc, pnLen)
	payload, err := tc.initOpen.Open(pkt, h.PNOffset, pnLen, uint64(pn))
	if err != nil {
		tc.t.Fatalf("Initial pn=%d from the %v does not open with the Initial keys: %v", pn, tc.side, err)
	}
	tc.largestConnInitPN = max(tc.largestConnInitPN, pn)
	return &testPacket{kind: kindInitial, pn: pn, dcid: h.DstConnID, scid: h.SrcConnID, token: h.Token, frames: tc.parseFrames(payload)}
}

func (tc *testConn) open1RTT(pkt []byte) *testPacket {
	tc.t.Helper()
	if tc.closePacket != nil && bytes.Equal(pkt, tc.closePacket.raw) {
		// The same datagram again: a closing connection may repeat its
		// CONNECTION_CLOSE packet as it was (RFC 9000 §10.2.1).
		return tc.closePacket
	}
	raw := bytes.Clone(pkt)
	h, err := packet.ParseShortHeader(pkt, tc.peerCID.Len())
	if err != nil {
		tc.t.Fatalf("the %v sent a malformed short header: %v", tc.side, err)
	}
	if h.DstConnID != tc.peerCID {
		tc.t.Fatalf("1-RTT packet to DCID %v, want the peer's CID %v", h.DstConnID, tc.peerCID)
	}
	if tc.keys == nil {
		tc.t.Fatalf("the %v sent a 1-RTT packet before the peer could have 1-RTT keys", tc.side)
	}
	pnLen, trunc, byte0, err := tc.keys.UnprotectHeader(pkt, h.PNOffset)
	if err != nil {
		tc.t.Fatalf("1-RTT packet from the %v: header protection: %v", tc.side, err)
	}
	pn := packet.DecodePacketNumber(tc.largestConnPN, trunc, pnLen)
	payload, err := tc.keys.Open(pkt, h.PNOffset, pnLen, uint64(pn), packet.KeyPhaseFromByte0(byte0), time.Now(), time.Second)
	if err != nil {
		tc.t.Fatalf("1-RTT pn=%d from the %v does not open: %v", pn, tc.side, err)
	}
	if packet.ReservedBitsSet(byte0) {
		tc.t.Fatalf("1-RTT pn=%d from the %v has reserved bits set", pn, tc.side)
	}
	if i, found := slices.BinarySearch(tc.connPNs, pn); found {
		tc.t.Fatalf("the %v reused 1-RTT packet number %d", tc.side, pn)
	} else {
		tc.connPNs = slices.Insert(tc.connPNs, i, pn)
	}
	tc.largestConnPN = max(tc.largestConnPN, pn)
	frames := tc.parseFrames(payload)
	for _, f := range frames {
		if f, ok := f.(packet.NewConnectionIDFrame); ok {
			tc.connIssuedCIDs = append(tc.connIssuedCIDs, f)
		}
	}
	p := &testPacket{kind: kind1RTT, pn: pn, dcid: h.DstConnID, frames: frames, payload: payload, raw: raw}
	for _, f := range frames {
		if f.Type() == packet.FrameConnectionClose || f.Type() == packet.FrameConnectionCloseApp {
			tc.closePacket = p
		}
	}
	return p
}

func (tc *testConn) parseFrames(payload []byte) []packet.Frame {
	tc.t.Helper()
	var frames []packet.Frame
	for len(payload) > 0 {
		f, n, err := packet.ParseFrame(payload)
		if err != nil {
			tc.t.Fatalf("the %v sent a malformed frame: %v", tc.side, err)
		}
		frames = append(frames, f)
		payload = payload[n:]
	}
	return frames
}

// describeSent is a one-line summary of a datagram before parsing.
func (tc *testConn) describeSent(d fakeSent) string {
	return fmt.Sprintf("conn → %v at %v: %d bytes", d.to, d.at.Sub(tc.start), len(d.data))
}

// --- Acknowledgements -------------------------------------------------------

// ackAll is an ACK frame for every 1-RTT packet the Conn has sent that the
// harness read.
func (tc *testConn) ackAll() packet.AckFrame {
	tc.t.Helper()
	if len(tc.connPNs) == 0 {
		tc.t.Fatalf("ackAll: no 1-RTT packet received from the %v", tc.side)
	}
	f := ackFor(tc.connPNs...)
	if tc.reportECN {
		f.HasECN, f.ECN = true, tc.ecnCounts
	}
	return f
}

// ackAllButProbes is ackAll less the MTU probes the handshake saw, which
// the test answers, or not, as its path would.
func (tc *testConn) ackAllButProbes() packet.AckFrame {
	tc.t.Helper()
	pns := slices.DeleteFunc(slices.Clone(tc.connPNs), func(pn packet.PacketNumber) bool {
		return slices.ContainsFunc(tc.probes, func(p sentProbe) bool { return p.pn == pn })
	})
	if len(pns) == 0 {
		tc.t.Fatalf("ackAllButProbes: no 1-RTT packet but probes received from the %v", tc.side)
	}
	f := ackFor(pns...)
	if tc.reportECN {
		f.HasECN, f.ECN = true, tc.ecnCounts
	}
	return f
}

// ackFor builds an ACK frame for the given packet numbers (any order).
// writeEachInOwnPacket writes chunks to stream s (id) one by one, from
// offset off, and expects each to leave in a packet of its own, as with
// NoDelay; it returns those packets' numbers and the offset after them.
func (tc *testConn) writeEachInOwnPacket(s *Stream, id packet.StreamID, off int64, chunks ...[]byte) ([]packet.PacketNumber, int64) {
	tc.t.Helper()
	var pns []packet.PacketNumber
	for _, chunk := range chunks {
		if _, err := s.Write(chunk); err != nil {
			tc.t.Fatalf("Write: %v", err)
		}
		tc.wantFrame("each write leaves in its own packet with NoDelay",
			packet.StreamFrame{StreamID: id, Offset: off, Data: chunk})
		pns = append(pns, tc.lastPkt.pn)
		off += int64(len(chunk))
	}
	return pns, off
}

func ackFor(pns ...packet.PacketNumber) packet.AckFrame {
	s := slices.Clone(pns)
	slices.Sort(s)
	s = slices.Compact(s)
	var ranges []packet.AckRange
	for i := len(s) - 1; i >= 0; i-- {
		if n := len(ranges); n > 0 && ranges[n-1].Smallest == s[i]+1 {
			ranges[n-1].Smallest = s[i]
			continue
		}
		ranges = append(ranges, packet.AckRange{Smallest: s[i], Largest: s[i]})
	}
	return packet.AckFrame{Ranges: ranges}
}

// --- Conn helpers -----------------------------------------------------------

// openStream opens a stream on the Conn (bidirectional or not).
func (tc *testConn) openStream(bidi bool) *Stream {
	tc.t.Helper()
	var s *Stream
	var err error
	if bidi {
		s, err = tc.conn.OpenStream(context.Background())
	} else {
		s, err = tc.conn.OpenUniStream(context.Background())
	}
	if err != nil {
		tc.t.Fatalf("OpenStream: %v", err)
	}
	tc.wait()
	return s
}

// acceptStream accepts a stream the peer opened; it fails if none is ready.
func (tc *testConn) acceptStream(bidi bool) *Stream {
	tc.t.Helper()
	tc.wait()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // only a stream already queued will do
	var s *Stream
	var err error
	if bidi {
		s, err = tc.conn.AcceptStream(ctx)
	} else {
		s, err = tc.conn.AcceptUniStream(ctx)
	}
	if err != nil {
		// A cancelled context and a ready stream race in acceptStream's
		// select only when the queue was empty.
		tc.t.Fatalf("AcceptStream: no stream ready: %v", err)
	}
	return s
}

// contextCancelled returns a context that is already cancelled: a blocking
// API call given it returns at once unless its result is ready.
func contextCancelled() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx, cancel
}

// peerStreamID is the ID of the peer's n'th stream of a kind.
func (tc *testConn) peerStreamID(n uint64, bidi bool) packet.StreamID {
	return packet.NewStreamID(n, tc.side == clientSide, bidi)
}

// connStreamID is the ID of the Conn's n'th stream of a kind.
func (tc *testConn) connStreamID(n uint64, bidi bool) packet.StreamID {
	return packet.NewStreamID(n, tc.side == serverSide, bidi)
}

// wantSentAtOnce fails unless the datagram last read left at the moment
// the peer last wrote: the Conn answered without waiting for a timer.
func (tc *testConn) wantSentAtOnce() {
	tc.t.Helper()
	if got, want := tc.lastDgram.at, tc.lastWrite; !got.Equal(want) {
		tc.t.Fatalf("sent at %v, want at once (%v)", got.Sub(tc.start), want.Sub(tc.start))
	}
}

// wantConnDone fails unless the Conn has ended, and returns its error.
func (tc *testConn) wantConnDone(reason string) error {
	tc.t.Helper()
	tc.wait()
	select {
	case <-tc.conn.Done():
		return tc.conn.Err()
	default:
		tc.t.Fatalf("%s: the connection is still open (Err() = nil)", reason)
		return nil
	}
}

// wantConnOpen fails if the Conn has ended.
func (tc *testConn) wantConnOpen(reason string) {
	tc.t.Helper()
	tc.wait()
	select {
	case <-tc.conn.Done():
		tc.t.Fatalf("%s: the connection ended: %v", reason, tc.conn.Err())
	default:
	}
}

// --- Frames -----------------------------------------------------------------

// frameTypeMatches reports whether a frame of type got counts as type want:
// any STREAM type matches a STREAM type, and either ACK type matches FrameAck.
func frameTypeMatches(got, want packet.FrameType) bool {
	switch {
	case want.IsStream():
		return got.IsStream()
	case want == packet.FrameAck:
		return got == packet.FrameAck || got == packet.FrameAckECN
	}
	return got == want
}

// framesEqual compares a frame the Conn sent with the one a test expects.
// ACK frames compare ranges only (the ACK Delay depends on scheduling);
// STREAM frames compare stream, offset, data and FIN, not whether the
// Length field was omitted; byte fields compare by content.
func framesEqual(got, want packet.Frame) bool {
	switch w := want.(type) {
	case packet.AckFrame:
		g, ok := got.(packet.AckFrame)
		return ok && slices.Equal(g.Ranges, w.Ranges)
	case packet.StreamFrame:
		g, ok := got.(packet.StreamFrame)
		return ok && g.StreamID == w.StreamID && g.Offset == w.Offset && g.Fin == w.Fin && bytes.Equal(g.Data, w.Data)
	case packet.CryptoFrame:
		g, ok := got.(packet.CryptoFrame)
		return ok && g.Offset == w.Offset && bytes.Equal(g.Data, w.Data)
	case packet.ConnectionCloseFrame:
		g, ok := got.(packet.ConnectionCloseFrame)
		return ok && g.Application == w.Application && g.ErrorCode == w.ErrorCode &&
			g.FrameType == w.FrameType && bytes.Equal(g.Reason, w.Reason)
	case packet.NewTokenFrame:
		g, ok := got.(packet.NewTokenFrame)
		return ok && bytes.Equal(g.Token, w.Token)
	}
	return reflect.DeepEqual(got, want)
}

// formatFrame is a compact description of a frame for failure messages and
// verbose logs.
func formatFrame(f packet.Frame) string {
	switch f := f.(type) {
	case nil:
		return "<nil>"
	case packet.PaddingFrame:
		return fmt.Sprintf("PADDING×%d", f.Size)
	case packet.AckFrame:
		var rs []string
		for _, r := range f.Ranges {
			rs = append(rs, fmt.Sprintf("%d-%d", r.Smallest, r.Largest))
		}
		return fmt.Sprintf("ACK{%s delay=%d}", strings.Join(rs, ","), f.Delay)
	case packet.StreamFrame:
		return fmt.Sprintf("STREAM{id=%d off=%d len=%d fin=%v data=%q}", f.StreamID, f.Offset, len(f.Data), f.Fin, abbreviate(f.Data))
	case packet.CryptoFrame:
		return fmt.Sprintf("CRYPTO{off=%d len=%d}", f.Offset, len(f.Data))
	case packet.FECRepairFrame:
		return fmt.Sprintf("FEC_REPAIR{sources=%v index=%d symbol=%dB}", f.Sources, f.Index, len(f.Symbol))
	case packet.ConnectionCloseFrame:
		if f.Application {
			return fmt.Sprintf("CONNECTION_CLOSE(0x1d){app code=%#x reason=%q}", f.ErrorCode, f.Reason)
		}
		return fmt.Sprintf("CONNECTION_CLOSE(0x1c){%v frame=%v reason=%q}", packet.TransportErrorCode(f.ErrorCode), f.FrameType, f.Reason)
	}
	return fmt.Sprintf("%v%+v", f.Type(), f)
}

func formatFrames(frames []packet.Frame) string {
	var s []string
	for _, f := range frames {
		s = append(s, formatFrame(f))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func abbreviate(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

func describeDatagram(d *testDatagram) string {
	var s []string
	for _, p := range d.packets {
		s = append(s, p.String())
	}
	return fmt.Sprintf("%d bytes: %s", d.size, strings.Join(s, " + "))
}

func (p *testPacket) String() string {
	if p == nil {
		return "no packet"
	}
	if p.kind == kindRetry {
		return fmt.Sprintf("Retry dcid=%v scid=%v token=%d bytes", p.dcid, p.scid, len(p.token))
	}
	return fmt.Sprintf("%v pn=%d %s", p.kind, p.pn, formatFrames(p.frames))
}

// --- Harness self-tests -----------------------------------------------------

// TestHarnessHandshakeBothSides checks that the harness completes the
// handshake with a client and with a server, that both ends agree on the
// connection IDs, and that data flows both ways through the harness's keys.
func TestHarnessHandshakeBothSides(t *testing.T) {
	for _, side := range []connSide{clientSide, serverSide} {
		t.Run(side.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tc := newTestConn(t, side)
				if got, want := tc.conn.RemoteAddr().String(), tc.peerAddr.String(); got != want {
					t.Fatalf("RemoteAddr() = %v, want %v", got, want)
				}
				if !tc.connParams.HasInitialSrcConnID || tc.connParams.InitialSrcConnID != tc.connCID {
					t.Fatalf("the %v's initial_source_connection_id = %v, want its Initial SCID %v", side, tc.connParams.InitialSrcConnID, tc.connCID)
				}
				// Peer → Conn.
				id := tc.peerStreamID(0, true)
				tc.writeFrames(packet.StreamFrame{StreamID: id, Data: []byte("ping")})
				s := tc.acceptStream(true)
				buf := make([]byte, 16)
				n, err := s.Read(buf)
				if err != nil || string(buf[:n]) != "ping" {
					t.Fatalf("Read = %q, %v; want \"ping\", nil", buf[:n], err)
				}
				// Conn → peer, on the same stream.
				if _, err := s.Write([]byte("pong")); err != nil {
					t.Fatalf("Write: %v", err)
				}
				tc.ignoreFrame(packet.FrameAck)
				tc.ignoreFrame(packet.FrameConsumed)
				tc.ignoreFrame(packet.FrameMaxStreamData)
				tc.ignoreFrame(packet.FrameMaxData)
				tc.wantFrame("the written bytes go out", packet.StreamFrame{StreamID: id, Data: []byte("pong")})
				if tc.lastDgram.to != tc.peerAddr {
					t.Fatalf("datagram sent to %v, want %v", tc.lastDgram.to, tc.peerAddr)
				}
			})
		})
	}
}

// TestHarnessFakeBindAccounting checks the fake Bind's per-address counters
// and that the source address a test picks reaches the Conn: its ACK goes
// back to where the packet came from.
func TestHarnessFakeBindAccounting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestConn(t, serverSide)
		sentBefore := tc.bind.bytesSentTo(tc.peerAddr)
		recvBefore := tc.bind.bytesReceivedFrom(tc.peerAddr)
		b := tc.seal1RTT([]packet.Frame{packet.PingFrame{}})
		tc.writeDatagram(b)
		if got, want := tc.bind.bytesReceivedFrom(tc.peerAddr), recvBefore+int64(len(b)); got != want {
			t.Fatalf("bytesReceivedFrom = %d, want %d", got, want)
		}
		pn := tc.peerPN - 1
		tc.advance(25 * time.Millisecond) // the delayed ACK
		d := tc.readDatagram()
		if d == nil || d.to != tc.peerAddr {
			t.Fatalf("got %v, want an ACK to %v", d, tc.peerAddr)
		}
		tc.wantAck("the datagram is the ACK", pn)
		if got, want := tc.bind.bytesSentTo(tc.peerAddr), sentBefore+int64(d.size); got != want {
			t.Fatalf("bytesSentTo = %d, want %d (before) + %d (the ACK)", got, sentBefore, d.size)
		}
		tc.wantIdle("one ACK")

		// A packet from a new source address, as after a NAT rebinding. Where
		// the Conn answers is the migration tests' business; here the
		// counters must match what was read, per destination.
		moved := netip.MustParseAddrPort("203.0.113.9:6000")
		b = tc.seal1RTT([]packet.Frame{packet.PingFrame{}})
		before := map[netip.AddrPort]int64{tc.peerAddr: tc.bind.bytesSentTo(tc.peerAddr), moved: tc.bind.bytesSentTo(moved)}
		tc.writeDatagramFrom(moved, b)
		if got, want := tc.bind.bytesReceivedFrom(moved), int64(len(b)); got != want {
			t.Fatalf("bytesReceivedFrom(%v) = %d, want %d", moved, got, want)
		}
		read := map[netip.AddrPort]int64{}
		tc.advance(25 * time.Millisecond)
		for d := tc.readDatagram(); d != nil; d = tc.readDatagram() {
			read[d.to] += int64(d.size)
		}
		if len(read) == 0 {
			t.Fatalf("no answer to the ack-eliciting packet from %v", moved)
		}
		for _, addr := range []netip.AddrPort{tc.peerAddr, moved} {
			if got, want := tc.bind.bytesSentTo(addr), before[addr]+read[addr]; got != want {
				t.Fatalf("bytesSentTo(%v) = %d, want %d", addr, got, want)
			}
		}
	})
}
