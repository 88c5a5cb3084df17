package netlab

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/limpetnet/limpet/bench/netlab/linkem"
	"golang.org/x/sys/unix"
)

// udpEnd is a UDP socket in a lab namespace with path MTU discovery set
// explicitly, and a reader that reports the size and source of every
// datagram it receives.
type udpEnd struct {
	conn *net.UDPConn
	v6   bool
	got  chan datagram
	// received counts every datagram, ce those that arrived marked CE
	// (with recvTOS), including those a full got channel left out.
	received, ce atomic.Int64
}

type datagram struct {
	size int
	from netip.AddrPort
}

// Path MTU discovery modes of openUDPEnd.
const (
	pmtuDo    = unix.IP_PMTUDISC_DO    // DF set, and the kernel's path MTU enforced (EMSGSIZE)
	pmtuProbe = unix.IP_PMTUDISC_PROBE // DF set, the kernel's path MTU ignored
)

// openUDPEnd opens a UDP socket on side bound to addr (any port) with the
// given IP_MTU_DISCOVER mode (the IPv6 constants have the same values).
// With recvTOS the reader also records the TOS byte of IPv4 datagrams.
func openUDPEnd(t *testing.T, l *Lab, side Side, addr netip.Addr, mode int, recvTOS bool) *udpEnd {
	t.Helper()
	conn, err := l.ListenUDP(side, netip.AddrPortFrom(addr, 0))
	if err != nil {
		t.Fatalf("ListenUDP(%v, %v): %v", side, addr, err)
	}
	e := &udpEnd{conn: conn, v6: addr.Is6(), got: make(chan datagram, 1024)}
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	raw.Control(func(fd uintptr) {
		if e.v6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, mode)
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, mode)
		if serr == nil && recvTOS {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_RECVTOS, 1)
		}
	})
	if serr != nil {
		t.Fatalf("setsockopt: %v", serr)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		oob := make([]byte, 128)
		for {
			n, oobn, _, from, err := conn.ReadMsgUDPAddrPort(buf, oob)
			if err != nil {
				return
			}
			d := datagram{size: n, from: from}
			e.received.Add(1)
			if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, m := range msgs {
					if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TOS && len(m.Data) > 0 {
						if m.Data[0]&0b11 == 0b11 {
							e.ce.Add(1)
						}
					}
				}
			}
			select {
			case e.got <- d:
			default: // a test that floods reads the counters instead
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return e
}

// payloadFor returns the UDP payload length that makes an IP packet of
// ipSize bytes.
func (e *udpEnd) payloadFor(ipSize int) int {
	if e.v6 {
		return ipSize - 48
	}
	return ipSize - 28
}

// send sends a datagram that makes an IP packet of ipSize bytes.
func (e *udpEnd) send(to netip.AddrPort, ipSize int) error {
	_, err := e.conn.WriteToUDPAddrPort(make([]byte, e.payloadFor(ipSize)), to)
	return err
}

// mustSend is send for a datagram the kernel must let out.
func (e *udpEnd) mustSend(t *testing.T, to netip.AddrPort, ipSize int) {
	t.Helper()
	if err := e.send(to, ipSize); err != nil {
		t.Fatalf("sending a %d-byte packet to %v: %v", ipSize, to, err)
	}
}

// expect waits for a datagram that made an IP packet of ipSize bytes and
// returns its source, skipping others.
func (e *udpEnd) expect(t *testing.T, ipSize int) netip.AddrPort {
	t.Helper()
	timeout := time.After(echoTimeout)
	for {
		select {
		case d := <-e.got:
			if d.size == e.payloadFor(ipSize) {
				return d.from
			}
		case <-timeout:
			t.Fatalf("no %d-byte packet arrived within %v", ipSize, echoTimeout)
			return netip.AddrPort{}
		}
	}
}

// expectNothing checks that no datagram arrives for a while.
func (e *udpEnd) expectNothing(t *testing.T, ipSize int) {
	t.Helper()
	select {
	case d := <-e.got:
		t.Fatalf("a %d-byte packet arrived (UDP payload %d), want none", ipSize, d.size)
	case <-time.After(silenceTimeout):
	}
}

// waitForEMSGSIZE sends ipSize-byte packets until the kernel refuses one
// with EMSGSIZE, the sign that an ICMP "fragmentation needed" or "packet
// too big" arrived and lowered its path MTU to to.
func (e *udpEnd) waitForEMSGSIZE(t *testing.T, to netip.AddrPort, ipSize int) {
	t.Helper()
	deadline := time.Now().Add(echoTimeout)
	for {
		err := e.send(to, ipSize)
		if errors.Is(err, syscall.EMSGSIZE) {
			return
		}
		if err != nil {
			t.Fatalf("sending a %d-byte packet: %v, want EMSGSIZE", ipSize, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the kernel still sends %d-byte packets to %v after %v: no ICMP arrived", ipSize, to, echoTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pathMTULabs are the two ways the client reaches the router.
var pathMTULabs = []struct {
	desc string
	opts func() Options
}{
	{"veth", func() Options { return Options{} }},
	{"emulated link", func() Options {
		link := SymmetricLink(linkem.Config{Delay: time.Millisecond})
		return Options{Link: &link}
	}},
}

// TestSetPathMTU checks that a 1400-byte datagram with DF crosses the
// 1500-byte lab, is dropped after SetPathMTU(1280) with ICMP to whichever
// end sent it (the server's through the NAT), and crosses again after
// SetPathMTU(0).
func TestSetPathMTU(t *testing.T) {
	t.Parallel()
	for _, lab := range pathMTULabs {
		for _, fam := range families {
			t.Run(lab.desc+"/"+fam.desc, func(t *testing.T) {
				t.Parallel()
				l := NewForTest(t, lab.opts())
				srv := openUDPEnd(t, l, Server, fam.server(l), pmtuDo, false)
				cli := openUDPEnd(t, l, Client, fam.wildcard, pmtuDo, false)
				server := netip.MustParseAddrPort(srv.conn.LocalAddr().String())

				cli.mustSend(t, server, 1400)
				nat := srv.expect(t, 1400)
				srv.mustSend(t, nat, 1400)
				cli.expect(t, 1400)

				if err := l.SetPathMTU(1280); err != nil {
					t.Fatalf("SetPathMTU(1280): %v", err)
				}
				cli.mustSend(t, server, 1400)
				srv.expectNothing(t, 1400)
				cli.waitForEMSGSIZE(t, server, 1400)
				cli.mustSend(t, server, 1280)
				srv.expect(t, 1280)
				srv.mustSend(t, nat, 1400)
				cli.expectNothing(t, 1400)
				srv.waitForEMSGSIZE(t, nat, 1400)

				if err := l.SetPathMTU(0); err != nil {
					t.Fatalf("SetPathMTU(0): %v", err)
				}
				// The client's kernel keeps the path MTU it learned for
				// ten minutes; a socket that ignores it gets through.
				cli.waitForEMSGSIZE(t, server, 1400)
				probe := openUDPEnd(t, l, Client, fam.wildcard, pmtuProbe, false)
				probe.mustSend(t, server, 1400)
				srv.expect(t, 1400)
				// Until the cache is flushed.
				if err := l.FlushPathMTUCache(); err != nil {
					t.Fatalf("FlushPathMTUCache: %v", err)
				}
				cli.mustSend(t, server, 1400)
				srv.expect(t, 1400)
				srv.mustSend(t, nat, 1400)
				cli.expect(t, 1400)
			})
		}
	}
}

// TestSetPathMTUBlackHole checks that the black hole drops packets one
// byte over its MTU in both directions and sends no ICMP.
func TestSetPathMTUBlackHole(t *testing.T) {
	t.Parallel()
	for _, fam := range families {
		t.Run(fam.desc, func(t *testing.T) {
			t.Parallel()
			l := NewForTest(t, Options{})
			srv := openUDPEnd(t, l, Server, fam.server(l), pmtuDo, false)
			cli := openUDPEnd(t, l, Client, fam.wildcard, pmtuDo, false)
			server := netip.MustParseAddrPort(srv.conn.LocalAddr().String())
			cli.mustSend(t, server, 1281)
			nat := srv.expect(t, 1281)

			if err := l.SetPathMTUBlackHole(1280); err != nil {
				t.Fatalf("SetPathMTUBlackHole(1280): %v", err)
			}
			cli.mustSend(t, server, 1280)
			srv.expect(t, 1280)
			for range 3 {
				cli.mustSend(t, server, 1281) // no EMSGSIZE: no ICMP came back
				srv.mustSend(t, nat, 1281)
			}
			srv.expectNothing(t, 1281)
			cli.expectNothing(t, 1281)

			if err := l.SetPathMTUBlackHole(0); err != nil {
				t.Fatalf("SetPathMTUBlackHole(0): %v", err)
			}
			cli.mustSend(t, server, 1500)
			srv.expect(t, 1500)
		})
	}
}

func TestPathMTUArgumentErrors(t *testing.T) {
	t.Parallel()
	l := NewForTest(t, Options{})
	for _, mtu := range []int{-1, 1279, 1501} {
		if err := l.SetPathMTU(mtu); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("SetPathMTU(%d) = %v, want ErrInvalidArgument", mtu, err)
		}
		if err := l.SetPathMTUBlackHole(mtu); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("SetPathMTUBlackHole(%d) = %v, want ErrInvalidArgument", mtu, err)
		}
	}
}

// TestOptionsMTURange needs no root: New checks the MTU first.
func TestOptionsMTURange(t *testing.T) {
	t.Parallel()
	for _, mtu := range []int{-1, 576, 1279, 65536} {
		if _, err := New(Options{MTU: mtu}); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("New(Options{MTU: %d}) = %v, want ErrInvalidArgument", mtu, err)
		}
	}
}

// TestJumboMTU sends 8000-byte datagrams both ways, and checks TCP's
// segment size, through labs whose links all have a 9000-byte MTU.
func TestJumboMTU(t *testing.T) {
	t.Parallel()
	for _, lab := range pathMTULabs {
		for _, fam := range families {
			t.Run(lab.desc+"/"+fam.desc, func(t *testing.T) {
				t.Parallel()
				opts := lab.opts()
				opts.MTU = 9000
				l := NewForTest(t, opts)
				if l.MTU() != 9000 {
					t.Errorf("MTU() = %d, want 9000", l.MTU())
				}
				srv := openUDPEnd(t, l, Server, fam.server(l), pmtuDo, false)
				cli := openUDPEnd(t, l, Client, fam.wildcard, pmtuDo, false)
				server := netip.MustParseAddrPort(srv.conn.LocalAddr().String())
				cli.mustSend(t, server, 8000)
				nat := srv.expect(t, 8000)
				srv.mustSend(t, nat, 9000)
				cli.expect(t, 9000)
				if opts.Link != nil {
					if st := linkStats(t, l); st.LargestPacket != 9000 || st.WriteErrors != 0 {
						t.Errorf("LinkStats: largest packet %d, %d write errors; want 9000 and none", st.LargestPacket, st.WriteErrors)
					}
				}

				client, _ := tcpPair(t, l, fam.server(l))
				raw, err := client.SyscallConn()
				if err != nil {
					t.Fatal(err)
				}
				var info *unix.TCPInfo
				raw.Control(func(fd uintptr) { info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
				if err != nil {
					t.Fatalf("TCP_INFO: %v", err)
				}
				if info.Snd_mss < 8900 {
					t.Errorf("TCP sends %d-byte segments across a 9000-byte MTU, want about 8900 or more", info.Snd_mss)
				}
			})
		}
	}
}

// TestLinkCoDelMarksECN floods a CoDel-managed emulated link with ECT(0)
// datagrams, then Not-ECT ones, and checks that the first are marked CE,
// arriving (so with a valid IPv4 checksum, which the router checks) with
// the mark, and the second dropped.
func TestLinkCoDelMarksECN(t *testing.T) {
	t.Parallel()
	up := linkem.Config{RateBitsPerSecond: 20_000_000, QueueLimitTime: 200 * time.Millisecond,
		CoDel: linkem.CoDelConfig{ECN: true}}
	l := NewForTest(t, Options{Link: &LinkConfig{Up: up}})
	srv := openUDPEnd(t, l, Server, l.ServerAddr(), pmtuDo, true)
	server := netip.MustParseAddrPort(srv.conn.LocalAddr().String())

	flood := func(tos int) {
		t.Helper()
		cli := openUDPEnd(t, l, Client, netip.IPv4Unspecified(), pmtuDo, false)
		raw, _ := cli.conn.SyscallConn()
		var serr error
		raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS, tos) })
		if serr != nil {
			t.Fatalf("IP_TOS: %v", serr)
		}
		// Twice the link's rate for 600 ms: 40 packets of 1250 bytes every
		// 10 ms.
		for range 60 {
			for range 40 {
				cli.mustSend(t, server, 1250)
			}
			time.Sleep(10 * time.Millisecond)
		}
		waitFor(t, "the link to drain", 5*time.Second, func() bool {
			st := linkStats(t, l)
			return st.Up.Delivered+st.Up.CoDelDropped+st.Up.QueueFull+st.Up.Overflow == st.Up.Offered
		})
		time.Sleep(50 * time.Millisecond) // the last deliveries reach the reader
	}
	flood(0b10) // ECT(0)
	st := linkStats(t, l)
	ce := srv.ce.Load()
	t.Logf("ECT(0) flood: up %+v; %d datagrams arrived, %d of them CE", st.Up, srv.received.Load(), ce)
	if st.Up.CEMarked < 5 || st.Up.CoDelDropped != 0 {
		t.Errorf("ECT(0) flood: %d marked, %d dropped by CoDel; want at least 5 marked, none dropped", st.Up.CEMarked, st.Up.CoDelDropped)
	}
	if uint64(ce) != st.Up.CEMarked || uint64(srv.received.Load()) != st.Up.Delivered {
		t.Errorf("%d datagrams arrived, %d with CE; the link delivered %d and marked %d", srv.received.Load(), ce, st.Up.Delivered, st.Up.CEMarked)
	}

	flood(0) // Not-ECT
	st2 := linkStats(t, l)
	if srv.ce.Load() != ce || st2.Up.CEMarked != st.Up.CEMarked || st2.Up.CoDelDropped < 5 {
		t.Errorf("Not-ECT flood: up %+v, want at least 5 dropped by CoDel and no new marks", st2.Up)
	}
}

// TestSetTCPECN checks that a TCP connection negotiates ECN only while
// SetTCPECN(true) is in force.
func TestSetTCPECN(t *testing.T) {
	t.Parallel()
	l := NewForTest(t, Options{})
	// TCPI_OPT_ECN in include/uapi/linux/tcp.h.
	const tcpiOptECN = 8
	negotiated := func() bool {
		t.Helper()
		client, _ := tcpPair(t, l, l.ServerAddr())
		raw, err := client.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var info *unix.TCPInfo
		raw.Control(func(fd uintptr) { info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
		if err != nil {
			t.Fatalf("TCP_INFO: %v", err)
		}
		return info.Options&tcpiOptECN != 0
	}
	sysctl := func(side Side) string {
		var b []byte
		if err := l.In(side, func() (err error) {
			b, err = os.ReadFile("/proc/sys/net/ipv4/tcp_ecn")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return string(b[:len(b)-1])
	}
	if negotiated() {
		t.Errorf("ECN negotiated with the kernel's default")
	}
	if err := l.SetTCPECN(true); err != nil {
		t.Fatalf("SetTCPECN(true): %v", err)
	}
	if c, s := sysctl(Client), sysctl(Server); c != "1" || s != "1" {
		t.Errorf("tcp_ecn client %s, server %s; want 1 and 1", c, s)
	}
	if !negotiated() {
		t.Errorf("ECN not negotiated after SetTCPECN(true)")
	}
	if err := l.SetTCPECN(false); err != nil {
		t.Fatalf("SetTCPECN(false): %v", err)
	}
	if c, s := sysctl(Client), sysctl(Server); c != "2" || s != "2" {
		t.Errorf("tcp_ecn client %s, server %s after SetTCPECN(false); want 2 and 2", c, s)
	}
	if negotiated() {
		t.Errorf("ECN negotiated after SetTCPECN(false)")
	}
}
