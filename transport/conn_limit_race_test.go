package transport

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
)

// TestMaxConnsHoldsUnderABurst: Initials that arrive together are queued
// for the handshake workers before any of them has made a connection, so
// the limit checked when each was queued is checked again when its
// connection is made: of 12 clients dialling at once a listener with
// MaxConns 3, at most 3 get a connection.
func TestMaxConnsHoldsUnderABurst(t *testing.T) {
	key, _ := crypto.GenerateKey()
	ln, err := Listen("127.0.0.1:0", &Config{PrivateKey: key, MaxConns: 3, MaxConnsPerSource: 100, MaxHandshakesPerSource: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var (
		mu    sync.Mutex
		conns []*Conn
		wg    sync.WaitGroup
	)
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Dial(ctx, ln.Addr().String(), &Config{ServerKey: key.Public(), HandshakeTimeout: 3 * time.Second})
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if len(conns) > 3 || len(conns) == 0 {
		t.Errorf("%d of 12 clients connected to a listener with MaxConns 3, want 1 to 3", len(conns))
	}
}
