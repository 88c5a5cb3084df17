package streams

import (
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
)

const benchFrame = 1200

// BenchmarkSendStream is the steady-state send path: the application writes
// a packet's worth, the transport pulls it as a frame, and the ACK frees it.
func BenchmarkSendStream(b *testing.B) {
	s := NewSendStream(SendStreamConfig{MaxBuffered: 1 << 20, PeerMaxData: packet.MaxVarint})
	conn := NewSendWindow(packet.MaxVarint)
	payload := pattern(benchFrame)
	b.SetBytes(benchFrame)
	b.ReportAllocs()
	for b.Loop() {
		if s.Write(payload) != benchFrame {
			b.Fatal("short write")
		}
		// Where the ring wraps, a frame is split in two.
		for {
			off, data, fin, ok := s.NextFrame(benchFrame, conn)
			if !ok {
				break
			}
			s.OnAcked(off, len(data), fin)
		}
	}
}

// BenchmarkSendStreamPipelined keeps 64 frames in flight, acknowledging the
// oldest as each new one goes out, so the ring holds data and wraps.
func BenchmarkSendStreamPipelined(b *testing.B) {
	s := NewSendStream(SendStreamConfig{MaxBuffered: 256 << 10, PeerMaxData: packet.MaxVarint})
	payload := pattern(benchFrame)
	type sent struct {
		off int64
		n   int
	}
	var inFlight [64]sent
	i := 0
	b.SetBytes(benchFrame)
	b.ReportAllocs()
	for b.Loop() {
		if old := inFlight[i%64]; old.n > 0 {
			s.OnAcked(old.off, old.n, false)
		}
		if s.Write(payload) != benchFrame {
			b.Fatal("short write")
		}
		off, data, _, ok := s.NextFrame(benchFrame, nil)
		if !ok {
			b.Fatal("no frame")
		}
		if len(data) < benchFrame {
			// The ring wrapped: send the rest in a second frame, acked at once.
			off2, data2, _, _ := s.NextFrame(benchFrame-len(data), nil)
			s.OnAcked(off2, len(data2), false)
		}
		inFlight[i%64] = sent{off, len(data)}
		i++
	}
}

// BenchmarkRecvStream is the steady-state receive path: an in-order frame
// arrives, the application reads it, and window updates are generated.
func BenchmarkRecvStream(b *testing.B) {
	r := NewRecvStream(1<<20, 1<<20)
	conn := NewRecvWindow(1<<20, 1<<20)
	payload := pattern(benchFrame)
	buf := make([]byte, benchFrame)
	var off int64
	now := t0
	b.SetBytes(benchFrame)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.HandleFrame(off, payload, false, conn); err != nil {
			b.Fatal(err)
		}
		off += benchFrame
		n, _ := r.Read(buf)
		conn.Consume(int64(n))
		r.WindowUpdate(now, 10*time.Millisecond)
		conn.Update(now, 10*time.Millisecond)
		r.ConsumedToReport()
	}
}

// BenchmarkRecvStreamReordered delivers frames in swapped pairs, so every
// other frame is buffered out of order first.
func BenchmarkRecvStreamReordered(b *testing.B) {
	r := NewRecvStream(1<<20, 1<<20)
	payload := pattern(2 * benchFrame)
	buf := make([]byte, 2*benchFrame)
	var off int64
	b.SetBytes(2 * benchFrame)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.HandleFrame(off+benchFrame, payload[benchFrame:], false, nil); err != nil {
			b.Fatal(err)
		}
		if err := r.HandleFrame(off, payload[:benchFrame], false, nil); err != nil {
			b.Fatal(err)
		}
		off += 2 * benchFrame
		r.Read(buf)
		r.WindowUpdate(t0, 0)
	}
}

// BenchmarkScheduler is one scheduling decision among 100 busy streams.
func BenchmarkScheduler(b *testing.B) {
	s := NewScheduler(benchFrame)
	for id := range packet.StreamID(100) {
		s.Push(id * 4)
	}
	b.ReportAllocs()
	for b.Loop() {
		id, _ := s.Next()
		s.Sent(id, benchFrame, true)
	}
}
