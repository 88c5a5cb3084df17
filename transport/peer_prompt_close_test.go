package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/netsim"
)

// blockedCalls starts one of each call that can block on a connection,
// and returns a channel with each one's error as it returns. The
// connection has no RTT sample: the peer never acknowledged anything, so
// its probe timeout, and any closing period, would be the longest.
func blockedCalls(t *testing.T, tc *testConn) (results chan error, n int) {
	t.Helper()
	c := tc.conn
	// A stream from the peer to read from.
	tc.writeFrames(packet.StreamFrame{StreamID: tc.peerStreamID(0, true), Data: []byte("x")})
	in := tc.acceptStream(true)
	if _, err := in.Read(make([]byte, 1)); err != nil {
		t.Fatalf("Read: %v", err)
	}
	// A stream of ours whose send buffer fills.
	out, err := c.OpenUniStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.Write(make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	calls := []func() error{
		func() error { _, err := c.AcceptStream(context.Background()); return err },
		func() error { _, err := c.AcceptUniStream(context.Background()); return err },
		func() error { _, err := c.OpenStream(context.Background()); return err }, // the peer allows no bidirectional stream
		func() error { _, err := in.Read(make([]byte, 1)); return err },
		func() error { _, err := out.Write(make([]byte, 4096)); return err }, // the buffer is full
		func() error { return out.WaitConsumed(context.Background(), 1024) },
		func() error { <-c.Done(); return c.Err() },
		func() error { <-c.Context().Done(); return context.Cause(c.Context()) },
	}
	results = make(chan error, len(calls))
	for _, call := range calls {
		go func() { results <- call() }()
	}
	tc.wait()
	if len(results) != 0 {
		t.Fatalf("%d calls returned before the close: %v", len(results), <-results)
	}
	return results, len(calls)
}

// noRTTSampleConn is a client connection that completed its handshake but
// whose packets the peer never acknowledged, so it has no RTT sample.
func noRTTSampleConn(t *testing.T) *testConn {
	tc := startTestConn(t, clientSide,
		func(c *Config) { c.InitialStreamWindow, c.MaxStreamWindow = 1024, 1024 },
		func(p *packet.TransportParameters) { p.InitialMaxStreamsBidi = 0 })
	tc.writeServerHello(tc.wantClientHello("message 1"))
	tc.waitDial()
	if tc.dialErr != nil {
		t.Fatal(tc.dialErr)
	}
	if st := tc.conn.Stats(); st.SmoothedRTT != 0 && st.MinRTT != 0 {
		t.Fatalf("setup: the connection has an RTT sample (%v)", st.SmoothedRTT)
	}
	return tc
}

// TestPeerPromptClose: when the connection closes, locally or by the peer,
// every blocked call returns at once (no timer fires, no time passes),
// with the close's error, and Done, Err and Context report it; the closing
// or draining period runs on behind the application's back.
func TestPeerPromptClose(t *testing.T) {
	tests := []struct {
		desc  string
		close func(tc *testConn)
		check func(err error) bool
	}{{
		desc:  "local Close",
		close: func(tc *testConn) { tc.conn.Close() },
		check: func(err error) bool {
			var te *TransportError
			return errors.Is(err, net.ErrClosed) && errors.As(err, &te) && !te.Remote
		},
	}, {
		desc:  "local CloseWithError",
		close: func(tc *testConn) { tc.conn.CloseWithError(5, "bye") },
		check: func(err error) bool {
			var ae *ApplicationError
			return errors.Is(err, net.ErrClosed) && errors.As(err, &ae) && ae.Code == 5 && !ae.Remote
		},
	}, {
		desc: "the peer's CONNECTION_CLOSE",
		close: func(tc *testConn) {
			tc.writeFrames(packet.ConnectionCloseFrame{Application: true, ErrorCode: 9, Reason: []byte("done")})
		},
		check: func(err error) bool {
			var ae *ApplicationError
			return !errors.Is(err, net.ErrClosed) && errors.As(err, &ae) && ae.Code == 9 && ae.Remote
		},
	}}
	for _, test := range tests {
		t.Run(test.desc, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tc := noRTTSampleConn(t)
				results, n := blockedCalls(t, tc)
				before := time.Now()
				test.close(tc)
				tc.wait()
				if elapsed := time.Since(before); elapsed != 0 {
					t.Fatalf("%v passed on the fake clock: a timer had to fire", elapsed)
				}
				if len(results) != n {
					t.Fatalf("%d of %d blocked calls returned when the connection closed", len(results), n)
				}
				for range n {
					// Write and WaitConsumed wrap the cause in a
					// *DeliveryError; errors.Is and As see through it.
					if err := <-results; !test.check(err) {
						t.Errorf("a blocked call returned %#v", err)
					}
				}
				if err := tc.conn.Err(); !test.check(err) {
					t.Errorf("Err() = %#v", err)
				}
			})
		})
	}
}

// TestDialDeadlineDuringHandshake: Dial's context ends at each point of
// the handshake over a path with 10 ms of delay each way (message 1 on its
// way, at the server, message 2 on its way): Dial returns at that moment
// with the context's error, and the server never hands the abandoned
// connection to Accept. A deadline after the handshake lets Dial succeed
// and the server accept.
func TestDialDeadlineDuringHandshake(t *testing.T) {
	const oneWay = 10 * time.Millisecond
	// At 2 × oneWay message 2 arrives just as the deadline passes: Dial
	// may go either way, but promptly.
	for _, deadline := range []time.Duration{0, 5 * time.Millisecond, oneWay, 15 * time.Millisecond, 2*oneWay - time.Microsecond, 2 * oneWay, 3 * oneWay} {
		t.Run(deadline.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				key, _ := crypto.GenerateKey()
				n := netsim.NewNetwork()
				srvAddr := netip.MustParseAddrPort("198.18.0.1:4433")
				spc, _ := n.Listen(srvAddr)
				cpc, _ := n.Listen(netip.MustParseAddrPort("198.18.0.2:5000"))
				sconn := netsim.Impair(spc, netsim.Config{Seed: 1, Delay: oneWay})
				cconn := netsim.Impair(cpc, netsim.Config{Seed: 2, Delay: oneWay})
				ln, err := ListenBind(NewPacketConnBind(sconn), &Config{PrivateKey: key})
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				defer cancel()
				start := time.Now()
				conn, err := DialBind(ctx, NewPacketConnBind(cconn), srvAddr, &Config{ServerKey: key.Public()})
				returned := time.Since(start)
				// A closed connection keeps its socket open through its
				// closing period, three PTOs (seconds without an RTT
				// sample); let it pass on the fake clock before the end.
				defer time.Sleep(10 * time.Second)
				actx, acancel := context.WithTimeout(context.Background(), time.Second)
				defer acancel()
				accepted, aerr := ln.Accept(actx)
				if err == nil && deadline >= 2*oneWay {
					if aerr != nil {
						t.Fatalf("Dial succeeded but Accept: %v", aerr)
					}
					conn.Close()
					return
				}
				if !errors.Is(err, context.DeadlineExceeded) || conn != nil {
					t.Fatalf("Dial = %v, %v; want context.DeadlineExceeded", conn, err)
				}
				if late := returned - deadline; late < 0 || late > time.Millisecond {
					t.Fatalf("Dial returned %v after its start, %v after its deadline; want within 1 ms", returned, late)
				}
				if aerr == nil {
					t.Fatalf("the server accepted the abandoned connection (%v)", accepted.Err())
				}
			})
		})
	}
}
