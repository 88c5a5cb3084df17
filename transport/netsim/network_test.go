package netsim

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/limpetnet/limpet/transport/internal/testutil"
)

func TestNetworkDeliversCopyWithSourceAddress(t *testing.T) {
	testutil.CheckGoroutines(t)
	n := NewNetwork()
	a := mustListen(t, n, "198.18.0.1:1000")
	b := mustListen(t, n, "198.18.0.2:2000")

	msg := []byte("hello, limpet")
	want := bytes.Clone(msg)
	if got, err := a.WriteTo(msg, b.LocalAddr()); err != nil || got != len(msg) {
		t.Fatalf("WriteTo: got (%d, %v), want (%d, nil)", got, err, len(msg))
	}
	msg[0] = 'X' // the network must have taken its own copy

	got, from := readWithin(t, b, 5*time.Second)
	if !bytes.Equal(got, want) {
		t.Errorf("payload: got %q, want %q", got, want)
	}
	udp, ok := from.(*net.UDPAddr)
	if !ok {
		t.Fatalf("source address type: got %T, want *net.UDPAddr", from)
	}
	if got, want := udp.AddrPort(), netip.MustParseAddrPort("198.18.0.1:1000"); got != want {
		t.Errorf("source address: got %v, want %v", got, want)
	}
	if got, want := b.LocalAddr().String(), "198.18.0.2:2000"; got != want {
		t.Errorf("LocalAddr: got %s, want %s", got, want)
	}
}

func TestNetworkTruncatesToReadBuffer(t *testing.T) {
	n := NewNetwork()
	a := mustListen(t, n, "198.18.0.1:1000")
	b := mustListen(t, n, "198.18.0.2:2000")
	if _, err := a.WriteTo([]byte("0123456789"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	got, _, err := b.ReadFrom(buf)
	if err != nil || got != 4 || string(buf) != "0123" {
		t.Errorf("ReadFrom into 4 bytes: got (%d, %q, %v), want (4, \"0123\", nil)", got, buf[:got], err)
	}
}

func TestNetworkReadDeadline(t *testing.T) {
	tests := []struct {
		desc     string
		deadline time.Duration // from now; the read must fail with os.ErrDeadlineExceeded
	}{
		{desc: "deadline already passed", deadline: -time.Second},
		{desc: "deadline passes while blocked", deadline: 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			testutil.CheckGoroutines(t)
			n := NewNetwork()
			s := mustListen(t, n, "198.18.0.1:1000")
			start := time.Now()
			s.SetReadDeadline(start.Add(tt.deadline))
			_, _, err := s.ReadFrom(make([]byte, 10))
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("ReadFrom: got %v, want os.ErrDeadlineExceeded", err)
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("ReadFrom error %v: want a net.Error with Timeout() true", err)
			}
			if elapsed := time.Since(start); elapsed < tt.deadline {
				t.Errorf("ReadFrom returned after %v, before the %v deadline", elapsed, tt.deadline)
			}
		})
	}
}

func TestNetworkDeadlineMovedWhileBlocked(t *testing.T) {
	testutil.CheckGoroutines(t)
	n := NewNetwork()
	s := mustListen(t, n, "198.18.0.1:1000")
	errc := make(chan error, 1)
	go func() {
		_, _, err := s.ReadFrom(make([]byte, 10))
		errc <- err
	}()
	testutil.WaitUntilBlocked(t, "netsim.(*Socket).ReadFrom", "select")
	s.SetReadDeadline(time.Now().Add(-time.Second))
	if err := testutil.ReceiveWithin(t, errc, 10*time.Second); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadFrom: got %v, want os.ErrDeadlineExceeded", err)
	}

	// Clearing the deadline makes reads block for data again.
	s.SetReadDeadline(time.Time{})
	peer := mustListen(t, n, "198.18.0.2:2000")
	if _, err := peer.WriteTo([]byte("x"), s.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if got, _, err := s.ReadFrom(buf); err != nil || string(buf[:got]) != "x" {
		t.Errorf("ReadFrom after clearing the deadline: got (%q, %v), want (\"x\", nil)", buf[:got], err)
	}
}

func TestNetworkCloseUnblocksRead(t *testing.T) {
	testutil.CheckGoroutines(t)
	n := NewNetwork()
	s, err := n.Listen(netip.MustParseAddrPort("198.18.0.1:1000"))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, _, err := s.ReadFrom(make([]byte, 10))
		errc <- err
	}()
	testutil.WaitUntilBlocked(t, "netsim.(*Socket).ReadFrom", "select")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := testutil.ReceiveWithin(t, errc, 10*time.Second); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrom after Close: got %v, want net.ErrClosed", err)
	}
	if _, err := s.WriteTo([]byte("x"), testAddr("198.18.0.2:1")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteTo after Close: got %v, want net.ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: got %v, want net.ErrClosed", err)
	}
	// The address is free again.
	s2, err := n.Listen(netip.MustParseAddrPort("198.18.0.1:1000"))
	if err != nil {
		t.Fatalf("Listen on the closed socket's address: %v", err)
	}
	s2.Close()
}

func TestNetworkQueueFullDrops(t *testing.T) {
	n := NewNetwork()
	n.SetQueueLen(4)
	a := mustListen(t, n, "198.18.0.1:1000")
	b := mustListen(t, n, "198.18.0.2:2000")
	for i := range 10 {
		if _, err := a.WriteTo([]byte{byte(i)}, b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := b.Dropped(), uint64(6); got != want {
		t.Errorf("Dropped: got %d, want %d", got, want)
	}
	for i := range 4 {
		got, _ := readWithin(t, b, 5*time.Second)
		if !bytes.Equal(got, []byte{byte(i)}) {
			t.Errorf("datagram %d: got %v, want [%d]", i, got, i)
		}
	}
	b.SetReadDeadline(time.Now().Add(-time.Second))
	if _, _, err := b.ReadFrom(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("fifth ReadFrom: got %v, want os.ErrDeadlineExceeded (queue empty)", err)
	}
}

func TestNetworkUnroutable(t *testing.T) {
	n := NewNetwork()
	a := mustListen(t, n, "198.18.0.1:1000")
	if got, err := a.WriteTo([]byte("x"), testAddr("198.18.0.9:9")); err != nil || got != 1 {
		t.Fatalf("WriteTo nowhere: got (%d, %v), want (1, nil)", got, err)
	}
	if got, want := n.Unroutable(), uint64(1); got != want {
		t.Errorf("Unroutable: got %d, want %d", got, want)
	}
}

func TestNetworkRebindChangesSourceAddress(t *testing.T) {
	testutil.CheckGoroutines(t)
	n := NewNetwork()
	client := mustListen(t, n, "198.18.0.2:5000")
	server := mustListen(t, n, "198.18.0.1:443")
	oldAddr := netip.MustParseAddrPort("198.18.0.2:5000")
	newAddr := netip.MustParseAddrPort("198.19.0.7:6000")

	if _, err := client.WriteTo([]byte("before"), server.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if _, from := readWithin(t, server, 5*time.Second); from.(*net.UDPAddr).AddrPort() != oldAddr {
		t.Errorf("source before Rebind: got %v, want %v", from, oldAddr)
	}

	if err := n.Rebind(oldAddr, newAddr); err != nil {
		t.Fatalf("Rebind: %v", err)
	}
	if got := client.AddrPort(); got != newAddr {
		t.Errorf("AddrPort after Rebind: got %v, want %v", got, newAddr)
	}
	if _, err := client.WriteTo([]byte("after"), server.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	got, from := readWithin(t, server, 5*time.Second)
	if string(got) != "after" || from.(*net.UDPAddr).AddrPort() != newAddr {
		t.Errorf("after Rebind: got %q from %v, want \"after\" from %v", got, from, newAddr)
	}

	// Replies to the old address vanish; replies to the new one arrive.
	if _, err := server.WriteTo([]byte("to old"), net.UDPAddrFromAddrPort(oldAddr)); err != nil {
		t.Fatal(err)
	}
	if got, want := n.Unroutable(), uint64(1); got != want {
		t.Errorf("Unroutable after a reply to the old address: got %d, want %d", got, want)
	}
	if _, err := server.WriteTo([]byte("to new"), net.UDPAddrFromAddrPort(newAddr)); err != nil {
		t.Fatal(err)
	}
	if got, _ := readWithin(t, client, 5*time.Second); string(got) != "to new" {
		t.Errorf("client read: got %q, want \"to new\" (the reply to the old address must be dropped)", got)
	}
}

func TestNetworkListenAndRebindErrors(t *testing.T) {
	n := NewNetwork()
	mustListen(t, n, "198.18.0.1:1000")
	mustListen(t, n, "198.18.0.2:1000")
	tests := []struct {
		desc string
		do   func() error
		want error
	}{
		{
			desc: "Listen on an address in use",
			do: func() error {
				_, err := n.Listen(netip.MustParseAddrPort("198.18.0.1:1000"))
				return err
			},
			want: syscall.EADDRINUSE,
		},
		{
			desc: "Listen on an IPv4-mapped form of an address in use",
			do: func() error {
				_, err := n.Listen(netip.MustParseAddrPort("[::ffff:198.18.0.1]:1000"))
				return err
			},
			want: syscall.EADDRINUSE,
		},
		{
			desc: "Rebind onto an address in use",
			do: func() error {
				return n.Rebind(netip.MustParseAddrPort("198.18.0.1:1000"), netip.MustParseAddrPort("198.18.0.2:1000"))
			},
			want: syscall.EADDRINUSE,
		},
		{
			desc: "Rebind of an address nobody holds",
			do: func() error {
				return n.Rebind(netip.MustParseAddrPort("198.18.0.3:1000"), netip.MustParseAddrPort("198.18.0.4:1000"))
			},
			want: errUnknownAddr,
		},
	}
	for _, tt := range tests {
		if err := tt.do(); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.desc, err, tt.want)
		}
	}
}

func TestNetworkListenPortZeroPicksFreePorts(t *testing.T) {
	n := NewNetwork()
	a := mustListen(t, n, "198.18.0.1:0")
	b := mustListen(t, n, "198.18.0.1:0")
	if got, want := a.AddrPort(), netip.MustParseAddrPort("198.18.0.1:49152"); got != want {
		t.Errorf("first port-0 Listen: got %v, want %v", got, want)
	}
	if got, want := b.AddrPort(), netip.MustParseAddrPort("198.18.0.1:49153"); got != want {
		t.Errorf("second port-0 Listen: got %v, want %v", got, want)
	}
}
