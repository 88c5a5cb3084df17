package transport

import (
	"sync/atomic"
	"time"
)

// connStats are the loop's counters, readable from any goroutine.
type connStats struct {
	bytesSent, bytesReceived     atomic.Uint64
	packetsSent, packetsReceived atomic.Uint64
	packetsLost                  atomic.Uint64
	bytesRetransmitted           atomic.Uint64
	ptoCount                     atomic.Uint64
	malformed, authFailed        atomic.Uint64
	duplicates, sendErrors       atomic.Uint64
	migrations                   atomic.Uint64
	// Published by the loop for Stats.
	smoothedRTT, minRTT atomic.Int64
	cwnd                atomic.Int64
}

// ConnStats is a snapshot of a connection's counters.
type ConnStats struct {
	SmoothedRTT        time.Duration
	MinRTT             time.Duration
	CongestionWindow   int
	BytesSent          uint64 // UDP payload bytes, all packets
	BytesReceived      uint64 // UDP payload bytes of authenticated packets
	PacketsSent        uint64
	PacketsReceived    uint64 // authenticated packets
	PacketsLost        uint64 // declared lost by loss detection
	BytesRetransmitted uint64 // stream bytes sent again after a loss
	ProbeTimeouts      uint64
	// Migrations counts path changes: the peer's address changing (NAT
	// rebinding, a new IP) and, on a client, moves to a new socket.
	Migrations uint64
	// Dropped packets, by cause: malformed headers or frames, failed
	// authentication (tampered, forged or undecryptable), duplicates, and
	// datagrams dropped because the connection's queue was full.
	Malformed, AuthFailed, Duplicates, QueueDrops uint64
}

// Stats returns the connection's counters.
func (c *Conn) Stats() ConnStats {
	s := &c.stats
	return ConnStats{
		SmoothedRTT:        time.Duration(s.smoothedRTT.Load()),
		MinRTT:             time.Duration(s.minRTT.Load()),
		CongestionWindow:   int(s.cwnd.Load()),
		BytesSent:          s.bytesSent.Load(),
		BytesReceived:      s.bytesReceived.Load(),
		PacketsSent:        s.packetsSent.Load(),
		PacketsReceived:    s.packetsReceived.Load(),
		PacketsLost:        s.packetsLost.Load(),
		BytesRetransmitted: s.bytesRetransmitted.Load(),
		ProbeTimeouts:      s.ptoCount.Load(),
		Migrations:         s.migrations.Load(),
		Malformed:          s.malformed.Load(),
		AuthFailed:         s.authFailed.Load(),
		Duplicates:         s.duplicates.Load(),
		QueueDrops:         c.rxDropped.Load(),
	}
}

// publishStats copies loop-owned estimates where Stats can read them.
func (c *Conn) publishStats() {
	c.stats.smoothedRTT.Store(int64(c.rtt.Smoothed()))
	c.stats.minRTT.Store(int64(c.rtt.Min()))
	c.stats.cwnd.Store(int64(c.cc.Window()))
}
