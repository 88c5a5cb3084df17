package qsend

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/limpetnet/limpet/transport"
)

// fakeBind hands out scripted batches and records writes.
type fakeBind struct {
	transport.Bind // nil: only the methods below are called

	mu      sync.Mutex
	batches [][]transport.Datagram
	written []transport.Datagram
}

func (b *fakeBind) ReadBatch(dgrams []transport.Datagram) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.batches) == 0 {
		return 0, net.ErrClosed
	}
	batch := b.batches[0]
	b.batches = b.batches[1:]
	for i, d := range batch {
		dgrams[i].N = copy(dgrams[i].Buf, d.Data())
		dgrams[i].Addr = d.Addr
		dgrams[i].SegmentSize = d.SegmentSize
	}
	return len(batch), nil
}

func (b *fakeBind) WriteBatch(dgrams []transport.Datagram) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range dgrams {
		b.written = append(b.written, transport.Datagram{Buf: bytes.Clone(d.Data()), N: d.N, Addr: d.Addr})
	}
	return nil
}

func dgram(b []byte, addr netip.AddrPort) transport.Datagram {
	return transport.Datagram{Buf: b, N: len(b), Addr: addr}
}

func testProbe(nonce byte) []byte {
	p := make([]byte, probeLen)
	copy(p, probeMagic)
	for i := range probeNonceLen {
		p[len(probeMagic)+i] = nonce
	}
	return p
}

func TestProbeBindAnswersAndFilters(t *testing.T) {
	key := testPublicKey(t)
	alice := netip.MustParseAddrPort("198.18.0.1:1000")
	bob := netip.MustParseAddrPort("198.18.0.2:2000")
	limpetPacket := append([]byte{0x40}, bytes.Repeat([]byte{7}, 40)...) // fixed bit set
	shortProbe := testProbe(1)[:probeLen-1]
	fb := &fakeBind{batches: [][]transport.Datagram{
		{dgram(testProbe(1), alice)}, // only a probe: read again
		{dgram(limpetPacket, bob), dgram(testProbe(2), alice), dgram(limpetPacket, alice), dgram(shortProbe, bob)},
	}}
	pb := newProbeBind(fb, key)
	dgrams := make([]transport.Datagram, 8)
	for i := range dgrams {
		dgrams[i].Buf = make([]byte, 128)
	}
	n, err := pb.ReadBatch(dgrams)
	if err != nil {
		t.Fatal(err)
	}
	// The probes are gone; everything else is passed on in order, including
	// a datagram that merely resembles a probe.
	wantPassed := []transport.Datagram{dgram(limpetPacket, bob), dgram(limpetPacket, alice), dgram(shortProbe, bob)}
	if n != len(wantPassed) {
		t.Fatalf("got %d datagrams, want %d", n, len(wantPassed))
	}
	for i, w := range wantPassed {
		if !bytes.Equal(dgrams[i].Data(), w.Data()) || dgrams[i].Addr != w.Addr {
			t.Errorf("datagram %d: got %x from %v, want %x from %v", i, dgrams[i].Data(), dgrams[i].Addr, w.Data(), w.Addr)
		}
	}
	if len(fb.written) != 2 {
		t.Fatalf("got %d answers, want 2", len(fb.written))
	}
	for i, to := range []netip.AddrPort{alice, alice} {
		a := fb.written[i]
		want := append(append(bytes.Clone(answerMagic), bytes.Repeat([]byte{byte(i + 1)}, probeNonceLen)...), key[:]...)
		if a.Addr != to || !bytes.Equal(a.Data(), want) {
			t.Errorf("answer %d: got %x to %v, want %x to %v", i, a.Data(), a.Addr, want, to)
		}
		if a.N >= probeLen {
			t.Errorf("answer %d is %d bytes, want fewer than the %d-byte probe (no amplification)", i, a.N, probeLen)
		}
	}
}

func TestProbeBindRateLimitsAnswers(t *testing.T) {
	var batch []transport.Datagram
	for range 3 * probeAnswerRate {
		batch = append(batch, dgram(testProbe(1), netip.MustParseAddrPort("198.18.0.1:1")))
	}
	fb := &fakeBind{batches: [][]transport.Datagram{batch}}
	pb := newProbeBind(fb, testPublicKey(t))
	dgrams := make([]transport.Datagram, len(batch))
	for i := range dgrams {
		dgrams[i].Buf = make([]byte, 128)
	}
	if _, err := pb.ReadBatch(dgrams); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("got %v, want net.ErrClosed once the script ends", err)
	}
	if n := len(fb.written); n < probeAnswerRate || n > probeAnswerRate+5 {
		t.Fatalf("got %d answers to %d probes at once, want about %d", n, len(batch), probeAnswerRate)
	}
}

// TestProbeKeyOverUDP runs the real client against a real probeBind.
func TestProbeKeyOverUDP(t *testing.T) {
	bind, err := transport.ListenUDP("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	key := testPublicKey(t)
	pb := newProbeBind(bind, key)
	done := make(chan struct{})
	go func() {
		defer close(done)
		dgrams := make([]transport.Datagram, pb.BatchSize())
		for i := range dgrams {
			dgrams[i].Buf = make([]byte, transport.BindReadBufferSize)
		}
		for {
			if _, err := pb.ReadBatch(dgrams); err != nil {
				return
			}
		}
	}()
	defer func() { bind.Close(); <-done }()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, from, err := probeKey(ctx, bind.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	if got != key || from != bind.LocalAddr() {
		t.Fatalf("got key %v from %v, want %v from %v", got, from, key, bind.LocalAddr())
	}
}

// TestProbeKeyNoAnswer probes a socket that never answers: the probe gives
// up at the deadline with errNoAnswer.
func TestProbeKeyNoAnswer(t *testing.T) {
	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, _, err := probeKey(ctx, silent.LocalAddr().String()); !errors.Is(err, errNoAnswer) {
		t.Fatalf("got %v, want errNoAnswer", err)
	}
}
