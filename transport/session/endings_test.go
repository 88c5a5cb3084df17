package session

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/transport"
)

// TestStopKeepsReceiptsAcrossResume: the reader stops after 10 bytes
// with a code; the writer's receipts say 10, not everything, its writes
// fail with the code, and a resumption afterwards takes the stream as it
// is.
func TestStopKeepsReceiptsAcrossResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t, nil)
		defer l.close()
		cli := l.client(nil)
		srv := l.accept()
		ctx := context.Background()
		s, _ := cli.OpenStream(ctx)
		s.Write(randomData(1, 100_000))
		ss, err := srv.AcceptStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(ss, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		ss.CancelRead(7)
		err = s.WaitConsumed(ctx, 100_000)
		var de *transport.DeliveryError
		var se *transport.StreamError
		if !errors.As(err, &de) || de.Consumed != 10 || !errors.As(err, &se) || se.Code != 7 || !se.Remote {
			t.Fatalf("WaitConsumed after the peer stopped at 10 with code 7: %v", err)
		}
		if got := s.Consumed(); got != 10 {
			t.Errorf("Consumed = %d, want 10", got)
		}
		if _, err := s.Write([]byte("x")); !errors.As(err, &se) || se.Code != 7 {
			t.Errorf("Write after the stop: %v, want the peer's code 7", err)
		}
		// The server still writes on the stream, so both ends hold it.
		ss.Write([]byte("still here"))
		l.lastConn().CloseWithError(0x99, "killed")
		got := make([]byte, 10)
		if _, err := io.ReadFull(s, got); err != nil || string(got) != "still here" {
			t.Fatalf("read %q, %v after the resumption", got, err)
		}
		if cli.Err() != nil || srv.Err() != nil || cli.Stats().Resumptions != 1 {
			t.Fatalf("session: client %v, server %v, stats %+v", cli.Err(), srv.Err(), cli.Stats())
		}
		if got := s.Consumed(); got != 10 {
			t.Errorf("Consumed = %d after the resumption, want 10", got)
		}
		cli.Close()
		<-srv.Done()
	})
}

// TestCancelWriteWhileDisconnected: a reset made while no connection
// carries the session reaches the peer after the resumption, whose reads
// fail with the code; a reset made before the stream's carrier reached
// the peer does too.
func TestCancelWriteWhileDisconnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t, nil)
		defer l.close()
		cli := l.client(nil)
		srv := l.accept()
		ctx := context.Background()
		early, _ := cli.OpenStream(ctx)
		early.CancelWrite(5)
		s, _ := cli.OpenStream(ctx)
		s.Write([]byte("hello"))
		se1, err := srv.AcceptStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		se2, err := srv.AcceptStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var se *transport.StreamError
		if _, err := se1.Read(make([]byte, 10)); !errors.As(err, &se) || se.Code != 5 {
			t.Errorf("read of a stream reset before its carrier arrived: %v, want code 5", err)
		}
		if _, err := io.ReadFull(se2, make([]byte, 5)); err != nil {
			t.Fatal(err)
		}
		l.blackout(true)
		time.Sleep(70 * time.Second) // past the idle timeout
		if cli.Connected() {
			t.Fatal("still connected")
		}
		s.CancelWrite(9)
		l.blackout(false)
		if _, err := se2.Read(make([]byte, 10)); !errors.As(err, &se) || se.Code != 9 {
			t.Errorf("read after a reset made while disconnected: %v, want code 9", err)
		}
		time.Sleep(time.Second)
		if cli.Err() != nil || srv.Err() != nil {
			t.Fatalf("session: client %v, server %v", cli.Err(), srv.Err())
		}
		se1.Close()
		se2.Close()
		early.Close()
		s.Close()
		time.Sleep(time.Second)
		if cs, ss := cli.Stats(), srv.Stats(); cs.Streams != 0 || ss.Streams != 0 {
			t.Errorf("streams left: client %d, server %d", cs.Streams, ss.Streams)
		}
		cli.Close()
		<-srv.Done()
	})
}

// TestResetStreamsFreeTheirCarriers: 150 streams, each reset by its
// opener while the peer is not reading, more than the transport's 101
// stream slots: each one's carrier finishes and gives its slot back.
func TestResetStreamsFreeTheirCarriers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t, nil)
		defer l.close()
		cli := l.client(nil)
		srv := l.accept()
		ctx := context.Background()
		accepted := make(chan *Stream, 200)
		go func() {
			for {
				ss, err := srv.AcceptStream(ctx)
				if err != nil {
					return
				}
				accepted <- ss
			}
		}()
		for i := range 150 {
			s, err := cli.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			s.Write([]byte("hello"))
			ss := <-accepted
			s.CancelWrite(1)
			s.CancelRead(0)
			time.Sleep(100 * time.Millisecond)
			ss.Close()
			for cli.Stats().Streams != 0 {
				time.Sleep(10 * time.Millisecond)
			}
			if i == 149 && srv.Stats().Streams != 0 {
				time.Sleep(time.Second)
			}
		}
		if cs, ss := cli.Stats(), srv.Stats(); cs.Streams != 0 || ss.Streams != 0 || cs.Connections != 1 {
			t.Errorf("client %+v, server %+v", cs, ss)
		}
		cli.Close()
		<-srv.Done()
	})
}

// TestHostileCarrierID: a carrier naming a stream number near 2^63 ends
// the session as a protocol violation, at once and without allocating
// for the streams below it.
func TestHostileCarrierID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t, nil)
		defer l.close()
		cli := l.client(nil)
		srv := l.accept()
		cli.mu.Lock()
		conn := cli.conn
		cli.mu.Unlock()
		c, err := conn.OpenStream(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		hdr := []byte{preambleCarrier}
		c.Write(binary.BigEndian.AppendUint64(hdr, 1<<63-2))
		<-srv.Done()
		if !errors.Is(srv.Err(), errProtocol) {
			t.Errorf("server session ended with %v, want a protocol violation", srv.Err())
		}
		cli.Close()
	})
}
