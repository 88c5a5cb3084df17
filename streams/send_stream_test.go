package streams

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// frame is a STREAM frame as the transport records it for ack and loss.
type frame struct {
	offset int64
	data   []byte
	fin    bool
}

// pattern returns n deterministic bytes whose value depends on the offset,
// so any misplaced byte is visible.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func newSendStream(t *testing.T, maxBuffered int, peerMax int64) *SendStream {
	t.Helper()
	return NewSendStream(SendStreamConfig{MaxBuffered: maxBuffered, PeerMaxData: peerMax})
}

// mustWrite writes all of p and fails if the buffer did not take it.
func mustWrite(t *testing.T, s *SendStream, p []byte) {
	t.Helper()
	if n := s.Write(p); n != len(p) {
		t.Fatalf("Write(%d bytes) = %d", len(p), n)
	}
}

// next pulls a frame, copying its data as the transport would.
func next(t *testing.T, s *SendStream, maxDataLen int, conn *SendWindow) frame {
	t.Helper()
	off, data, fin, ok := s.NextFrame(maxDataLen, conn)
	if !ok {
		t.Fatalf("NextFrame(%d): nothing to send", maxDataLen)
	}
	return frame{off, bytes.Clone(data), fin}
}

func wantFrame(t *testing.T, got frame, offset int64, length int, fin bool) {
	t.Helper()
	if got.offset != offset || len(got.data) != length || got.fin != fin {
		t.Fatalf("got frame [%d, +%d) fin=%v, want [%d, +%d) fin=%v",
			got.offset, len(got.data), got.fin, offset, length, fin)
	}
}

func wantNoFrame(t *testing.T, s *SendStream, maxDataLen int, conn *SendWindow) {
	t.Helper()
	if off, data, fin, ok := s.NextFrame(maxDataLen, conn); ok {
		t.Fatalf("got frame [%d, +%d) fin=%v, want none", off, len(data), fin)
	}
}

func TestSendStreamWriteRespectsBufferCap(t *testing.T) {
	s := newSendStream(t, 1000, 1<<20)
	if n := s.Write(make([]byte, 600)); n != 600 {
		t.Fatalf("first Write = %d, want 600", n)
	}
	if n := s.Write(make([]byte, 600)); n != 400 {
		t.Fatalf("second Write = %d, want 400 (cap 1000)", n)
	}
	if n := s.Write([]byte{1}); n != 0 {
		t.Fatalf("Write into a full buffer = %d, want 0", n)
	}
	f := next(t, s, 1000, nil)
	if s.Writable() != 0 {
		t.Fatalf("sent but unacked bytes freed: Writable %d, want 0", s.Writable())
	}
	s.OnAcked(f.offset, len(f.data), f.fin)
	if s.Writable() != 1000 || s.Buffered() != 0 {
		t.Fatalf("after ack got Writable %d Buffered %d, want 1000 and 0", s.Writable(), s.Buffered())
	}
}

func TestSendStreamFlowControl(t *testing.T) {
	s := newSendStream(t, 10000, 3000)
	mustWrite(t, s, pattern(5000))
	conn := NewSendWindow(2500)

	wantFrame(t, next(t, s, 2000, conn), 0, 2000, false)
	wantFrame(t, next(t, s, 2000, conn), 2000, 500, false) // connection limit
	if _, ok := s.Blocked(); ok {
		t.Fatalf("stream reported blocked while it still had credit")
	}
	if limit, ok := conn.Blocked(); !ok || limit != 2500 {
		t.Fatalf("got connection Blocked (%d, %v), want (2500, true)", limit, ok)
	}
	wantNoFrame(t, s, 2000, conn)

	conn.SetLimit(10000)
	wantFrame(t, next(t, s, 2000, conn), 2500, 500, false) // stream limit
	wantNoFrame(t, s, 2000, conn)
	if s.HasData() {
		t.Fatalf("HasData with no stream credit left")
	}
	if limit, ok := s.Blocked(); !ok || limit != 3000 {
		t.Fatalf("got stream Blocked (%d, %v), want (3000, true)", limit, ok)
	}
	if _, ok := s.Blocked(); ok {
		t.Fatalf("stream Blocked reported twice for one limit")
	}

	if !s.SetPeerMaxData(4000) {
		t.Fatalf("SetPeerMaxData(4000) did not report growth")
	}
	if s.SetPeerMaxData(3500) {
		t.Fatalf("SetPeerMaxData(3500) after 4000 reported growth")
	}
	wantFrame(t, next(t, s, 2000, conn), 3000, 1000, false)
	if got := conn.Used(); got != 4000 {
		t.Errorf("connection window used %d, want 4000", got)
	}
	if got := s.BytesSent(); got != 4000 {
		t.Errorf("BytesSent %d, want 4000", got)
	}
}

// A frame that takes exactly the last of the credit, because the packet
// had room for just that much, leaves the stream blocked at once: the
// STREAM_DATA_BLOCKED must not wait for a NextFrame that finds nothing.
func TestSendStreamBlockedWhenFrameEmptiesWindow(t *testing.T) {
	s := newSendStream(t, 10000, 3000)
	mustWrite(t, s, pattern(5000))
	conn := NewSendWindow(10000)
	wantFrame(t, next(t, s, 1000, conn), 0, 1000, false)
	if _, ok := s.Blocked(); ok {
		t.Fatalf("stream reported blocked with 2000 bytes of credit left")
	}
	wantFrame(t, next(t, s, 2000, conn), 1000, 2000, false) // room and credit both 2000
	if limit, ok := s.Blocked(); !ok || limit != 3000 {
		t.Fatalf("got stream Blocked (%d, %v) after the frame that used the last credit, want (3000, true)", limit, ok)
	}
	if _, ok := conn.Blocked(); ok {
		t.Fatalf("connection reported blocked with credit left")
	}

	// The same for the connection's window.
	s = newSendStream(t, 10000, 10000)
	mustWrite(t, s, pattern(5000))
	conn = NewSendWindow(3000)
	wantFrame(t, next(t, s, 1000, conn), 0, 1000, false)
	wantFrame(t, next(t, s, 2000, conn), 1000, 2000, false)
	if limit, ok := conn.Blocked(); !ok || limit != 3000 {
		t.Fatalf("got connection Blocked (%d, %v) after the frame that used its last credit, want (3000, true)", limit, ok)
	}
	if _, ok := s.Blocked(); ok {
		t.Fatalf("stream reported blocked with credit left")
	}
}

func TestSendStreamRetransmitsExactlyLostBytes(t *testing.T) {
	data := pattern(3000)
	s := newSendStream(t, 10000, 1<<20)
	mustWrite(t, s, data)
	f1 := next(t, s, 1000, nil)
	f2 := next(t, s, 1000, nil)
	f3 := next(t, s, 1000, nil)
	s.OnAcked(f1.offset, len(f1.data), f1.fin)
	s.OnAcked(f3.offset, len(f3.data), f3.fin)
	s.OnLost(f2.offset, len(f2.data), f2.fin)

	// The retransmission is split to fit smaller packets.
	r1 := next(t, s, 600, nil)
	r2 := next(t, s, 600, nil)
	wantFrame(t, r1, 1000, 600, false)
	wantFrame(t, r2, 1600, 400, false)
	if got := append(r1.data, r2.data...); !bytes.Equal(got, data[1000:2000]) {
		t.Fatalf("retransmitted bytes differ from the lost ones")
	}
	wantNoFrame(t, s, 1000, nil)
	s.OnAcked(r1.offset, len(r1.data), false)
	s.OnAcked(r2.offset, len(r2.data), false)
	if s.BytesAcked() != 3000 || s.Buffered() != 0 {
		t.Fatalf("got BytesAcked %d Buffered %d, want 3000 and 0", s.BytesAcked(), s.Buffered())
	}
}

func TestSendStreamDoesNotResendAckedData(t *testing.T) {
	tests := []struct {
		desc string
		// Frames are sent 1000 bytes each: [0,1000) [1000,2000) [2000,3000).
		acked     []int // frame indices acknowledged (before the loss)
		lost      []int // frame indices declared lost
		ackedLate []int // frames acknowledged after the loss, before resending
		want      [][2]int64
	}{
		{"loss of an acked frame resends nothing", []int{1}, []int{1}, nil, nil},
		{"late ack cancels the retransmission", nil, []int{1}, []int{1}, nil},
		{"only the unacked frame of several", []int{0, 2}, []int{0, 1, 2}, nil, [][2]int64{{1000, 2000}}},
		{"late ack of the middle splits the loss", nil, []int{0, 1, 2}, []int{1}, [][2]int64{{0, 1000}, {2000, 3000}}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			data := pattern(3000)
			s := newSendStream(t, 10000, 1<<20)
			mustWrite(t, s, data)
			var fs []frame
			for range 3 {
				fs = append(fs, next(t, s, 1000, nil))
			}
			for _, i := range tt.acked {
				s.OnAcked(fs[i].offset, len(fs[i].data), false)
			}
			for _, i := range tt.lost {
				s.OnLost(fs[i].offset, len(fs[i].data), false)
			}
			for _, i := range tt.ackedLate {
				s.OnAcked(fs[i].offset, len(fs[i].data), false)
			}
			for _, w := range tt.want {
				f := next(t, s, 5000, nil)
				wantFrame(t, f, w[0], int(w[1]-w[0]), false)
				if !bytes.Equal(f.data, data[w[0]:w[1]]) {
					t.Fatalf("retransmission of [%d, %d) has wrong bytes", w[0], w[1])
				}
			}
			wantNoFrame(t, s, 5000, nil)
		})
	}
}

func TestSendStreamFreesContiguousAckedPrefix(t *testing.T) {
	s := newSendStream(t, 4000, 1<<20)
	mustWrite(t, s, pattern(4000))
	var fs []frame
	for range 4 {
		fs = append(fs, next(t, s, 1000, nil))
	}
	steps := []struct {
		ack          int
		wantAcked    int64
		wantBuffered int
	}{
		{1, 0, 4000}, // a hole at [0,1000) keeps everything
		{3, 0, 4000},
		{0, 2000, 2000}, // fills the hole: [0,2000) is freed
		{2, 4000, 0},
	}
	for _, st := range steps {
		f := fs[st.ack]
		s.OnAcked(f.offset, len(f.data), false)
		if s.BytesAcked() != st.wantAcked || s.Buffered() != st.wantBuffered {
			t.Fatalf("after ack of frame %d: got BytesAcked %d Buffered %d, want %d and %d",
				st.ack, s.BytesAcked(), s.Buffered(), st.wantAcked, st.wantBuffered)
		}
		if s.Writable() != 4000-st.wantBuffered {
			t.Fatalf("after ack of frame %d: got Writable %d, want %d", st.ack, s.Writable(), 4000-st.wantBuffered)
		}
	}
}

func TestSendStreamFin(t *testing.T) {
	t.Run("FIN rides on the last data frame", func(t *testing.T) {
		s := newSendStream(t, 1000, 1000)
		mustWrite(t, s, pattern(100))
		s.Close()
		wantFrame(t, next(t, s, 1000, nil), 0, 100, true)
		wantNoFrame(t, s, 1000, nil)
	})
	t.Run("FIN alone after data was sent", func(t *testing.T) {
		s := newSendStream(t, 1000, 1000)
		mustWrite(t, s, pattern(100))
		wantFrame(t, next(t, s, 1000, nil), 0, 100, false)
		s.Close()
		wantFrame(t, next(t, s, 1000, nil), 100, 0, true)
	})
	t.Run("FIN alone needs no room and no credit", func(t *testing.T) {
		s := newSendStream(t, 1000, 0)
		s.Close()
		wantFrame(t, next(t, s, 0, NewSendWindow(0)), 0, 0, true)
	})
	t.Run("lost FIN-only frame is resent alone", func(t *testing.T) {
		s := newSendStream(t, 1000, 1000)
		mustWrite(t, s, pattern(100))
		f := next(t, s, 1000, nil)
		s.Close()
		fin := next(t, s, 1000, nil)
		s.OnAcked(f.offset, len(f.data), f.fin)
		s.OnLost(fin.offset, len(fin.data), fin.fin)
		wantFrame(t, next(t, s, 1000, nil), 100, 0, true)
		wantNoFrame(t, s, 1000, nil)
	})
	t.Run("lost data with FIN is resent with FIN", func(t *testing.T) {
		s := newSendStream(t, 1000, 1000)
		mustWrite(t, s, pattern(100))
		s.Close()
		f := next(t, s, 1000, nil)
		s.OnLost(f.offset, len(f.data), f.fin)
		wantFrame(t, next(t, s, 60, nil), 0, 60, false)
		wantFrame(t, next(t, s, 60, nil), 60, 40, true)
		wantNoFrame(t, s, 1000, nil)
	})
	t.Run("acked FIN is not resent with lost data", func(t *testing.T) {
		s := newSendStream(t, 1000, 1000)
		mustWrite(t, s, pattern(100))
		f := next(t, s, 1000, nil)
		s.Close()
		fin := next(t, s, 1000, nil)
		s.OnAcked(fin.offset, 0, true)
		s.OnLost(f.offset, len(f.data), false)
		wantFrame(t, next(t, s, 1000, nil), 0, 100, false)
		s.OnAcked(0, 100, false)
		if s.State() != SendDataRecvd {
			t.Fatalf("got state %v, want DataRecvd", s.State())
		}
	})
}

func TestSendStreamStates(t *testing.T) {
	type step func(t *testing.T, s *SendStream)
	write := func(n int) step { return func(t *testing.T, s *SendStream) { mustWrite(t, s, pattern(n)) } }
	send := func(t *testing.T, s *SendStream) { next(t, s, 1000, nil) }
	closeS := func(t *testing.T, s *SendStream) { s.Close() }
	ackAll := func(t *testing.T, s *SendStream) { s.OnAcked(0, int(s.BytesSent()), true) }
	reset := func(t *testing.T, s *SendStream) { s.Reset(7) }
	stop := func(t *testing.T, s *SendStream) { s.OnStopSending(9) }
	resetAcked := func(t *testing.T, s *SendStream) { s.OnResetAcked() }
	tests := []struct {
		desc  string
		steps []step
		want  SendState
	}{
		{"new stream is Ready", nil, SendReady},
		{"writing alone stays Ready", []step{write(10)}, SendReady},
		{"first frame moves to Send", []step{write(10), send}, SendSend},
		{"FIN sent moves to DataSent", []step{write(10), closeS, send}, SendDataSent},
		{"empty stream closed and sent is DataSent", []step{closeS, send}, SendDataSent},
		{"everything acked is DataRecvd", []step{write(10), closeS, send, ackAll}, SendDataRecvd},
		{"data acked without FIN stays Send", []step{write(10), send, ackAll}, SendSend},
		{"reset from Ready", []step{reset}, SendResetSent},
		{"reset from Send", []step{write(10), send, reset}, SendResetSent},
		{"reset from DataSent", []step{write(10), closeS, send, reset}, SendResetSent},
		{"reset after DataRecvd is ignored", []step{closeS, send, ackAll, reset}, SendDataRecvd},
		{"STOP_SENDING resets", []step{write(10), send, stop}, SendResetSent},
		{"acked reset is ResetRecvd", []step{write(10), send, reset, resetAcked}, SendResetRecvd},
		{"reset ack without reset is ignored", []step{write(10), send, resetAcked}, SendSend},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			s := newSendStream(t, 1000, 1000)
			for _, st := range tt.steps {
				st(t, s)
			}
			if got := s.State(); got != tt.want {
				t.Errorf("got state %v, want %v", got, tt.want)
			}
			if got, want := s.Done(), tt.want == SendDataRecvd || tt.want == SendResetRecvd; got != want {
				t.Errorf("got Done %v, want %v", got, want)
			}
		})
	}
}

func TestSendStreamReset(t *testing.T) {
	s := newSendStream(t, 10000, 1<<20)
	mustWrite(t, s, pattern(3000))
	f := next(t, s, 1000, nil)
	if !s.Reset(42) {
		t.Fatalf("Reset in Send did not reset")
	}
	if s.Reset(43) {
		t.Fatalf("second Reset reported a new reset")
	}
	code, size, ok := s.ResetToSend()
	if !ok || code != 42 || size != 1000 {
		t.Fatalf("got ResetToSend (%d, %d, %v), want (42, 1000, true)", code, size, ok)
	}
	if _, _, ok := s.ResetToSend(); ok {
		t.Fatalf("RESET_STREAM requested twice")
	}
	if s.Write([]byte{1}) != 0 || s.Buffered() != 0 {
		t.Fatalf("reset stream accepted data or kept its buffer (%d bytes)", s.Buffered())
	}
	s.OnLost(f.offset, len(f.data), false)
	wantNoFrame(t, s, 1000, nil)
	s.OnResetLost()
	if code, size, ok := s.ResetToSend(); !ok || code != 42 || size != 1000 {
		t.Fatalf("after loss got ResetToSend (%d, %d, %v), want (42, 1000, true)", code, size, ok)
	}
	s.OnResetAcked()
	s.OnResetLost()
	if _, _, ok := s.ResetToSend(); ok {
		t.Fatalf("RESET_STREAM requested after it was acknowledged")
	}
	if got, ok := s.ResetCode(); !ok || got != 42 {
		t.Errorf("got ResetCode (%d, %v), want (42, true)", got, ok)
	}
}

func TestSendStreamStopSending(t *testing.T) {
	s := newSendStream(t, 10000, 1<<20)
	mustWrite(t, s, pattern(100))
	next(t, s, 1000, nil)
	if !s.OnStopSending(5) {
		t.Fatalf("STOP_SENDING did not reset the stream")
	}
	if code, ok := s.StopSendingCode(); !ok || code != 5 {
		t.Errorf("got StopSendingCode (%d, %v), want (5, true)", code, ok)
	}
	if code, size, ok := s.ResetToSend(); !ok || code != 5 || size != 100 {
		t.Errorf("got ResetToSend (%d, %d, %v), want (5, 100, true)", code, size, ok)
	}
}

func TestSendStreamPeerConsumed(t *testing.T) {
	s := newSendStream(t, 10000, 1<<20)
	mustWrite(t, s, pattern(3000))
	next(t, s, 2000, nil)
	err := s.OnPeerConsumed(2001)
	if !errors.Is(err, ErrConsumedBeyondSent) {
		t.Fatalf("consumed beyond sent: got %v, want ErrConsumedBeyondSent", err)
	}
	if s.PeerConsumed() != 0 {
		t.Fatalf("rejected receipt moved PeerConsumed to %d", s.PeerConsumed())
	}
	if err := s.OnPeerConsumed(1500); err != nil {
		t.Fatalf("OnPeerConsumed(1500): %v", err)
	}
	if err := s.OnPeerConsumed(1000); err != nil {
		t.Fatalf("stale receipt: %v", err)
	}
	if s.PeerConsumed() != 1500 {
		t.Errorf("got PeerConsumed %d, want 1500 (receipts are monotonic)", s.PeerConsumed())
	}
	// A receipt proves delivery: those bytes are acknowledged and freed.
	if s.BytesAcked() != 1500 || s.Buffered() != 1500 {
		t.Errorf("got BytesAcked %d Buffered %d, want 1500 and 1500", s.BytesAcked(), s.Buffered())
	}
	s.OnLost(0, 2000, false)
	wantFrame(t, next(t, s, 5000, nil), 1500, 500, false)
}

func TestSendStreamRetainUntilConsumed(t *testing.T) {
	s := NewSendStream(SendStreamConfig{MaxBuffered: 3000, PeerMaxData: 1 << 20, RetainUntilConsumed: true})
	mustWrite(t, s, pattern(3000))
	next(t, s, 3000, nil)
	s.OnAcked(0, 3000, false)
	if s.BytesAcked() != 3000 || s.Buffered() != 3000 || s.Writable() != 0 {
		t.Fatalf("got BytesAcked %d Buffered %d Writable %d, want 3000, 3000, 0",
			s.BytesAcked(), s.Buffered(), s.Writable())
	}
	if err := s.OnPeerConsumed(1200); err != nil {
		t.Fatal(err)
	}
	if s.Buffered() != 1800 || s.Writable() != 1200 {
		t.Fatalf("got Buffered %d Writable %d, want 1800 and 1200", s.Buffered(), s.Writable())
	}
	// The retained bytes are intact: the buffer still holds [1200, 3000).
	got := make([]byte, 1800)
	s.buf.read(1200, got)
	if !bytes.Equal(got, pattern(3000)[1200:]) {
		t.Fatalf("retained bytes corrupted")
	}
}

// TestSendStreamLossyTransfer runs a send stream and a receive stream over a
// simulated path that loses, reorders and acknowledges frames at random, and
// checks that the receiver reads exactly what was written.
func TestSendStreamLossyTransfer(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 99))
		data := make([]byte, 200_000+rng.IntN(50_000))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		const window = 32 << 10
		s := NewSendStream(SendStreamConfig{MaxBuffered: 48 << 10, PeerMaxData: window})
		r := NewRecvStream(window, window)
		conn := NewRecvWindow(1<<40, 1<<40)
		var inFlight []frame
		var got []byte
		written := 0
		buf := make([]byte, 7000)
		for step := 0; ; step++ {
			if step > 1_000_000 {
				t.Fatalf("seed %d: transfer did not finish", seed)
			}
			if written < len(data) {
				written += s.Write(data[written:min(len(data), written+rng.IntN(9000))])
				if written == len(data) {
					s.Close()
				}
			}
			for range rng.IntN(4) {
				off, d, fin, ok := s.NextFrame(1+rng.IntN(1400), nil)
				if !ok {
					break
				}
				inFlight = append(inFlight, frame{off, bytes.Clone(d), fin})
			}
			// Deliver, lose or ack frames in random order.
			for len(inFlight) > 0 && rng.IntN(3) > 0 {
				i := rng.IntN(len(inFlight))
				f := inFlight[i]
				inFlight[i] = inFlight[len(inFlight)-1]
				inFlight = inFlight[:len(inFlight)-1]
				if rng.IntN(5) == 0 {
					s.OnLost(f.offset, len(f.data), f.fin)
					continue
				}
				if err := r.HandleFrame(f.offset, f.data, f.fin, conn); err != nil {
					t.Fatalf("seed %d: HandleFrame: %v", seed, err)
				}
				s.OnAcked(f.offset, len(f.data), f.fin)
			}
			n, fin := r.Read(buf[:rng.IntN(len(buf))])
			got = append(got, buf[:n]...)
			if limit, ok := r.WindowUpdate(t0, 0); ok {
				s.SetPeerMaxData(limit)
			}
			if fin {
				break
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("seed %d: received %d bytes that differ from the %d sent", seed, len(got), len(data))
		}
		// Acknowledge whatever is still in flight; the stream then completes.
		for _, f := range inFlight {
			s.OnAcked(f.offset, len(f.data), f.fin)
		}
		for {
			off, d, fin, ok := s.NextFrame(1400, nil)
			if !ok {
				break
			}
			s.OnAcked(off, len(d), fin)
		}
		if s.State() != SendDataRecvd || r.State() != RecvDataRead {
			t.Fatalf("seed %d: got states %v / %v, want DataRecvd / DataRead", seed, s.State(), r.State())
		}
	}
}

func TestSendStreamUnsentAndRetransmission(t *testing.T) {
	s := NewSendStream(SendStreamConfig{MaxBuffered: 1000, PeerMaxData: 1000})
	s.Write(make([]byte, 300))
	if got := s.Unsent(); got != 300 {
		t.Fatalf("Unsent() = %d, want 300", got)
	}
	off, data, _, ok := s.NextFrame(100, nil)
	if !ok || off != 0 || len(data) != 100 {
		t.Fatalf("NextFrame = %d, %d bytes, %v", off, len(data), ok)
	}
	if got, want := s.Unsent(), int64(200); got != want || s.Written() != 300 {
		t.Fatalf("Unsent() = %d, Written() = %d; want %d, 300", got, s.Written(), want)
	}
	if s.HasRetransmission() {
		t.Fatal("HasRetransmission before any loss")
	}
	s.OnLost(0, 100, false)
	if !s.HasRetransmission() {
		t.Fatal("HasRetransmission false after a loss")
	}
}

// TestSendStreamAnnounce: a stream opened with nothing to write yet sends
// one empty frame at offset 0 when announced, and again if it is lost; once
// data is written, the data opens the stream.
func TestSendStreamAnnounce(t *testing.T) {
	s := newSendStream(t, 1000, 1000)
	wantNoFrame(t, s, 100, nil)
	s.Announce()
	if !s.HasData() {
		t.Fatal("HasData false after Announce")
	}
	wantFrame(t, next(t, s, 100, nil), 0, 0, false)
	wantNoFrame(t, s, 100, nil)
	if s.State() != SendSend {
		t.Fatalf("state %v after the announcement, want Send", s.State())
	}
	s.OnLost(0, 0, false)
	wantFrame(t, next(t, s, 100, nil), 0, 0, false)
	s.OnAcked(0, 0, false)
	wantNoFrame(t, s, 100, nil)

	w := newSendStream(t, 1000, 1000)
	mustWrite(t, w, pattern(10))
	w.Announce()
	wantFrame(t, next(t, w, 100, nil), 0, 10, false)
	wantNoFrame(t, w, 100, nil)
}

func TestSendStreamAheadOfCredit(t *testing.T) {
	s := NewSendStream(SendStreamConfig{MaxBuffered: 1 << 20, MaxAheadOfCredit: 100, PeerMaxData: 50})
	if got := s.Write(make([]byte, 1000)); got != 150 {
		t.Fatalf("Write with 50 bytes of credit and 100 ahead: %d, want 150", got)
	}
	if got := s.Writable(); got != 0 {
		t.Fatalf("Writable = %d at the bound, want 0", got)
	}
	s.SetPeerMaxData(80)
	if got := s.Writable(); got != 30 {
		t.Fatalf("Writable = %d after the credit grew by 30, want 30", got)
	}
	unbounded := NewSendStream(SendStreamConfig{MaxBuffered: 1000})
	if got := unbounded.Write(make([]byte, 2000)); got != 1000 {
		t.Fatalf("without MaxAheadOfCredit Write = %d, want MaxBuffered 1000", got)
	}
}
