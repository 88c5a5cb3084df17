package streams

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

// receiveAndConsume has the peer send n bytes and the application read them.
func receiveAndConsume(t *testing.T, w *RecvWindow, n int64) {
	t.Helper()
	if err := w.Receive(n); err != nil {
		t.Fatalf("Receive(%d): %v", n, err)
	}
	w.Consume(n)
}

func TestRecvWindowUpdateAndAutoTune(t *testing.T) {
	const rtt = 100 * time.Millisecond
	tests := []struct {
		desc      string
		consume   int64
		elapsed   time.Duration
		rtt       time.Duration
		wantOK    bool
		wantLimit int64
		wantSize  int64
	}{
		{"under a quarter consumed: no update", 4095, 10 * time.Millisecond, rtt, false, 16384, 16384},
		{"a quarter consumed fast: window doubles", 4096, 10 * time.Millisecond, rtt, true, 4096 + 32768, 32768},
		{"a quarter consumed just under 1 RTT: doubles", 4096, 99 * time.Millisecond, rtt, true, 4096 + 32768, 32768},
		{"a quarter consumed in 1 RTT: keeps size", 4096, 100 * time.Millisecond, rtt, true, 4096 + 16384, 16384},
		{"half consumed fast: window doubles", 8192, 10 * time.Millisecond, rtt, true, 8192 + 32768, 32768},
		{"half consumed just under 2 RTT: doubles", 8192, 199 * time.Millisecond, rtt, true, 8192 + 32768, 32768},
		{"half consumed in 2 RTT: keeps size", 8192, 200 * time.Millisecond, rtt, true, 8192 + 16384, 16384},
		{"half consumed slowly: keeps size", 8192, time.Second, rtt, true, 8192 + 16384, 16384},
		{"all consumed fast: doubles", 16384, 10 * time.Millisecond, rtt, true, 16384 + 32768, 32768},
		{"unknown RTT: keeps size", 8192, 10 * time.Millisecond, 0, true, 8192 + 16384, 16384},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			w := NewRecvWindow(16384, 1<<20)
			if _, ok := w.Update(t0, tt.rtt); ok {
				t.Fatalf("Update before any consumption reported an update")
			}
			receiveAndConsume(t, w, tt.consume)
			limit, ok := w.Update(t0.Add(tt.elapsed), tt.rtt)
			if ok != tt.wantOK {
				t.Fatalf("Update ok = %v, want %v", ok, tt.wantOK)
			}
			if ok && limit != tt.wantLimit {
				t.Errorf("got limit %d, want %d", limit, tt.wantLimit)
			}
			if w.Limit() != tt.wantLimit {
				t.Errorf("got Limit() %d, want %d", w.Limit(), tt.wantLimit)
			}
			if w.Size() != tt.wantSize {
				t.Errorf("got Size() %d, want %d", w.Size(), tt.wantSize)
			}
		})
	}
}

// TestRecvWindowAutoTuneGrowsToMax drives a fast reader through many epochs:
// the window doubles each time until it reaches the maximum and stays there.
// A slow reader on the same schedule keeps its initial window.
func TestRecvWindowAutoTuneGrowsToMax(t *testing.T) {
	const rtt = 50 * time.Millisecond
	for _, tc := range []struct {
		desc     string
		interval time.Duration // time between updates
		want     []int64       // window size after each update
	}{
		{"fast reader", 5 * time.Millisecond, []int64{2 << 10, 4 << 10, 8 << 10, 16 << 10, 16 << 10, 16 << 10}},
		{"slow reader", 500 * time.Millisecond, []int64{1 << 10, 1 << 10, 1 << 10, 1 << 10, 1 << 10, 1 << 10}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			w := NewRecvWindow(1<<10, 16<<10)
			now := t0
			w.Update(now, rtt)
			for i, want := range tc.want {
				// Let the peer fill the whole window and the reader drain it.
				receiveAndConsume(t, w, w.Limit()-w.Received())
				now = now.Add(tc.interval)
				limit, ok := w.Update(now, rtt)
				if !ok {
					t.Fatalf("round %d: no update after draining the window", i)
				}
				if got := w.Size(); got != want {
					t.Errorf("round %d: got size %d, want %d", i, got, want)
				}
				if want := w.Consumed() + w.Size(); limit != want {
					t.Errorf("round %d: got limit %d, want %d", i, limit, want)
				}
			}
		})
	}
}

func TestRecvWindowReceiveBeyondLimit(t *testing.T) {
	w := NewRecvWindow(1000, 1000)
	if err := w.Receive(600); err != nil {
		t.Fatalf("Receive(600): %v", err)
	}
	err := w.Receive(401)
	if !errors.Is(err, ErrFlowControl) {
		t.Fatalf("Receive(401) after 600 of 1000: got %v, want ErrFlowControl", err)
	}
	if w.Received() != 600 {
		t.Errorf("failed Receive changed Received to %d, want 600", w.Received())
	}
	if err := w.Receive(400); err != nil {
		t.Errorf("Receive(400) up to the limit: %v", err)
	}
}

func TestRecvWindowLostUpdate(t *testing.T) {
	w := NewRecvWindow(1000, 1000)
	w.Update(t0, 0)
	receiveAndConsume(t, w, 600)
	limit, ok := w.Update(t0, 0)
	if !ok || limit != 1600 {
		t.Fatalf("got update (%d, %v), want (1600, true)", limit, ok)
	}
	if _, ok := w.Update(t0, 0); ok {
		t.Fatalf("update repeated without loss")
	}
	w.OnUpdateLost(1000) // an older limit: superseded
	if _, ok := w.Update(t0, 0); ok {
		t.Fatalf("loss of a superseded limit re-armed an update")
	}
	w.OnUpdateLost(1600)
	if limit, ok := w.Update(t0, 0); !ok || limit != 1600 {
		t.Fatalf("after loss got (%d, %v), want (1600, true)", limit, ok)
	}
	if _, ok := w.Update(t0, 0); ok {
		t.Fatalf("resent update repeated")
	}
}

func TestRecvWindowEnsureMinimum(t *testing.T) {
	w := NewRecvWindow(1000, 5000)
	w.EnsureMinimum(3000)
	if w.Size() != 3000 {
		t.Errorf("got size %d, want 3000", w.Size())
	}
	w.EnsureMinimum(2000)
	if w.Size() != 3000 {
		t.Errorf("smaller minimum shrank the window to %d", w.Size())
	}
	w.EnsureMinimum(9000)
	if w.Size() != 5000 {
		t.Errorf("got size %d, want the maximum 5000", w.Size())
	}
}

func TestSendWindow(t *testing.T) {
	w := NewSendWindow(100)
	if _, ok := w.Blocked(); ok {
		t.Fatalf("Blocked before running out")
	}
	w.Use(100)
	if w.Available() != 0 {
		t.Fatalf("got Available %d, want 0", w.Available())
	}
	w.NoteBlocked()
	if limit, ok := w.Blocked(); !ok || limit != 100 {
		t.Fatalf("got Blocked (%d, %v), want (100, true)", limit, ok)
	}
	w.NoteBlocked()
	if _, ok := w.Blocked(); ok {
		t.Fatalf("Blocked reported twice for one limit")
	}
	w.OnBlockedLost(100)
	if limit, ok := w.Blocked(); !ok || limit != 100 {
		t.Fatalf("after loss got Blocked (%d, %v), want (100, true)", limit, ok)
	}
	if w.SetLimit(50) {
		t.Errorf("SetLimit(50) below 100 reported growth")
	}
	if w.Limit() != 100 {
		t.Errorf("SetLimit(50) moved the limit to %d", w.Limit())
	}
	if !w.RepeatBlocked() {
		t.Fatalf("RepeatBlocked refused while still blocked at 100")
	}
	if limit, ok := w.Blocked(); !ok || limit != 100 {
		t.Fatalf("after RepeatBlocked got Blocked (%d, %v), want (100, true)", limit, ok)
	}
	if !w.SetLimit(300) {
		t.Errorf("SetLimit(300) did not report growth")
	}
	w.OnBlockedLost(100) // stale: no longer blocked at 100
	if _, ok := w.Blocked(); ok {
		t.Errorf("Blocked reported after the limit grew")
	}
	if w.RepeatBlocked() {
		t.Errorf("RepeatBlocked with 200 bytes of credit left")
	}
	w.Use(200)
	if w.RepeatBlocked() {
		t.Errorf("RepeatBlocked before the sender noted the block at 300")
	}
	w.NoteBlocked()
	if limit, ok := w.Blocked(); !ok || limit != 300 {
		t.Errorf("got Blocked (%d, %v), want (300, true)", limit, ok)
	}
}

// TestRecvWindowKeepsAheadOfSlowStart moves 1 MiB over a simulated 100
// Mbit/s, 50 ms path in 1 ms steps: the sender's window starts at 14720
// bytes and doubles every RTT, the reader consumes each byte as it arrives,
// and window updates take half an RTT to reach the sender. A 512 KiB initial
// window is less than the path's 625 KB bandwidth-delay product, so
// auto-tuning must double it before the last round of slow start; judged
// over half windows it doubled a round late and the sender stalled.
func TestRecvWindowKeepsAheadOfSlowStart(t *testing.T) {
	const (
		total     = 1 << 20
		oneWay    = 25 // ms
		rtt       = 2 * oneWay * time.Millisecond
		linkBytes = 12_500 // per ms at 100 Mbit/s
	)
	w := NewRecvWindow(512<<10, 16<<20)
	limits := []int64{w.Limit()} // limits[ms]: the limit as of that ms
	inFlight := make(map[int]int64)
	var sent, stalledMS int64
	cwnd := int64(14720)
	for ms := 0; w.Consumed() < total; ms++ {
		if ms > 2000 {
			t.Fatalf("1 MiB not delivered after 2 s: sent %d, consumed %d", sent, w.Consumed())
		}
		now := t0.Add(time.Duration(ms) * time.Millisecond)
		if n := inFlight[ms]; n > 0 {
			receiveAndConsume(t, w, n)
			delete(inFlight, ms)
		}
		w.Update(now, rtt)
		limits = append(limits, w.Limit())
		if ms > 0 && ms%int(rtt/time.Millisecond) == 0 {
			cwnd *= 2
		}
		known := limits[max(0, len(limits)-1-oneWay)]
		want := min(cwnd/int64(rtt/time.Millisecond)+1, linkBytes, total-sent)
		n := min(want, known-sent)
		if n < want {
			stalledMS++
		}
		if n > 0 {
			sent += n
			inFlight[ms+oneWay] += n
		}
	}
	if stalledMS > 0 {
		t.Errorf("the sender waited for flow control for %d ms; final window %d", stalledMS, w.Size())
	}
}

// TestRecvWindowFirstEpochStartsAtFirstUpdate: bytes read before the first
// Update took an unknown time and say nothing of the rate; counting them
// in the first epoch would double the window with no time elapsed.
func TestRecvWindowFirstEpochStartsAtFirstUpdate(t *testing.T) {
	const rtt = 100 * time.Millisecond
	w := NewRecvWindow(16384, 1<<20)
	receiveAndConsume(t, w, 8192)
	limit, ok := w.Update(t0, rtt)
	if !ok || limit != 8192+16384 || w.Size() != 16384 {
		t.Fatalf("first update: (%d, %v), size %d; want (%d, true), size 16384", limit, ok, w.Size(), 8192+16384)
	}
	// The first epoch's own quarter window, read fast, does double it.
	receiveAndConsume(t, w, 4096)
	if limit, ok := w.Update(t0.Add(time.Millisecond), rtt); !ok || w.Size() != 32768 || limit != 12288+32768 {
		t.Fatalf("second update: (%d, %v), size %d; want (%d, true), size 32768", limit, ok, w.Size(), 12288+32768)
	}
}

// TestRecvWindowUpdateDue checks that UpdateDue predicts Update without
// changing anything: due before the first Update (which starts the
// auto-tuning epoch), then once a quarter of the window is consumed, and
// after a lost update.
func TestRecvWindowUpdateDue(t *testing.T) {
	now := time.Unix(0, 0)
	w := NewRecvWindow(1000, 1000)
	check := func(step string) {
		t.Helper()
		due := w.UpdateDue()
		_, got := w.Update(now, 0)
		if got != due {
			t.Fatalf("%s: UpdateDue() = %v, but Update reported %v", step, due, got)
		}
	}
	if !w.UpdateDue() {
		t.Fatal("UpdateDue() = false before the first Update")
	}
	w.Update(now, 0) // starts the epoch; nothing consumed, nothing due
	if w.UpdateDue() {
		t.Fatal("UpdateDue() = true with nothing consumed")
	}
	if err := w.Receive(600); err != nil {
		t.Fatal(err)
	}
	w.Consume(249)
	check("249 of 1000 consumed")
	w.Consume(1)
	if !w.UpdateDue() {
		t.Fatal("UpdateDue() = false with a quarter consumed")
	}
	lim, ok := w.Update(now, 0)
	if !ok || w.UpdateDue() {
		t.Fatalf("Update = %d, %v; UpdateDue() after it = %v", lim, ok, w.UpdateDue())
	}
	w.OnUpdateLost(lim)
	if !w.UpdateDue() {
		t.Fatal("UpdateDue() = false after the update was lost")
	}
	check("after the loss")
}
