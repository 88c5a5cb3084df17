package transport

import (
	"net"
	"net/netip"
)

// packetConnBind is a Bind over any net.PacketConn, one datagram per call.
// It is the portable fallback for *net.UDPConn and the way tests put a
// simulated network (transport/netsim) under the transport.
type packetConnBind struct {
	pc    net.PacketConn
	udp   *net.UDPConn  // pc itself when it is a UDP socket: reads and writes without allocating
	ecn   ecnPacketConn // pc itself when it carries ECN codepoints
	local netip.AddrPort
}

// ecnPacketConn is a PacketConn that carries ECN codepoints (the two low
// bits of the traffic class), as transport/netsim's Socket and Conn do. A
// packetConnBind over one reads and sends Datagram.ECN; over any other it
// reads Not-ECT and sends unmarked.
type ecnPacketConn interface {
	ReadFromECN(p []byte) (n int, addr net.Addr, ecn uint8, err error)
	WriteToECN(p []byte, addr net.Addr, ecn uint8) (int, error)
}

// NewPacketConnBind returns a Bind that reads and writes pc one datagram
// at a time (BatchSize and MaxSegments are 1). pc's addresses must be IP
// addresses and ports, ideally *net.UDPAddr; the Bind owns pc and closes
// it on Close. Trains passed to WriteBatch are sent segment by segment.
// Datagram.ECN crosses it only if pc has the methods
// ReadFromECN(p []byte) (n int, addr net.Addr, ecn uint8, err error) and
// WriteToECN(p []byte, addr net.Addr, ecn uint8) (int, error), as
// transport/netsim's PacketConns do; Datagram.Local never does.
func NewPacketConnBind(pc net.PacketConn) Bind {
	b := &packetConnBind{pc: pc}
	b.udp, _ = pc.(*net.UDPConn)
	b.ecn, _ = pc.(ecnPacketConn)
	b.local, _ = addrPortFromNetAddr(pc.LocalAddr())
	return b
}

func (b *packetConnBind) ReadBatch(dgrams []Datagram) (int, error) {
	if len(dgrams) == 0 {
		return 0, nil
	}
	d := &dgrams[0]
	for {
		var (
			n    int
			addr netip.AddrPort
			ecn  uint8
			ok   = true
			err  error
		)
		switch {
		case b.udp != nil:
			n, addr, err = b.udp.ReadFromUDPAddrPort(d.Buf)
			addr = unmapAddrPort(addr)
		case b.ecn != nil:
			var from net.Addr
			n, from, ecn, err = b.ecn.ReadFromECN(d.Buf)
			if err == nil {
				addr, ok = addrPortFromNetAddr(from)
			}
		default:
			var from net.Addr
			n, from, err = b.pc.ReadFrom(d.Buf)
			if err == nil {
				addr, ok = addrPortFromNetAddr(from)
			}
		}
		if err != nil {
			return 0, err
		}
		if !ok {
			// A datagram from something that is not an IP address
			// cannot be answered; skip it rather than report a peer
			// the transport cannot write to.
			continue
		}
		d.N, d.Addr, d.SegmentSize = n, addr, 0
		d.ECN, d.Local = ECN(ecn&0b11), netip.Addr{}
		return 1, nil
	}
}

func (b *packetConnBind) WriteBatch(dgrams []Datagram) error {
	var first error
	for i := range dgrams {
		d := &dgrams[i]
		if d.N < 0 || d.N > len(d.Buf) || !d.Addr.IsValid() {
			first = firstError(first, errBadDatagram)
			continue
		}
		for s := range d.NumSegments() {
			if err := b.writeOne(d.Segment(s), d.Addr, d.ECN); err != nil {
				first = firstError(first, err)
			}
		}
	}
	return first
}

func (b *packetConnBind) writeOne(p []byte, to netip.AddrPort, ecn ECN) error {
	var err error
	switch {
	case b.udp != nil:
		_, err = b.udp.WriteToUDPAddrPort(p, to)
	case b.ecn != nil:
		_, err = b.ecn.WriteToECN(p, net.UDPAddrFromAddrPort(to), uint8(ecn))
	default:
		_, err = b.pc.WriteTo(p, net.UDPAddrFromAddrPort(to))
	}
	return err
}

func (b *packetConnBind) LocalAddr() netip.AddrPort { return b.local }

// DontFragment reports whether the PacketConn says it never fragments
// (netsim does); a plain socket may, and then the transport keeps its
// datagrams to an Ethernet path's size.
func (b *packetConnBind) DontFragment() bool {
	df, ok := b.pc.(interface{ DontFragment() bool })
	return ok && df.DontFragment()
}
func (b *packetConnBind) BatchSize() int   { return 1 }
func (b *packetConnBind) MaxSegments() int { return 1 }
func (b *packetConnBind) Close() error     { return b.pc.Close() }

// firstError returns first if it is set, else err: how a batch reports the
// earliest of several failures.
func firstError(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
