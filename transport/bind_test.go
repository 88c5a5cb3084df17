package transport

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/internal/testutil"
	"github.com/limpetnet/limpet/transport/netsim"
)

// bindImpl is one way to open a Bind on a UDP socket.
type bindImpl struct {
	desc   string
	listen func(network, address string) (Bind, error)
}

var bindImpls = []bindImpl{
	{"batch", ListenUDP},
	{"batch without offload", func(network, address string) (Bind, error) {
		return listenUDP(network, address, bindOptions{noGSO: true, noGRO: true})
	}},
	{"packetconn", func(network, address string) (Bind, error) {
		laddr, err := net.ResolveUDPAddr(network, address)
		if err != nil {
			return nil, err
		}
		conn, err := net.ListenUDP(network, laddr)
		if err != nil {
			return nil, err
		}
		return NewPacketConnBind(conn), nil
	}},
}

// bindOpen opens a Bind and closes it when the test ends.
func bindOpen(t testing.TB, listen func(string, string) (Bind, error), network, address string) Bind {
	t.Helper()
	b, err := listen(network, address)
	if err != nil {
		t.Fatalf("listen %s %s: %v", network, address, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// bindReadBuffers returns n datagrams with buffers large enough for a GRO
// train.
func bindReadBuffers(n int) []Datagram {
	dgrams := make([]Datagram, n)
	for i := range dgrams {
		dgrams[i].Buf = make([]byte, BindReadBufferSize)
	}
	return dgrams
}

// bindRead reads from b until want datagrams (counting each segment of a
// train) have arrived, and returns what ReadBatch returned, unflattened.
// A watchdog closes b if they take longer than 10 s, so a lost datagram
// fails the test instead of hanging it.
func bindRead(t *testing.T, b Bind, want int) []Datagram {
	t.Helper()
	watchdog := time.AfterFunc(10*time.Second, func() { b.Close() })
	defer watchdog.Stop()
	var got []Datagram
	segments := 0
	dgrams := bindReadBuffers(b.BatchSize())
	for segments < want {
		n, err := b.ReadBatch(dgrams)
		if err != nil {
			t.Fatalf("ReadBatch after %d of %d datagrams: %v", segments, want, err)
		}
		for _, d := range dgrams[:n] {
			got = append(got, Datagram{Buf: bytes.Clone(d.Data()), N: d.N, Addr: d.Addr, SegmentSize: d.SegmentSize, ECN: d.ECN, Local: d.Local})
			segments += d.NumSegments()
		}
	}
	if segments != want {
		t.Fatalf("received %d datagrams, want %d", segments, want)
	}
	return got
}

// bindFlatten splits trains into their segments.
func bindFlatten(dgrams []Datagram) (payloads [][]byte, addrs []netip.AddrPort) {
	for i := range dgrams {
		for s := range dgrams[i].NumSegments() {
			payloads = append(payloads, dgrams[i].Segment(s))
			addrs = append(addrs, dgrams[i].Addr)
		}
	}
	return payloads, addrs
}

// bindPayload is test datagram i of the given size: every byte depends on
// i and its position, so misplaced or mixed-up bytes show.
func bindPayload(i, size int) []byte {
	b := make([]byte, size)
	for j := range b {
		b[j] = byte(i*131 + j*7 + j>>8)
	}
	return b
}

// bindLoopbacks are the addresses the socket tests use.
var bindLoopbacks = []struct{ network, address string }{
	{"udp4", "127.0.0.1:0"},
	{"udp6", "[::1]:0"},
}

func TestBindRoundTrip(t *testing.T) {
	// A mix that exercises every way WriteBatch builds messages: a run of
	// equal sizes (coalesced into GSO sends) ended by a shorter one, lone
	// datagrams of other sizes, an empty one, and more datagrams than one
	// sendmmsg carries.
	var sizes []int
	for range 40 {
		sizes = append(sizes, 1200)
	}
	sizes = append(sizes, 700, 1, 1452, 0, 1452, 1452, 9000)
	for range 30 {
		sizes = append(sizes, 1000)
	}
	for _, impl := range bindImpls {
		for _, lo := range bindLoopbacks {
			t.Run(impl.desc+"/"+lo.network, func(t *testing.T) {
				testutil.CheckGoroutines(t)
				tx := bindOpen(t, impl.listen, lo.network, lo.address)
				rx := bindOpen(t, impl.listen, lo.network, lo.address)
				batch := make([]Datagram, len(sizes))
				for i, size := range sizes {
					batch[i] = Datagram{Buf: bindPayload(i, size), N: size, Addr: rx.LocalAddr()}
				}
				if err := tx.WriteBatch(batch); err != nil {
					t.Fatalf("WriteBatch: %v", err)
				}
				payloads, addrs := bindFlatten(bindRead(t, rx, len(sizes)))
				for i, size := range sizes {
					if want := bindPayload(i, size); !bytes.Equal(payloads[i], want) {
						t.Errorf("datagram %d: got %d bytes %x…, want %d bytes %x…", i, len(payloads[i]), payloads[i][:min(8, len(payloads[i]))], size, want[:min(8, size)])
					}
					if addrs[i] != tx.LocalAddr() {
						t.Errorf("datagram %d source: got %v, want %v", i, addrs[i], tx.LocalAddr())
					}
				}
			})
		}
	}
}

func TestBindDualStackUnmapsIPv4(t *testing.T) {
	for _, impl := range bindImpls {
		t.Run(impl.desc, func(t *testing.T) {
			testutil.CheckGoroutines(t)
			server := bindOpen(t, impl.listen, "udp", "[::]:0")
			client := bindOpen(t, ListenUDP, "udp4", "127.0.0.1:0")
			serverV4 := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), server.LocalAddr().Port())

			ping := []Datagram{{Buf: []byte("ping"), N: 4, Addr: serverV4}}
			if err := client.WriteBatch(ping); err != nil {
				t.Fatalf("client WriteBatch: %v", err)
			}
			got := bindRead(t, server, 1)
			if got[0].Addr != client.LocalAddr() || !got[0].Addr.Addr().Is4() {
				t.Errorf("source seen by the dual-stack socket: got %v, want %v (plain IPv4)", got[0].Addr, client.LocalAddr())
			}

			pong := []Datagram{{Buf: []byte("pong"), N: 4, Addr: got[0].Addr}}
			if err := server.WriteBatch(pong); err != nil {
				t.Fatalf("server WriteBatch to an IPv4 peer: %v", err)
			}
			reply := bindRead(t, client, 1)
			if string(reply[0].Data()) != "pong" || reply[0].Addr != serverV4 {
				t.Errorf("reply: got %q from %v, want \"pong\" from %v", reply[0].Data(), reply[0].Addr, serverV4)
			}
		})
	}
}

func TestBindCloseUnblocksReadBatch(t *testing.T) {
	for _, impl := range bindImpls {
		t.Run(impl.desc, func(t *testing.T) {
			testutil.CheckGoroutines(t)
			b, err := impl.listen("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() {
				_, err := b.ReadBatch(bindReadBuffers(1))
				errc <- err
			}()
			testutil.WaitUntilBlocked(t, "ReadBatch", "IO wait")
			if err := b.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := testutil.ReceiveWithin(t, errc, 10*time.Second); !errors.Is(err, net.ErrClosed) {
				t.Errorf("ReadBatch during Close: got %v, want net.ErrClosed", err)
			}
			if _, err := b.ReadBatch(bindReadBuffers(1)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("ReadBatch after Close: got %v, want net.ErrClosed", err)
			}
			dst := netip.MustParseAddrPort("127.0.0.1:9")
			if err := b.WriteBatch([]Datagram{{Buf: []byte("x"), N: 1, Addr: dst}}); !errors.Is(err, net.ErrClosed) {
				t.Errorf("WriteBatch after Close: got %v, want net.ErrClosed", err)
			}
		})
	}
}

func TestBindWriteBatchSkipsBadDatagrams(t *testing.T) {
	tests := []struct {
		desc string
		bad  func(to netip.AddrPort) Datagram
	}{
		{desc: "N beyond Buf", bad: func(to netip.AddrPort) Datagram { return Datagram{Buf: make([]byte, 4), N: 5, Addr: to} }},
		{desc: "negative N", bad: func(to netip.AddrPort) Datagram { return Datagram{Buf: make([]byte, 4), N: -1, Addr: to} }},
		{desc: "no address", bad: func(netip.AddrPort) Datagram { return Datagram{Buf: make([]byte, 4), N: 4} }},
	}
	for _, impl := range bindImpls {
		for _, tt := range tests {
			t.Run(impl.desc+"/"+tt.desc, func(t *testing.T) {
				tx := bindOpen(t, impl.listen, "udp4", "127.0.0.1:0")
				rx := bindOpen(t, impl.listen, "udp4", "127.0.0.1:0")
				to := rx.LocalAddr()
				// The good datagrams around the bad one share its size
				// where it has one, so a GSO run would include it.
				batch := []Datagram{
					{Buf: []byte("good"), N: 4, Addr: to},
					tt.bad(to),
					{Buf: []byte("fine"), N: 4, Addr: to},
				}
				if err := tx.WriteBatch(batch); !errors.Is(err, errBadDatagram) {
					t.Errorf("WriteBatch: got %v, want errBadDatagram", err)
				}
				got, _ := bindFlatten(bindRead(t, rx, 2))
				if string(got[0]) != "good" || string(got[1]) != "fine" {
					t.Errorf("received: got %q, want [good fine]", got)
				}
			})
		}
	}
}

func TestIsLocalAddressError(t *testing.T) {
	tests := []struct {
		desc string
		err  error
		want bool
	}{
		{desc: "ENETUNREACH from sendmmsg", err: os.NewSyscallError("sendmmsg", syscall.ENETUNREACH), want: true},
		{desc: "EADDRNOTAVAIL in an OpError", err: &net.OpError{Op: "write", Err: os.NewSyscallError("sendto", syscall.EADDRNOTAVAIL)}, want: true},
		{desc: "EPERM (a firewall)", err: syscall.EPERM, want: true},
		{desc: "EHOSTUNREACH", err: fmt.Errorf("wrapped: %w", syscall.EHOSTUNREACH), want: true},
		{desc: "ENETDOWN", err: syscall.ENETDOWN, want: true},
		{desc: "ECONNREFUSED is the peer's doing", err: syscall.ECONNREFUSED, want: false},
		{desc: "EMSGSIZE is the path's doing", err: os.NewSyscallError("sendmmsg", syscall.EMSGSIZE), want: false},
		{desc: "closed socket", err: net.ErrClosed, want: false},
		{desc: "nil", err: nil, want: false},
	}
	for _, tt := range tests {
		if got := IsLocalAddressError(tt.err); got != tt.want {
			t.Errorf("%s: IsLocalAddressError(%v) = %v, want %v", tt.desc, tt.err, got, tt.want)
		}
	}
}

func TestDatagramSegments(t *testing.T) {
	buf := []byte("aaaabbbbcc")
	tests := []struct {
		desc string
		d    Datagram
		want []string
	}{
		{desc: "single datagram", d: Datagram{Buf: buf, N: 10}, want: []string{"aaaabbbbcc"}},
		{desc: "train with a short last segment", d: Datagram{Buf: buf, N: 10, SegmentSize: 4}, want: []string{"aaaa", "bbbb", "cc"}},
		{desc: "train of whole segments", d: Datagram{Buf: buf, N: 8, SegmentSize: 4}, want: []string{"aaaa", "bbbb"}},
		{desc: "segment size beyond N", d: Datagram{Buf: buf, N: 3, SegmentSize: 4}, want: []string{"aaa"}},
		{desc: "empty train", d: Datagram{Buf: buf, N: 0, SegmentSize: 4}, want: nil},
	}
	for _, tt := range tests {
		var got []string
		for i := range tt.d.NumSegments() {
			got = append(got, string(tt.d.Segment(i)))
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got segments %q, want %q", tt.desc, got, tt.want)
		}
	}
}

func TestPacketConnBindOverNetsim(t *testing.T) {
	testutil.CheckGoroutines(t)
	n := netsim.NewNetwork()
	serverAddr := netip.MustParseAddrPort("198.18.0.1:443")
	clientAddr := netip.MustParseAddrPort("198.18.0.2:5000")
	serverSock, err := n.Listen(serverAddr)
	if err != nil {
		t.Fatal(err)
	}
	clientSock, err := n.Listen(clientAddr)
	if err != nil {
		t.Fatal(err)
	}
	server := NewPacketConnBind(serverSock)
	defer server.Close()
	client := NewPacketConnBind(netsim.Impair(clientSock, netsim.Config{Seed: 1}))
	defer client.Close()
	if got := server.LocalAddr(); got != serverAddr {
		t.Errorf("LocalAddr: got %v, want %v", got, serverAddr)
	}

	// A train sent through a Bind without GSO arrives segment by segment.
	train := Datagram{Buf: []byte("0123456789"), N: 10, SegmentSize: 4, Addr: serverAddr}
	if err := client.WriteBatch([]Datagram{train}); err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
	got := bindRead(t, server, 3)
	for i, want := range []string{"0123", "4567", "89"} {
		if string(got[i].Data()) != want || got[i].Addr != clientAddr || got[i].SegmentSize != 0 {
			t.Errorf("datagram %d: got %q from %v (segment size %d), want %q from %v (0)", i, got[i].Data(), got[i].Addr, got[i].SegmentSize, want, clientAddr)
		}
	}
}

func TestPacketConnBindCarriesECNOverNetsim(t *testing.T) {
	tests := []struct {
		desc string
		cfg  netsim.Config
		sent []ECN
		want []ECN
	}{
		{desc: "untouched", sent: []ECN{packet.ECNNotECT, packet.ECNECT1, packet.ECNECT0, packet.ECNCE}, want: []ECN{packet.ECNNotECT, packet.ECNECT1, packet.ECNECT0, packet.ECNCE}},
		{desc: "bleached", cfg: netsim.Config{ECNBleach: true}, sent: []ECN{packet.ECNECT0, packet.ECNCE}, want: []ECN{packet.ECNNotECT, packet.ECNNotECT}},
		{desc: "marked CE", cfg: netsim.Config{ECNMarkAllCE: true}, sent: []ECN{packet.ECNNotECT, packet.ECNECT0}, want: []ECN{packet.ECNNotECT, packet.ECNCE}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			n := netsim.NewNetwork()
			serverSock, err := n.Listen(netip.MustParseAddrPort("198.18.0.1:443"))
			if err != nil {
				t.Fatal(err)
			}
			clientSock, err := n.Listen(netip.MustParseAddrPort("198.18.0.2:5000"))
			if err != nil {
				t.Fatal(err)
			}
			server := NewPacketConnBind(serverSock)
			defer server.Close()
			client := NewPacketConnBind(netsim.Impair(clientSock, tt.cfg))
			defer client.Close()
			var batch []Datagram
			for i, ecn := range tt.sent {
				batch = append(batch, Datagram{Buf: []byte{byte(i)}, N: 1, Addr: server.LocalAddr(), ECN: ecn})
			}
			if err := client.WriteBatch(batch); err != nil {
				t.Fatalf("WriteBatch: %v", err)
			}
			var got []ECN
			for _, d := range bindRead(t, server, len(tt.sent)) {
				got = append(got, d.ECN)
				if d.Local.IsValid() {
					t.Errorf("Local: got %v, want none (a PacketConn cannot tell)", d.Local)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("codepoints read: got %v, want %v", got, tt.want)
			}
		})
	}
}

// BenchmarkBindLoopback sends 1452-byte datagrams over loopback, one
// benchmark op per datagram, and reports the received MB/s next to Go's
// figure for the sent bytes. The sender stays at most a window of
// datagrams ahead of the receiver so the socket buffer does not overflow;
// "delivered" is the fraction that arrived.
func BenchmarkBindLoopback(b *testing.B) {
	cases := []struct {
		desc   string
		opts   bindOptions
		trains bool // the sender builds GSO trains itself
	}{
		{desc: "plain batches", opts: bindOptions{noGSO: true, noGRO: true}},
		{desc: "GSO coalescing+GRO", opts: bindOptions{}},
		{desc: "GSO trains+GRO", opts: bindOptions{}, trains: true},
	}
	for _, bc := range cases {
		b.Run(bc.desc, func(b *testing.B) {
			listen := func(network, address string) (Bind, error) { return listenUDP(network, address, bc.opts) }
			benchmarkBind(b, bindOpen(b, listen, "udp4", "127.0.0.1:0"), bindOpen(b, listen, "udp4", "127.0.0.1:0"), bc.trains)
		})
	}
	b.Run("packetconn", func(b *testing.B) {
		listen := bindImpls[2].listen
		benchmarkBind(b, bindOpen(b, listen, "udp4", "127.0.0.1:0"), bindOpen(b, listen, "udp4", "127.0.0.1:0"), false)
	})
}

func benchmarkBind(b *testing.B, tx, rx Bind, trains bool) {
	const (
		size   = 1452
		window = 2048 // datagrams in flight: about 3 MB, under the socket buffer
	)
	segments := 1
	if trains {
		segments = min(tx.MaxSegments(), maxGSOPayload/size)
		if segments < 2 {
			b.Fatalf("MaxSegments: got %d, want GSO", tx.MaxSegments())
		}
	}
	trainsPerBatch := tx.BatchSize()
	if trains {
		trainsPerBatch = 4
	}
	batch := make([]Datagram, trainsPerBatch)
	for i := range batch {
		batch[i] = Datagram{Buf: make([]byte, size*segments), N: size * segments, Addr: rx.LocalAddr()}
		if trains {
			batch[i].SegmentSize = size
		}
	}
	perBatch := len(batch) * segments

	var received, receivedBytes atomic.Int64
	progress := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		dgrams := bindReadBuffers(rx.BatchSize())
		for {
			n, err := rx.ReadBatch(dgrams)
			if err != nil {
				return
			}
			var segs, nbytes int
			for _, d := range dgrams[:n] {
				segs += d.NumSegments()
				nbytes += d.N
			}
			received.Add(int64(segs))
			receivedBytes.Add(int64(nbytes))
			select {
			case progress <- struct{}{}:
			default:
			}
		}
	}()

	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var sent, lost int64
	stall := time.NewTimer(time.Hour)
	for sent < int64(b.N) {
		for sent-lost-received.Load() > window {
			// Wait for the receiver; if it makes no progress, what is
			// in flight was dropped.
			stall.Reset(200 * time.Millisecond)
			select {
			case <-progress:
			case <-stall.C:
				lost = sent - received.Load()
			}
		}
		if err := tx.WriteBatch(batch); err != nil {
			b.Fatalf("WriteBatch: %v", err)
		}
		sent += int64(perBatch)
	}
	for received.Load() < sent-lost {
		stall.Reset(200 * time.Millisecond)
		select {
		case <-progress:
			continue
		case <-stall.C:
		}
		break
	}
	elapsed := time.Since(start)
	b.StopTimer()
	rx.Close()
	<-done
	b.ReportMetric(float64(receivedBytes.Load())/1e6/elapsed.Seconds(), "rx-MB/s")
	b.ReportMetric(float64(received.Load())/float64(sent), "delivered")
}
