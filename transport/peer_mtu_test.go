package transport

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/internal/pmtud"
)

// withDiscovery turns path MTU discovery on (the harness turns it off) up
// to max bytes.
func withDiscovery(max int) func(*Config) {
	return func(c *Config) {
		c.DisablePathMTUDiscovery = false
		c.MaxDatagramSize = max
	}
}

// mtuPath plays a path that carries datagrams of at most limit bytes and
// drops larger ones without a word, as a tunnel hop with DF set does. The
// peer acknowledges every packet that got through.
type mtuPath struct {
	tc     *testConn
	limit  int
	acked  []packet.PacketNumber
	probes []int            // sizes of the probes the Conn sent
	data   map[int64][]byte // stream data that got through, by offset
	// streamMax is the largest delivered datagram with stream data.
	streamMax int
}

func newMTUPath(tc *testConn, limit int) *mtuPath {
	p := &mtuPath{tc: tc, limit: limit, data: map[int64][]byte{}}
	for _, pr := range tc.probes {
		p.deliverProbe(pr.pn, pr.size)
	}
	return p
}

func (p *mtuPath) deliverProbe(pn packet.PacketNumber, size int) {
	p.probes = append(p.probes, size)
	if size <= p.limit {
		p.acked = append(p.acked, pn)
	}
}

// run carries what the Conn sends for d of fake time, acknowledging at
// each step what arrived.
func (p *mtuPath) run(d time.Duration) {
	tc := p.tc
	tc.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		for dg := tc.readDatagram(); dg != nil; dg = tc.readDatagram() {
			for _, pkt := range dg.packets {
				if pkt.kind != kind1RTT {
					continue
				}
				if isProbe(pkt) && dg.size > pmtud.BaseSize {
					p.deliverProbe(pkt.pn, dg.size)
					continue
				}
				if dg.size > p.limit {
					continue
				}
				p.acked = append(p.acked, pkt.pn)
				for _, f := range pkt.frames {
					if sf, ok := f.(packet.StreamFrame); ok {
						p.streamMax = max(p.streamMax, dg.size)
						p.data[sf.Offset] = bytes.Clone(sf.Data)
					}
				}
			}
		}
		tc.discardUnread()
		if len(p.acked) > 0 {
			tc.writeFrames(ackFor(p.acked...))
		}
		tc.advance(testRTT / 2)
	}
}

// isProbe reports whether a packet is PING and PADDING only.
func isProbe(pkt *testPacket) bool {
	ping := false
	for _, f := range pkt.frames {
		switch f.Type() {
		case packet.FramePing:
			ping = true
		case packet.FramePadding:
		default:
			return false
		}
	}
	return ping
}

// stream reassembles the data that got through, from offset 0.
func (p *mtuPath) stream() []byte {
	var out []byte
	for {
		d, ok := p.data[int64(len(out))]
		if !ok || len(d) == 0 {
			return out
		}
		out = append(out, d...)
	}
}

// TestPeerMTUDiscoveryFindsTunnel: on a path of MTU 1400 (1372 bytes of
// UDP payload over IPv4), the search tries the ceiling 1472 first, which
// is lost, then climbs: 1252 and 1372, which get through, and 1392 three
// times, which does not, and settles at 1372; data then goes in 1372-byte
// datagrams. The lost probes do not shrink the congestion window
// (RFC 9000 §14.4).
func TestPeerMTUDiscoveryFindsTunnel(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, withDiscovery(1472))
		p := newMTUPath(tc, 1372)
		p.run(2 * time.Second)
		if want := []int{1472, 1252, 1372, 1392, 1392, 1392}; !slices.Equal(p.probes, want) {
			t.Fatalf("probes %v, want %v", p.probes, want)
		}
		st := tc.conn.Stats()
		if st.MaxDatagramSize != 1372 || st.MTUProbesSent != 6 || st.MTUProbesLost != 4 {
			t.Fatalf("MaxDatagramSize %d, probes sent %d lost %d; want 1372, 6, 4", st.MaxDatagramSize, st.MTUProbesSent, st.MTUProbesLost)
		}
		if st.PacketsLost != 0 {
			t.Errorf("PacketsLost %d: lost probes counted as lost packets", st.PacketsLost)
		}
		cwnd := st.CongestionWindow
		data := randomData(7, 40_000)
		s := tc.openStream(true)
		if _, err := s.Write(data); err != nil {
			t.Fatal(err)
		}
		s.Close()
		p.run(time.Second)
		if got := p.stream(); !bytes.Equal(got, data) {
			t.Fatalf("the peer got %d bytes of %d", len(got), len(data))
		}
		if got := p.streamMax; got != 1372 {
			t.Errorf("largest datagram with stream data %d, want 1372", got)
		}
		if st := tc.conn.Stats(); st.PacketsLost != 0 || st.CongestionWindow < cwnd {
			t.Errorf("after the transfer: PacketsLost %d, window %d (was %d)", st.PacketsLost, st.CongestionWindow, cwnd)
		}
	})
}

// TestPeerMTUBlackHole: the path's MTU drops under a connection that
// settled at 1472 bytes. Its full-size packets vanish; the probe-timeout
// packets, kept at 1200 bytes, get through, and their acknowledgement
// tells the black hole from an outage: the size falls to 1200 and the
// search finds 1252 again. Every byte arrives.
func TestPeerMTUBlackHole(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, withDiscovery(1472))
		p := newMTUPath(tc, 1472)
		p.run(time.Second)
		if st := tc.conn.Stats(); st.MaxDatagramSize != 1472 {
			t.Fatalf("settled at %d, want 1472", st.MaxDatagramSize)
		}
		p.limit = 1252 // a 1280-byte tunnel hop appears
		start := time.Now()
		data := randomData(8, 100_000)
		s := tc.openStream(true)
		if _, err := s.Write(data); err != nil {
			t.Fatal(err)
		}
		s.Close()
		var fellAt time.Duration
		for fellAt == 0 && time.Since(start) < 5*time.Second {
			p.run(testRTT)
			if st := tc.conn.Stats(); st.MTUBlackHoles == 1 {
				fellAt = time.Since(start)
			}
		}
		if fellAt == 0 {
			t.Fatalf("no black hole detected in 5 s: %+v", tc.conn.Stats())
		}
		// About one probe timeout for the first small probe and one round
		// trip for its acknowledgement; within 3 PTOs in any case.
		if fellAt > 3*testPTO {
			t.Errorf("fell back after %v, want within 3 PTOs (%v)", fellAt, 3*testPTO)
		}
		p.run(3 * time.Second)
		if got := p.stream(); !bytes.Equal(got, data) {
			t.Fatalf("the peer got %d bytes of %d", len(got), len(data))
		}
		st := tc.conn.Stats()
		if st.MaxDatagramSize != 1252 || st.MTUBlackHoles != 1 {
			t.Fatalf("after the black hole: MaxDatagramSize %d, black holes %d; want 1252, 1", st.MaxDatagramSize, st.MTUBlackHoles)
		}
	})
}

// TestPeerMTUOutageIsNoBlackHole: when nothing gets through at all, large
// or small, the size stays: an outage is not a black hole.
func TestPeerMTUOutageIsNoBlackHole(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, withDiscovery(1472))
		p := newMTUPath(tc, 1472)
		p.run(time.Second)
		p.limit = 0 // the path goes dark
		s := tc.openStream(true)
		if _, err := s.Write(randomData(9, 50_000)); err != nil {
			t.Fatal(err)
		}
		p.run(3 * time.Second)
		p.limit = 1472
		p.acked = p.acked[:0] // what was acknowledged before is old news
		p.run(2 * time.Second)
		if st := tc.conn.Stats(); st.MTUBlackHoles != 0 || st.MaxDatagramSize != 1472 {
			t.Fatalf("after an outage: black holes %d, MaxDatagramSize %d; want 0, 1472", st.MTUBlackHoles, st.MaxDatagramSize)
		}
	})
}

// TestPeerMTUDisabled: with discovery off every packet is at most 1200
// bytes, or MaxDatagramSize if set, and no probe is sent.
func TestPeerMTUDisabled(t *testing.T) {
	for _, tc := range []struct {
		desc string
		max  int
		want int
	}{{"default", 0, 1200}, {"MaxDatagramSize", 1400, 1400}} {
		t.Run(tc.desc, func(t *testing.T) {
			forBothSides(t, func(t *testing.T, side connSide) {
				c := newTestConn(t, side, func(c *Config) { c.MaxDatagramSize = tc.max })
				p := newMTUPath(c, 65527)
				s := c.openStream(true)
				s.Write(randomData(3, 20_000))
				p.run(time.Second)
				if len(p.probes) != 0 || p.streamMax != tc.want {
					t.Fatalf("probes %v, largest stream datagram %d; want none, %d", p.probes, p.streamMax, tc.want)
				}
			})
		})
	}
}

// TestPeerMTUProbeHoldsNothingBack: a probe five times the initial window
// (64 KiB, as on loopback) is in flight unanswered, yet the handshake's
// last frames and the first data go at once: the window holds other
// packets to the bytes in flight less the probe's. One probe at a time,
// so at most one datagram beyond the window.
func TestPeerMTUProbeHoldsNothingBack(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, withDiscovery(65507), func(c *Config) { c.NoDelay = true })
		if len(tc.probes) == 0 || tc.probes[0].size != 65507 {
			t.Fatalf("probes during the handshake %+v, want the first of 65507 bytes", tc.probes)
		}
		tc.ignoreFrame(packet.FrameAck)
		data := randomData(9, 8000) // within the initial window
		s := tc.openStream(true)
		if _, err := s.Write(data); err != nil {
			t.Fatal(err)
		}
		id := tc.connStreamID(0, true)
		var got []byte
		for {
			f, ok := tc.readFrame()
			if !ok {
				break
			}
			if sf, ok := f.(packet.StreamFrame); ok && sf.StreamID == id {
				got = append(got, sf.Data...)
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("with the probe unanswered, %d of %d bytes left at once, want all", len(got), len(data))
		}
		tc.wantIdle("the probe's answer is awaited for nothing else")
	})
}
