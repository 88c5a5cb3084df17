package transport

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
)

// TestDialRefusedFailsFast: a Dial to a port where nothing listens fails
// at once with a connection-refused error, as TCP's connect does, instead
// of waiting out its 10 s handshake timeout: the kernel's ICMP port
// unreachable reaches the handshake (IP_RECVERR).
func TestDialRefusedFailsFast(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close() // nothing listens there now
	key, _ := crypto.GenerateKey()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = Dial(ctx, addr, &Config{ServerKey: key.Public(), HandshakeTimeout: 8 * time.Second})
	elapsed := time.Since(start)
	// A handshake timeout would be *HandshakeTimeoutError, after 8 s.
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial = %v after %v, want an error matching syscall.ECONNREFUSED", err, elapsed)
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Errorf("Dial error %#v is not a *net.OpError for dial", err)
	}
	t.Logf("Dial failed after %v: %v", elapsed, err)
}

// TestDialRefusedOnlyFailsThatDial: an ICMP error naming one server's
// address fails only the handshake dialling it: on an endpoint with an
// established connection and a handshake to another address, both go on,
// and an established connection is not among those an error is checked
// against (anyone can forge ICMP; the check must not walk every
// connection).
func TestDialRefusedOnlyFailsThatDial(t *testing.T) {
	key, ln := echoListener(t)
	ep, err := NewEndpoint("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	established, err := ep.Dial(ctx, ln.Addr().String(), &Config{ServerKey: key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	ep.mu.Lock()
	n := len(ep.dialing)
	ep.mu.Unlock()
	if n != 0 {
		t.Errorf("%d connections among the dialling after the handshake, want 0", n)
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := pc.LocalAddr().String()
	pc.Close()
	if _, err := ep.Dial(ctx, gone, &Config{ServerKey: key.Public()}); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial to a closed port = %v, want ECONNREFUSED", err)
	}
	if err := echoOnStream(ctx, established, []byte("still here")); err != nil {
		t.Fatalf("the established connection after the other's refusal: %v", err)
	}
	ep.mu.Lock()
	n = len(ep.dialing)
	ep.mu.Unlock()
	if n != 0 {
		t.Errorf("%d connections among the dialling after the refused one ended, want 0", n)
	}
}
