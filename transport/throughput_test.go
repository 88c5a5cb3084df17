package transport

import (
	"context"
	"io"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkStreamLoopback moves b.N × 1 MiB over one stream on loopback.
// Speed comparisons with TCP live in cmd/qbench; this is for profiling.
func BenchmarkStreamLoopback(b *testing.B) { benchStreamLoopback(b, 0) }

// BenchmarkStreamLoopbackDatagramSize shows what datagram size buys on a
// path that carries any: the same transfer with path MTU discovery capped
// at an Ethernet datagram, jumbo, 16 KiB and loopback's 64 KiB.
func BenchmarkStreamLoopbackDatagramSize(b *testing.B) {
	for _, size := range []int{1452, 8972, 16356, 65507} {
		b.Run(strconv.Itoa(size), func(b *testing.B) { benchStreamLoopback(b, size) })
	}
}

func benchStreamLoopback(b *testing.B, maxDatagram int) {
	srvCfg, cliCfg := &Config{MaxDatagramSize: maxDatagram}, &Config{MaxDatagramSize: maxDatagram}
	_, cli, srv := testPair(&testing.T{}, srvCfg, cliCfg)
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
	cpuBefore := processCPU()
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
	cpu := processCPU() - cpuBefore
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	st := cli.Stats()
	// Allocations of both ends, per data packet that crossed.
	packets := (st.PacketsSent - sentBefore + srv.Stats().PacketsReceived - recvBefore) / 2
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(max(packets, 1)), "allocs/pkt")
	b.ReportMetric(float64(st.PacketsLost), "lost")
	b.ReportMetric(float64(srv.Stats().QueueDrops), "qdrops")
	b.ReportMetric(float64(st.ProbeTimeouts), "ptos")
	b.ReportMetric(float64(st.MaxDatagramSize), "dgram")
	// Both ends' CPU (this process runs both) per GiB moved.
	b.ReportMetric(cpu.Seconds()/(float64(b.N)*float64(len(chunk))/(1<<30)), "cpu-s/GiB")
}

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
