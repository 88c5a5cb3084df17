package transport

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// TestClosedConnAnswers: a closed connection repeats its CONNECTION_CLOSE
// at most once per interval, and never beyond the anti-amplification limit:
// to a peer address that was validated, for any packet; to one that was
// not, within three times all it sent; to any other address, only for a
// datagram at least a third of the close's size, and there, not to the
// peer's address.
func TestClosedConnAnswers(t *testing.T) {
	peer := netip.MustParseAddrPort("198.18.0.2:5000")
	other := netip.MustParseAddrPort("198.18.0.9:6000")
	start := time.Unix(1000, 0)
	closeDatagram := make([]byte, 60)
	type trigger struct {
		from   netip.AddrPort
		n      int
		after  time.Duration
		wantTo netip.AddrPort // zero: no answer
	}
	for _, tt := range []struct {
		name     string
		budget   int64
		triggers []trigger
	}{
		{"validated peer", -1, []trigger{
			{peer, 20, 0, peer},
			{peer, 20, 5 * time.Millisecond, netip.AddrPort{}}, // within the interval
			{peer, 20, 10 * time.Millisecond, peer},
		}},
		{"unvalidated peer", 0, []trigger{
			{peer, 10, 0, netip.AddrPort{}},                     // 30 of budget
			{peer, 10, 10 * time.Millisecond, peer},             // 60: one close, 0 left
			{peer, 19, 20 * time.Millisecond, netip.AddrPort{}}, // 57
			{peer, 1, 30 * time.Millisecond, peer},              // 60
		}},
		{"another address", -1, []trigger{
			{other, 19, 0, netip.AddrPort{}}, // 57 < 60
			{other, 20, 10 * time.Millisecond, other},
			{other, 20, 11 * time.Millisecond, netip.AddrPort{}}, // within the interval
		}},
		{"after the period", -1, []trigger{
			{peer, 100, 3 * time.Second, netip.AddrPort{}},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cc := &closedConn{packet: closeDatagram, to: peer, until: start.Add(time.Second),
				interval: 10 * time.Millisecond, lastSent: start.Add(-time.Hour), budget: tt.budget}
			for i, tr := range tt.triggers {
				got, to := cc.answer(tr.from, tr.n, start.Add(tr.after))
				if (got != nil) != tr.wantTo.IsValid() || to != tr.wantTo {
					t.Errorf("trigger %d (%d bytes from %v at +%v): answer %d bytes to %v, want it to %v", i, tr.n, tr.from, tr.after, len(got), to, tr.wantTo)
				}
			}
		})
	}
	draining := &closedConn{to: peer, until: start.Add(time.Second), budget: -1}
	if got, _ := draining.answer(peer, 1000, start); got != nil {
		t.Error("a draining connection (no close sent) answered")
	}
}

// TestClosingPeriodCapped: a peer announcing the largest max_ack_delay
// (16,383 ms) cannot make the closing period, three PTOs, last most of a
// minute: it ends within maxClosingPeriod.
func TestClosingPeriodCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestConn(t, serverSide, func(p *packet.TransportParameters) { p.MaxAckDelay = 16383 * time.Millisecond })
		closedAt := time.Now()
		tc.conn.Close()
		tc.wait()
		e := tc.conn.ep
		e.mu.Lock()
		cc := e.closedIDs[tc.conn.ids.localCID]
		e.mu.Unlock()
		if cc == nil {
			t.Fatal("no closing period recorded")
		}
		if d := cc.until.Sub(closedAt); d <= 0 || d > maxClosingPeriod {
			t.Errorf("closing period %v, want at most %v", d, maxClosingPeriod)
		}
	})
}
