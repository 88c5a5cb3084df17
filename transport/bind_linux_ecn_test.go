//go:build linux

package transport

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/internal/testutil"
)

// bindECNPaths are the socket pairs the ECN and Local tests send over: rx
// listens on listen, and tx sends to dst's address at rx's port.
var bindECNPaths = []struct {
	desc       string
	txNet, tx  string
	rxNet, rx  string
	dst        string
	dualStack4 bool // IPv4 crosses an AF_INET6 socket
}{
	{desc: "IPv4", txNet: "udp4", tx: "127.0.0.1:0", rxNet: "udp4", rx: "127.0.0.1:0", dst: "127.0.0.1"},
	{desc: "IPv6", txNet: "udp6", tx: "[::1]:0", rxNet: "udp6", rx: "[::1]:0", dst: "::1"},
	{desc: "dual-stack sender to IPv4 peer", txNet: "udp", tx: "[::]:0", rxNet: "udp4", rx: "127.0.0.1:0", dst: "127.0.0.1", dualStack4: true},
	{desc: "dual-stack receiver from IPv4 peer", txNet: "udp4", tx: "127.0.0.1:0", rxNet: "udp", rx: "[::]:0", dst: "127.0.0.1", dualStack4: true},
}

// ecnSegment is one datagram as received, with its codepoint.
type ecnSegment struct {
	payload []byte
	ecn     ECN
}

func TestBindCarriesECN(t *testing.T) {
	// A batch in which every way of building messages meets every
	// codepoint: runs that GSO would join but for a change of codepoint,
	// a lone datagram, and trains.
	type part struct {
		ecn         ECN
		count, size int
		train       bool // one Datagram with SegmentSize, else count Datagrams
	}
	batch := []part{
		{ecn: packet.ECNECT0, count: 3, size: 1200},
		{ecn: packet.ECNECT1, count: 3, size: 1200},
		{ecn: packet.ECNCE, count: 2, size: 1200},
		{ecn: packet.ECNNotECT, count: 1, size: 1200},
		{ecn: packet.ECNECT0, count: 1, size: 500},
		{ecn: packet.ECNECT0, count: 5, size: 1000, train: true},
		{ecn: packet.ECNCE, count: 4, size: 1000, train: true},
		{ecn: packet.ECNECT1, count: 4, size: 1000, train: true},
	}
	for _, path := range bindECNPaths {
		for _, opts := range []struct {
			desc   string
			tx, rx bindOptions
		}{
			{desc: "GSO and GRO", tx: bindOptions{}, rx: bindOptions{}},
			{desc: "GSO to a receiver without GRO", tx: bindOptions{}, rx: bindOptions{noGRO: true}},
			{desc: "no offload", tx: bindOptions{noGSO: true, noGRO: true}, rx: bindOptions{noGSO: true, noGRO: true}},
		} {
			t.Run(path.desc+"/"+opts.desc, func(t *testing.T) {
				testutil.CheckGoroutines(t)
				tx := bindOpen(t, bindListener(opts.tx), path.txNet, path.tx)
				rx := bindOpen(t, bindListener(opts.rx), path.rxNet, path.rx)
				to := netip.AddrPortFrom(netip.MustParseAddr(path.dst), rx.LocalAddr().Port())
				var dgrams []Datagram
				var want []ecnSegment
				for _, p := range batch {
					if p.train {
						d, payloads := bindTrain(p.count, p.size, p.size, to)
						d.ECN = p.ecn
						dgrams = append(dgrams, d)
						for _, pl := range payloads {
							want = append(want, ecnSegment{pl, p.ecn})
						}
						continue
					}
					for range p.count {
						pl := bindPayload(len(want), p.size)
						dgrams = append(dgrams, Datagram{Buf: pl, N: p.size, Addr: to, ECN: p.ecn})
						want = append(want, ecnSegment{pl, p.ecn})
					}
				}
				if err := tx.WriteBatch(dgrams); err != nil {
					t.Fatalf("WriteBatch: %v", err)
				}
				read := bindRead(t, rx, len(want))
				var got []ecnSegment
				trains := 0
				for _, d := range read {
					if d.NumSegments() > 1 {
						trains++
					}
					for s := range d.NumSegments() {
						got = append(got, ecnSegment{d.Segment(s), d.ECN})
					}
				}
				if len(got) != len(want) {
					t.Fatalf("received %d datagrams, want %d", len(got), len(want))
				}
				for i := range want {
					if !bytes.Equal(got[i].payload, want[i].payload) || got[i].ecn != want[i].ecn {
						t.Errorf("datagram %d: got %d bytes with %v, want %d bytes with %v", i, len(got[i].payload), got[i].ecn, len(want[i].payload), want[i].ecn)
					}
				}
				// Each run of one codepoint and size goes as one GSO
				// send, which a GRO receiver reads as one train.
				if wantTrains := 6; opts.tx == (bindOptions{}) && opts.rx == (bindOptions{}) && trains != wantTrains {
					t.Errorf("GRO trains read: got %d, want %d", trains, wantTrains)
				}
			})
		}
	}
}

func TestBindReportsAndSendsFromLocal(t *testing.T) {
	tests := []struct {
		desc          string
		network, addr string   // the Bind's
		peerNet, peer string   // a plain socket's
		dsts          []string // addresses of this host the peer sends to
	}{
		{desc: "IPv4 wildcard", network: "udp4", addr: "0.0.0.0:0", peerNet: "udp4", peer: "127.0.0.1:0", dsts: []string{"127.0.0.1", "127.0.0.2"}},
		{desc: "dual-stack wildcard, IPv4 peer", network: "udp", addr: "[::]:0", peerNet: "udp4", peer: "127.0.0.1:0", dsts: []string{"127.0.0.1", "127.0.0.2"}},
		{desc: "dual-stack wildcard, IPv6 peer", network: "udp", addr: "[::]:0", peerNet: "udp6", peer: "[::1]:0", dsts: []string{"::1"}},
		{desc: "IPv6 wildcard", network: "udp6", addr: "[::]:0", peerNet: "udp6", peer: "[::1]:0", dsts: []string{"::1"}},
	}
	for _, tt := range tests {
		for _, dst := range tt.dsts {
			t.Run(tt.desc+"/"+dst, func(t *testing.T) {
				testutil.CheckGoroutines(t)
				b := bindOpen(t, ListenUDP, tt.network, tt.addr)
				peer, err := net.ListenUDP(tt.peerNet, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tt.peer)))
				if err != nil {
					t.Fatal(err)
				}
				defer peer.Close()
				peerAddr := unmapAddrPort(peer.LocalAddr().(*net.UDPAddr).AddrPort())
				local := netip.AddrPortFrom(netip.MustParseAddr(dst), b.LocalAddr().Port())
				if _, err := peer.WriteToUDPAddrPort([]byte("ping"), local); err != nil {
					t.Fatal(err)
				}
				got := bindRead(t, b, 1)[0]
				if got.Local != local.Addr() || got.Addr != peerAddr {
					t.Errorf("ping: got Local %v from %v, want Local %v from %v", got.Local, got.Addr, local.Addr(), peerAddr)
				}

				// A run that GSO joins, sent from the address the peer
				// used: every datagram of it leaves from there.
				const replies = 3
				var batch []Datagram
				for i := range replies {
					p := bindPayload(i, 1000)
					batch = append(batch, Datagram{Buf: p, N: len(p), Addr: got.Addr, Local: got.Local})
				}
				if err := b.WriteBatch(batch); err != nil {
					t.Fatalf("WriteBatch from %v: %v", got.Local, err)
				}
				peer.SetReadDeadline(time.Now().Add(10 * time.Second))
				buf := make([]byte, 2000)
				for i := range replies {
					n, from, err := peer.ReadFromUDPAddrPort(buf)
					if err != nil {
						t.Fatalf("reply %d: %v", i, err)
					}
					if from = unmapAddrPort(from); from != local || !bytes.Equal(buf[:n], batch[i].Data()) {
						t.Errorf("reply %d: got %d bytes from %v, want %d bytes from %v", i, n, from, batch[i].N, local)
					}
				}
			})
		}
	}
}

// TestBindReadsEveryControlMessage has a dual-stack socket receive, from
// an IPv4 peer, a datagram that brings every control message at once:
// the drop count, a GRO train, the TOS and both PKTINFOs.
func TestBindReadsEveryControlMessage(t *testing.T) {
	b := bindOpen(t, ListenUDP, "udp", "[::]:0").(*linuxBind)
	if err := b.raw.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 1) // a few datagrams
	}); err != nil {
		t.Fatal(err)
	}
	sender := bindOpen(t, ListenUDP, "udp4", "127.0.0.1:0")
	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), b.LocalAddr().Port())
	for i := range 100 {
		p := bindPayload(i, 1000)
		if err := sender.WriteBatch([]Datagram{{Buf: p, N: len(p), Addr: to}}); err != nil {
			t.Fatal(err)
		}
	}
	// Drain what fitted (FIONREAD is 0 once nothing is queued): loopback
	// delivered it all during the sends.
	dgrams := bindReadBuffers(1)
	b.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for bindQueued(t, b) {
		if _, err := b.ReadBatch(dgrams); err != nil {
			t.Fatal(err)
		}
	}
	train, want := bindTrain(2, 600, 600, to)
	train.ECN = packet.ECNECT0
	if err := sender.WriteBatch([]Datagram{train}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadBatch(dgrams); err != nil {
		t.Fatal(err)
	}
	d := dgrams[0]
	if d.SegmentSize != 600 || d.ECN != packet.ECNECT0 || d.Local != to.Addr() || d.Addr != sender.LocalAddr() {
		t.Errorf("read: got segment size %d, %v, Local %v, from %v; want 600, ECT(0), Local %v, from %v",
			d.SegmentSize, d.ECN, d.Local, d.Addr, to.Addr(), sender.LocalAddr())
	}
	bindCheckPayloads(t, [][]byte{d.Segment(0), d.Segment(1)}, want)
	if b.ReceiveDrops() == 0 {
		t.Errorf("ReceiveDrops: got 0, want the datagrams that did not fit")
	}
	h := &b.rd.hdrs[0].Hdr
	if h.Flags&unix.MSG_CTRUNC != 0 {
		t.Errorf("control messages truncated: %d bytes of %d", h.Controllen, recvOOBWords*8)
	}
	t.Logf("control messages: %d of %d bytes", h.Controllen, recvOOBWords*8)
}

func TestParseRecvControl(t *testing.T) {
	type msg struct {
		level, typ int
		data       []byte
	}
	pktinfo4 := append(u32(1), 127, 0, 0, 1, 127, 0, 0, 2) // ifindex, spec_dst, addr
	mapped := netip.MustParseAddr("::ffff:127.0.0.2").As16()
	ll := netip.MustParseAddr("fe80::1").As16()
	tests := []struct {
		desc string
		msgs []msg
		want recvControl
	}{
		{
			desc: "dual-stack socket, IPv4 datagram, everything",
			msgs: []msg{
				{unix.SOL_SOCKET, unix.SO_RXQ_OVFL, u32(7)},
				{unix.IPPROTO_UDP, unix.UDP_GRO, u32(1200)},
				{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, append(mapped[:], u32(1)...)},
				{unix.IPPROTO_IP, unix.IP_PKTINFO, pktinfo4},
				{unix.IPPROTO_IP, unix.IP_TOS, []byte{0xb8 | 0b11}},
			},
			want: recvControl{segSize: 1200, drops: 7, hasDrops: true, ecn: packet.ECNCE, dst: netip.MustParseAddr("127.0.0.2")},
		},
		{
			desc: "IPv6 datagram",
			msgs: []msg{
				{unix.IPPROTO_UDP, unix.UDP_GRO, u32(1452)},
				{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, append(netip.IPv6Loopback().AsSlice(), u32(1)...)},
				{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, u32(0b01)},
			},
			want: recvControl{segSize: 1452, ecn: packet.ECNECT1, dst: netip.IPv6Loopback()},
		},
		{
			desc: "IP_TOS as an int",
			msgs: []msg{{unix.IPPROTO_IP, unix.IP_TOS, u32(0b10)}},
			want: recvControl{ecn: packet.ECNECT0},
		},
		{
			desc: "link-local destination gets its interface as zone",
			msgs: []msg{{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, append(ll[:], u32(3)...)}},
			want: recvControl{dst: netip.MustParseAddr("fe80::1%3")},
		},
		{
			desc: "short PKTINFO is ignored",
			msgs: []msg{{unix.IPPROTO_IP, unix.IP_PKTINFO, pktinfo4[:8]}},
			want: recvControl{},
		},
	}
	for _, tt := range tests {
		var buf [recvOOBWords * 8]byte
		n := 0
		for _, m := range tt.msgs {
			if n+unix.CmsgSpace(len(m.data)) > len(buf) {
				t.Fatalf("%s: control messages overflow the %d-byte receive buffer", tt.desc, len(buf))
			}
			var data []byte
			data, n = putCmsg(buf[:], n, m.level, m.typ, len(m.data))
			copy(data, m.data)
		}
		if got := parseRecvControl(buf[:n]); got != tt.want {
			show := func(rc recvControl) string {
				return fmt.Sprintf("segment size %d, drops %d (%t), %v, destination %v", rc.segSize, rc.drops, rc.hasDrops, rc.ecn, rc.dst)
			}
			t.Errorf("%s: got %s; want %s", tt.desc, show(got), show(tt.want))
		}
	}
}

func TestPutSendControl(t *testing.T) {
	type msg struct {
		level, typ int
		data       string
	}
	pktinfo4 := func(a string) string { // ifindex, spec_dst, addr
		a4 := netip.MustParseAddr(a).As4()
		return string(u32(0)) + string(a4[:]) + "\x00\x00\x00\x00"
	}
	pktinfo6 := func(a string) string { // addr, ifindex
		a16 := netip.MustParseAddr(a).As16()
		return string(a16[:]) + string(u32(0))
	}
	tests := []struct {
		desc  string
		seg   int
		ecn   ECN
		local string
		to    string
		want  []msg
	}{
		{desc: "nothing", to: "127.0.0.1", want: nil},
		{desc: "GSO only", seg: 1200, to: "127.0.0.1", want: []msg{{unix.IPPROTO_UDP, unix.UDP_SEGMENT, string(u16(1200))}}},
		{
			desc: "IPv4: segment, TOS and source", seg: 1000, ecn: packet.ECNECT0, local: "127.0.0.2", to: "127.0.0.1",
			want: []msg{
				{unix.IPPROTO_UDP, unix.UDP_SEGMENT, string(u16(1000))},
				{unix.IPPROTO_IP, unix.IP_TOS, string(u32(0b10))},
				{unix.IPPROTO_IP, unix.IP_PKTINFO, pktinfo4("127.0.0.2")},
			},
		},
		{
			desc: "IPv4-mapped destination and source take the IPv4 messages", ecn: packet.ECNCE, local: "::ffff:127.0.0.2", to: "::ffff:127.0.0.1",
			want: []msg{
				{unix.IPPROTO_IP, unix.IP_TOS, string(u32(0b11))},
				{unix.IPPROTO_IP, unix.IP_PKTINFO, pktinfo4("127.0.0.2")},
			},
		},
		{
			desc: "IPv6: the most a message carries", seg: 1452, ecn: packet.ECNECT1, local: "::1", to: "::1",
			want: []msg{
				{unix.IPPROTO_UDP, unix.UDP_SEGMENT, string(u16(1452))},
				{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, string(u32(0b01))},
				{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, pktinfo6("::1")},
			},
		},
		{desc: "source of the other family is ignored", local: "::1", to: "127.0.0.1", want: nil},
		{desc: "IPv4 source for an IPv6 peer is ignored", local: "127.0.0.1", to: "::1", want: nil},
	}
	for _, tt := range tests {
		var buf [sendOOBWords * 8]byte
		var local netip.Addr
		if tt.local != "" {
			local = netip.MustParseAddr(tt.local)
		}
		n := putSendControl(buf[:], tt.seg, tt.ecn, local, netip.MustParseAddr(tt.to))
		msgs, err := unix.ParseSocketControlMessage(buf[:n])
		if err != nil {
			t.Errorf("%s: %v", tt.desc, err)
			continue
		}
		var got []msg
		for _, m := range msgs {
			got = append(got, msg{int(m.Header.Level), int(m.Header.Type), string(m.Data)})
		}
		if !slices.Equal(got, tt.want) {
			show := func(msgs []msg) (s string) {
				for _, m := range msgs {
					s += fmt.Sprintf("[%d %d %x]", m.level, m.typ, m.data)
				}
				return s
			}
			t.Errorf("%s: got %s, want %s", tt.desc, show(got), show(tt.want))
		}
	}
}

func u16(v uint16) []byte { return binary.NativeEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
