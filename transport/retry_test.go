package transport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/internal/testutil"
)

// retryCountingBind wraps a Listener's socket and counts what crosses it:
// Initial packets without a token received, and Retry packets sent. Each
// tokenless Initial of a new client must get exactly one Retry, so the
// Listener's counters can be held to the wire exactly, however many times a
// slow machine made the client repeat its first Initial.
type retryCountingBind struct {
	Bind
	tokenless, retries atomic.Uint64
}

func (b *retryCountingBind) ReadBatch(dgrams []Datagram) (int, error) {
	n, err := b.Bind.ReadBatch(dgrams)
	for i := range dgrams[:n] {
		d := &dgrams[i]
		for s := 0; s < d.NumSegments(); s++ {
			h, err := packet.ParseLongHeader(d.Segment(s))
			if err == nil && h.Type == packet.LongTypeInitial && len(h.Token) == 0 {
				b.tokenless.Add(1)
			}
		}
	}
	return n, err
}

func (b *retryCountingBind) WriteBatch(dgrams []Datagram) error {
	for i := range dgrams {
		d := &dgrams[i]
		for s := 0; s < d.NumSegments(); s++ {
			if h, err := packet.ParseLongHeader(d.Segment(s)); err == nil && h.Type == packet.LongTypeRetry {
				b.retries.Add(1)
			}
		}
	}
	return b.Bind.WriteBatch(dgrams)
}

// TestRetryLoopback runs a Listener with RequireAddressValidation over real
// UDP sockets on loopback: Dial follows the Retry, 1 MiB crosses byte-exact
// and is consumed, and the counters on both sides match what crossed the
// server's socket.
func TestRetryLoopback(t *testing.T) {
	testutil.CheckGoroutines(t)
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	udp, err := ListenUDP("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sock := &retryCountingBind{Bind: udp}
	ln, err := ListenBind(sock, &Config{PrivateKey: key, RequireAddressValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cli, err := Dial(ctx, ln.Addr().String(), &Config{ServerKey: key.Public()})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer func() {
		cli.Close()
		<-cli.Done() // the closing period, after which its socket closes
	}()
	srv, err := ln.Accept(ctx)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}

	data := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	s, err := cli.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	writeErr := make(chan error, 1)
	go func() {
		_, err := s.Write(data)
		if err == nil {
			err = s.Close()
		}
		writeErr <- err
	}()
	rs, err := srv.AcceptStream(ctx)
	if err != nil {
		t.Fatalf("AcceptStream: %v", err)
	}
	got, err := io.ReadAll(rs)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes (sha256 %x), want %d (sha256 %x)", len(got), sha256.Sum256(got), len(data), sha256.Sum256(data))
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := s.WaitConsumed(ctx, int64(len(data))); err != nil {
		t.Fatalf("WaitConsumed: %v", err)
	}

	if got := cli.Stats().Retries; got != 1 {
		t.Errorf("client Stats().Retries = %d, want 1", got)
	}
	if got := srv.Stats().Retries; got != 0 {
		t.Errorf("server connection Stats().Retries = %d, want 0", got)
	}
	retries, tokenless := sock.retries.Load(), sock.tokenless.Load()
	if retries == 0 || retries != tokenless {
		t.Errorf("on the server's socket: %d Retries sent for %d Initials without a token, want one for each (at least one)", retries, tokenless)
	}
	if got, want := ln.Stats(), (EndpointStats{RetriesSent: retries}); got != want {
		t.Errorf("Listener.Stats() = %+v, want %+v", got, want)
	}
	t.Logf("Retries sent: %d (the client sent %d Initials before the Retry reached it)", retries, tokenless)
}
