package transport

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/limpetnet/limpet/transport/netsim"
)

// TestSmallWritesCoalesce: on a path with a 10 ms round trip, 300 writes of
// 10 bytes, 50 µs apart, travel in far fewer packets than writes.
func TestSmallWritesCoalesce(t *testing.T) {
	packets := func(noDelay bool) uint64 {
		cli, srv, _, _ := impairedPair(t, netsim.Config{Seed: 1, Delay: 5 * time.Millisecond}, &Config{NoDelay: noDelay})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := cli.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var dataPackets atomic.Uint64
		cli.run(ctx, func(now time.Time) {
			cli.tx.testDrop = func(rec *sentFrames) bool {
				for i := 0; i < rec.len(); i++ {
					if rec.at(i).kind == sentStream {
						dataPackets.Add(1)
						break
					}
				}
				return false
			}
		})
		done := make(chan int)
		go func() {
			rs, err := srv.AcceptStream(ctx)
			if err != nil {
				done <- -1
				return
			}
			b, _ := io.ReadAll(rs)
			done <- len(b)
		}()
		msg := []byte("0123456789")
		for i := 0; i < 300; i++ {
			if _, err := s.Write(msg); err != nil {
				t.Fatal(err)
			}
			// The workload's pace (not synchronisation): time.Sleep cannot
			// wait less than about a millisecond, so spin.
			for start := time.Now(); time.Since(start) < 50*time.Microsecond; {
			}
		}
		s.Close()
		if n := <-done; n != 3000 {
			t.Fatalf("received %d bytes, want 3000", n)
		}
		return dataPackets.Load()
	}
	coalesced := packets(false)
	immediate := packets(true)
	t.Logf("packets with stream data for 300 paced 10-byte writes: %d coalesced, %d with NoDelay", coalesced, immediate)
	// Without coalescing each write may leave in its own packet (how many
	// do depends on scheduling, so NoDelay is only logged); with it, a
	// partial packet waits at most coalesceDelay while data is in flight.
	if coalesced >= 100 {
		t.Errorf("coalescing sent %d packets for 300 small writes; want < 100", coalesced)
	}
}
