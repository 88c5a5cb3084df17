package transport

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
)

// TestUnsentBoundWithConcurrentWriters: writers on 16 streams at once, to
// a peer that reads nothing and grants little credit, hold no more unsent
// bytes than MaxUnsentBytes: each write takes its room before it copies,
// so two writers cannot both take the same room.
func TestUnsentBoundWithConcurrentWriters(t *testing.T) {
	const limit = 64 << 10
	key, _ := crypto.GenerateKey()
	ln, err := Listen("127.0.0.1:0", &Config{PrivateKey: key, InitialStreamWindow: 4 << 10, MaxStreamWindow: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		c, err := ln.Accept(ctx)
		if err != nil {
			return
		}
		for {
			if _, err := c.AcceptStream(ctx); err != nil {
				return // streams accepted, never read
			}
		}
	}()
	cli, err := Dial(ctx, ln.Addr().String(), &Config{ServerKey: key.Public(), MaxUnsentBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	data := make([]byte, 256<<10)
	var wg sync.WaitGroup
	for range 16 {
		s, err := cli.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
			if _, err := s.Write(data); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("Write = %v, want the deadline (the peer reads nothing)", err)
			}
		}()
	}
	wg.Wait()
	if got := cli.ep.unsent.Load(); got > limit {
		t.Errorf("%d bytes unsent with MaxUnsentBytes %d", got, limit)
	}
}

// TestReserveUnsentExact: writers reserving room at once, on one
// connection or on two sharing an endpoint, get exactly the room there is
// between them, never more: the smaller of the connection's cap and the
// endpoint's limit.
func TestReserveUnsentExact(t *testing.T) {
	for _, tt := range []struct {
		name           string
		conns          int
		connCap, limit int64
	}{
		{"the connection's cap", 1, 50_000, 1 << 30},
		{"the endpoint's limit", 1, 1 << 30, 50_000},
		{"two connections, one endpoint", 2, 1 << 30, 50_000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ep := &Endpoint{}
			ep.room.limit = tt.limit
			var conns []*Conn
			for range tt.conns {
				c := &Conn{ep: ep}
				c.streams.unsentCap.Store(tt.connCap)
				conns = append(conns, c)
			}
			var total sync.WaitGroup
			var mu sync.Mutex
			var sum int64
			for i := range 8 {
				c := conns[i%len(conns)]
				total.Add(1)
				go func() {
					defer total.Done()
					for {
						n := c.reserveUnsent(1000)
						if n == 0 {
							return
						}
						mu.Lock()
						sum += n
						mu.Unlock()
					}
				}()
			}
			total.Wait()
			want := min(tt.limit, tt.connCap*int64(tt.conns))
			if sum != want || ep.unsent.Load() != want {
				t.Errorf("reserved %d, endpoint counts %d; want exactly %d", sum, ep.unsent.Load(), want)
			}
		})
	}
}
