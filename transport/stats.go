package transport

import (
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/ackframes"
)

// connStats are the loop's counters, readable from any goroutine.
type connStats struct {
	bytesSent, bytesReceived     atomic.Uint64
	packetsSent, packetsReceived atomic.Uint64
	packetsLost, spuriousLosses  atomic.Uint64
	randomLosses                 atomic.Uint64
	lossCongestionEvents         atomic.Uint64
	bytesRetransmitted           atomic.Uint64
	ptoCount                     atomic.Uint64
	malformed, authFailed        atomic.Uint64
	duplicates, sendErrors       atomic.Uint64
	migrations                   atomic.Uint64
	retries                      atomic.Uint64
	fecRepairSent, fecRecovered  atomic.Uint64
	fecPeerRecovered             atomic.Uint64
	// Stream bytes sent for the first time, and read by the application.
	streamBytesSent, streamBytesRead atomic.Uint64
	// Published by the loop for Stats.
	smoothedRTT, minRTT atomic.Int64
	cwnd                atomic.Int64
	limited             [limitKinds]atomic.Int64 // nanoseconds per limitKind
	ownConn, ownStream  atomic.Int64             // nanoseconds the peer waited on our credit
	// The open intervals, as Unix nanoseconds (0: none): since when the
	// current limit state (limitState) and the peer's waits have run.
	socketDrops                  socketDropCount
	datagramSize                 atomic.Int64
	ecnState                     atomic.Uint32
	ecnCE, ecnCongestionEvents   atomic.Uint64
	mtuProbesSent, mtuProbesLost atomic.Uint64
	mtuBlackHoles                atomic.Uint64
	limitState                   atomic.Uint32
	limitSince                   atomic.Int64
	ownConnSince, ownStreamSince atomic.Int64
}

// ConnStats is a snapshot of a connection's counters.
type ConnStats struct {
	SmoothedRTT      time.Duration
	MinRTT           time.Duration
	CongestionWindow int
	BytesSent        uint64 // UDP payload bytes, all packets
	BytesReceived    uint64 // UDP payload bytes of authenticated packets
	PacketsSent      uint64
	PacketsReceived  uint64 // authenticated packets
	PacketsLost      uint64 // declared lost by loss detection
	SpuriousLosses   uint64 // of those, acknowledged later: reordered, not lost (docs/PROTOCOL.md §3)
	// RandomLosses counts the lost packets congestion control did not
	// slow down for: CUBIC's judged random, with no queue or loss rate to
	// say the path is congested (docs/PROTOCOL.md §3,
	// Config.EveryLossIsCongestion); BBR's judged random the same way
	// never reach its model. They were sent again like any loss.
	RandomLosses uint64
	// LossCongestionEvents counts the congestion window reductions that
	// losses caused (ECN marks' are ECNCongestionEvents).
	LossCongestionEvents uint64
	BytesRetransmitted   uint64 // stream bytes sent again after a loss
	ProbeTimeouts        uint64
	// Migrations counts path changes: the peer's address changing (NAT
	// rebinding, a new IP) and, on a client, moves to a new socket.
	Migrations uint64
	// Retries counts the Retry packets a client followed: 0, or 1 when the
	// server asked it to prove its address (docs/PROTOCOL.md section 2.2).
	// Retries it ignored are not counted; malformed ones count in
	// Malformed and forged ones in AuthFailed.
	Retries uint64
	// Forward error correction (Config.FEC; docs/PROTOCOL.md section 10).
	// FECRepairSent counts the repair packets sent. FECRecovered counts
	// the peer's packets this endpoint rebuilt from repair packets, which
	// it processed and acknowledged as if they had arrived (they are not in
	// PacketsReceived, and their originals arriving late are dropped
	// without counting as Duplicates). FECPeerRecovered counts packets of
	// ours that loss detection had given up on but that the peer
	// acknowledged once it had rebuilt them: they were not retransmitted
	// and are not in PacketsLost.
	FECRepairSent, FECRecovered, FECPeerRecovered uint64
	// Dropped packets, by cause: malformed headers or frames, failed
	// authentication (tampered, forged or undecryptable), duplicates, and
	// datagrams dropped because the connection's queue was full.
	Malformed, AuthFailed, Duplicates, QueueDrops uint64
	// StreamBytesSent counts stream bytes sent for the first time;
	// StreamBytesRead, stream bytes the application read.
	StreamBytesSent, StreamBytesRead uint64
	// Limited says how the connection's time went, as the sender saw it:
	// what it was doing, or what held it back (see BottleneckReport).
	Limited LimitDurations
	// PeerWaitedOnOurConnWindow and PeerWaitedOnOurStreamWindow are how
	// long the peer reported (DATA_BLOCKED, STREAM_DATA_BLOCKED) that our
	// receive credit held it back: from the frame's arrival to the
	// arrival of data past the limit it named (the peer's wait, shifted
	// by the one-way delay), or to its RESET_STREAM.
	PeerWaitedOnOurConnWindow, PeerWaitedOnOurStreamWindow time.Duration
	// SocketReceiveDrops counts datagrams the kernel dropped because the
	// receive buffer of the connection's socket was full, for this
	// connection or any other on the same socket (EndpointStats).
	SocketReceiveDrops uint64
	// MaxDatagramSize is the largest UDP payload the connection sends on
	// its current path: 1200 until path MTU discovery confirms more
	// (docs/PROTOCOL.md section 11). MTUProbesSent and MTUProbesLost
	// count the discovery's probe packets; MTUBlackHoles counts the times
	// full-size packets stopped getting through while small ones did, and
	// the size fell back to 1200.
	MaxDatagramSize                             int
	MTUProbesSent, MTUProbesLost, MTUBlackHoles uint64
	// ECN says whether the connection marks its packets ECN-capable on
	// the current path, as validation left it (docs/PROTOCOL.md section
	// 12). ECNCEMarks counts the packets the peer reported marked
	// Congestion Experienced; ECNCongestionEvents, the congestion window
	// reductions they caused.
	ECN                             ECNState
	ECNCEMarks, ECNCongestionEvents uint64
}

// ECNState is where a path's ECN validation stands (RFC 9000 §13.4.2).
type ECNState = ackframes.ECNState

const (
	ECNTesting = ackframes.ECNTesting // marking, the first packets not yet acknowledged
	ECNUnknown = ackframes.ECNUnknown // testing ended; no longer marking until the marks are confirmed
	ECNCapable = ackframes.ECNCapable // the peer's counts confirm the marks arrive intact
	ECNFailed  = ackframes.ECNFailed  // off: marks bleached, mangled, all CE, or disabled
)

// LimitDurations is the connection's time, split by what limited its
// sender.
type LimitDurations struct {
	Application      time.Duration // nothing to send
	CongestionWindow time.Duration // the congestion window was full
	Pacing           time.Duration // the pacer held the next packet
	PeerStreamWindow time.Duration // data waited for the peer's stream credit
	PeerConnWindow   time.Duration // data waited for the peer's connection credit
	Socket           time.Duration // sends waiting for room in, or refused by, the socket
	CPU              time.Duration // the connection busy processing packets (receiving, building, sealing)
}

// Total is the time accounted.
func (d LimitDurations) Total() time.Duration {
	return d.Application + d.CongestionWindow + d.Pacing + d.PeerStreamWindow + d.PeerConnWindow + d.Socket + d.CPU
}

// Stats returns the connection's counters.
func (c *Conn) Stats() ConnStats {
	s := &c.stats
	now := time.Now().UnixNano()
	var limited [limitKinds]time.Duration
	for k := range limited {
		limited[k] = time.Duration(s.limited[k].Load())
	}
	// The time since the loop last accounted belongs to the state it
	// left: an idle or stalled connection's snapshot is current too.
	if since := s.limitSince.Load(); since != 0 {
		limited[s.limitState.Load()] += time.Duration(max(now-since, 0))
	}
	return ConnStats{
		MaxDatagramSize:      int(s.datagramSize.Load()),
		MTUProbesSent:        s.mtuProbesSent.Load(),
		MTUProbesLost:        s.mtuProbesLost.Load(),
		MTUBlackHoles:        s.mtuBlackHoles.Load(),
		ECN:                  ECNState(s.ecnState.Load()),
		ECNCEMarks:           s.ecnCE.Load(),
		ECNCongestionEvents:  s.ecnCongestionEvents.Load(),
		SmoothedRTT:          time.Duration(s.smoothedRTT.Load()),
		MinRTT:               time.Duration(s.minRTT.Load()),
		CongestionWindow:     int(s.cwnd.Load()),
		BytesSent:            s.bytesSent.Load(),
		BytesReceived:        s.bytesReceived.Load(),
		PacketsSent:          s.packetsSent.Load(),
		PacketsReceived:      s.packetsReceived.Load(),
		PacketsLost:          s.packetsLost.Load(),
		SpuriousLosses:       s.spuriousLosses.Load(),
		RandomLosses:         s.randomLosses.Load(),
		LossCongestionEvents: s.lossCongestionEvents.Load(),
		BytesRetransmitted:   s.bytesRetransmitted.Load(),
		ProbeTimeouts:        s.ptoCount.Load(),
		Migrations:           s.migrations.Load(),
		Retries:              s.retries.Load(),
		FECRepairSent:        s.fecRepairSent.Load(),
		FECRecovered:         s.fecRecovered.Load(),
		FECPeerRecovered:     s.fecPeerRecovered.Load(),
		Malformed:            s.malformed.Load(),
		AuthFailed:           s.authFailed.Load(),
		Duplicates:           s.duplicates.Load(),
		QueueDrops:           c.rx.dropped.Load(),
		StreamBytesSent:      s.streamBytesSent.Load(),
		StreamBytesRead:      s.streamBytesRead.Load(),
		Limited: LimitDurations{
			Application:      limited[limitApplication],
			CongestionWindow: limited[limitCwnd],
			Pacing:           limited[limitPacing],
			PeerStreamWindow: limited[limitPeerStream],
			PeerConnWindow:   limited[limitPeerConn],
			Socket:           limited[limitSocket],
			CPU:              limited[limitCPU],
		},
		PeerWaitedOnOurConnWindow:   openInterval(s.ownConn.Load(), s.ownConnSince.Load(), now),
		PeerWaitedOnOurStreamWindow: openInterval(s.ownStream.Load(), s.ownStreamSince.Load(), now),
		SocketReceiveDrops:          s.socketDrops.since(c.ep.bind()),
	}
}

// publishStats copies loop-owned estimates where Stats can read them.
func (c *Conn) publishStats() {
	c.stats.smoothedRTT.Store(int64(c.loss.rtt.Smoothed()))
	c.stats.minRTT.Store(int64(c.loss.rtt.Min()))
	c.stats.cwnd.Store(int64(c.loss.cc.Window()))
	for k, d := range c.limit.total {
		c.stats.limited[k].Store(int64(d))
	}
	c.stats.ownConn.Store(int64(c.limit.ownConn))
	c.stats.ownStream.Store(int64(c.limit.ownStream))
	c.stats.ownConnSince.Store(unixNanos(c.limit.ownConnSince))
	c.stats.ownStreamSince.Store(unixNanos(c.limit.ownStreamSince))
	if c.keys != nil {
		c.stats.limitState.Store(uint32(c.limit.state))
		c.stats.limitSince.Store(unixNanos(c.limit.since))
	}
}

// endpointStats are an Endpoint's counters of datagrams that reached no
// connection, written by its reader and handshake workers.
type endpointStats struct {
	malformed, unroutable, resetsSent atomic.Uint64
	retriesSent, tokensRejected       atomic.Uint64
	refused, handshakesShed           atomic.Uint64
	handshakesRejected, badInitials   atomic.Uint64
}

// EndpointStats is a snapshot of what an Endpoint did with datagrams that
// matched no connection: mostly attempts to open one.
type EndpointStats struct {
	// Malformed counts datagrams too short or too long to carry a packet,
	// or whose connection ID could not be read.
	Malformed uint64
	// Unroutable counts datagrams that matched no connection and could
	// not start one (a short header, or any packet on an endpoint that
	// does not accept).
	Unroutable uint64
	// StatelessResetsSent counts stateless resets sent in answer to
	// short-header packets for connections the endpoint does not know
	// (docs/PROTOCOL.md section 2.4).
	StatelessResetsSent uint64
	// RetriesSent counts Retry packets sent to ask a client to prove its
	// address (Config.RequireAddressValidation; docs/PROTOCOL.md 2.2).
	RetriesSent uint64
	// TokensRejected counts Initials dropped because their Retry token
	// was not issued by this server, was issued to another address, had
	// expired or had already started a handshake (docs/PROTOCOL.md
	// section 4.7).
	TokensRejected uint64
	// Refused counts Initials dropped because the endpoint, or the
	// client's source, held all the handshakes it may (MaxHandshakes,
	// MaxHandshakesPerSource) or the endpoint was closing, and clients
	// told the server is full (MaxConns, MaxConnsPerSource).
	Refused uint64
	// HandshakesShed counts Initials dropped because the handshake
	// workers' queue was full, or because the endpoint was under load and
	// the client's source had used its share of handshakes
	// (docs/SECURITY.md).
	HandshakesShed uint64
	// HandshakesRejected counts client hellos the handshake refused:
	// replays, timestamps outside the replay window, client keys not
	// allowed, bad transport parameters (docs/PROTOCOL.md section 4.5).
	HandshakesRejected uint64
	// BadInitials counts Initial datagrams dropped as malformed, shorter
	// than 1200 bytes or not sealed with this server's Initial keys, and
	// those that opened but could not start a handshake.
	BadInitials uint64
	// SocketReceiveDrops counts datagrams for any connection that the
	// kernel dropped because the socket's receive buffer was full, as it
	// reported with the latest datagram read (Linux, SO_RXQ_OVFL; 0
	// elsewhere).
	SocketReceiveDrops uint64
}

// sendBlocked is how long the Bind's WriteBatch calls have waited for the
// socket, if it keeps count.
func sendBlocked(b Bind) time.Duration {
	if d, ok := b.(interface{ SendBlocked() time.Duration }); ok {
		return d.SendBlocked()
	}
	return 0
}

// socketReceiveDrops is the Bind's count of datagrams dropped for a full
// receive buffer, if it keeps one.
func socketReceiveDrops(b Bind) uint64 {
	if d, ok := b.(interface{ ReceiveDrops() uint64 }); ok {
		return d.ReceiveDrops()
	}
	return 0
}

// Stats returns the Endpoint's counters.
func (e *Endpoint) Stats() EndpointStats {
	s := &e.stats
	return EndpointStats{
		Malformed:           s.malformed.Load(),
		Unroutable:          s.unroutable.Load(),
		StatelessResetsSent: s.resetsSent.Load(),
		RetriesSent:         s.retriesSent.Load(),
		TokensRejected:      s.tokensRejected.Load(),
		Refused:             s.refused.Load(),
		HandshakesShed:      s.handshakesShed.Load(),
		HandshakesRejected:  s.handshakesRejected.Load(),
		BadInitials:         s.badInitials.Load(),
		SocketReceiveDrops:  socketReceiveDrops(e.bind()),
	}
}

// unixNanos is t in Unix nanoseconds, 0 for the zero time.
func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// openInterval is total plus the time from since (Unix nanoseconds; 0
// for none) to now.
func openInterval(total, since, now int64) time.Duration {
	if since != 0 {
		total += max(now-since, 0)
	}
	return time.Duration(total)
}

// socketDropCount counts a connection's share of its sockets' receive
// drops: those since the connection began, across the sockets it moved
// between.
type socketDropCount struct {
	base, carried atomic.Uint64
}

// rebase moves the count from socket old (nil at the start) to new.
func (d *socketDropCount) rebase(old, new Bind) {
	if old != nil {
		d.carried.Add(d.since(old) - d.carried.Load())
	}
	d.base.Store(socketReceiveDrops(new))
}

// since is the drops counted since the connection began, b being its
// current socket.
func (d *socketDropCount) since(b Bind) uint64 {
	cur, base := socketReceiveDrops(b), d.base.Load()
	return d.carried.Load() + cur - min(base, cur)
}
