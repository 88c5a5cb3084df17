package transport

import (
	"testing"
	"time"

	"github.com/limpetnet/limpet/ackframes"
	"github.com/limpetnet/limpet/congestion"
	"github.com/limpetnet/limpet/packet"
)

// windowController is a congestion.Controller whose window and phase the
// test sets.
type windowController struct {
	congestion.Controller
	window    int
	slowStart bool
}

func (w *windowController) Window() int       { return w.window }
func (w *windowController) InSlowStart() bool { return w.slowStart }

// TestAckFrequencyRequests checks what the Conn asks of a peer that
// announced min_ack_delay (docs/PROTOCOL.md section 5, "ACK frequency"):
// RFC 9000's policy in slow start and with a small window, threshold 3 from
// 32 datagrams and 9 from 80, with a quarter of the minimum RTT in whole
// milliseconds as the delay, within the peer's bounds, and the packet
// threshold as the reordering threshold; a quarter of hysteresis on the way
// down; one frame per change, numbered from 0, and the current wish again
// when the latest is lost.
func TestAckFrequencyRequests(t *testing.T) {
	const mds = 1452
	peer := packet.DefaultTransportParameters()
	peer.MinAckDelay, peer.HasMinAckDelay = 2*time.Millisecond, true
	cc := &windowController{window: 200 * mds, slowStart: true}
	c := &Conn{state: stateActive}
	c.path.maxPacket = mds
	c.loss.cc = cc
	c.loss.LossDetector = ackframes.NewLossDetector[sentFrames](ackframes.LossConfig{})
	c.loss.rtt.Update(50*time.Millisecond+900*time.Microsecond, 0, true)
	c.ackFreq.init(peer)

	var rec sentFrames
	next := func() (packet.AckFrequencyFrame, bool) {
		t.Helper()
		rec.reset()
		b := c.appendAckFrequency(nil, 1200, &rec)
		if len(b) == 0 {
			return packet.AckFrequencyFrame{}, false
		}
		f, n, err := packet.ParseAckFrequencyFrame(b)
		if err != nil || n != len(b) {
			t.Fatalf("appended %x: %v", b, err)
		}
		if rec.len() != 1 || rec.at(0).kind != sentAckFrequency || rec.at(0).offset != int64(f.Sequence) {
			t.Fatalf("record %+v for frame %+v", rec.at(0), f)
		}
		return f, true
	}
	want := func(reason string, seq, threshold uint64, delay time.Duration) {
		t.Helper()
		f, ok := next()
		// Reordering: the packet threshold, 3, unless back to RFC 9000's.
		reorder := uint64(3)
		if threshold == 1 {
			reorder = 1
		}
		w := packet.AckFrequencyFrame{Sequence: seq, AckElicitingThreshold: threshold, RequestedMaxAckDelay: delay, ReorderingThreshold: reorder}
		if !ok || f != w {
			t.Fatalf("%s: got %+v (sent %v), want %+v", reason, f, ok, w)
		}
		if _, again := next(); again {
			t.Fatalf("%s: a second frame with nothing changed", reason)
		}
	}
	wantNone := func(reason string) {
		t.Helper()
		if f, ok := next(); ok {
			t.Fatalf("%s: got %+v, want no frame", reason, f)
		}
	}

	wantNone("slow start wants the peer's defaults")
	cc.slowStart = false
	want("200 datagrams in congestion avoidance", 0, 9, 12*time.Millisecond)
	cc.window = 60 * mds
	wantNone("60 datagrams: a quarter below 80 is not yet below")
	cc.window = 59 * mds
	want("59 datagrams", 1, 3, 12*time.Millisecond)
	cc.window = 24 * mds
	wantNone("24 datagrams: a quarter below 32 is not yet below")
	cc.window = 23 * mds
	want("23 datagrams: RFC 9000's policy again", 2, 1, peer.MaxAckDelay)
	cc.window = 31 * mds
	wantNone("31 datagrams, rising")
	cc.window = 32 * mds
	want("32 datagrams", 3, 3, 12*time.Millisecond)

	c.onAckFrequencyLost(2)
	wantNone("an older frame lost")
	c.onAckFrequencyLost(3)
	want("the latest lost: the same wish, numbered anew", 4, 3, 12*time.Millisecond)

	c.loss.rtt = congestion.RTTStats{}
	c.loss.rtt.Update(4*time.Millisecond, 0, true)
	want("a 4 ms path: the peer's min_ack_delay bounds the delay", 5, 3, 2*time.Millisecond)

	noExt := packet.DefaultTransportParameters()
	c.ackFreq.init(noExt)
	cc.window = 200 * mds
	wantNone("a peer without min_ack_delay")
}
