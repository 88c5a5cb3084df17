package transport

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestHeadOfLineIndependence drops every packet carrying stream A's data
// for 200 ms; stream B must keep delivering meanwhile, and A must recover.
func TestHeadOfLineIndependence(t *testing.T) {
	_, cli, srv := testPair(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := cli.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cli.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var blackoutEnd atomic.Int64 // unix nanos; 0 = not started
	aID := a.StreamID()
	cli.run(ctx, func() {
		cli.testOneStreamPerPacket = true
		cli.testDropPacket = func(rec *sentFrames) bool {
			end := blackoutEnd.Load()
			if end == 0 || time.Now().UnixNano() > end {
				return false
			}
			drop := false
			rec.each(func(f *sentFrame) {
				if f.kind == sentStream && f.id == aID {
					drop = true
				}
			})
			return drop
		}
	})
	// Both streams trickle 1 KiB every millisecond.
	for _, s := range []*Stream{a, b} {
		go func(s *Stream) {
			chunk := make([]byte, 1024)
			for i := 0; i < 1000 && ctx.Err() == nil; i++ {
				if _, err := s.Write(chunk); err != nil {
					return
				}
				time.Sleep(time.Millisecond) // pacing of the workload, not synchronisation
			}
			s.Close()
		}(s)
	}
	var recvA, recvB atomic.Int64
	for i := 0; i < 2; i++ {
		rs, err := srv.AcceptStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		counter := &recvA
		if rs.StreamID() == b.StreamID() {
			counter = &recvB
		}
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := rs.Read(buf)
				counter.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
	}
	// Let both flow, then black out A for 200 ms.
	for recvA.Load() < 20<<10 || recvB.Load() < 20<<10 {
		if ctx.Err() != nil {
			t.Fatal("streams did not start")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	blackoutEnd.Store(start.Add(200 * time.Millisecond).UnixNano())
	time.Sleep(30 * time.Millisecond) // let in-flight A packets land
	a0, b0 := recvA.Load(), recvB.Load()
	for time.Since(start) < 190*time.Millisecond {
		time.Sleep(5 * time.Millisecond)
	}
	a1, b1 := recvA.Load(), recvB.Load()
	t.Logf("during the blackout: stream A +%d bytes, stream B +%d bytes", a1-a0, b1-b0)
	if a1 != a0 {
		t.Errorf("stream A delivered %d bytes while its packets were dropped", a1-a0)
	}
	// The dropped packets count as congestion, so the window shrinks and B
	// slows; what matters is that B keeps delivering while A is stuck.
	if b1-b0 < 8<<10 {
		t.Errorf("stream B delivered only %d bytes during A's blackout; want ≥ 8 KiB (no head-of-line blocking)", b1-b0)
	}
	for recvA.Load() < 1000<<10 || recvB.Load() < 1000<<10 {
		if ctx.Err() != nil {
			t.Fatalf("after the blackout: A %d, B %d bytes of %d", recvA.Load(), recvB.Load(), 1000<<10)
		}
		time.Sleep(time.Millisecond)
	}
}
