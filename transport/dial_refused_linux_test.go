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
