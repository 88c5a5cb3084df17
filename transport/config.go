package transport

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// Config configures a Listener or a dialled Conn. The zero value of every
// field except the keys means "use the default".
type Config struct {
	// PrivateKey is this endpoint's static key. A Listener requires one.
	// A client without one uses a fresh random key (the server cannot then
	// tell it apart from any other client).
	PrivateKey crypto.PrivateKey

	// ServerKey is the server's static public key, pinned by the client.
	ServerKey crypto.PublicKey

	// AllowedClientKeys, on a Listener, admits only clients holding one of
	// these keys. Empty admits any client.
	AllowedClientKeys []crypto.PublicKey

	// HandshakeTimeout bounds Dial (default 10 s).
	HandshakeTimeout time.Duration
	// MaxIdleTimeout closes a connection that received nothing for this
	// long (default 60 s, so a 30 s blackout is ridden out).
	MaxIdleTimeout time.Duration
	// KeepAlivePeriod sends a PING after this much quiet, under the common
	// 30 s NAT UDP mapping timeout (default 15 s; negative disables).
	KeepAlivePeriod time.Duration

	// MaxIncomingStreams and MaxIncomingUniStreams cap the streams the peer
	// may have open at once (default 100 each).
	MaxIncomingStreams    int64
	MaxIncomingUniStreams int64

	// Receive windows. Initial values are advertised in the handshake; the
	// windows grow towards the maxima when the application reads faster than
	// one round trip of data (default stream 512 KiB → 16 MiB, connection
	// 768 KiB → 24 MiB).
	InitialStreamWindow uint64
	MaxStreamWindow     uint64
	InitialConnWindow   uint64
	MaxConnWindow       uint64

	// NoDelay sends each write at once, like TCP_NODELAY. By default small
	// writes are coalesced: a stream's partial packet of new data waits
	// while earlier data of that stream is unacknowledged, for at most
	// 1 ms, unless the stream is flushed (Stream.Flush) or closed.
	NoDelay bool

	// RequireAddressValidation makes a Listener answer every new client's
	// first Initial with a Retry (docs/PROTOCOL.md section 2.2): the server
	// does no Diffie-Hellman work and keeps no state until the client has
	// echoed the Retry's token from the address it was sent to, which
	// proves the client receives packets there. It costs each handshake one
	// round trip. Without it a Listener still sends Retry while half or
	// more of MaxHandshakes are taken by clients whose address it has not
	// validated, which is what a flood of Initials from spoofed addresses
	// looks like. Clients always follow a Retry; the field is ignored by
	// Dial.
	RequireAddressValidation bool

	// MaxHandshakes caps handshakes in progress on a Listener (default 256);
	// MaxConns caps its connections (default 10,000).
	MaxHandshakes int
	MaxConns      int
	// MaxUnsentBytes caps the bytes written to the streams of all of an
	// Endpoint's connections and not yet sent (default 1 GiB), a bound on
	// what peers that stop acknowledging can make a server hold; writes
	// beyond it wait. Each connection has its own, smaller, bound as well
	// (docs/SECURITY.md). Listen, NewEndpoint and Dial take it from their
	// Config; Endpoint.Dial shares its endpoint's.
	MaxUnsentBytes int64

	// InstanceID names a Listener among the servers that hold its
	// PrivateKey (a fleet behind one name). Its stateless reset tokens
	// derive from the key and the instance, so that it never resets a
	// connection another server holds, and a server restarted with the same
	// key and InstanceID resets the connections its predecessor had
	// (docs/PROTOCOL.md section 4.7, docs/SECURITY.md). Empty means the
	// host's name and the listening address: give each member of a fleet
	// its own, stable across its restarts, where those may coincide (the
	// same name in containers, a wildcard address).
	InstanceID string

	// MaxHandshakesPerSource and MaxConnsPerSource cap what one client
	// address (an IPv4 address or an IPv6 /64) may hold of those (default a
	// quarter of each), so that one client cannot take them all. A client
	// over a connection limit is refused with CONNECTION_REFUSED, which
	// Dial returns as a *TransportError; one over a handshake limit is not
	// answered, and retransmits.
	MaxHandshakesPerSource int
	MaxConnsPerSource      int

	// ApplicationProtocols names the application protocols this end
	// speaks, most preferred first, in the spirit of TLS's ALPN: a client
	// offers them, and a server picks the first of its own that the client
	// offered, so one listener can serve several protocols
	// (ConnectionState().ApplicationProtocol says which). A client and a
	// server that both list protocols but share none fail the handshake
	// with NO_APPLICATION_PROTOCOL; if either lists none, the protocol is
	// "". At most 16 names, each 1 to 255 bytes.
	ApplicationProtocols []string

	// QLogLogger, if not nil, receives the connection's qlog events
	// (draft-ietf-quic-qlog-main-schema): give it
	// slog.New(qlog.NewJSONHandler(qlog.HandlerOptions{Dir: dir})) from
	// package transport/qlog for a JSON-SEQ trace file per connection,
	// which qvis and other qlog tools read. Its level chooses the detail
	// (qlog.LevelFrame, LevelPacket, LevelConn). The last event of a
	// trace, connectivity:connection_closed, is logged at slog.LevelError
	// so that every handler sees the trace end. A server opens a trace
	// only once a handshake succeeds. Nil costs nothing.
	QLogLogger *slog.Logger

	// Logger, if not nil, receives the library's own diagnostics: at
	// Debug a handshake completed or refused and a connection ended as
	// either side asked; at Info a connection that ended otherwise (idle
	// timeout, error), a path change, a path that failed validation.
	// Nothing is logged per packet. Nil, the default, is silent.
	Logger *slog.Logger

	// FEC configures forward error correction (docs/PROTOCOL.md section
	// 10); the zero value is adaptive FEC.
	FEC FECConfig

	// MaxDatagramSize caps the UDP payload of the datagrams this end sends
	// (default 65527, the IPv4 limit; 1200 to 65527). Every path starts at
	// 1200 bytes and path MTU discovery probes upward to the largest size
	// that gets through, up to this cap, the peer's max_udp_payload_size
	// and what the local interface accepts (docs/PROTOCOL.md section 11).
	// With fixed FEC sending, datagrams stay at most 1500 bytes.
	MaxDatagramSize int
	// DisablePathMTUDiscovery sends every datagram at a fixed size:
	// MaxDatagramSize if set (for a path known to carry it), else 1200,
	// which every path must carry.
	DisablePathMTUDiscovery bool
	// DisableECN sends every packet Not-ECT. By default packets are marked
	// ECT(0) while the path is seen to carry the marks, and the peer's
	// reports of Congestion Experienced marks slow the sender down as a
	// loss would, without the loss (docs/PROTOCOL.md section 12).
	// Received marks are counted and reported either way.
	DisableECN bool
	// EveryLossIsCongestion slows the sender down for every lost packet,
	// as RFC 9002 does. By default a loss slows it down only when it
	// comes with a congestion signal: a queue building up in the RTT, or
	// losses of 10 % or more over the last eight round trips. Other losses,
	// such as a radio link's, are sent again without cutting the window,
	// so a lossy path runs at its rate (docs/PROTOCOL.md section 3 says
	// when this guess can be wrong). With CongestionBBR it makes BBR hear
	// of every loss, as draft-ietf-ccwg-bbr has it.
	EveryLossIsCongestion bool
	// CongestionControl chooses the congestion controller: CongestionCUBIC
	// (the zero value) or CongestionBBR.
	CongestionControl CongestionControl
}

// CongestionControl names a congestion controller.
type CongestionControl uint8

const (
	// CongestionCUBIC is CUBIC (RFC 9438) with HyStart++ and pacing, which
	// by default slows down only for losses with a congestion signal
	// (Config.EveryLossIsCongestion; docs/PROTOCOL.md section 3).
	CongestionCUBIC CongestionControl = iota
	// CongestionBBR is BBRv3 (congestion.BBR, after draft-ietf-ccwg-bbr):
	// it paces at the bottleneck bandwidth it measures, bounds what it
	// keeps in flight by the losses of its bandwidth probes (more than
	// 2 % sets a ceiling) and, between probes, by what the last round
	// trip with a loss delivered. Like CUBIC here it hears only of the
	// losses that carry a congestion signal, unless EveryLossIsCongestion.
	// It does not answer ECN marks, so its packets go out Not-ECT (a
	// sender that marks them ECN-capable must answer CE marks, RFC 3168).
	CongestionBBR
)

// sendsNotECT says whether every packet goes out Not-ECT: ECN is disabled,
// or the congestion controller does not answer CE marks.
func (c *Config) sendsNotECT() bool {
	return c.DisableECN || c.CongestionControl == CongestionBBR
}

// FECConfig configures Reed-Solomon forward error correction
// (docs/PROTOCOL.md section 10): after a group of packets carrying stream
// data, the sender sends repair packets, from which the receiver rebuilds
// as many lost packets of the group at once, without waiting a round trip
// for their retransmission. The receiving side keeps recent packets for
// it (at most about 640 KiB per connection).
//
// The zero value is adaptive FEC: the sender measures the path's loss
// rate and burst length, sends no repair packets while it sees no loss
// (or with an RTT under 2 ms, or datagrams over 1500 bytes), and
// otherwise protects what repair makes faster without taking the place of
// data: the last packets of each burst and everything an
// application-limited sender sends, each group with as many repair
// packets as keep its chance of needing a retransmission under 0.1 %. A
// window-limited bulk transfer gets no repair packets but at its tail;
// its random losses are cheaper to retransmit, and congestion control
// does not slow down for them (Config.EveryLossIsCongestion).
//
// Fixed FEC (GroupSize > 0) protects every packet with stream data, with
// Repair repair packets per GroupSize packets: Repair/GroupSize more
// bandwidth and GroupSize+17 bytes of room in every packet, in exchange
// for the round trips every repaired loss saves, also in bulk transfers.
//
// An endpoint decodes repair packets unless Disable is set, and sends
// them only to a peer that decodes them.
type FECConfig struct {
	// Disable turns FEC off in both directions: this endpoint neither
	// sends repair packets nor decodes the peer's.
	Disable bool
	// GroupSize (K) fixes the number of packets per group, 1 to 32; 0,
	// the default, is adaptive FEC. A partial group is closed when the
	// sender has nothing more to send, so the end of a burst is
	// protected too.
	GroupSize int
	// Repair (R) is the number of repair packets sent per group of fixed
	// FEC, 0 to GroupSize; 0 only decodes what the peer sends.
	Repair int
}

// validate checks the fields whose ranges are documented.
func (c *Config) validate() error {
	if c.MaxUnsentBytes < 0 {
		return fmt.Errorf("%w: Config.MaxUnsentBytes %d: want 0 (the default) or more", ErrInvalidConfig, c.MaxUnsentBytes)
	}
	if len(c.ApplicationProtocols) > packet.MaxApplicationProtocols {
		return fmt.Errorf("%w: Config.ApplicationProtocols: %d names, want at most %d", ErrInvalidConfig, len(c.ApplicationProtocols), packet.MaxApplicationProtocols)
	}
	for _, p := range c.ApplicationProtocols {
		if len(p) == 0 || len(p) > packet.MaxApplicationProtocolLen {
			return fmt.Errorf("%w: Config.ApplicationProtocols: %q: want 1 to %d bytes", ErrInvalidConfig, p, packet.MaxApplicationProtocolLen)
		}
	}
	if c.MaxDatagramSize != 0 && (c.MaxDatagramSize < packet.MinUDPPayloadSize || c.MaxDatagramSize > maxRxDatagram) {
		return fmt.Errorf("%w: Config.MaxDatagramSize %d: want 0 or %d to %d", ErrInvalidConfig, c.MaxDatagramSize, packet.MinUDPPayloadSize, maxRxDatagram)
	}
	if c.CongestionControl > CongestionBBR {
		return fmt.Errorf("%w: Config.CongestionControl %d: want CongestionCUBIC or CongestionBBR", ErrInvalidConfig, c.CongestionControl)
	}
	return c.FEC.validate()
}

// validate checks the ranges documented on FECConfig.
func (f FECConfig) validate() error {
	if f.Disable && (f.GroupSize != 0 || f.Repair != 0) {
		return fmt.Errorf("%w: Config.FEC.Disable with GroupSize %d and Repair %d: want both 0", ErrInvalidConfig, f.GroupSize, f.Repair)
	}
	if f.GroupSize == 0 && f.Repair != 0 {
		return fmt.Errorf("%w: Config.FEC.Repair %d without a GroupSize (adaptive FEC chooses its own)", ErrInvalidConfig, f.Repair)
	}
	if f.GroupSize < 0 || f.GroupSize > packet.MaxFECSources {
		return fmt.Errorf("%w: Config.FEC.GroupSize %d: want 0 to %d", ErrInvalidConfig, f.GroupSize, packet.MaxFECSources)
	}
	if f.Repair < 0 || f.Repair > f.GroupSize {
		return fmt.Errorf("%w: Config.FEC.Repair %d: want 0 to GroupSize (%d)", ErrInvalidConfig, f.Repair, f.GroupSize)
	}
	return nil
}

const (
	defaultHandshakeTimeout   = 10 * time.Second
	defaultMaxIdleTimeout     = 60 * time.Second
	defaultKeepAlivePeriod    = 15 * time.Second
	defaultMaxIncomingStreams = 100
	defaultInitialStreamWin   = 512 << 10
	defaultMaxStreamWin       = 16 << 20
	defaultInitialConnWin     = 768 << 10
	defaultMaxConnWin         = 24 << 20
	defaultMaxHandshakes      = 256
	defaultMaxConns           = 10000
	defaultMaxUnsentBytes     = 1 << 30
)

// withDefaults returns a copy of c with every unset field given its default.
func (c *Config) withDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	setDefault(&out.HandshakeTimeout, defaultHandshakeTimeout)
	setDefault(&out.MaxIdleTimeout, defaultMaxIdleTimeout)
	setDefault(&out.KeepAlivePeriod, defaultKeepAlivePeriod)
	setDefault(&out.MaxIncomingStreams, defaultMaxIncomingStreams)
	setDefault(&out.MaxIncomingUniStreams, defaultMaxIncomingStreams)
	setDefault(&out.InitialStreamWindow, defaultInitialStreamWin)
	setDefault(&out.MaxStreamWindow, defaultMaxStreamWin)
	setDefault(&out.InitialConnWindow, defaultInitialConnWin)
	setDefault(&out.MaxConnWindow, defaultMaxConnWin)
	setDefault(&out.MaxHandshakes, defaultMaxHandshakes)
	setDefault(&out.MaxConns, defaultMaxConns)
	setDefault(&out.MaxHandshakesPerSource, max(out.MaxHandshakes/4, 1))
	setDefault(&out.MaxConnsPerSource, max(out.MaxConns/4, 1))
	setDefault(&out.MaxUnsentBytes, defaultMaxUnsentBytes)
	out.MaxStreamWindow = max(out.MaxStreamWindow, out.InitialStreamWindow)
	out.MaxConnWindow = max(out.MaxConnWindow, out.InitialConnWindow)
	return out
}

func setDefault[T int | int64 | uint64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}
