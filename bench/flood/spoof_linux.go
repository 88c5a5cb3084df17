package flood

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// rawJunkSender sends junk Initials through a raw IPv4 socket with
// IP_HDRINCL, writing each datagram's IP and UDP headers itself, so every
// datagram comes from a random source address in 127.64.0.0/10 and a
// random port: spoofed sources, as many as there are datagrams. It needs
// CAP_NET_RAW.
type rawJunkSender struct {
	conn *net.IPConn
	pc   *ipv4.PacketConn
	msgs []ipv4.Message
	rng  *rand.ChaCha8
}

const (
	ipv4HeaderLen = 20
	udpHeaderLen  = 8
)

func newRawJunkSender(to netip.AddrPort) (junkSender, error) {
	c, err := net.ListenIP("ip4:udp", &net.IPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	sc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	var serr error
	if err := sc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_HDRINCL, 1)
		if serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, attackerSocketBuffer)
		}
	}); err != nil || serr != nil {
		c.Close()
		return nil, fmt.Errorf("IP_HDRINCL: %v", cmpErr(err, serr))
	}
	s := &rawJunkSender{conn: c, pc: ipv4.NewPacketConn(c), rng: newRNG()}
	dst := to.Addr().As4()
	s.msgs = make([]ipv4.Message, junkBatch)
	for i := range s.msgs {
		b := make([]byte, ipv4HeaderLen+udpHeaderLen, ipv4HeaderLen+udpHeaderLen+junkSize)
		// IPv4 header: the kernel fills in the total length, the ID and
		// the checksum (raw(7)).
		b[0] = 0x45
		b[8] = 64 // TTL
		b[9] = unix.IPPROTO_UDP
		copy(b[16:20], dst[:])
		// UDP header, without a checksum (optional over IPv4).
		binary.BigEndian.PutUint16(b[ipv4HeaderLen+2:], to.Port())
		binary.BigEndian.PutUint16(b[ipv4HeaderLen+4:], udpHeaderLen+junkSize)
		b = appendJunkInitial(b, junkSize, s.rng)
		s.msgs[i] = ipv4.Message{Buffers: [][]byte{b}, Addr: &net.IPAddr{IP: net.IP(dst[:])}}
	}
	return s, nil
}

func (s *rawJunkSender) send(n int) error {
	var r [4 + 2 + 8]byte
	for i := range n {
		b := s.msgs[i].Buffers[0]
		s.rng.Read(r[:])
		// Source 127.64.0.0/10: never 127.0.0.x, where the clients are.
		b[12], b[13], b[14], b[15] = 127, 64|r[0]&0x3f, r[1], r[2]|1
		copy(b[ipv4HeaderLen:ipv4HeaderLen+2], r[4:6])
		copy(b[ipv4HeaderLen+udpHeaderLen+junkDCIDOffset:], r[6:14])
	}
	_, err := s.pc.WriteBatch(s.msgs[:n], 0)
	return err
}

func (s *rawJunkSender) describe() string {
	return "each from a random spoofed source in 127.64.0.0/10 (raw socket)"
}

func (s *rawJunkSender) close() { s.conn.Close() }
