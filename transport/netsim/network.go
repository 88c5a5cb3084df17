package netsim

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/limpetnet/limpet/transport/internal/deadline"
)

// DefaultQueueLen is how many datagrams a Socket holds unread before it
// drops new arrivals, as a socket receive buffer would.
const DefaultQueueLen = 1024

// maxDatagramSize is the largest UDP payload (IPv4 limit) the network
// carries; larger writes fail with EMSGSIZE, as they would on a socket.
const maxDatagramSize = 65507

// ECN codepoints (RFC 3168), as WriteToECN and ReadFromECN carry them:
// the two low bits of the IP header's traffic class, which ecnMask selects.
const (
	ecnNotECT = 0b00
	ecnCE     = 0b11
	ecnMask   = 0b11
)

// firstEphemeralPort is where Listen starts looking for a free port when
// asked for port 0 (the IANA dynamic range).
const firstEphemeralPort = 49152

// errNotUDPAddr reports a WriteTo address that is not a *net.UDPAddr (or
// anything else naming an IP address and port).
var errNotUDPAddr = errors.New("netsim: destination is not an IP address and port")

// errUnknownAddr reports a Rebind of an address no Socket holds.
var errUnknownAddr = errors.New("netsim: no socket has that address")

// Network is an in-memory UDP network: Sockets on it exchange datagrams by
// address, instantly and in order, with no loss except when a receiver's
// queue is full. Wrap a Socket with Impair for anything worse.
//
// A Network is safe for concurrent use.
type Network struct {
	mu       sync.Mutex
	sockets  map[netip.AddrPort]*Socket // by current address
	queueLen int                        // for Sockets opened from now on

	unroutable atomic.Uint64
}

// NewNetwork returns an empty network whose Sockets queue DefaultQueueLen
// datagrams each.
func NewNetwork() *Network {
	return &Network{sockets: make(map[netip.AddrPort]*Socket), queueLen: DefaultQueueLen}
}

// SetQueueLen sets how many unread datagrams each Socket opened from now on
// holds before dropping (at least 1).
func (n *Network) SetQueueLen(datagrams int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.queueLen = max(1, datagrams)
}

// Unroutable returns how many datagrams were sent to an address no Socket
// held, and so vanished, as UDP datagrams to a closed port do.
func (n *Network) Unroutable() uint64 { return n.unroutable.Load() }

// Listen opens a Socket at addr. Port 0 picks a free port from 49152 up.
// IPv4-mapped IPv6 addresses are taken as IPv4. An address already in use
// fails with an error matching syscall.EADDRINUSE.
func (n *Network) Listen(addr netip.AddrPort) (*Socket, error) {
	ip := addr.Addr().Unmap()
	if !ip.IsValid() {
		return nil, &net.OpError{Op: "listen", Net: "udp", Err: errors.New("netsim: invalid address")}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	addr = netip.AddrPortFrom(ip, addr.Port())
	if addr.Port() == 0 {
		addr = n.freePortLocked(ip)
		if addr.Port() == 0 {
			return nil, &net.OpError{Op: "listen", Net: "udp", Addr: net.UDPAddrFromAddrPort(addr), Err: syscall.EADDRINUSE}
		}
	}
	if _, taken := n.sockets[addr]; taken {
		return nil, &net.OpError{Op: "listen", Net: "udp", Addr: net.UDPAddrFromAddrPort(addr), Err: syscall.EADDRINUSE}
	}
	s := &Socket{
		network:       n,
		addr:          addr,
		queue:         make(chan datagram, n.queueLen),
		closed:        make(chan struct{}),
		readDeadline:  deadline.New(),
		writeDeadline: deadline.New(),
	}
	n.sockets[addr] = s
	return s, nil
}

// freePortLocked returns ip with the lowest free ephemeral port, or port 0
// if all are taken.
func (n *Network) freePortLocked(ip netip.Addr) netip.AddrPort {
	for p := firstEphemeralPort; p <= 65535; p++ {
		ap := netip.AddrPortFrom(ip, uint16(p))
		if _, taken := n.sockets[ap]; !taken {
			return ap
		}
	}
	return netip.AddrPortFrom(ip, 0)
}

// Rebind moves the Socket at old to new, as a NAT does when it gives a
// flow a new external mapping: the Socket's datagrams come from new from
// then on, datagrams to old are no longer delivered (they count as
// Unroutable), and datagrams to new reach it. The Socket's LocalAddr
// becomes new too.
func (n *Network) Rebind(old, new netip.AddrPort) error {
	old = netip.AddrPortFrom(old.Addr().Unmap(), old.Port())
	new = netip.AddrPortFrom(new.Addr().Unmap(), new.Port())
	n.mu.Lock()
	defer n.mu.Unlock()
	s, ok := n.sockets[old]
	if !ok {
		return &net.OpError{Op: "rebind", Net: "udp", Addr: net.UDPAddrFromAddrPort(old), Err: errUnknownAddr}
	}
	if _, taken := n.sockets[new]; taken || !new.IsValid() || new.Port() == 0 {
		return &net.OpError{Op: "rebind", Net: "udp", Addr: net.UDPAddrFromAddrPort(new), Err: syscall.EADDRINUSE}
	}
	delete(n.sockets, old)
	n.sockets[new] = s
	s.addr = new
	return nil
}

// route returns the Socket at to, and from's current address, under one
// lock so that a concurrent Rebind is seen whole.
func (n *Network) route(from *Socket, to netip.AddrPort) (dst *Socket, src netip.AddrPort) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sockets[to], from.addr
}

// datagram is one datagram in flight: its own copy of the bytes, the
// sender's address when it was sent, and its ECN codepoint.
type datagram struct {
	b    []byte
	from netip.AddrPort
	ecn  uint8
}

// Socket is one address on a Network. It is a net.PacketConn whose
// addresses are *net.UDPAddr.
type Socket struct {
	network *Network
	addr    netip.AddrPort // guarded by network.mu (Rebind changes it)

	queue     chan datagram // received, unread; bounded
	closed    chan struct{}
	closeOnce sync.Once

	readDeadline  *deadline.Deadline
	writeDeadline *deadline.Deadline

	dropped atomic.Uint64
}

// ReadFrom blocks until a datagram arrives, the read deadline passes
// (os.ErrDeadlineExceeded) or the Socket is closed (net.ErrClosed). A
// datagram longer than p is cut to len(p), as on a UDP socket.
func (s *Socket) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, _, err := s.ReadFromECN(p)
	return n, addr, err
}

// ReadFromECN is ReadFrom that also returns the datagram's ECN codepoint
// (the two low bits of the IP header's traffic class, RFC 3168).
func (s *Socket) ReadFromECN(p []byte) (n int, addr net.Addr, ecn uint8, err error) {
	if deadline.IsClosed(s.closed) {
		return 0, nil, 0, s.opError("read", nil, net.ErrClosed)
	}
	select {
	case d := <-s.queue:
		return copy(p, d.b), net.UDPAddrFromAddrPort(d.from), d.ecn, nil
	case <-s.closed:
		return 0, nil, 0, s.opError("read", nil, net.ErrClosed)
	case <-s.readDeadline.Wait():
		return 0, nil, 0, s.opError("read", nil, os.ErrDeadlineExceeded)
	}
}

// WriteTo sends a copy of p to addr, Not-ECT. It never blocks: a datagram
// to an address nobody holds, or to a Socket whose queue is full, is
// dropped silently, as UDP drops it.
func (s *Socket) WriteTo(p []byte, addr net.Addr) (int, error) {
	return s.WriteToECN(p, addr, 0)
}

// WriteToECN is WriteTo with an ECN codepoint (0 to 3; higher bits are
// ignored), which the receiver's ReadFromECN returns.
func (s *Socket) WriteToECN(p []byte, addr net.Addr, ecn uint8) (int, error) {
	if deadline.IsClosed(s.closed) {
		return 0, s.opError("write", addr, net.ErrClosed)
	}
	if deadline.IsClosed(s.writeDeadline.Wait()) {
		return 0, s.opError("write", addr, os.ErrDeadlineExceeded)
	}
	if len(p) > maxDatagramSize {
		return 0, s.opError("write", addr, syscall.EMSGSIZE)
	}
	to, ok := addrPort(addr)
	if !ok {
		return 0, s.opError("write", addr, errNotUDPAddr)
	}
	dst, from := s.network.route(s, to)
	if dst == nil {
		s.network.unroutable.Add(1)
		return len(p), nil
	}
	dst.deliver(datagram{b: append([]byte(nil), p...), from: from, ecn: ecn & ecnMask})
	return len(p), nil
}

// deliver queues d unless the queue is full.
func (s *Socket) deliver(d datagram) {
	select {
	case s.queue <- d:
	default:
		s.dropped.Add(1)
	}
}

// Close removes the Socket from the network and unblocks ReadFrom.
func (s *Socket) Close() error {
	err := s.opError("close", nil, net.ErrClosed)
	s.closeOnce.Do(func() {
		err = nil
		close(s.closed)
		s.readDeadline.Stop()
		s.writeDeadline.Stop()
		n := s.network
		n.mu.Lock()
		if n.sockets[s.addr] == s {
			delete(n.sockets, s.addr)
		}
		n.mu.Unlock()
	})
	return err
}

// LocalAddr returns the Socket's current address as a *net.UDPAddr.
func (s *Socket) LocalAddr() net.Addr {
	s.network.mu.Lock()
	defer s.network.mu.Unlock()
	return net.UDPAddrFromAddrPort(s.addr)
}

// AddrPort returns the Socket's current address.
func (s *Socket) AddrPort() netip.AddrPort {
	s.network.mu.Lock()
	defer s.network.mu.Unlock()
	return s.addr
}

// SetDeadline sets both the read and the write deadline.
func (s *Socket) SetDeadline(t time.Time) error {
	s.readDeadline.Set(t)
	s.writeDeadline.Set(t)
	return nil
}

// SetReadDeadline sets when a blocked or future ReadFrom gives up; the
// zero time means never.
func (s *Socket) SetReadDeadline(t time.Time) error {
	s.readDeadline.Set(t)
	return nil
}

// SetWriteDeadline sets when WriteTo starts failing; writes never block,
// so it only matters once passed. The zero time means never.
func (s *Socket) SetWriteDeadline(t time.Time) error {
	s.writeDeadline.Set(t)
	return nil
}

// Dropped returns how many datagrams arrived while the Socket's queue was
// full and were discarded.
func (s *Socket) Dropped() uint64 { return s.dropped.Load() }

// DontFragment reports true: the simulated network never fragments a
// datagram, it delivers or drops it whole.
func (s *Socket) DontFragment() bool { return true }

func (s *Socket) opError(op string, addr net.Addr, err error) error {
	return &net.OpError{Op: op, Net: "udp", Source: s.LocalAddr(), Addr: addr, Err: err}
}

// addrPort converts a destination to netip form, IPv4 unmapped.
func addrPort(a net.Addr) (netip.AddrPort, bool) {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.UDPAddr:
		if a == nil {
			return ap, false
		}
		ap = a.AddrPort()
	case nil:
		return ap, false
	default:
		var err error
		if ap, err = netip.ParseAddrPort(a.String()); err != nil {
			return ap, false
		}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
}
