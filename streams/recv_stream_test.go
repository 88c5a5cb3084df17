package streams

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func mustHandle(t *testing.T, r *RecvStream, offset int64, data []byte, fin bool, conn *RecvWindow) {
	t.Helper()
	if err := r.HandleFrame(offset, data, fin, conn); err != nil {
		t.Fatalf("HandleFrame([%d, +%d) fin=%v): %v", offset, len(data), fin, err)
	}
}

// readAll reads everything readable now.
func readAll(t *testing.T, r *RecvStream) ([]byte, bool) {
	t.Helper()
	var out []byte
	buf := make([]byte, 1000)
	for {
		n, fin := r.Read(buf)
		out = append(out, buf[:n]...)
		if n == 0 || fin {
			return out, fin
		}
	}
}

func TestRecvStreamInOrderAndGaps(t *testing.T) {
	data := pattern(3000)
	r := NewRecvStream(10000, 10000)
	mustHandle(t, r, 1000, data[1000:2000], false, nil)
	if got, _ := readAll(t, r); len(got) != 0 {
		t.Fatalf("read %d bytes across a gap at 0", len(got))
	}
	if r.Buffered() != 1000 {
		t.Fatalf("got Buffered %d, want 1000", r.Buffered())
	}
	mustHandle(t, r, 0, data[:1000], false, nil)
	mustHandle(t, r, 2000, data[2000:], true, nil)
	if r.State() != RecvDataRecvd {
		t.Fatalf("got state %v, want DataRecvd", r.State())
	}
	got, fin := readAll(t, r)
	if !bytes.Equal(got, data) || !fin {
		t.Fatalf("got %d bytes fin=%v, want the 3000 written and fin", len(got), fin)
	}
	if r.State() != RecvDataRead || r.Consumed() != 3000 {
		t.Fatalf("got state %v Consumed %d, want DataRead and 3000", r.State(), r.Consumed())
	}
	if n, fin := r.Read(make([]byte, 10)); n != 0 || !fin {
		t.Fatalf("Read after the end = (%d, %v), want (0, true)", n, fin)
	}
}

func TestRecvStreamOverlapsKeepFirstCopy(t *testing.T) {
	r := NewRecvStream(1000, 1000)
	mustHandle(t, r, 0, []byte("aaaa"), false, nil)
	mustHandle(t, r, 2, []byte("bbbbbb"), false, nil)
	mustHandle(t, r, 0, []byte("cccccccccc"), false, nil)
	got, _ := readAll(t, r)
	if want := "aaaabbbbcc"; string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// Data below the read offset is ignored.
	mustHandle(t, r, 0, []byte("dddddddddddd"), false, nil)
	if got, _ := readAll(t, r); string(got) != "dd" {
		t.Fatalf("got %q, want %q", got, "dd")
	}
}

// TestRecvStreamRandomReassembly feeds random, overlapping, duplicated and
// differently split frames in random order, interleaved with reads of random
// sizes and window updates, and checks the bytes read against the original.
func TestRecvStreamRandomReassembly(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		data := make([]byte, 50_000+rng.IntN(100_000))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		// An odd window makes the ring wrap at arbitrary offsets.
		window := int64(3000 + rng.IntN(20_000))
		r := NewRecvStream(window, 4*window)
		conn := NewRecvWindow(1<<40, 1<<40)
		var got []byte
		buf := make([]byte, 5000)
		for steps := 0; ; steps++ {
			if steps > 1_000_000 {
				t.Fatalf("seed %d: reassembly did not finish", seed)
			}
			// A frame anywhere from a little before the read offset up to
			// the limit, so duplicates of read data occur too.
			limit := min(r.Limit(), int64(len(data)))
			lo := max(r.Consumed()-2000, 0)
			start := lo + rng.Int64N(limit-lo+1)
			end := min(start+rng.Int64N(1500), limit)
			fin := end == int64(len(data)) && rng.IntN(2) == 0
			mustHandle(t, r, start, data[start:end], fin, conn)
			if rng.IntN(4) == 0 {
				n, _ := r.Read(buf[:rng.IntN(len(buf))])
				got = append(got, buf[:n]...)
				conn.Consume(int64(n))
			}
			// Fast fake time makes auto-tuning grow the window (and the
			// ring, with data in it) now and then.
			r.WindowUpdate(t0.Add(time.Duration(steps)*time.Millisecond), 50*time.Millisecond)
			if r.buf.data.size() > int(r.WindowSize()) {
				t.Fatalf("seed %d: ring of %d bytes exceeds window %d", seed, r.buf.data.size(), r.WindowSize())
			}
			if len(got) == len(data) {
				if _, ok := r.FinalSize(); ok {
					break
				}
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("seed %d: read %d bytes that differ from the %d sent", seed, len(got), len(data))
		}
		if n, fin := r.Read(buf); n != 0 || !fin {
			t.Fatalf("seed %d: final Read = (%d, %v), want (0, true)", seed, n, fin)
		}
		if r.WindowSize() == window {
			t.Errorf("seed %d: window never grew; the test should exercise ring growth", seed)
		}
		if conn.Received() != int64(len(data)) || conn.Consumed() != int64(len(data)) {
			t.Fatalf("seed %d: connection window received %d consumed %d, want %d",
				seed, conn.Received(), conn.Consumed(), len(data))
		}
	}
}

// TestRecvStreamMemoryBoundedUnderFragmentation sends the worst case for a
// range list: single bytes at every other offset, then overlapping frames
// covering them, and checks the buffer never exceeds the window.
func TestRecvStreamMemoryBoundedUnderFragmentation(t *testing.T) {
	const window = 1 << 16
	data := pattern(window)
	r := NewRecvStream(window, window)
	for off := int64(1); off < window; off += 2 {
		mustHandle(t, r, off, data[off:off+1], false, nil)
	}
	for off := int64(0); off+3 <= window; off += 3 {
		mustHandle(t, r, off, data[off:off+3], false, nil)
	}
	mustHandle(t, r, 0, data, false, nil)
	if got := r.buf.data.size(); got > window {
		t.Errorf("data buffer %d bytes, want at most %d", got, window)
	}
	if got := len(r.buf.have.words) * 8; got > window/8 {
		t.Errorf("bitmap %d bytes, want at most %d", got, window/8)
	}
	got, _ := readAll(t, r)
	if !bytes.Equal(got, data) {
		t.Fatalf("fragmented reassembly returned wrong bytes")
	}
}

func TestRecvStreamFlowControlErrors(t *testing.T) {
	tests := []struct {
		desc       string
		streamWin  int64
		connWin    int64
		prior      [][2]int64 // frames [start, end) received first
		start, end int64
	}{
		{"beyond the stream limit", 1000, 1 << 20, nil, 900, 1001},
		{"beyond the connection limit", 1 << 20, 1000, nil, 0, 1001},
		{"connection limit counts only new bytes", 1 << 20, 1000, [][2]int64{{0, 800}}, 500, 1001},
		{"empty frame beyond the limit", 1000, 1 << 20, nil, 1001, 1001},
		{"offset beyond 2^62", 1000, 1 << 20, nil, 1<<62 - 1, 1 << 62},
	}
	t.Run("offset near 2^63 does not wrap around", func(t *testing.T) {
		r := NewRecvStream(1000, 1000)
		if err := r.HandleFrame(math.MaxInt64-5, pattern(10), false, nil); !errors.Is(err, ErrFlowControl) {
			t.Fatalf("got %v, want ErrFlowControl", err)
		}
		if err := r.HandleFrame(-5, pattern(10), false, nil); !errors.Is(err, ErrFlowControl) {
			t.Fatalf("negative offset: got %v, want ErrFlowControl", err)
		}
	})
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := NewRecvStream(tt.streamWin, tt.streamWin)
			conn := NewRecvWindow(tt.connWin, tt.connWin)
			data := pattern(int(tt.end - tt.start))
			for _, p := range tt.prior {
				mustHandle(t, r, p[0], pattern(int(p[1]-p[0])), false, conn)
			}
			before, connBefore := r.HighestReceived(), conn.Received()
			err := r.HandleFrame(tt.start, data, false, conn)
			if !errors.Is(err, ErrFlowControl) {
				t.Fatalf("got %v, want ErrFlowControl", err)
			}
			if r.HighestReceived() != before || conn.Received() != connBefore {
				t.Errorf("rejected frame changed state: highest %d→%d, connection %d→%d",
					before, r.HighestReceived(), connBefore, conn.Received())
			}
		})
	}
	t.Run("connection window charged across streams", func(t *testing.T) {
		conn := NewRecvWindow(1500, 1500)
		a, b := NewRecvStream(1000, 1000), NewRecvStream(1000, 1000)
		mustHandle(t, a, 0, pattern(1000), false, conn)
		mustHandle(t, b, 0, pattern(500), false, conn)
		if err := b.HandleFrame(500, pattern(1), false, conn); !errors.Is(err, ErrFlowControl) {
			t.Fatalf("got %v, want ErrFlowControl at 1501 bytes on the connection", err)
		}
	})
}

func TestRecvStreamFinalSizeErrors(t *testing.T) {
	type fr struct {
		start, end int64
		fin        bool
	}
	tests := []struct {
		desc  string
		prior []fr
		frame fr
		reset int64 // if >= 0, a RESET_STREAM with this final size instead of frame
	}{
		{"data beyond the final size", []fr{{0, 100, true}}, fr{100, 101, false}, -1},
		{"final size grows", []fr{{0, 100, true}}, fr{50, 120, true}, -1},
		{"final size shrinks", []fr{{0, 100, true}}, fr{0, 90, true}, -1},
		{"final size below data received", []fr{{0, 100, false}}, fr{0, 50, true}, -1},
		{"empty frame beyond the final size", []fr{{0, 100, true}}, fr{150, 150, false}, -1},
		{"reset changes the final size", []fr{{0, 100, true}}, fr{}, 99},
		{"reset below data received", []fr{{0, 100, false}}, fr{}, 50},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := NewRecvStream(1000, 1000)
			for _, p := range tt.prior {
				mustHandle(t, r, p.start, pattern(int(p.end-p.start)), p.fin, nil)
			}
			var err error
			if tt.reset >= 0 {
				err = r.HandleReset(1, tt.reset, nil)
			} else {
				err = r.HandleFrame(tt.frame.start, pattern(int(tt.frame.end-tt.frame.start)), tt.frame.fin, nil)
			}
			if !errors.Is(err, ErrFinalSize) {
				t.Fatalf("got %v, want ErrFinalSize", err)
			}
		})
	}
	t.Run("repeated FIN with the same size is fine", func(t *testing.T) {
		r := NewRecvStream(1000, 1000)
		mustHandle(t, r, 50, pattern(50), true, nil)
		mustHandle(t, r, 0, pattern(100), true, nil)
		if err := r.HandleReset(3, 100, nil); err != nil {
			t.Fatalf("reset with the known final size: %v", err)
		}
	})
}

func TestRecvStreamReset(t *testing.T) {
	conn := NewRecvWindow(10000, 10000)
	r := NewRecvStream(5000, 5000)
	mustHandle(t, r, 0, pattern(1000), false, conn)
	mustHandle(t, r, 2000, pattern(500), false, conn)
	n, _ := r.Read(make([]byte, 400))
	conn.Consume(int64(n)) // as the transport does after Read
	if err := r.HandleReset(77, 3000, conn); err != nil {
		t.Fatalf("HandleReset: %v", err)
	}
	if r.State() != RecvResetRecvd {
		t.Fatalf("got state %v, want ResetRecvd", r.State())
	}
	// The connection is charged up to the final size and, since nobody will
	// read them, credited for every byte.
	if conn.Received() != 3000 || conn.Consumed() != 3000 {
		t.Errorf("connection received %d consumed %d, want 3000 and 3000", conn.Received(), conn.Consumed())
	}
	if code, ok := r.ResetCode(); !ok || code != 77 {
		t.Errorf("got ResetCode (%d, %v), want (77, true)", code, ok)
	}
	if r.Buffered() != 0 {
		t.Errorf("reset stream still buffers %d bytes", r.Buffered())
	}
	if n, fin := r.Read(make([]byte, 100)); n != 0 || fin {
		t.Errorf("Read after reset = (%d, %v), want (0, false)", n, fin)
	}
	if r.State() != RecvResetRead || !r.Done() {
		t.Errorf("got state %v Done %v, want ResetRead and true", r.State(), r.Done())
	}
	// Late frames within the final size are ignored; beyond it, an error.
	mustHandle(t, r, 1000, pattern(1000), false, conn)
	if err := r.HandleFrame(2900, pattern(101), false, conn); !errors.Is(err, ErrFinalSize) {
		t.Errorf("frame beyond the reset's final size: got %v, want ErrFinalSize", err)
	}
	if _, ok := r.ConsumedToReport(); ok {
		t.Errorf("receipt requested for a reset stream")
	}
}

func TestRecvStreamStopSending(t *testing.T) {
	conn := NewRecvWindow(10000, 10000)
	r := NewRecvStream(5000, 5000)
	mustHandle(t, r, 0, pattern(1000), false, conn)
	mustHandle(t, r, 1500, pattern(500), false, conn)
	discarded := r.StopSending(9)
	if discarded != 1000 {
		t.Fatalf("StopSending discarded %d, want the 1000 contiguous bytes", discarded)
	}
	conn.Consume(discarded) // as the transport does
	if code, ok := r.StopSendingToSend(); !ok || code != 9 {
		t.Fatalf("got StopSendingToSend (%d, %v), want (9, true)", code, ok)
	}
	if _, ok := r.StopSendingToSend(); ok {
		t.Fatalf("STOP_SENDING requested twice")
	}
	r.OnStopSendingLost()
	if _, ok := r.StopSendingToSend(); !ok {
		t.Fatalf("lost STOP_SENDING not re-armed")
	}
	if n, _ := r.Read(make([]byte, 100)); n != 0 {
		t.Fatalf("Read after StopSending returned %d bytes", n)
	}
	// Bytes arriving later are discarded and credited directly.
	mustHandle(t, r, 1000, pattern(500), false, conn)
	if conn.Consumed() != 2000 || r.Buffered() != 0 {
		t.Fatalf("got connection consumed %d, buffered %d; want 2000 and 0", conn.Consumed(), r.Buffered())
	}
	if _, ok := r.WindowUpdate(t0, 0); ok {
		t.Fatalf("window update offered after StopSending")
	}
	// The peer answers with RESET_STREAM; the stream is then finished.
	if err := r.HandleReset(9, 2500, conn); err != nil {
		t.Fatal(err)
	}
	if r.State() != RecvResetRead || conn.Consumed() != 2500 {
		t.Fatalf("got state %v connection consumed %d, want ResetRead and 2500", r.State(), conn.Consumed())
	}
	r.OnStopSendingLost()
	if _, ok := r.StopSendingToSend(); ok {
		t.Fatalf("STOP_SENDING re-armed after the reset arrived")
	}
}

func TestRecvStreamStopSendingThenAllData(t *testing.T) {
	r := NewRecvStream(5000, 5000)
	mustHandle(t, r, 0, pattern(100), false, nil)
	r.StopSending(1)
	mustHandle(t, r, 100, pattern(100), true, nil)
	if r.State() != RecvDataRead || !r.Done() {
		t.Fatalf("got state %v, want DataRead once all data arrived after StopSending", r.State())
	}
}

func TestRecvStreamStates(t *testing.T) {
	type step func(t *testing.T, r *RecvStream)
	frame := func(start, end int64, fin bool) step {
		return func(t *testing.T, r *RecvStream) { mustHandle(t, r, start, pattern(int(end-start)), fin, nil) }
	}
	read := func(t *testing.T, r *RecvStream) { readAll(t, r) }
	reset := func(t *testing.T, r *RecvStream) {
		if err := r.HandleReset(1, 100, nil); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		desc  string
		steps []step
		want  RecvState
	}{
		{"new stream is Recv", nil, RecvRecv},
		{"data without FIN stays Recv", []step{frame(0, 50, false)}, RecvRecv},
		{"FIN with a gap is SizeKnown", []step{frame(50, 100, true)}, RecvSizeKnown},
		{"FIN with all data is DataRecvd", []step{frame(0, 100, true)}, RecvDataRecvd},
		{"gap filled after FIN is DataRecvd", []step{frame(50, 100, true), frame(0, 50, false)}, RecvDataRecvd},
		{"empty stream FIN is DataRecvd", []step{frame(0, 0, true)}, RecvDataRecvd},
		{"read to the end is DataRead", []step{frame(0, 100, true), read}, RecvDataRead},
		{"read before FIN stays Recv", []step{frame(0, 100, false), read}, RecvRecv},
		{"reset in Recv", []step{frame(0, 50, false), reset}, RecvResetRecvd},
		{"reset in SizeKnown", []step{frame(50, 100, true), reset}, RecvResetRecvd},
		{"reset after DataRecvd is ignored", []step{frame(0, 100, true), reset}, RecvDataRecvd},
		{"reset seen by the reader", []step{reset, read}, RecvResetRead},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := NewRecvStream(1000, 1000)
			for _, st := range tt.steps {
				st(t, r)
			}
			if got := r.State(); got != tt.want {
				t.Errorf("got state %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRecvStreamWindowUpdates(t *testing.T) {
	r := NewRecvStream(1000, 1000)
	mustHandle(t, r, 0, pattern(1000), false, nil)
	if _, ok := r.WindowUpdate(t0, 0); ok {
		t.Fatalf("update before anything was read")
	}
	r.Read(make([]byte, 500))
	limit, ok := r.WindowUpdate(t0, 0)
	if !ok || limit != 1500 {
		t.Fatalf("got update (%d, %v), want (1500, true)", limit, ok)
	}
	r.OnWindowUpdateLost(1500)
	if limit, ok := r.WindowUpdate(t0, 0); !ok || limit != 1500 {
		t.Fatalf("after loss got (%d, %v), want (1500, true)", limit, ok)
	}
	mustHandle(t, r, 1000, pattern(500), true, nil)
	r.Read(make([]byte, 800))
	if _, ok := r.WindowUpdate(t0, 0); ok {
		t.Fatalf("update offered once the final size is known")
	}
}

func TestRecvStreamConsumedReports(t *testing.T) {
	r := NewRecvStream(1000, 1000)
	if _, ok := r.ConsumedToReport(); ok {
		t.Fatalf("receipt before anything was read")
	}
	mustHandle(t, r, 0, pattern(300), false, nil)
	r.Read(make([]byte, 100))
	if off, ok := r.ConsumedToReport(); !ok || off != 100 {
		t.Fatalf("got (%d, %v), want (100, true)", off, ok)
	}
	if _, ok := r.ConsumedToReport(); ok {
		t.Fatalf("receipt repeated without new reads")
	}
	r.Read(make([]byte, 100))
	r.OnConsumedLost(100) // superseded by the pending 200
	if off, ok := r.ConsumedToReport(); !ok || off != 200 {
		t.Fatalf("got (%d, %v), want (200, true)", off, ok)
	}
	r.OnConsumedLost(100)
	if _, ok := r.ConsumedToReport(); ok {
		t.Fatalf("loss of a superseded receipt re-armed it")
	}
	r.OnConsumedLost(200)
	if off, ok := r.ConsumedToReport(); !ok || off != 200 {
		t.Fatalf("after loss got (%d, %v), want (200, true)", off, ok)
	}
}

// TestRecvStreamRingGrowthKeepsOutOfOrderData grows the buffer twice while
// it holds bytes beyond a gap, which must move to their new slots; they are
// never sent again.
func TestRecvStreamRingGrowthKeepsOutOfOrderData(t *testing.T) {
	data := pattern(40_000)
	r := NewRecvStream(64<<10, 64<<10)
	frames := [][2]int{{10_000, 11_000}, {30_000, 31_000}, {39_000, 40_000}, {0, 10_000}, {11_000, 30_000}, {31_000, 39_000}}
	sizes := []int{}
	for _, f := range frames {
		mustHandle(t, r, int64(f[0]), data[f[0]:f[1]], f[1] == len(data), nil)
		sizes = append(sizes, r.buf.data.size())
	}
	if sizes[0] == sizes[2] {
		t.Fatalf("ring sizes %v: the buffer never grew with data in it", sizes)
	}
	got, fin := readAll(t, r)
	if !bytes.Equal(got, data) || !fin {
		t.Fatalf("got %d bytes fin=%v, want the original 40000 and fin", len(got), fin)
	}
}

// TestRecvStreamStopSendingAfterAllArrived: an application that stops
// reading while every byte has arrived but not all were read still sends
// STOP_SENDING, so the sender learns its receipts will not reach the end;
// one that read everything has nothing to say.
func TestRecvStreamStopSendingAfterAllArrived(t *testing.T) {
	r := NewRecvStream(5000, 5000)
	mustHandle(t, r, 0, pattern(100), true, nil)
	r.Read(make([]byte, 40))
	if n := r.StopSending(3); n != 60 {
		t.Fatalf("StopSending discarded %d, want the 60 unread bytes", n)
	}
	if code, ok := r.StopSendingToSend(); !ok || code != 3 {
		t.Fatalf("StopSendingToSend = %d, %v; want 3, true", code, ok)
	}
	r.OnStopSendingLost()
	if _, ok := r.StopSendingToSend(); !ok {
		t.Fatal("a lost STOP_SENDING was not re-armed")
	}
	if !r.Done() {
		t.Fatalf("state %v: not done after everything arrived and reading stopped", r.State())
	}

	all := NewRecvStream(5000, 5000)
	mustHandle(t, all, 0, pattern(100), true, nil)
	readAll(t, all)
	all.StopSending(3)
	if _, ok := all.StopSendingToSend(); ok {
		t.Fatal("STOP_SENDING for a stream read to the end")
	}
}

// TestRecvStreamStopAfterReset: an application that stops reading a
// stream the peer already reset, without reading the reset, finishes it:
// nothing is asked of the peer, and the stream is done (its slot can go
// back).
func TestRecvStreamStopAfterReset(t *testing.T) {
	conn := NewRecvWindow(10000, 10000)
	r := NewRecvStream(5000, 5000)
	mustHandle(t, r, 0, pattern(100), false, conn)
	if err := r.HandleReset(5, 100, conn); err != nil {
		t.Fatal(err)
	}
	if r.Done() {
		t.Fatal("done before the application read the reset or stopped")
	}
	if n := r.StopSending(0); n != 0 {
		t.Errorf("StopSending after the reset discarded %d bytes", n)
	}
	if _, ok := r.StopSendingToSend(); ok {
		t.Error("STOP_SENDING requested for a stream the peer reset")
	}
	if !r.Done() {
		t.Errorf("stream in state %v not done after the reset and StopSending", r.State())
	}
}
