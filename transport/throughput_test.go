package transport

import (
	"context"
	"io"
	"runtime"
	"testing"
	"time"
)

// BenchmarkStreamLoopback moves b.N × 1 MiB over one stream on loopback.
// Speed comparisons with TCP live in cmd/qbench; this is for profiling.
func BenchmarkStreamLoopback(b *testing.B) {
	_, cli, srv := testPair(&testing.T{}, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := cli.OpenStream(ctx)
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	done := make(chan int64)
	go func() {
		rs, err := srv.AcceptStream(ctx)
		if err != nil {
			done <- -1
			return
		}
		n, _ := io.Copy(io.Discard, rs)
		done <- n
	}()
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	sentBefore, recvBefore := cli.Stats().PacketsSent, srv.Stats().PacketsReceived
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	if n := <-done; n != int64(b.N)*int64(len(chunk)) {
		b.Fatalf("received %d bytes, want %d", n, int64(b.N)*int64(len(chunk)))
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	st := cli.Stats()
	// Allocations of both ends, per data packet that crossed.
	packets := (st.PacketsSent - sentBefore + srv.Stats().PacketsReceived - recvBefore) / 2
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(max(packets, 1)), "allocs/pkt")
	b.ReportMetric(float64(st.PacketsLost), "lost")
	b.ReportMetric(float64(srv.Stats().QueueDrops), "qdrops")
	b.ReportMetric(float64(st.ProbeTimeouts), "ptos")
}
