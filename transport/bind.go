package transport

import (
	"errors"
	"net"
	"net/netip"
	"syscall"

	"github.com/limpetnet/limpet/packet"
)

// Datagram is one UDP datagram, or with segmentation offload a train of
// equal-size datagrams sharing one address, as it crosses a Bind.
//
// The caller owns Buf. On read the Bind fills Buf[:N]; on write it sends
// Buf[:N]. A train is how GSO (UDP_SEGMENT) and GRO (UDP_GRO) move many
// datagrams through the kernel in one system call: the kernel splits or
// joins them at SegmentSize boundaries, which lifts the ceiling of one
// system call per datagram.
type Datagram struct {
	// Buf is the backing buffer. ReadBatch reads into all of len(Buf).
	Buf []byte
	// N is how many bytes of Buf are the datagram (or the train).
	N int
	// Addr is the peer: the source on read, the destination on write.
	// IPv4 peers are always plain IPv4, never IPv4-mapped IPv6, so an
	// address compares equal whichever socket family carried it.
	Addr netip.AddrPort
	// SegmentSize, when positive, says Buf[:N] is a train of datagrams of
	// SegmentSize bytes each; only the last may be shorter. Zero means
	// Buf[:N] is one datagram. ReadBatch sets it only for a GRO train of
	// two or more datagrams.
	SegmentSize int
	// ECN is the ECN codepoint: on read, the marks the network left on
	// the datagram (every datagram of a GRO train carries the same); on
	// write, the codepoint to send with. Binds that cannot read or set it
	// read ECNNotECT and send unmarked.
	ECN ECN
	// Local is this host's address: on read, the address the datagram was
	// sent to, when the Bind can tell (IP_PKTINFO); on write, the address
	// to send from, so that a socket bound to a wildcard address answers
	// from the address the peer used. The zero Addr lets the system
	// choose.
	Local netip.Addr
}

// ECN is an ECN codepoint (RFC 3168), as Datagram carries it.
type ECN = packet.ECN

// Data returns the datagram's bytes, Buf[:N].
func (d *Datagram) Data() []byte { return d.Buf[:d.N] }

// NumSegments returns how many datagrams d carries: one unless d is a
// train, and zero for an empty train.
func (d *Datagram) NumSegments() int {
	if d.SegmentSize <= 0 {
		return 1
	}
	return (d.N + d.SegmentSize - 1) / d.SegmentSize
}

// Segment returns the i-th datagram of d (0 ≤ i < NumSegments()).
func (d *Datagram) Segment(i int) []byte {
	if d.SegmentSize <= 0 {
		return d.Buf[:d.N]
	}
	start := i * d.SegmentSize
	return d.Buf[start:min(start+d.SegmentSize, d.N)]
}

// Bind is the socket boundary: the only place limpet's datagrams meet the
// operating system (or a simulated network). It moves batches so that one
// system call carries many datagrams, in the spirit of wireguard-go's
// conn.Bind.
//
// ReadBatch may be called from one goroutine while WriteBatch is called
// from others; concurrent calls of the same method are safe but serialised.
type Bind interface {
	// ReadBatch blocks until at least one datagram arrives and fills up to
	// min(len(dgrams), BatchSize()) entries: Buf[:N], Addr, SegmentSize,
	// ECN and Local.
	// Buffers of BindReadBufferSize bytes let the Bind receive GRO trains
	// where the kernel offers them; with any shorter buffer it asks the
	// kernel for single datagrams instead (so use one size throughout). A
	// datagram longer than its buffer is cut to it, as recvfrom does.
	// After Close it returns an error that matches net.ErrClosed.
	ReadBatch(dgrams []Datagram) (n int, err error)

	// WriteBatch sends every datagram, using GSO for trains and for runs
	// of consecutive datagrams to the same Addr, with the same ECN and
	// Local, of the same size (the last may be shorter). It tries every
	// datagram even when one fails and returns the first error. It skips
	// a datagram with N outside Buf or an address the socket cannot
	// reach, and one the system refuses as too large (on Linux, over the
	// local interface's MTU), with an error matching syscall.EMSGSIZE.
	// IsLocalAddressError tells whether an error means the local address
	// is gone. A Local of the other family than Addr is ignored.
	WriteBatch(dgrams []Datagram) error

	// LocalAddr is the address the Bind listens on.
	LocalAddr() netip.AddrPort

	// BatchSize is how many Datagrams one ReadBatch fills at most, and a
	// good number to pass to WriteBatch at once.
	BatchSize() int

	// MaxSegments is how many segments one GSO send may carry: 1 when the
	// kernel or the path has no GSO, in which case building trains gains
	// nothing (WriteBatch still accepts them and sends them one by one).
	MaxSegments() int

	// Close closes the socket and unblocks ReadBatch.
	Close() error
}

// BindReadBufferSize is the largest datagram or GRO train a Bind can
// return: the IPv4 and IPv6 payload limit.
const BindReadBufferSize = 65535

// maxGSOPayload is the most UDP payload one send may carry: the 65,535-byte
// IPv4 total length less the 20-byte IPv4 and 8-byte UDP headers. It bounds
// a GSO train for IPv6 too, which is only slightly more generous.
const maxGSOPayload = 65535 - 20 - 8

// maxGSOSegments is the most segments one UDP_SEGMENT send may carry: the
// UDP_MAX_SEGMENTS of every Linux that has UDP GSO (recent kernels allow
// more).
const maxGSOSegments = 64

// ListenUDP opens a UDP socket on address ("host:port"; network "udp",
// "udp4" or "udp6") and returns it as a Bind: on Linux one that batches
// with recvmmsg/sendmmsg and uses GSO and GRO where the kernel has them,
// elsewhere one datagram per system call. Listening on "[::]:port" with
// network "udp" gives a dual-stack socket that also serves IPv4 peers.
func ListenUDP(network, address string) (Bind, error) {
	return listenUDP(network, address, bindOptions{})
}

// NewUDPBind returns the best Bind for an already open UDP socket, for a
// caller that needs its own socket options (SO_REUSEPORT, a chosen
// interface). The Bind owns conn from then on; on error the caller keeps it.
func NewUDPBind(conn *net.UDPConn) (Bind, error) {
	return newUDPBind(conn, bindOptions{})
}

// bindOptions turn off offloads, so tests and benchmarks can compare the
// paths one kernel offers.
type bindOptions struct {
	noGSO bool // never send with UDP_SEGMENT
	noGRO bool // do not ask for UDP_GRO trains
}

func listenUDP(network, address string, opts bindOptions) (Bind, error) {
	switch network {
	case "udp", "udp4", "udp6":
	default:
		return nil, net.UnknownNetworkError(network)
	}
	laddr, err := net.ResolveUDPAddr(network, address)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	b, err := newUDPBind(conn, opts)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return b, nil
}

// UnreachableError is what a Bind's ReadBatch returns when the system
// reports that a datagram sent to Addr drew an ICMP error (on Linux, from
// the socket's error queue): port or host unreachable. It carries no
// datagram; reading goes on. The transport fails only a handshake to Addr
// with it: ICMP can be forged, so an established connection ignores it.
type UnreachableError struct {
	Addr netip.AddrPort
	Err  syscall.Errno
}

func (e *UnreachableError) Error() string {
	return "transport: datagram to " + e.Addr.String() + " drew ICMP: " + e.Err.Error()
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// errBadDatagram reports a Datagram that WriteBatch cannot send: N outside
// Buf, or an address the socket cannot reach.
var errBadDatagram = errors.New("transport: datagram has N outside Buf or an unusable address")

// IsLocalAddressError reports whether err from WriteBatch means this host
// can no longer send from its address: the interface went down, the
// address was removed, or no route leads out. The transport treats that as
// a cue to rebind and migrate (docs/PROTOCOL.md section 9, "Active migration")
// rather than as loss on the path.
func IsLocalAddressError(err error) bool {
	for _, errno := range localAddressErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// localAddressErrnos are the send errors that blame this host rather than
// the path: see IsLocalAddressError.
var localAddressErrnos = [...]syscall.Errno{
	syscall.ENETUNREACH,
	syscall.EADDRNOTAVAIL,
	syscall.EPERM,
	syscall.EHOSTUNREACH,
	syscall.ENETDOWN,
}

// addrPortFromNetAddr converts the address a PacketConn reports to the
// form Datagram.Addr uses (IPv4 unmapped). It returns false for an address
// that is not an IP address and port.
func addrPortFromNetAddr(a net.Addr) (netip.AddrPort, bool) {
	switch a := a.(type) {
	case *net.UDPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
	case nil:
		return netip.AddrPort{}, false
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
}

// unmapAddrPort returns ap with an IPv4-mapped address turned into plain
// IPv4.
func unmapAddrPort(ap netip.AddrPort) netip.AddrPort {
	if ap.Addr().Is4In6() {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return ap
}
