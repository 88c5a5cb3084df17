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

// warmUpChunks is how many MiB a throughput benchmark moves before it
// starts counting.
const warmUpChunks = 256

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
	// Warm up: the buffer pools fill to the transfer's working set once,
	// and the allocations counted below are the steady state's.
	for range warmUpChunks {
		if _, err := s.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.WaitConsumed(ctx, warmUpChunks*int64(len(chunk))); err != nil {
		b.Fatal(err)
	}
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
	total := (int64(b.N) + warmUpChunks) * int64(len(chunk))
	if err := s.WaitConsumed(ctx, total); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu := processCPU() - cpuBefore
	// Counted before the stream ends, whose buffers go back to the pools.
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	st := cli.Stats()
	s.Close()
	if n := <-done; n != total {
		b.Fatalf("received %d bytes, want %d", n, total)
	}
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

// BenchmarkStreamsParallel compares one stream with many in parallel on one
// connection, the same bytes per op: 1 × 1000 MiB and 100 × 10 MiB, each
// stream written and read by a goroutine of its own. Issue 18 wants the
// aggregate of the parallel run within 10% of the single stream's:
//
//	go test ./transport -run '^$' -bench StreamsParallel -benchtime 3x
func BenchmarkStreamsParallel(b *testing.B) {
	for _, streams := range []int{1, 100} {
		b.Run(strconv.Itoa(streams), func(b *testing.B) { benchStreamsParallel(b, streams, 1000<<20/streams) })
	}
}

func benchStreamsParallel(b *testing.B, streams, perStream int) {
	_, cli, srv := testPair(&testing.T{}, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	chunk := make([]byte, 256<<10)
	b.SetBytes(int64(streams * perStream))
	cpuBefore := processCPU()
	b.ResetTimer()
	for range b.N {
		received := make(chan int64, streams)
		go func() {
			for range streams {
				rs, err := srv.AcceptStream(ctx)
				if err != nil {
					received <- -1
					continue
				}
				go func() {
					n, _ := io.Copy(io.Discard, rs)
					received <- n
				}()
			}
		}()
		errs := make(chan error, streams)
		for range streams {
			go func() {
				s, err := cli.OpenStream(ctx)
				if err != nil {
					errs <- err
					return
				}
				for left := perStream; left > 0; left -= len(chunk) {
					if _, err := s.Write(chunk[:min(len(chunk), left)]); err != nil {
						errs <- err
						return
					}
				}
				errs <- s.Close()
			}()
		}
		for range streams {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		for range streams {
			if n := <-received; n != int64(perStream) {
				b.Fatalf("a stream delivered %d bytes, want %d", n, perStream)
			}
		}
	}
	b.StopTimer()
	cpu := processCPU() - cpuBefore
	b.ReportMetric(cpu.Seconds()/(float64(b.N)*float64(streams*perStream)/(1<<30)), "cpu-s/GiB")
}
