package streams

import (
	"fmt"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// RecvWindow is the receive side of flow control for one stream or for the
// whole connection (RFC 9000 §4.1; docs/PROTOCOL.md section 5, "Streams and flow control"). It
// tracks the limit we advertised, the bytes the peer has sent against it and
// the bytes the application has consumed, and decides when to advertise a
// larger limit in MAX_STREAM_DATA or MAX_DATA.
//
// The window auto-tunes like quic-go's and Linux's receive buffers: it
// starts small and doubles, up to a maximum, whenever the application
// consumes it fast enough relative to the RTT that the peer would otherwise
// stall waiting for updates. Streams that never need a large window never
// buffer one.
//
// For a stream, "received" is the highest offset seen; for the connection it
// is the sum of the streams' highest offsets, which is what RFC 9000 §4.1
// counts. A RecvWindow is not safe for concurrent use.
type RecvWindow struct {
	size    int64 // current window; the limit runs this far past consumed
	maxSize int64 // auto-tuning cap

	limit    int64 // highest offset (or byte count) the peer may send
	received int64
	consumed int64
	resend   bool // the last update was lost and the limit is still current

	// Auto-tuning epoch: consumption is measured from the last update.
	epochStarted  bool
	epochStart    time.Time
	epochConsumed int64
}

// NewRecvWindow returns a window that first lets the peer send initial bytes
// and may grow to max. A max below initial means no growth.
func NewRecvWindow(initial, max int64) *RecvWindow {
	w := new(RecvWindow)
	w.init(initial, max)
	return w
}

func (w *RecvWindow) init(initial, maxSize int64) {
	initial = min(max(initial, 0), packet.MaxVarint)
	*w = RecvWindow{size: initial, maxSize: min(max(maxSize, initial), packet.MaxVarint), limit: initial}
}

// Limit is the limit currently granted to the peer.
func (w *RecvWindow) Limit() int64 { return w.limit }

// Size is the current window: how far past the consumed offset the next
// update will place the limit.
func (w *RecvWindow) Size() int64 { return w.size }

// Received is the flow-control credit the peer has used.
func (w *RecvWindow) Received() int64 { return w.received }

// Consumed is the credit the application has released by reading.
func (w *RecvWindow) Consumed() int64 { return w.consumed }

// Receive charges n newly received bytes against the limit. It returns an
// error wrapping ErrFlowControl, and changes nothing, if the peer went past
// the limit.
func (w *RecvWindow) Receive(n int64) error {
	if err := w.check(n); err != nil {
		return err
	}
	w.received += n
	return nil
}

func (w *RecvWindow) check(n int64) error {
	if n > w.limit-w.received {
		return fmt.Errorf("%w: %d bytes received, limit %d", ErrFlowControl, w.received+n, w.limit)
	}
	return nil
}

// Consume releases n bytes of credit because the application read them (or
// they were discarded). Consuming more than was received is a bug in the
// caller.
func (w *RecvWindow) Consume(n int64) {
	if n < 0 || n > w.received-w.consumed {
		panic("streams: consumed more flow-control credit than was received")
	}
	w.consumed += n
}

// Update reports a new limit to advertise, if one is due. An update is due
// once a quarter of the window has been consumed (at most three quarters
// left for the peer, as quic-go does), so that the update arrives well
// before the peer stalls even when the application reads in bursts, or
// when the previous update was lost.
//
// Before moving the limit, Update auto-tunes: if the application consumed
// the bytes since the last update at a rate at which a whole window lasts
// less than four RTTs (a quarter of it in under one), the window is what
// limits throughput and it doubles, up to the maximum. Judging every
// quarter window rather than every half matters in slow start, where the
// rate doubles each RTT: a longer epoch averages in the slow early rounds
// and doubles the window a round late, when the sender already waits for
// it (1 MiB at 100 Mbit/s and 50 ms RTT stalled 6 ms on a 512 KiB
// window). The first call starts the first measurement epoch, so the
// transport should call Update whenever the application has read
// something; calls that find nothing due are cheap.
// rtt is the smoothed RTT; zero disables growth.
func (w *RecvWindow) Update(now time.Time, rtt time.Duration) (limit int64, ok bool) {
	if !w.epochStarted {
		// The first epoch starts now: what was read before took an
		// unknown time, and counting it would double the window at once.
		w.epochStarted = true
		w.epochStart = now
		w.epochConsumed = w.consumed
	}
	if w.quarterConsumed() {
		w.autoTune(now, rtt)
		if next := min(w.consumed+w.size, packet.MaxVarint); next > w.limit {
			w.limit = next
			w.resend = false
			return w.limit, true
		}
	}
	if w.resend {
		w.resend = false
		return w.limit, true
	}
	return 0, false
}

// UpdateDue reports whether Update would report a limit now, without
// changing anything: so that a transport can tell a read that must be
// answered at once (new credit) from one that only a receipt follows.
func (w *RecvWindow) UpdateDue() bool {
	return !w.epochStarted || w.resend || w.quarterConsumed()
}

// quarterConsumed reports whether the application has consumed a quarter
// of the window since the last limit: at most three quarters left to the
// peer.
func (w *RecvWindow) quarterConsumed() bool { return w.limit-w.consumed <= w.size-w.size/4 }

func (w *RecvWindow) autoTune(now time.Time, rtt time.Duration) {
	inEpoch := w.consumed - w.epochConsumed
	if inEpoch < w.size/4 {
		// Too little data to judge the rate; keep measuring.
		return
	}
	elapsed := now.Sub(w.epochStart)
	if rtt > 0 && w.size < w.maxSize &&
		float64(elapsed)*float64(w.size) < 4*float64(rtt)*float64(inEpoch) {
		w.size = min(2*w.size, w.maxSize)
	}
	w.epochStart = now
	w.epochConsumed = w.consumed
}

// OnUpdateLost re-arms the update carrying limit if it is still the current
// limit; a newer update supersedes a lost older one.
func (w *RecvWindow) OnUpdateLost(limit int64) {
	if limit == w.limit {
		w.resend = true
	}
}

// EnsureMinimum grows the window to at least size, within the maximum. The
// transport uses it to keep the connection window ahead of a stream window
// that auto-tuning just enlarged (quic-go uses 1.5 times the stream's), so
// that one fast stream is not throttled by the connection window.
func (w *RecvWindow) EnsureMinimum(size int64) {
	w.size = max(w.size, min(size, w.maxSize))
}

// SendWindow is the send side of flow control for one stream or for the
// whole connection: the peer's MAX_STREAM_DATA or MAX_DATA limit and the
// credit used against it (RFC 9000 §4.1). It also decides when to tell the
// peer we are blocked: once per limit, when data is waiting and no credit is
// left (STREAM_DATA_BLOCKED, DATA_BLOCKED; RFC 9000 §4.1). A SendWindow is
// not safe for concurrent use.
type SendWindow struct {
	limit int64
	used  int64

	blockedAt       int64 // the limit at which the sender last ran out; -1 if never
	blockedReported bool
}

// NewSendWindow returns a window with the peer's initial limit (from its
// transport parameters).
func NewSendWindow(limit int64) *SendWindow {
	w := new(SendWindow)
	w.init(limit)
	return w
}

func (w *SendWindow) init(limit int64) {
	*w = SendWindow{limit: min(max(limit, 0), packet.MaxVarint), blockedAt: -1}
}

// Limit is the peer's current limit.
func (w *SendWindow) Limit() int64 { return w.limit }

// Used is the credit spent: the highest stream offset sent, or for the
// connection the sum over streams.
func (w *SendWindow) Used() int64 { return w.used }

// Available is the credit left.
func (w *SendWindow) Available() int64 { return w.limit - w.used }

// SetLimit applies a MAX_STREAM_DATA or MAX_DATA value. Limits only grow
// (RFC 9000 §4.1 says a smaller value is ignored, since frames may be
// reordered); it reports whether this one did, so the transport can
// reschedule blocked data.
func (w *SendWindow) SetLimit(limit int64) bool {
	if limit <= w.limit {
		return false
	}
	w.limit = min(limit, packet.MaxVarint)
	w.blockedReported = false
	return true
}

// Use spends n bytes of credit. Spending more than is available is a bug in
// the caller.
func (w *SendWindow) Use(n int64) {
	if n < 0 || n > w.Available() {
		panic("streams: flow-control credit overspent")
	}
	w.used += n
}

// NoteBlocked records that data was waiting but the credit was exhausted, so
// Blocked will report it.
func (w *SendWindow) NoteBlocked() {
	if w.Available() == 0 {
		w.blockedAt = w.limit
	}
}

// Blocked reports the limit to carry in a STREAM_DATA_BLOCKED or
// DATA_BLOCKED frame, at most once per limit unless OnBlockedLost re-arms it.
func (w *SendWindow) Blocked() (limit int64, ok bool) {
	if w.blockedAt != w.limit || w.blockedReported {
		return 0, false
	}
	w.blockedReported = true
	return w.limit, true
}

// RepeatBlocked re-arms the blocked frame if the sender is still blocked at
// the current limit, reporting whether it did: a blocked sender repeats it
// periodically (RFC 9000 §4.1).
func (w *SendWindow) RepeatBlocked() bool {
	if w.blockedAt != w.limit || w.Available() > 0 {
		return false
	}
	w.blockedReported = false
	return true
}

// OnBlockedLost re-arms a lost blocked frame if we are still blocked at the
// limit it carried.
func (w *SendWindow) OnBlockedLost(limit int64) {
	if limit == w.limit && w.blockedAt == limit && w.Available() == 0 {
		w.blockedReported = false
	}
}
