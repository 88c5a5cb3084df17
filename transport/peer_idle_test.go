package transport

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// TestPeerIdleTimeout: a Conn that receives nothing for the idle timeout
// ends at exactly that time, silently, with ErrIdleTimeout (RFC 9000 §10.1).
// The timeout is the smaller of the two endpoints' max_idle_timeout, and
// every packet received restarts it.
func TestPeerIdleTimeout(t *testing.T) {
	tests := []struct {
		desc     string
		connIdle time.Duration // Config.MaxIdleTimeout
		peerIdle time.Duration // the peer's max_idle_timeout; 0 means none
		poke     time.Duration // if > 0, the peer sends an ACK-only packet this long after the handshake
		want     time.Duration // end of the connection, after the peer's last packet
	}{
		{desc: "the Conn's own timeout", connIdle: 30 * time.Second, want: 30 * time.Second},
		{desc: "the peer's shorter timeout", connIdle: 30 * time.Second, peerIdle: 10 * time.Second, want: 10 * time.Second},
		{desc: "the Conn's shorter timeout", connIdle: 10 * time.Second, peerIdle: 30 * time.Second, want: 10 * time.Second},
		{desc: "a packet restarts the timer", connIdle: 30 * time.Second, poke: 20 * time.Second, want: 30 * time.Second},
	}
	for _, test := range tests {
		t.Run(test.desc, func(t *testing.T) {
			forBothSides(t, func(t *testing.T, side connSide) {
				tc := newTestConn(t, side,
					func(c *Config) { c.MaxIdleTimeout, c.KeepAlivePeriod = test.connIdle, -1 },
					func(p *packet.TransportParameters) { p.MaxIdleTimeout = test.peerIdle })
				if test.poke > 0 {
					tc.advance(test.poke)
					tc.writeFrames(tc.ackAll())
				}
				last := tc.lastWrite
				tc.advanceTo(last.Add(test.want - time.Nanosecond))
				tc.wantConnOpen("just before the idle timeout")
				tc.wantIdle("nothing is sent while idle (keepalive is off)")
				tc.advance(time.Nanosecond)
				err := tc.wantConnDone("at the idle timeout")
				if !errors.Is(err, ErrIdleTimeout) {
					t.Fatalf("Err() = %v, want ErrIdleTimeout", err)
				}
				tc.wantIdle("an idle timeout closes silently")
			})
		})
	}
}

// TestPeerKeepAlive: with a quiet peer, the Conn sends a PING
// KeepAlivePeriod after it last heard from the peer or sent an
// ack-eliciting packet, whichever is later, and again a period after the
// peer's ACK of it; the connection then never idles out. The PING is
// padded so that a restarted peer can answer it with a stateless reset.
func TestPeerKeepAlive(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		const period = 15 * time.Second
		tc := newTestConn(t, side, func(c *Config) { c.KeepAlivePeriod, c.MaxIdleTimeout = period, 30*time.Second })
		tc.ignoreFrame(packet.FrameAck) // the PING may carry an ACK
		for i := 0; i < 3; i++ {
			last := tc.lastWrite // the peer's last packet, after the Conn's last ack-eliciting one
			tc.advanceTo(last.Add(period - time.Nanosecond))
			tc.wantIdle("no keepalive before the period")
			tc.advance(time.Nanosecond)
			tc.wantFrame("a keepalive PING after the period", packet.PingFrame{})
			if n := tc.lastDgram.size; n <= crypto.MinStatelessResetLen {
				// A peer that lost its state answers only longer
				// packets with a stateless reset (section 2.4).
				t.Fatalf("the keepalive is %d bytes; want more than %d", n, crypto.MinStatelessResetLen)
			}
			tc.wantIdle("one PING")
			tc.advance(testRTT)
			tc.writeFrames(tc.ackAll())
			tc.wantIdle("the peer's ACK needs no answer")
		}
		tc.wantConnOpen("keepalives keep the connection alive past its 30 s idle timeout")
		if got := time.Since(tc.start); got < 45*time.Second {
			t.Fatalf("setup: only %v passed, want more than 45 s", got)
		}
	})
}

// TestPeerKeepAliveDisabled: a negative KeepAlivePeriod sends no PING.
func TestPeerKeepAliveDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestConn(t, clientSide, func(c *Config) { c.KeepAlivePeriod = -1 })
		tc.advance(59 * time.Second)
		tc.wantIdle("no keepalive when disabled")
	})
}

// TestPeerIdleTimerRestartsOnSend: RFC 9000 §10.1 restarts the idle timer
// also when the Conn sends an ack-eliciting packet, if it sent none since it
// last received one, "so that connections are not closed after new activity
// is initiated". Data written 20 s into a 30 s idle period extends the
// connection to 30 s after that write.
func TestPeerIdleTimerRestartsOnSend(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		const idle = 30 * time.Second
		tc := newTestConn(t, side, func(c *Config) { c.MaxIdleTimeout, c.KeepAlivePeriod = idle, -1 })
		tc.ignoreFrame(packet.FrameAck)
		tc.ignoreFrame(packet.FramePing)
		s := tc.openStream(true)
		tc.advanceTo(tc.lastWrite.Add(20 * time.Second))
		if _, err := s.Write([]byte("new activity")); err != nil {
			t.Fatalf("Write: %v", err)
		}
		tc.wantFrameType("the write goes out", packet.FrameStream)
		wrote := tc.lastDgram.at
		tc.advanceTo(tc.lastWrite.Add(idle))
		tc.wait()
		select {
		case <-tc.conn.Done():
			t.Fatalf("BUG: the connection idled out %v after the peer's last packet although it sent new data %v ago; "+
				"RFC 9000 §10.1 restarts the idle timer on the first ack-eliciting packet sent after a receipt", idle, time.Since(wrote))
		default:
		}
		tc.advanceTo(wrote.Add(idle))
		err := tc.wantConnDone("30 s after the new activity")
		if !errors.Is(err, ErrIdleTimeout) {
			t.Fatalf("Err() = %v, want ErrIdleTimeout", err)
		}
	})
}
