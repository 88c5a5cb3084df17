package transport

import (
	"bytes"
	"io"
	"testing"

	"github.com/limpetnet/limpet/packet"
)

// TestPeerFlowControlViolation: a peer that sends beyond the stream or
// connection window the Conn advertised (docs/PROTOCOL.md section 6) is
// closed with FLOW_CONTROL_ERROR in the STREAM frame (RFC 9000 §4.1); data
// up to the window is fine.
func TestPeerFlowControlViolation(t *testing.T) {
	const streamWindow, connWindow = 1000, 1500
	data := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	tests := []struct {
		desc      string
		frames    func(tc *testConn) []packet.Frame
		wantClose bool
	}{{
		desc: "exactly the stream window",
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.StreamFrame{StreamID: tc.peerStreamID(0, true), Data: data(streamWindow)}}
		},
	}, {
		desc: "one byte beyond the stream window",
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.StreamFrame{StreamID: tc.peerStreamID(0, true), Data: data(streamWindow + 1)}}
		},
		wantClose: true,
	}, {
		desc: "one byte at the stream window's offset",
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.StreamFrame{StreamID: tc.peerStreamID(0, true), Offset: streamWindow, Data: data(1)}}
		},
		wantClose: true,
	}, {
		desc: "a FIN beyond the stream window",
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.StreamFrame{StreamID: tc.peerStreamID(0, true), Offset: streamWindow + 1, Fin: true}}
		},
		wantClose: true,
	}, {
		desc: "two streams within their windows but beyond the connection window",
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{
				packet.StreamFrame{StreamID: tc.peerStreamID(0, true), Data: data(800)},
				packet.StreamFrame{StreamID: tc.peerStreamID(1, true), Data: data(800)},
			}
		},
		wantClose: true,
	}, {
		desc: "two streams filling the connection window exactly",
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{
				packet.StreamFrame{StreamID: tc.peerStreamID(0, true), Data: data(750)},
				packet.StreamFrame{StreamID: tc.peerStreamID(1, true), Data: data(750)},
			}
		},
	}}
	for _, test := range tests {
		t.Run(test.desc, func(t *testing.T) {
			forBothSides(t, func(t *testing.T, side connSide) {
				tc := newTestConn(t, side, func(c *Config) {
					c.InitialStreamWindow, c.MaxStreamWindow = streamWindow, streamWindow
					c.InitialConnWindow, c.MaxConnWindow = connWindow, connWindow
				})
				if got := tc.connParams.InitialMaxStreamDataBidiRemote; got != streamWindow {
					t.Fatalf("setup: the Conn advertised initial_max_stream_data_bidi_remote %d, want %d", got, streamWindow)
				}
				if got := tc.connParams.InitialMaxData; got != connWindow {
					t.Fatalf("setup: the Conn advertised initial_max_data %d, want %d", got, connWindow)
				}
				tc.ignoreFrame(packet.FrameAck)
				for _, f := range test.frames(tc) {
					tc.writeFrames(f) // one packet each: they would not fit one datagram
				}
				if !test.wantClose {
					tc.wantNoFrame("data within the windows is accepted")
					tc.wantConnOpen("data within the windows is accepted")
					return
				}
				f := tc.wantFrameType("data beyond the window closes the connection", packet.FrameConnectionClose).(packet.ConnectionCloseFrame)
				if packet.TransportErrorCode(f.ErrorCode) != packet.FlowControlError || !f.FrameType.IsStream() {
					t.Fatalf("got %s, want FLOW_CONTROL_ERROR in a STREAM frame", formatFrame(f))
				}
				tc.wantIdle("one CONNECTION_CLOSE")
			})
		})
	}
}

// TestPeerFlowControlBlockedWriter: a writer that fills the peer's stream
// (or connection) window sends what the window allows, then
// STREAM_DATA_BLOCKED (or DATA_BLOCKED) at that limit (RFC 9000 §4.1), and
// waits however long it takes; MAX_STREAM_DATA (or MAX_DATA) from the peer
// lets the rest go, and Write returns once the send buffer has drained.
func TestPeerFlowControlBlockedWriter(t *testing.T) {
	const peerWindow, sendBuffer, total = 100, 1000, 3000
	tests := []struct {
		desc    string
		params  func(p *packet.TransportParameters)
		blocked func(id packet.StreamID) packet.Frame
		unblock func(id packet.StreamID) packet.Frame
	}{{
		desc:   "stream window",
		params: func(p *packet.TransportParameters) { p.InitialMaxStreamDataBidiRemote = peerWindow },
		blocked: func(id packet.StreamID) packet.Frame {
			return packet.StreamDataBlockedFrame{StreamID: id, Limit: peerWindow}
		},
		unblock: func(id packet.StreamID) packet.Frame { return packet.MaxStreamDataFrame{StreamID: id, Max: total} },
	}, {
		desc:    "connection window",
		params:  func(p *packet.TransportParameters) { p.InitialMaxData = peerWindow },
		blocked: func(packet.StreamID) packet.Frame { return packet.DataBlockedFrame{Limit: peerWindow} },
		unblock: func(packet.StreamID) packet.Frame { return packet.MaxDataFrame{Max: total} },
	}}
	for _, test := range tests {
		t.Run(test.desc, func(t *testing.T) {
			forBothSides(t, func(t *testing.T, side connSide) {
				tc := newTestConn(t, side,
					func(c *Config) {
						c.NoDelay = true
						c.InitialStreamWindow, c.MaxStreamWindow = sendBuffer, sendBuffer // the send buffer's size
					},
					test.params)
				tc.ignoreFrame(packet.FrameAck)
				s := tc.openStream(true)
				id := tc.connStreamID(0, true)
				data := make([]byte, total)
				for i := range data {
					data[i] = byte(i * 7)
				}
				type writeResult struct {
					n   int
					err error
				}
				done := make(chan writeResult, 1)
				go func() {
					n, err := s.Write(data)
					done <- writeResult{n, err}
				}()
				tc.wantFrame("the writer sends what the peer's window allows", packet.StreamFrame{StreamID: id, Data: data[:peerWindow]})
				blocked := test.blocked(id)
				if f, ok := tc.readFrame(); !ok || !framesEqual(f, blocked) {
					got := "nothing"
					if ok {
						got = formatFrame(f)
					}
					// Keep going: the rest of the test checks the unblocking.
					t.Errorf("BUG: after using up the peer's window the %v sent %s, want %s (RFC 9000 §4.1: a sender SHOULD send it when blocked)",
						side, got, formatFrame(blocked))
				}
				tc.wantNoFrame("nothing beyond the window")
				// However long the writer waits, nothing beyond the window
				// goes; with nothing in flight the blocked frame is
				// repeated (RFC 9000 §4.1), acknowledged here each time.
				repeats := 0
				for end := tc.elapsed() + 10*testPTO; tc.elapsed() < end; {
					tc.writeFrames(tc.ackAll())
					tc.advanceToTimer()
					for {
						f, ok := tc.readFrame()
						if !ok {
							break
						}
						if !framesEqual(f, blocked) {
							t.Fatalf("while blocked: got %s, want only %s", formatFrame(f), formatFrame(blocked))
						}
						repeats++
					}
				}
				if repeats < 2 {
					t.Errorf("in %v blocked with nothing in flight the %v repeated %s %d times, want it repeated on the probe timeout's schedule",
						10*testPTO, side, formatFrame(blocked), repeats)
				}
				tc.writeFrames(tc.ackAll())
				select {
				case r := <-done:
					t.Fatalf("Write returned (%d, %v) while %d bytes could not be buffered", r.n, r.err, total-sendBuffer)
				default:
				}

				tc.writeFrames(test.unblock(id))
				got := append([]byte(nil), data[:peerWindow]...)
				for steps := 0; len(got) < total; steps++ {
					if steps > 100 {
						t.Fatalf("after 100 rounds the peer has %d of %d bytes", len(got), total)
					}
					f, ok := tc.readFrame()
					if !ok {
						tc.writeFrames(tc.ackAll()) // frees the send buffer for the writer
						if !tc.advanceUntilSent(10 * testPTO) {
							t.Fatalf("the Conn stalled with %d of %d bytes delivered", len(got), total)
						}
						continue
					}
					sf, isStream := f.(packet.StreamFrame)
					if !isStream {
						t.Fatalf("after %s: got %s, want only STREAM frames", formatFrame(test.unblock(id)), formatFrame(f))
					}
					if sf.StreamID != id || sf.Offset != int64(len(got)) {
						t.Fatalf("got %s, want stream %d at offset %d (no loss, so no gaps or repeats)", formatFrame(f), id, len(got))
					}
					got = append(got, sf.Data...)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("the peer received %d bytes that differ from the %d written", len(got), total)
				}
				tc.writeFrames(tc.ackAll())
				select {
				case r := <-done:
					if r.n != total || r.err != nil {
						t.Fatalf("Write = (%d, %v), want (%d, nil)", r.n, r.err, total)
					}
				default:
					t.Fatalf("Write has not returned after all %d bytes were acknowledged", total)
				}
			})
		})
	}
}

// TestPeerStreamWindowGrowthPullsConnWindow: when auto-tuning enlarges a
// stream's receive window, the connection window grows to 1.5 times it,
// and the MAX_DATA saying so leaves with the MAX_STREAM_DATA, so that one
// fast stream is not held back by the connection window.
func TestPeerStreamWindowGrowthPullsConnWindow(t *testing.T) {
	const streamWindow, connWindow = 4000, 6000
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, func(c *Config) {
			c.InitialStreamWindow, c.MaxStreamWindow = streamWindow, 64000
			c.InitialConnWindow, c.MaxConnWindow = connWindow, 64000
		})
		id := tc.peerStreamID(0, true)
		data := randomData(3, 16000)
		var s *Stream
		var off int64
		buf := make([]byte, len(data))
		for off < int64(len(data)) {
			chunk := data[off : off+streamWindow/4]
			tc.writeFrames(packet.StreamFrame{StreamID: id, Offset: off, Data: chunk})
			if s == nil {
				s = tc.acceptStream(true)
			}
			if _, err := io.ReadFull(s, buf[:len(chunk)]); err != nil || !bytes.Equal(buf[:len(chunk)], chunk) {
				t.Fatalf("reading at %d: %v", off, err)
			}
			off += int64(len(chunk))
			for d := tc.readDatagram(); d != nil; d = tc.readDatagram() {
				var msd, md int64 = -1, -1
				for _, p := range d.packets {
					for _, f := range p.frames {
						switch f := f.(type) {
						case packet.MaxStreamDataFrame:
							msd = f.Max
						case packet.MaxDataFrame:
							md = f.Max
						}
					}
				}
				if msd < 0 || msd-off <= streamWindow {
					continue
				}
				// The stream window grew: MAX_DATA must come along.
				window := msd - off
				if md < off+window+window/2 {
					t.Fatalf("MAX_STREAM_DATA %d (window %d at offset %d) came with MAX_DATA %d; want at least %d", msd, window, off, md, off+window+window/2)
				}
				return
			}
		}
		t.Fatalf("the stream window never grew over %d bytes read fast", len(data))
	})
}
