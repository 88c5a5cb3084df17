package transport

import (
	"context"
	"crypto/rand"
	"fmt"
	"github.com/limpetnet/limpet/ackframes"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/qlog"
)

// pathState is what the loop knows about the network path to the peer
// (docs/PROTOCOL.md section 9).
type pathState struct {
	peer  netip.AddrPort                 // where we send
	peerV atomic.Pointer[netip.AddrPort] // peer, for RemoteAddr on any goroutine
	// validated lifts the anti-amplification limit (docs/PROTOCOL.md
	// section 9): until then we send at most 3× what peer sent us.
	validated bool
	bytesRecv int64
	bytesSent int64
	rxFrom    netip.AddrPort // source of the packet being processed
	rxLen     int            // and the size of its datagram
	// local is the address a server sends from: the one the client's
	// latest packet came to, so a server on a wildcard address answers
	// from the address the client chose (zero: the system chooses).
	local netip.Addr
	// maxPacket is the largest UDP payload we send: ours, or less if the
	// peer's max_udp_payload_size says so (docs/PROTOCOL.md section 6).
	maxPacket int

	// newBind opens a socket to migrate to (client); nil disables migration.
	newBind func(network, addr string) (Bind, error)

	// prevAddr is the last validated address, to fall back to if the new
	// one fails validation.
	prevAddr netip.AddrPort
	hasPrev  bool

	challenge         [8]byte
	challengeDue      bool // a PATH_CHALLENGE must be sent
	challengePending  bool // one is outstanding
	challengeDeadline time.Time

	responses []pathResponse // PATH_RESPONSEs owed, per source address

	lastMigrate time.Time // client: when the socket was last replaced
	migrations  uint64
}

type pathResponse struct {
	data [8]byte
	to   netip.AddrPort
	// allow is three times the datagram the challenge came in: the most a
	// response to an address not yet validated may take (RFC 9000 §8.1).
	allow int
}

// minMigrateInterval rate-limits automatic socket replacement.
const minMigrateInterval = 5 * time.Second

// onPeerAddressChange moves the connection to the address a packet with the
// highest packet number yet came from: NAT rebinding, or the peer's address
// changing. The new path is validated with PATH_CHALLENGE; until then we send
// it at most three times what it sent us.
func (c *Conn) onPeerAddressChange(from netip.AddrPort, datagramLen int, now time.Time) {
	old := c.path.peer
	if c.path.validated {
		c.path.prevAddr, c.path.hasPrev = old, true
	}
	c.setPeerAddr(from)
	// The new path gets a connection ID of the peer's that no other path
	// has carried, so an observer cannot link the two by it (RFC 9000
	// §9.5); the peer did the same in its direction if it moved on
	// purpose. Without a spare one the current one stays.
	c.switchRemoteConnID()
	c.path.validated = false
	c.path.bytesRecv = int64(datagramLen)
	c.path.bytesSent = 0
	c.startPathValidation(now)
	if from.Addr() != old.Addr() {
		// A different network: what we learnt about the old one says
		// nothing about it (a port change alone keeps it: NAT rebinding).
		c.loss.resetCongestion(now)
		c.fec.pathLoss = ackframes.LossProcess{}
		c.restartMTUDiscovery(now)
		c.ecnRestart()
	}
	c.path.migrations++
	c.stats.migrations.Add(1)
	if c.qlog.enabled(qlog.LevelConn) {
		c.qlogEvent(qlog.PathAssigned, slog.String("path_id", strconv.FormatUint(c.path.migrations, 10)),
			slog.Any("path_remote", endpointInfo(from, c.ids.remoteCID)))
	}
	c.diag(slog.LevelInfo, "the peer's address changed", slog.Any("from", old), slog.Any("to", from))
}

func (c *Conn) startPathValidation(now time.Time) {
	rand.Read(c.path.challenge[:])
	c.path.challengeDue = true
	c.path.challengePending = true
	c.path.challengeDeadline = now.Add(max(3*c.loss.rtt.PTO(c.peerParams.MaxAckDelay), time.Second))
}

// onPathChallenge answers on the path the challenge came from.
func (c *Conn) onPathChallenge(f packet.PathChallengeFrame, from netip.AddrPort, datagramLen int) {
	if len(c.path.responses) < 8 {
		c.path.responses = append(c.path.responses, pathResponse{data: f.Data, to: from, allow: 3 * datagramLen})
	}
}

// onPathResponse completes validation of the current path.
func (c *Conn) onPathResponse(f packet.PathResponseFrame) {
	if !c.path.challengePending || f.Data != c.path.challenge {
		return // a late or forged response validates nothing
	}
	c.path.challengePending = false
	c.path.challengeDue = false
	c.path.validated = true
	c.path.hasPrev = false
	c.qlogEvent(qlog.MigrationStateUpdated, slog.String("new", "migration_complete"))
}

// checkPathTimers falls back to the previous path if the new one did not
// answer its challenge in time.
func (c *Conn) checkPathTimers(now time.Time) {
	if !c.path.challengePending || now.Before(c.path.challengeDeadline) {
		return
	}
	c.path.challengePending = false
	c.path.challengeDue = false
	c.qlogEvent(qlog.MigrationStateUpdated, slog.String("new", "migration_abandoned"))
	c.diag(slog.LevelInfo, "the new path did not answer its challenge", slog.Bool("back_to_previous", c.path.hasPrev))
	if c.path.hasPrev {
		c.setPeerAddr(c.path.prevAddr)
		c.switchRemoteConnID() // the failed path's ID stays with it
		c.path.validated = true
		c.path.hasPrev = false
		c.restartMTUDiscovery(now)
		c.ecnRestart()
	}
}

// appendPathFrames adds a due PATH_CHALLENGE, and PATH_RESPONSEs owed to
// the current peer address.
func (c *Conn) appendPathFrames(b []byte, limit int, rec *sentFrames) []byte {
	if c.path.challengeDue && len(b)+9 <= limit {
		b = packet.PathChallengeFrame{Data: c.path.challenge}.Append(b)
		rec.add(sentFrame{kind: sentPathChallenge})
		c.path.challengeDue = false
	}
	keep := c.path.responses[:0]
	for _, r := range c.path.responses {
		if r.to == c.path.peer && len(b)+9 <= limit {
			b = packet.PathResponseFrame{Data: r.data}.Append(b)
			continue
		}
		keep = append(keep, r)
	}
	c.path.responses = keep
	return b
}

// sendPathResponsesElsewhere answers challenges that came from an address
// other than the current path's (RFC 9000 §8.2.2): all those owed to one
// address go in one packet, within three times the datagram that carried
// them, so that a peer spoofing its source cannot make this end send a
// victim more than it sent.
func (c *Conn) sendPathResponsesElsewhere(now time.Time) {
	keep := c.path.responses[:0]
	var done []netip.AddrPort
	for i, r := range c.path.responses {
		if r.to == c.path.peer {
			keep = append(keep, r)
			continue
		}
		if slices.Contains(done, r.to) {
			continue
		}
		done = append(done, r.to)
		var frames []byte
		allow := 0
		for _, o := range c.path.responses[i:] {
			if o.to == r.to {
				allow = max(allow, o.allow)
			}
		}
		for _, o := range c.path.responses[i:] {
			if o.to == r.to && len(frames)+9+pathResponseOverhead <= allow {
				frames = packet.PathResponseFrame{Data: o.data}.Append(frames)
			}
		}
		if len(frames) > 0 {
			c.sendFramesTo(r.to, frames)
		}
	}
	c.path.responses = keep
}

// pathResponseOverhead is what a 1-RTT packet adds to its frames: the
// short header with an 8-byte connection ID, a 4-byte packet number at
// most, and the AEAD tag.
const pathResponseOverhead = 1 + packet.DefaultConnIDLen + 4 + crypto.TagLen

// sendFramesTo sends frames in one 1-RTT packet to addr, outside loss
// recovery (used for PATH_RESPONSE on another path).
func (c *Conn) sendFramesTo(addr netip.AddrPort, frames []byte) {
	if c.keys == nil || c.tx.bufs == nil {
		return
	}
	b, pn, qframes, err := c.sealAlone(frames, 0)
	if err != nil {
		return
	}
	c.qlogPacket(qlog.PacketSent, pn, len(b), qframes)
	c.stats.packetsSent.Add(1)
	c.stats.bytesSent.Add(uint64(len(b)))
	c.ep.bind().WriteBatch([]Datagram{{Buf: b, N: len(b), Addr: addr, Local: c.path.local}})
}

// sealAlone seals frames into a 1-RTT packet of its own, in the send
// batch's first buffer (it must leave before anything is built there),
// padded to a datagram of size bytes, and at least to a stateless reset
// trigger (section 2.4). It takes the next packet number, and returns the
// frames as qlog writes them when frames are traced.
func (c *Conn) sealAlone(frames []byte, size int) ([]byte, packet.PacketNumber, []map[string]any, error) {
	pn, err := c.loss.pnGen.Pop()
	if err != nil {
		return nil, 0, nil, err
	}
	d := &c.tx.bufs[0]
	if cap(d.Buf) < size {
		d.Buf = make([]byte, 0, size)
	}
	const pnLen = 4
	b, pnOffset := packet.AppendShortHeader(d.Buf[:0], c.ids.remoteCID, c.keys.KeyPhase(), pnLen)
	b = packet.AppendPacketNumber(b, pn, pnLen)
	payloadStart := len(b)
	b = append(b, frames...)
	if pad := max(size, minResetTrigger) - crypto.TagLen - len(b); pad > 0 {
		// PADDING frames, appended at once: a path MTU probe on
		// loopback is 64 KiB of them.
		b = append(b, make([]byte, pad)...)
	}
	var qframes []map[string]any
	if c.qlog.enabled(qlog.LevelFrame) {
		qframes = c.qlogFramesOf(b[payloadStart:])
	}
	b, err = c.keys.Seal(b, pnOffset, pnLen, uint64(pn))
	return b, pn, qframes, err
}

// Migrate moves the connection to a new local UDP socket (a new port, and
// a new address if the host's changed) and a fresh connection ID, for
// example after a network-change event. The application sees no error,
// only a short stall. Only a client can migrate, and not if the server
// disabled active migration (ErrMigrationDisabled).
func (c *Conn) Migrate(ctx context.Context) error {
	if c.isServer {
		return fmt.Errorf("limpet: only a client can migrate")
	}
	if c.path.newBind == nil {
		return fmt.Errorf("limpet: cannot migrate a connection that does not own its socket (made by DialBind or Endpoint.Dial)")
	}
	var err error
	if rerr := c.run(ctx, func(now time.Time) { err = c.migrateSocket(now) }); rerr != nil {
		return rerr
	}
	return err
}

// migrateSocket replaces the client's socket and starts validating the path
// from it (docs/PROTOCOL.md section 9).
func (c *Conn) migrateSocket(now time.Time) error {
	if c.peerParams.DisableActiveMigration {
		return ErrMigrationDisabled
	}
	old := c.ep.bind().LocalAddr()
	network, laddr := "udp4", "0.0.0.0:0"
	if c.path.peer.Addr().Is6() {
		network, laddr = "udp6", "[::]:0"
	}
	nb, err := c.path.newBind(network, laddr)
	if err != nil {
		return fmt.Errorf("limpet: migrate: %w", err)
	}
	c.stats.socketDrops.rebase(c.ep.bind(), nb)
	c.ep.swapBind(nb)
	c.switchRemoteConnID()
	c.path.lastMigrate = now
	c.path.migrations++
	c.stats.migrations.Add(1)
	if nb.LocalAddr().Addr() != old.Addr() {
		c.loss.resetCongestion(now)
		c.fec.pathLoss = ackframes.LossProcess{}
	}
	// The sockets are usually both bound to a wildcard address, so the
	// interface may have changed unseen (Wi-Fi to cellular): the new path's
	// MTU and ECN are learnt afresh.
	c.restartMTUDiscovery(now)
	c.ecnRestart()
	// Probe the new path at once, and resend what may have been lost on
	// the old one.
	c.startPathValidation(now)
	c.loss.pingDue = true
	c.requeueOldestForProbe()
	if c.qlog.enabled(qlog.LevelConn) {
		c.qlogEvent(qlog.PathAssigned, slog.String("path_id", strconv.FormatUint(c.path.migrations, 10)),
			slog.Any("path_local", endpointInfo(nb.LocalAddr(), c.ids.localCID)))
	}
	c.diag(slog.LevelInfo, "moved to a new socket", slog.Any("from", old), slog.Any("to", nb.LocalAddr()))
	return nil
}

// maybeMigrate replaces a client's socket when the local address seems to
// be gone: a send error that says so, or no acknowledgement from the peer
// across several probe timeouts (the NAT or the network changed under us).
func (c *Conn) maybeMigrate(now time.Time, sendErr error) {
	if c.isServer || c.path.newBind == nil || c.state != stateActive {
		return
	}
	if now.Sub(c.path.lastMigrate) < minMigrateInterval {
		return
	}
	// Three probe timeouts and 3 s without an acknowledgement: our packets
	// no longer reach the peer. Packets may still arrive from it (a path
	// that died one way only, or the peer's own probes), so what counts
	// is acknowledgement, not receipt.
	silent := c.loss.PTOCount() >= 3 && now.Sub(c.loss.lastAckProgress) > 3*time.Second
	if (sendErr != nil && IsLocalAddressError(sendErr)) || silent {
		c.migrateSocket(now)
	}
}
