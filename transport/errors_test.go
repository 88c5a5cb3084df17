package transport

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// TestErrorModel checks the table in errors.go, a row at a time: each
// error a program can get, and how it matches. Two rows have tests of
// their own: ICMP refusal (TestDialRefusedFailsFast) and stateless reset
// (TestStatelessReset).
func TestErrorModel(t *testing.T) {
	isTimeout := func(err error) bool {
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout()
	}
	t.Run("the peer closed with a transport code", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tc := newTestConn(t, clientSide)
			tc.writeFrames(packet.ConnectionCloseFrame{ErrorCode: uint64(packet.FlowControlError), FrameType: packet.FrameStream, Reason: []byte("too much")})
			err := tc.wantConnDone("the peer closed")
			var te *TransportError
			if !errors.As(err, &te) || !te.Remote || te.Code != FlowControlError || te.FrameType != packet.FrameStream || te.Reason != "too much" {
				t.Fatalf("Err() = %#v", err)
			}
			if errors.Is(err, net.ErrClosed) {
				t.Fatalf("a close by the peer matches net.ErrClosed: %v", err)
			}
		})
	})
	t.Run("we closed because of a protocol error", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tc := newTestConn(t, clientSide)
			tc.writeFrames(packet.HandshakeDoneFrame{}, packet.NewTokenFrame{Token: []byte("t")}, packet.MaxStreamsFrame{Bidirectional: true, Max: 1 << 61})
			err := tc.wantConnDone("we closed")
			var te *TransportError
			if !errors.As(err, &te) || te.Remote || te.Code == NoError {
				t.Fatalf("Err() = %#v, want our *TransportError", err)
			}
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("our close does not match net.ErrClosed: %v", err)
			}
		})
	})
	t.Run("an application closed, on either side", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tc := newTestConn(t, serverSide)
			tc.writeFrames(packet.ConnectionCloseFrame{Application: true, ErrorCode: 42, Reason: []byte("done")})
			err := tc.wantConnDone("the peer's application closed")
			var ae *ApplicationError
			if !errors.As(err, &ae) || !ae.Remote || ae.Code != 42 || errors.Is(err, net.ErrClosed) {
				t.Fatalf("Err() = %#v", err)
			}
			tc2 := newTestConn(t, clientSide)
			tc2.conn.CloseWithError(43, "bye")
			err = tc2.wantConnDone("our application closed")
			if !errors.As(err, &ae) || ae.Remote || ae.Code != 43 || !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Err() = %#v", err)
			}
		})
	})
	t.Run("use after a local close", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tc := newTestConn(t, clientSide)
			s := tc.openStream(true)
			tc.conn.Close()
			tc.wait()
			if _, err := tc.conn.OpenStream(context.Background()); !errors.Is(err, net.ErrClosed) {
				t.Errorf("OpenStream after Close: %v, want net.ErrClosed", err)
			}
			if _, err := s.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Write after Close: %v, want net.ErrClosed", err)
			}
			if _, err := s.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Read after Close: %v, want net.ErrClosed", err)
			}
		})
	})
	t.Run("we closed the stream", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tc := newTestConn(t, clientSide)
			s := tc.openStream(true)
			s.Close()
			if _, err := s.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) || !errors.Is(err, ErrStreamClosed) {
				t.Errorf("Read after Close: %v", err)
			}
			if _, err := s.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Write after Close: %v", err)
			}
			if err := s.Close(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("second Close: %v", err)
			}
		})
	})
	t.Run("the endpoint was closed", func(t *testing.T) {
		key, _ := crypto.GenerateKey()
		ln, err := Listen("127.0.0.1:0", &Config{PrivateKey: key})
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		if _, err := ln.Accept(context.Background()); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v", err)
		}
		if _, err := ln.Dial(context.Background(), "127.0.0.1:9", &Config{ServerKey: key.Public()}); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Endpoint.Dial after Close: %v", err)
		}
	})
	t.Run("idle timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tc := newTestConn(t, clientSide, func(c *Config) { c.KeepAlivePeriod = -1 })
			tc.advance(61 * time.Second)
			err := tc.wantConnDone("nothing received for the idle timeout")
			var it *IdleTimeoutError
			if !errors.As(err, &it) || !isTimeout(err) || !errors.Is(err, ErrIdleTimeout) {
				t.Fatalf("Err() = %#v, want *IdleTimeoutError, a timeout", err)
			}
		})
	})
	t.Run("handshake timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tc := startTestConn(t, clientSide)
			tc.advance(11 * time.Second)
			tc.waitDial()
			var ht *HandshakeTimeoutError
			if !errors.As(tc.dialErr, &ht) || !isTimeout(tc.dialErr) || !errors.Is(tc.dialErr, ErrHandshakeTimeout) {
				t.Fatalf("Dial = %#v, want *HandshakeTimeoutError, a timeout", tc.dialErr)
			}
		})
	})
	t.Run("the peer reset a stream", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tc := newTestConn(t, clientSide)
			id := tc.peerStreamID(0, true)
			tc.writeFrames(packet.StreamFrame{StreamID: id, Data: []byte("x")})
			s := tc.acceptStream(true)
			tc.writeFrames(packet.ResetStreamFrame{StreamID: id, ErrorCode: 11, FinalSize: 1})
			_, err := s.Read(make([]byte, 8))
			var se *StreamError
			if !errors.As(err, &se) || !se.Remote || se.Code != 11 || se.StreamID != id {
				t.Fatalf("Read = %#v, want the peer's *StreamError 11", err)
			}
		})
	})
	t.Run("a deadline passed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tc := newTestConn(t, clientSide)
			s := tc.openStream(true)
			s.SetReadDeadline(time.Now().Add(-time.Second))
			_, err := s.Read(make([]byte, 1))
			if !errors.Is(err, os.ErrDeadlineExceeded) || !isTimeout(err) {
				t.Fatalf("Read = %#v, want os.ErrDeadlineExceeded, a timeout", err)
			}
		})
	})
	t.Run("the resolver failed", func(t *testing.T) {
		key, _ := crypto.GenerateKey()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := Dial(ctx, "no-such-host.invalid:4433", &Config{ServerKey: key.Public()})
		var de *net.DNSError
		if !errors.As(err, &de) {
			t.Fatalf("Dial = %#v, want a wrapped *net.DNSError", err)
		}
	})
	t.Run("Dial's context ended", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tc := startTestConn(t, clientSide)
			tc.cancelDial()
			tc.waitDial()
			if !errors.Is(tc.dialErr, context.Canceled) {
				t.Fatalf("Dial = %#v, want context.Canceled", tc.dialErr)
			}
		})
	})
}
