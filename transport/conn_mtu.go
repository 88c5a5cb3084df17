package transport

import (
	"errors"
	"log/slog"
	"syscall"
	"time"

	"github.com/limpetnet/limpet/ackframes"
	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/internal/fec"
	"github.com/limpetnet/limpet/transport/internal/pmtud"
	"github.com/limpetnet/limpet/transport/qlog"
)

// baseDatagramSize is what every path starts at and falls back to.
const baseDatagramSize = pmtud.BaseSize

// defaultMaxDatagramSize is the ceiling of the search when
// Config.MaxDatagramSize is unset: the IPv4 limit, so loopback and jumbo
// paths get large datagrams; the local interface refuses what it cannot
// carry at once, so the search costs nothing there.
const defaultMaxDatagramSize = maxRxDatagram

// mtuState is path MTU discovery for the current path (docs/PROTOCOL.md
// section 11). Owned by the loop.
type mtuState struct {
	// search is nil until the handshake has the peer's limits, and when
	// discovery is off.
	search *pmtud.Searcher
	// streamSentAt is when a packet with stream data last left.
	streamSentAt time.Time
	// The probe in flight, if any (probeBytes 0 when none): it counts in
	// bytes in flight but holds nothing else back (cwndInFlight).
	probePN    packet.PacketNumber
	probeBytes int
}

// cwndInFlight is the bytes in flight that the congestion window holds
// other packets to: all but a path MTU probe's. A 64 KiB probe on loopback
// is five times the initial window; counted, it would stop the handshake's
// last frames and the first data for a round trip (and a receiver that
// delayed its ACK, for max_ack_delay). One probe at a time, at most one
// datagram beyond the window.
func (c *Conn) cwndInFlight() int {
	return max(c.loss.BytesInFlight()-c.mtu.probeBytes, 0)
}

// probeSettled forgets the probe in flight once p, if it is that probe, is
// acknowledged or lost.
func (c *Conn) probeSettled(p *ackframes.SentPacket[sentFrames]) {
	if c.mtu.probeBytes > 0 && p.Number == c.mtu.probePN {
		c.mtu.probeBytes = 0
	}
}

// raiseActivity is how recently stream data must have been sent for a
// finished search to look for a larger size again.
const raiseActivity = time.Second

// mtuCeiling is the largest datagram this connection may send at all: our
// configuration, the peer's max_udp_payload_size, FEC's symbol limit, the
// IPv4 payload limit, and an Ethernet datagram on a socket that may
// fragment.
func (c *Conn) mtuCeiling() int {
	n := c.cfg.MaxDatagramSize
	if n == 0 {
		n = defaultMaxDatagramSize
		if c.cfg.DisablePathMTUDiscovery {
			n = baseDatagramSize
		}
	}
	if p := c.peerParams.MaxUDPPayloadSize; p > 0 && p < int64(n) {
		n = int(p)
	}
	if c.fec.enc != nil && !c.fec.adaptive {
		// A source packet's payload must fit one symbol. Adaptive FEC
		// protects nothing on paths with larger datagrams instead.
		n = min(n, fec.MaxPayload)
	}
	if c.path.peer.Addr().Unmap().Is4() {
		n = min(n, maxIPv4Payload)
	}
	if df, ok := c.ep.bind().(interface{ DontFragment() bool }); !ok || !df.DontFragment() {
		// A socket that may fragment would have every probe "get
		// through" in pieces: keep to what an Ethernet path carries.
		n = min(n, packet.DefaultMaxUDPPayload)
	}
	return max(n, baseDatagramSize)
}

// maxIPv4Payload is the largest UDP payload an IPv4 datagram carries.
const maxIPv4Payload = 65535 - 20 - 8

// ipOverhead is the IP and UDP header bytes on the way to the peer.
func (c *Conn) ipOverhead() int {
	if c.path.peer.Addr().Unmap().Is4() {
		return 20 + 8
	}
	return 40 + 8
}

// startMTUDiscovery begins the search once the peer's transport parameters
// are known, or fixes the size when discovery is off.
func (c *Conn) startMTUDiscovery(now time.Time) {
	if c.cfg.DisablePathMTUDiscovery {
		c.setMaxPacket(c.mtuCeiling(), now)
		return
	}
	c.mtu.search = pmtud.New(c.mtuCeiling(), c.ipOverhead(), now)
	c.setMaxPacket(c.mtu.search.Current(), now)
}

// restartMTUDiscovery searches again from 1200 bytes: the path changed, and
// what the old one carried says nothing about the new one.
func (c *Conn) restartMTUDiscovery(now time.Time) {
	if c.mtu.search == nil {
		return
	}
	c.mtu.search = pmtud.New(c.mtuCeiling(), c.ipOverhead(), now)
	c.setMaxPacket(c.mtu.search.Current(), now)
}

// setMaxPacket makes n the largest datagram sent, for packet building, the
// congestion controller's and the pacer's units, and Stats.
func (c *Conn) setMaxPacket(n int, now time.Time) {
	old := c.path.maxPacket
	if n == old {
		return
	}
	c.path.maxPacket = n
	c.loss.cc.SetMaxDatagramSize(n)
	c.loss.pacer.SetMaxDatagramSize(n)
	c.stats.datagramSize.Store(int64(n))
	if c.qlog.enabled(qlog.LevelConn) {
		done := c.mtu.search == nil || !c.mtu.search.Searching()
		c.qlogEvent(qlog.MTUUpdated, slog.Int("old", old), slog.Int("new", n), slog.Bool("done", done))
	}
}

// mtuProbeDue returns the size of the probe to send now, if the search
// wants one and the path may carry it: a server's handshake confirmed (a
// probe's loss must not be taken for the handshake's; a client has nothing
// left to lose once message 2 has come, and probing then rather than a
// round trip later, at HANDSHAKE_DONE, lets its first data use the size),
// the path validated, no challenge outstanding, and room in the
// congestion window.
func (c *Conn) mtuProbeDue(now time.Time) (int, bool) {
	s := c.mtu.search
	if s == nil || (c.isServer && !c.hs.confirmed) || !c.path.validated || c.path.challengePending || c.state != stateActive {
		return 0, false
	}
	size, ok := s.ProbeDue(now)
	if !ok || !c.loss.cc.CanSend(c.cwndInFlight()) || c.loss.pacer.TimeUntilSend(now) > 0 {
		return 0, false
	}
	if s.Raising() && now.Sub(c.mtu.streamSentAt) > raiseActivity {
		// Looking again for a larger size helps only a connection that
		// is sending data: an idle one waits for its next transfer, and a
		// server with many idle connections sends no probes for them.
		// (Bytes in flight would not do: a lost probe is in flight until
		// declared lost, and would license the next.)
		return 0, false
	}
	return size, true
}

// sendMTUProbe sends one probe of size bytes: a PING padded to the size
// (RFC 9000 §14.4), alone in a system call so that the local interface's
// refusal (EMSGSIZE) is the probe's answer. It is recorded for loss
// recovery only once it has left, marked so that its loss is not taken
// for congestion and carries nothing to resend.
func (c *Conn) sendMTUProbe(size int, now time.Time) {
	// The probe leaves before any datagram is built into the batch.
	b, pn, qframes, err := c.sealAlone([]byte{byte(packet.FramePing)}, size)
	if errors.Is(err, crypto.ErrAEADLimitReached) {
		c.closeTransport(packet.AEADLimitReached, 0, err.Error(), now)
		return
	}
	if err != nil {
		c.abort(err) // packet numbers exhausted
		return
	}
	err = c.ep.bind().WriteBatch([]Datagram{{Buf: b, N: len(b), Addr: c.path.peer, Local: c.path.local, ECN: c.ecnMark()}})
	if errors.Is(err, syscall.EMSGSIZE) {
		if c.mtu.search.OnProbeTooBig(size, now) == pmtud.BlackHole {
			c.onBlackHole(now)
		}
		return
	}
	if err != nil {
		c.stats.sendErrors.Add(1)
		return
	}
	c.qlogPacket(qlog.PacketSent, pn, len(b), qframes)
	c.stats.packetsSent.Add(1)
	c.stats.bytesSent.Add(uint64(len(b)))
	c.stats.mtuProbesSent.Add(1)
	c.path.bytesSent += int64(len(b))
	c.mtu.search.OnProbeSent(int64(pn), size)
	var rec sentFrames
	rec.mtuProbe = true
	rec.ecnMarked = c.ecnOnSent(pn) == packet.ECNECT0
	sp := ackframes.SentPacket[sentFrames]{Number: pn, TimeSent: now, Size: len(b), AckEliciting: true, InFlight: true, MTUProbe: true, Frames: rec}
	if err := c.loss.OnPacketSent(sp); err != nil {
		c.abort(err)
		return
	}
	c.loss.cc.OnPacketSent(now, int64(pn), len(b))
	c.loss.pacer.OnSent(now, len(b))
	c.mtu.probePN, c.mtu.probeBytes = pn, len(b)
}

// mtuOnAcked feeds an acknowledged packet to the search: a probe's
// acknowledgement confirms its size; others inform black-hole detection.
func (c *Conn) mtuOnAcked(p *ackframes.SentPacket[sentFrames], now time.Time) {
	c.probeSettled(p)
	s := c.mtu.search
	if s == nil {
		return
	}
	if p.Frames.mtuProbe {
		if s.OnProbeAcked(int64(p.Number)) == pmtud.Raised {
			c.setMaxPacket(s.Current(), now)
		}
		return
	}
	s.OnPacketAcked(int64(p.Number), p.Size)
}

// mtuOnLost feeds a lost packet to the search and reports whether it was a
// probe, whose loss says nothing of congestion.
func (c *Conn) mtuOnLost(p *ackframes.SentPacket[sentFrames], now time.Time) bool {
	s := c.mtu.search
	if p.Frames.mtuProbe {
		c.probeSettled(p)
		c.stats.mtuProbesLost.Add(1)
		c.loss.quiet.add(p.Number)
		if s != nil && s.OnProbeLost(int64(p.Number), now) == pmtud.BlackHole {
			c.onBlackHole(now)
		}
		return true
	}
	if s != nil {
		s.OnPacketLost(int64(p.Number), p.Size)
	}
	return false
}

// onBlackHole records a confirmed black hole: the search starts again from
// 1200 bytes.
func (c *Conn) onBlackHole(now time.Time) {
	c.stats.mtuBlackHoles.Add(1)
	c.diag(slog.LevelInfo, "large datagrams stopped getting through: searching again from 1200 bytes")
	c.setMaxPacket(c.mtu.search.Current(), now)
}

// mtuCheckBlackHole falls back to 1200 bytes when large packets stopped
// getting through while small ones still do, until a probe of the old
// size says whether they really cannot (mtuOnLost, mtuOnAcked).
func (c *Conn) mtuCheckBlackHole(now time.Time) {
	s := c.mtu.search
	if s == nil || s.CheckBlackHole(now) != pmtud.Suspected {
		return
	}
	c.setMaxPacket(s.Current(), now)
}

// probeBudget caps a probe-timeout packet at 1200 bytes while a larger size
// is in use: if large packets are being swallowed, a small probe still
// gets through, and its acknowledgement is what tells a black hole from
// an outage (mtuCheckBlackHole).
func (c *Conn) probeBudget(budget int) int {
	if c.loss.probes > 0 && c.mtu.search != nil && c.mtu.search.SmallProbesWanted() {
		return min(budget, baseDatagramSize)
	}
	return budget
}
