//go:build linux

package transport

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/internal/testutil"
)

// bindListener returns a listen function with the given offloads.
func bindListener(opts bindOptions) func(string, string) (Bind, error) {
	return func(network, address string) (Bind, error) { return listenUDP(network, address, opts) }
}

// bindTrain returns a train of count test payloads of seg bytes, the last
// one last bytes long, addressed to to.
func bindTrain(count, seg, last int, to netip.AddrPort) (Datagram, [][]byte) {
	var buf []byte
	var want [][]byte
	for i := range count {
		size := seg
		if i == count-1 {
			size = last
		}
		p := bindPayload(i, size)
		want = append(want, p)
		buf = append(buf, p...)
	}
	return Datagram{Buf: buf, N: len(buf), SegmentSize: seg, Addr: to}, want
}

// bindCheckPayloads compares received segments with what was sent.
func bindCheckPayloads(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("received %d datagrams, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("datagram %d: got %d bytes, want %d bytes, or contents differ", i, len(got[i]), len(want[i]))
		}
	}
}

func TestBindGSOTrainArrivesWhole(t *testing.T) {
	tests := []struct {
		desc     string
		rx       bindOptions
		wantRead []int // SegmentSize of each Datagram ReadBatch returns
	}{
		{desc: "plain receiver gets one datagram per segment", rx: bindOptions{noGRO: true}, wantRead: []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{desc: "GRO receiver gets the train", rx: bindOptions{}, wantRead: []int{1200}},
	}
	for _, tt := range tests {
		for _, lo := range bindLoopbacks {
			t.Run(tt.desc+"/"+lo.network, func(t *testing.T) {
				testutil.CheckGoroutines(t)
				tx := bindOpen(t, ListenUDP, lo.network, lo.address)
				rx := bindOpen(t, bindListener(tt.rx), lo.network, lo.address)
				if got := tx.MaxSegments(); got != maxGSOSegments {
					t.Fatalf("MaxSegments: got %d, want %d (this kernel has UDP_SEGMENT)", got, maxGSOSegments)
				}
				train, want := bindTrain(10, 1200, 700, rx.LocalAddr())
				if err := tx.WriteBatch([]Datagram{train}); err != nil {
					t.Fatalf("WriteBatch: %v", err)
				}
				read := bindRead(t, rx, 10)
				var segSizes []int
				for _, d := range read {
					segSizes = append(segSizes, d.SegmentSize)
				}
				if !slices.Equal(segSizes, tt.wantRead) {
					t.Errorf("segment sizes of the Datagrams read: got %v, want %v", segSizes, tt.wantRead)
				}
				got, addrs := bindFlatten(read)
				bindCheckPayloads(t, got, want)
				for i, a := range addrs {
					if a != tx.LocalAddr() {
						t.Errorf("datagram %d source: got %v, want %v", i, a, tx.LocalAddr())
					}
				}
			})
		}
	}
}

func TestBindCoalescesRunIntoOneGSOSend(t *testing.T) {
	testutil.CheckGoroutines(t)
	tx := bindOpen(t, ListenUDP, "udp4", "127.0.0.1:0")
	rx := bindOpen(t, ListenUDP, "udp4", "127.0.0.1:0")
	var batch []Datagram
	var want [][]byte
	for i := range 21 {
		size := 1000
		if i == 20 {
			size = 500
		}
		p := bindPayload(i, size)
		want = append(want, p)
		batch = append(batch, Datagram{Buf: p, N: size, Addr: rx.LocalAddr()})
	}
	if err := tx.WriteBatch(batch); err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
	read := bindRead(t, rx, 21)
	// One GSO send arrives at a GRO receiver as one train.
	if len(read) != 1 || read[0].SegmentSize != 1000 || read[0].N != 20500 {
		t.Errorf("read: got %d Datagrams, the first with segment size %d and N %d; want 1 with 1000 and 20500", len(read), read[0].SegmentSize, read[0].N)
	}
	got, _ := bindFlatten(read)
	bindCheckPayloads(t, got, want)
}

func TestBindSplitsTrainLongerThanOneSend(t *testing.T) {
	testutil.CheckGoroutines(t)
	tx := bindOpen(t, ListenUDP, "udp6", "[::1]:0")
	rx := bindOpen(t, ListenUDP, "udp6", "[::1]:0")
	train, want := bindTrain(100, 1452, 1452, rx.LocalAddr())
	if err := tx.WriteBatch([]Datagram{train}); err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
	read := bindRead(t, rx, 100)
	// 45 segments of 1452 bytes is the most under the 65,507-byte limit.
	var counts []int
	for _, d := range read {
		counts = append(counts, d.NumSegments())
	}
	if !slices.Equal(counts, []int{45, 45, 10}) {
		t.Errorf("segments per train read: got %v, want [45 45 10]", counts)
	}
	got, _ := bindFlatten(read)
	bindCheckPayloads(t, got, want)
}

func TestBindFallsBackWhenKernelRefusesGSO(t *testing.T) {
	testutil.CheckGoroutines(t)
	txBind := bindOpen(t, ListenUDP, "udp4", "127.0.0.1:0")
	rx := bindOpen(t, bindListener(bindOptions{noGRO: true}), "udp4", "127.0.0.1:0")
	// A socket that sends without UDP checksums cannot use GSO: Linux
	// refuses UDP_SEGMENT on it with EINVAL, as it refuses with EIO on a
	// device without checksum offload.
	tx := txBind.(*linuxBind)
	var optErr error
	if err := tx.raw.Control(func(fd uintptr) {
		optErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NO_CHECK, 1)
	}); err != nil || optErr != nil {
		t.Fatalf("SO_NO_CHECK: %v %v", err, optErr)
	}
	if got := tx.MaxSegments(); got != maxGSOSegments {
		t.Fatalf("MaxSegments before the failure: got %d, want %d", got, maxGSOSegments)
	}

	// A lone datagram first, then a train and a run that would use GSO: all
	// must arrive, in order.
	lone := Datagram{Buf: bindPayload(0, 300), N: 300, Addr: rx.LocalAddr()}
	train, trainWant := bindTrain(5, 1200, 1200, rx.LocalAddr())
	batch := []Datagram{lone, train}
	want := append([][]byte{lone.Data()}, trainWant...)
	for i := range 3 {
		p := bindPayload(100+i, 800)
		batch = append(batch, Datagram{Buf: p, N: 800, Addr: rx.LocalAddr()})
		want = append(want, p)
	}
	if err := tx.WriteBatch(batch); err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
	got, _ := bindFlatten(bindRead(t, rx, len(want)))
	bindCheckPayloads(t, got, want)
	if got := tx.MaxSegments(); got != 1 {
		t.Errorf("MaxSegments after the kernel refused GSO: got %d, want 1", got)
	}
}

func TestBindGROFollowsBufferSize(t *testing.T) {
	testutil.CheckGoroutines(t)
	tx := bindOpen(t, ListenUDP, "udp4", "127.0.0.1:0")
	rx := bindOpen(t, ListenUDP, "udp4", "127.0.0.1:0")
	small := []Datagram{{Buf: make([]byte, 1500)}, {Buf: make([]byte, 1500)}}
	read := func(dgrams []Datagram) Datagram {
		t.Helper()
		n, err := rx.ReadBatch(dgrams[:1])
		if err != nil || n != 1 {
			t.Fatalf("ReadBatch: got (%d, %v), want (1, nil)", n, err)
		}
		return dgrams[0]
	}
	sendTrain := func() [][]byte {
		t.Helper()
		train, want := bindTrain(3, 1200, 1200, rx.LocalAddr())
		if err := tx.WriteBatch([]Datagram{train}); err != nil {
			t.Fatalf("WriteBatch: %v", err)
		}
		return want
	}
	lone := []Datagram{{Buf: []byte("lone"), N: 4, Addr: rx.LocalAddr()}}

	// A read with short buffers turns GRO off before it waits, so the
	// train sent after it arrives as separate datagrams.
	if err := tx.WriteBatch(lone); err != nil {
		t.Fatal(err)
	}
	if d := read(small); string(d.Data()) != "lone" {
		t.Fatalf("first read: got %q, want \"lone\"", d.Data())
	}
	want := sendTrain()
	for i := range want {
		d := read(small)
		if d.SegmentSize != 0 || !bytes.Equal(d.Data(), want[i]) {
			t.Errorf("short-buffer read %d: got %d bytes, segment size %d; want datagram %d alone", i, d.N, d.SegmentSize, i)
		}
	}

	// Full-size buffers turn it back on.
	if err := tx.WriteBatch(lone); err != nil {
		t.Fatal(err)
	}
	big := bindReadBuffers(1)
	if d := read(big); string(d.Data()) != "lone" {
		t.Fatalf("read: got %q, want \"lone\"", d.Data())
	}
	want = sendTrain()
	d := read(big)
	if d.SegmentSize != 1200 || d.NumSegments() != 3 {
		t.Fatalf("full-size read: got %d bytes, segment size %d; want a train of 3 × 1200", d.N, d.SegmentSize)
	}
	bindCheckPayloads(t, [][]byte{d.Segment(0), d.Segment(1), d.Segment(2)}, want)
}

func TestBindSocketOptions(t *testing.T) {
	b := bindOpen(t, ListenUDP, "udp", "[::]:0").(*linuxBind)
	wantBuf := func(limitFile string) int {
		if os.Geteuid() == 0 {
			return 2 * socketBufferSize // the FORCE options pass the limit
		}
		raw, err := os.ReadFile(limitFile)
		limit, err2 := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil || err2 != nil {
			t.Fatalf("reading %s: %v %v", limitFile, err, err2)
		}
		return 2 * min(limit, socketBufferSize)
	}
	tests := []struct {
		desc        string
		level, name int
		want        int
	}{
		{desc: "SO_RCVBUF", level: unix.SOL_SOCKET, name: unix.SO_RCVBUF, want: wantBuf("/proc/sys/net/core/rmem_max")},
		{desc: "SO_SNDBUF", level: unix.SOL_SOCKET, name: unix.SO_SNDBUF, want: wantBuf("/proc/sys/net/core/wmem_max")},
		{desc: "IP_MTU_DISCOVER", level: unix.IPPROTO_IP, name: unix.IP_MTU_DISCOVER, want: unix.IP_PMTUDISC_PROBE},
		{desc: "IPV6_MTU_DISCOVER", level: unix.IPPROTO_IPV6, name: unix.IPV6_MTU_DISCOVER, want: unix.IPV6_PMTUDISC_PROBE},
		{desc: "UDP_GRO", level: unix.IPPROTO_UDP, name: unix.UDP_GRO, want: 1},
		{desc: "SO_RXQ_OVFL", level: unix.SOL_SOCKET, name: unix.SO_RXQ_OVFL, want: 1},
	}
	for _, tt := range tests {
		var got int
		var optErr error
		if err := b.raw.Control(func(fd uintptr) {
			got, optErr = unix.GetsockoptInt(int(fd), tt.level, tt.name)
		}); err != nil || optErr != nil {
			t.Fatalf("%s: %v %v", tt.desc, err, optErr)
		}
		if got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.desc, got, tt.want)
		}
	}
	if !b.v6 {
		t.Errorf("socket on [::]: got AF_INET, want AF_INET6")
	}
}

func TestBindSteadyStateAllocatesNothing(t *testing.T) {
	tests := []struct {
		desc   string
		opts   bindOptions
		trains bool
		marked bool // sent with ECN and Local, so with IPV6_TCLASS and IPV6_PKTINFO
	}{
		{desc: "plain batches", opts: bindOptions{noGSO: true, noGRO: true}},
		{desc: "GSO coalescing and GRO", opts: bindOptions{}},
		{desc: "GSO trains and GRO", opts: bindOptions{}, trains: true},
		{desc: "plain batches with ECN and Local", opts: bindOptions{noGSO: true, noGRO: true}, marked: true},
		{desc: "GSO trains with ECN and Local", opts: bindOptions{}, trains: true, marked: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tx := bindOpen(t, bindListener(tt.opts), "udp", "[::]:0")
			rx := bindOpen(t, bindListener(tt.opts), "udp6", "[::1]:0")
			to := rx.LocalAddr()
			batch := make([]Datagram, 32)
			for i := range batch {
				batch[i] = Datagram{Buf: bindPayload(i, 1452), N: 1452, Addr: to}
			}
			perWrite := len(batch)
			if tt.trains {
				train, _ := bindTrain(40, 1452, 1452, to)
				batch = []Datagram{train}
				perWrite = 40
			}
			if tt.marked {
				for i := range batch {
					batch[i].ECN, batch[i].Local = packet.ECNECT0, to.Addr()
				}
			}
			reads := bindReadBuffers(rx.BatchSize())
			// A lost datagram would block ReadBatch: fail instead of hanging.
			watchdog := time.AfterFunc(10*time.Second, func() { rx.Close() })
			defer watchdog.Stop()
			allocs := testing.AllocsPerRun(20, func() {
				if err := tx.WriteBatch(batch); err != nil {
					t.Fatalf("WriteBatch: %v", err)
				}
				for got := 0; got < perWrite; {
					n, err := rx.ReadBatch(reads)
					if err != nil {
						t.Fatalf("ReadBatch: %v", err)
					}
					for _, d := range reads[:n] {
						got += d.NumSegments()
					}
				}
			})
			if allocs != 0 {
				t.Errorf("allocations per WriteBatch and ReadBatch round: got %v, want 0", allocs)
			}
		})
	}
}

func TestSockaddrRoundTrip(t *testing.T) {
	tests := []struct {
		desc    string
		addr    string
		v6      bool
		wantLen int
		want    string // what decodeSockaddr gives back
	}{
		{desc: "IPv4 on an IPv4 socket", addr: "192.0.2.1:443", wantLen: unix.SizeofSockaddrInet4, want: "192.0.2.1:443"},
		{desc: "IPv4-mapped on an IPv4 socket", addr: "[::ffff:192.0.2.1]:443", wantLen: unix.SizeofSockaddrInet4, want: "192.0.2.1:443"},
		{desc: "IPv4 on a dual-stack socket comes back unmapped", addr: "192.0.2.1:443", v6: true, wantLen: unix.SizeofSockaddrInet6, want: "192.0.2.1:443"},
		{desc: "IPv6", addr: "[2001:db8::1]:65535", v6: true, wantLen: unix.SizeofSockaddrInet6, want: "[2001:db8::1]:65535"},
		{desc: "link-local with a numeric zone", addr: "[fe80::1%7]:1", v6: true, wantLen: unix.SizeofSockaddrInet6, want: "[fe80::1%7]:1"},
	}
	for _, tt := range tests {
		var b [sockaddrSize]byte
		for i := range b {
			b[i] = 0xAA // stale bytes from an earlier use must not leak through
		}
		n := encodeSockaddr(&b, netip.MustParseAddrPort(tt.addr), tt.v6)
		if n != tt.wantLen {
			t.Errorf("%s: encoded length: got %d, want %d", tt.desc, n, tt.wantLen)
		}
		if got := decodeSockaddr(&b); got.String() != tt.want {
			t.Errorf("%s: decoded: got %v, want %s", tt.desc, got, tt.want)
		}
	}
}

func TestBindIPv4SocketSkipsIPv6Peer(t *testing.T) {
	b := bindOpen(t, ListenUDP, "udp4", "127.0.0.1:0")
	batch := []Datagram{{Buf: []byte("x"), N: 1, Addr: netip.MustParseAddrPort("[::1]:9")}}
	if err := b.WriteBatch(batch); !errors.Is(err, errBadDatagram) {
		t.Errorf("WriteBatch to an IPv6 peer from an IPv4 socket: got %v, want errBadDatagram", err)
	}
}

// TestBindCountsReceiveBufferDrops overflows a socket's receive buffer and
// checks that ReceiveDrops counts exactly the datagrams that did not fit,
// as the kernel reports them with the next datagram read.
func TestBindCountsReceiveBufferDrops(t *testing.T) {
	b := bindOpen(t, ListenUDP, "udp4", "127.0.0.1:0").(*linuxBind)
	if err := b.raw.Control(func(fd uintptr) {
		// The kernel's floor (about 2 KiB, doubled): a few datagrams.
		unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 1)
	}); err != nil {
		t.Fatal(err)
	}
	sender := bindOpen(t, ListenUDP, "udp4", "127.0.0.1:0")
	const sent = 100
	for i := range sent {
		p := bindPayload(i, 1000)
		if err := sender.WriteBatch([]Datagram{{Buf: p, N: len(p), Addr: b.LocalAddr()}}); err != nil {
			t.Fatal(err)
		}
	}
	dgrams := make([]Datagram, 1)
	dgrams[0].Buf = make([]byte, BindReadBufferSize)
	b.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	read := func() []byte {
		t.Helper()
		if _, err := b.ReadBatch(dgrams); err != nil {
			t.Fatal(err)
		}
		return dgrams[0].Data()
	}
	// Read what fitted: the sends went through loopback synchronously,
	// so everything queued is there now (FIONREAD: the next datagram's
	// size, 0 when none is queued).
	got := 0
	for bindQueued(t, b) {
		read()
		got++
	}
	if b.ReceiveDrops() != 0 {
		t.Fatalf("drops counted before the kernel reported any")
	}
	// The next datagram to arrive carries the count of those dropped.
	marker := []byte("marker")
	if err := sender.WriteBatch([]Datagram{{Buf: marker, N: len(marker), Addr: b.LocalAddr()}}); err != nil {
		t.Fatal(err)
	}
	if d := read(); !bytes.Equal(d, marker) {
		t.Fatalf("read %q, want the marker", d)
	}
	if got == sent {
		t.Fatalf("all %d datagrams fitted: no overflow to count", sent)
	}
	if drops := b.ReceiveDrops(); drops != uint64(sent-got) {
		t.Errorf("ReceiveDrops = %d, want %d (%d of %d datagrams read)", drops, sent-got, got, sent)
	}
}

// bindOversizeBatch returns a batch to `to` with oversize datagrams amid
// ones that fit: a lone one, a run GSO would join and a train, each over
// the limit at `huge` bytes; and the payloads that must arrive.
func bindOversizeBatch(to netip.AddrPort, fit, huge int) ([]Datagram, [][]byte) {
	var batch []Datagram
	var want [][]byte
	add := func(i, size int) {
		p := bindPayload(i, size)
		batch = append(batch, Datagram{Buf: p, N: size, Addr: to})
		if size == fit {
			want = append(want, p)
		}
	}
	add(0, fit)
	add(1, huge)
	add(2, fit)
	for i := range 3 {
		add(3+i, huge)
	}
	train, _ := bindTrain(2, huge, huge, to)
	batch = append(batch, train)
	add(6, fit)
	add(7, fit)
	return batch, want
}

// bindCheckOversize sends bindOversizeBatch from tx to rx and checks that
// what fits arrives and WriteBatch reports EMSGSIZE, not a lost address.
func bindCheckOversize(t *testing.T, tx, rx Bind, to netip.AddrPort, fit, huge int) {
	t.Helper()
	batch, want := bindOversizeBatch(to, fit, huge)
	segs := tx.MaxSegments()
	err := tx.WriteBatch(batch)
	if !errors.Is(err, syscall.EMSGSIZE) || IsLocalAddressError(err) {
		t.Errorf("WriteBatch: got %v, want an error matching EMSGSIZE that is no local address error", err)
	}
	got, _ := bindFlatten(bindRead(t, rx, len(want)))
	bindCheckPayloads(t, got, want)
	if tx.MaxSegments() != segs {
		t.Errorf("MaxSegments: got %d, want %d: the datagrams, not GSO, were at fault", tx.MaxSegments(), segs)
	}

	// The kernel queued a report of each refusal in tx's error queue; the
	// next read drains them rather than let them hold receive buffer.
	pong := []Datagram{{Buf: []byte("pong"), N: 4, Addr: tx.LocalAddr()}}
	if tx.LocalAddr().Addr().IsUnspecified() {
		pong[0].Addr = netip.AddrPortFrom(to.Addr(), tx.LocalAddr().Port())
	}
	if err := rx.WriteBatch(pong); err != nil {
		t.Fatal(err)
	}
	dgrams := bindReadBuffers(1)
	tx.(*linuxBind).conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		// A datagram over 65,535 bytes with its headers draws a real
		// ICMP error from the kernel (fragmentation needed), which a
		// read reports first.
		_, err := tx.ReadBatch(dgrams)
		var ue *UnreachableError
		if errors.As(err, &ue) && ue.Err == syscall.EMSGSIZE {
			continue
		}
		if err != nil || string(dgrams[0].Data()) != "pong" {
			t.Fatalf("read after the refusals: got %q, %v; want \"pong\"", dgrams[0].Data(), err)
		}
		break
	}
	var queueErr error
	tx.(*linuxBind).raw.Control(func(fd uintptr) {
		var buf [64]byte
		var oob [256]byte
		_, _, _, _, queueErr = unix.Recvmsg(int(fd), buf[:], oob[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
	})
	if queueErr != unix.EAGAIN {
		t.Errorf("error queue after a read: got %v, want it empty (EAGAIN)", queueErr)
	}
}

func TestBindWriteBatchSkipsOversizeDatagrams(t *testing.T) {
	tests := []struct {
		desc      string
		txNet, tx string
		rxNet, rx string
		dst       string
		maxSize   int // the largest UDP payload the family carries
		opts      bindOptions
	}{
		{desc: "IPv4", txNet: "udp4", tx: "127.0.0.1:0", rxNet: "udp4", rx: "127.0.0.1:0", dst: "127.0.0.1", maxSize: 65507},
		{desc: "IPv6", txNet: "udp6", tx: "[::1]:0", rxNet: "udp6", rx: "[::1]:0", dst: "::1", maxSize: 65527},
		{desc: "dual-stack to IPv4", txNet: "udp", tx: "[::]:0", rxNet: "udp4", rx: "127.0.0.1:0", dst: "127.0.0.1", maxSize: 65507},
		{desc: "IPv4 without GSO", txNet: "udp4", tx: "127.0.0.1:0", rxNet: "udp4", rx: "127.0.0.1:0", dst: "127.0.0.1", maxSize: 65507, opts: bindOptions{noGSO: true}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			testutil.CheckGoroutines(t)
			tx := bindOpen(t, bindListener(tt.opts), tt.txNet, tt.tx)
			rx := bindOpen(t, ListenUDP, tt.rxNet, tt.rx)
			to := netip.AddrPortFrom(netip.MustParseAddr(tt.dst), rx.LocalAddr().Port())
			bindCheckOversize(t, tx, rx, to, 1000, tt.maxSize+1)
		})
	}
}

// TestBindWriteBatchOverInterfaceMTU sends datagrams larger than the
// interface MTU, as a path-MTU probe does, over a loopback of MTU 1280 in
// a network namespace of its own. The socket does not fragment
// (IP_PMTUDISC_PROBE), so the kernel refuses them: alone with EMSGSIZE,
// in a GSO send with EINVAL, which the Bind must not blame on GSO.
func TestBindWriteBatchOverInterfaceMTU(t *testing.T) {
	const mtu = 1280
	tests := []struct {
		desc      string
		txNet, tx string
		rxNet, rx string
		dst       string
		fit       int // the largest payload the MTU passes
	}{
		{desc: "IPv4", txNet: "udp4", tx: "127.0.0.1:0", rxNet: "udp4", rx: "127.0.0.1:0", dst: "127.0.0.1", fit: mtu - 28},
		{desc: "IPv6", txNet: "udp6", tx: "[::1]:0", rxNet: "udp6", rx: "[::1]:0", dst: "::1", fit: mtu - 48},
		{desc: "dual-stack to IPv4", txNet: "udp", tx: "[::]:0", rxNet: "udp4", rx: "127.0.0.1:0", dst: "127.0.0.1", fit: mtu - 28},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			testutil.CheckGoroutines(t)
			var tx, rx Bind
			inPrivateNetwork(t, mtu, func() (err error) {
				if tx, err = ListenUDP(tt.txNet, tt.tx); err != nil {
					return err
				}
				t.Cleanup(func() { tx.Close() })
				if rx, err = ListenUDP(tt.rxNet, tt.rx); err != nil {
					return err
				}
				t.Cleanup(func() { rx.Close() })
				return nil
			})
			to := netip.AddrPortFrom(netip.MustParseAddr(tt.dst), rx.LocalAddr().Port())
			bindCheckOversize(t, tx, rx, to, tt.fit, tt.fit+1)
		})
	}
}

// inPrivateNetwork calls open on a thread in a new network namespace whose
// loopback is up with the given MTU; sockets open creates stay in it. It
// skips the test where making a namespace is not allowed.
func inPrivateNetwork(t *testing.T, mtu int, open func() error) {
	t.Helper()
	type result struct {
		err  error
		skip bool
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread, in the namespace, ends with the
		// goroutine instead of going back to the scheduler.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- result{err: err, skip: true}
			return
		}
		if err := setLoopback(mtu); err != nil {
			done <- result{err: err}
			return
		}
		done <- result{err: open()}
	}()
	r := <-done
	switch {
	case r.skip:
		t.Skipf("cannot make a network namespace: %v", r.err)
	case r.err != nil:
		t.Fatal(r.err)
	}
}

// setLoopback sets the MTU of this thread's network namespace's loopback
// and brings it up.
func setLoopback(mtu int) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	ifr.SetUint32(uint32(mtu))
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFMTU, ifr); err != nil {
		return os.NewSyscallError("SIOCSIFMTU", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return os.NewSyscallError("SIOCGIFFLAGS", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return os.NewSyscallError("SIOCSIFFLAGS", err)
	}
	return nil
}

// TestBindPendingICMPErrorCostsNoDatagram: an ICMP error for one peer (here
// "port unreachable" from a closed port) stays pending on the socket and
// fails the next send to any peer with its errno. WriteBatch sends that
// datagram again, so another peer loses nothing.
func TestBindPendingICMPErrorCostsNoDatagram(t *testing.T) {
	for _, gso := range []bool{true, false} {
		t.Run(fmt.Sprintf("GSO %v", gso), func(t *testing.T) {
			tx := bindOpen(t, bindListener(bindOptions{noGSO: !gso}), "udp4", "127.0.0.1:0")
			rx := bindOpen(t, ListenUDP, "udp4", "127.0.0.1:0")
			closed, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			dead := closed.LocalAddr().(*net.UDPAddr).AddrPort()
			closed.Close()
			if err := tx.WriteBatch([]Datagram{{Buf: []byte("anyone?"), N: 7, Addr: dead}}); err != nil {
				t.Fatalf("WriteBatch to the closed port: %v", err)
			}
			// Wait until the ICMP error is pending (POLLERR), without
			// reading it.
			raw, err := tx.(*linuxBind).conn.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var revents int16
			raw.Control(func(fd uintptr) {
				fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLERR}}
				if _, err := unix.Poll(fds, 5000); err == nil {
					revents = fds[0].Revents
				}
			})
			if revents&unix.POLLERR == 0 {
				t.Fatal("no ICMP error pending after sending to a closed port")
			}
			train, want := bindTrain(3, 1000, 1000, rx.LocalAddr())
			if err := tx.WriteBatch([]Datagram{train}); err != nil {
				t.Fatalf("WriteBatch to the live peer with an error pending: %v", err)
			}
			got, _ := bindFlatten(bindRead(t, rx, 3))
			bindCheckPayloads(t, got, want)
			if gso && tx.MaxSegments() == 1 {
				t.Error("the pending error turned GSO off")
			}
		})
	}
}

// bindQueued reports whether a datagram waits on b's socket (FIONREAD: the
// next datagram's size, 0 when none is queued).
func bindQueued(t *testing.T, b *linuxBind) bool {
	t.Helper()
	var queued int
	var ioErr error
	b.raw.Control(func(fd uintptr) { queued, ioErr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
	if ioErr != nil {
		t.Fatal(ioErr)
	}
	return queued > 0
}
