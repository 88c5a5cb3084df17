package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// TestSessionEcho: streams both ways, byte-exact, with delivery receipts,
// on a session that never loses its connection.
func TestSessionEcho(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t, nil)
		defer l.close()
		cli := l.client(nil)
		srv := l.accept()
		if cli.ID() != srv.ID() {
			t.Fatalf("session IDs differ: %x, %x", cli.ID(), srv.ID())
		}
		go func() {
			for {
				s, err := srv.AcceptStream(context.Background())
				if err != nil {
					return
				}
				go func() {
					io.Copy(s, s)
					s.CloseWrite()
				}()
			}
		}()
		ctx := context.Background()
		for i := range 3 {
			s, err := cli.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			data := randomData(uint64(i), 300_000)
			go func() {
				s.Write(data)
				s.CloseWrite()
			}()
			got, err := io.ReadAll(s)
			if err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("stream %d: echoed %d bytes, not the %d sent", i, len(got), len(data))
			}
			if err := s.WaitConsumed(ctx, int64(len(data))); err != nil {
				t.Fatal(err)
			}
			if n := s.Consumed(); n != int64(len(data)) {
				t.Errorf("Consumed = %d, want %d", n, len(data))
			}
		}
		st := cli.Stats()
		if st.Connections != 1 || st.ConnectionLosses != 0 || st.BytesResent != 0 {
			t.Errorf("stats %+v, want one connection, no losses, nothing resent", st)
		}
		cli.Close()
		<-srv.Done()
		var ce *ClosedError
		if !errors.As(srv.Err(), &ce) || !ce.Remote {
			t.Errorf("server session ended with %v, want a remote *ClosedError", srv.Err())
		}
		if !errors.Is(cli.Err(), net.ErrClosed) {
			t.Errorf("client session ended with %v, want net.ErrClosed", cli.Err())
		}
	})
}

// TestSessionSurvivesBlackout: a transfer each way on one stream with a
// 90 s blackout in the middle, longer than the 60 s idle timeout: the
// connection dies, the client reconnects from a new address, and both
// directions complete byte-exact with at most a flow-control window
// sent again.
func TestSessionSurvivesBlackout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const size = 8 << 20
		l := newLab(t, nil)
		defer l.close()
		var cev, sev events
		cli := l.client(&Config{OnEvent: cev.add})
		srv := l.accept()
		srv.cfg.OnEvent = sev.add
		up := randomData(1, size)
		down := randomData(2, size)
		ctx := context.Background()

		srvDone := make(chan error, 1)
		go func() {
			s, err := srv.AcceptStream(ctx)
			if err != nil {
				srvDone <- err
				return
			}
			go func() {
				s.Write(down)
				s.CloseWrite()
			}()
			got, err := io.ReadAll(s)
			if err == nil && !bytes.Equal(got, up) {
				err = errors.New("server read other bytes than the client wrote")
			}
			srvDone <- err
		}()
		s, err := cli.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			s.Write(up)
			s.CloseWrite()
		}()
		firstAddr := cli.LocalAddr().String()
		// Cut the path once a quarter has crossed each way.
		got := make([]byte, 0, size)
		buf := make([]byte, 64<<10)
		for len(got) < size/4 {
			n, err := s.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, buf[:n]...)
		}
		if err := s.WaitConsumed(ctx, size/4); err != nil {
			t.Fatal(err)
		}
		l.blackout(true)
		time.Sleep(90 * time.Second)
		if cli.Connected() {
			t.Error("the connection outlived a 90 s blackout")
		}
		l.blackout(false)
		back := time.Now()
		for {
			n, err := s.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read after %d bytes: %v", len(got), err)
			}
		}
		if !bytes.Equal(got, down) {
			t.Fatalf("client read %d bytes, not the server's %d", len(got), len(down))
		}
		if err := <-srvDone; err != nil {
			t.Fatal(err)
		}
		resumed := cev.last(EventResumed)
		if resumed.Kind == 0 {
			t.Fatal("no resumption event")
		}
		cs, ss := cli.Stats(), srv.Stats()
		t.Logf("client %+v; server %+v; resumed %v after the path returned, %d attempts", cs, ss, resumed.Time.Sub(back), resumed.Attempt)
		if cs.Resumptions != 1 || ss.Resumptions != 1 {
			t.Errorf("resumptions: client %d, server %d; want 1 each", cs.Resumptions, ss.Resumptions)
		}
		const window = 16 << 20 // the transport's default MaxStreamWindow
		if cs.BytesResent > window || ss.BytesResent > window {
			t.Errorf("resent %d (client) and %d (server) bytes, more than a window", cs.BytesResent, ss.BytesResent)
		}
		if cev.count(EventConnectionLost) != 1 || sev.count(EventConnectionLost) != 1 {
			t.Errorf("connection-lost events: client %d, server %d; want 1 each", cev.count(EventConnectionLost), sev.count(EventConnectionLost))
		}
		if a := cli.LocalAddr().String(); a == firstAddr {
			t.Errorf("client still at %s after reconnecting", a)
		}
		if got, want := srv.RemoteAddr().String(), cli.LocalAddr().String(); got != want {
			t.Errorf("server sees the client at %s, want %s", got, want)
		}
		cli.Close()
		<-srv.Done()
	})
}

// TestNoGoroutineLeftAfterClose: once a session that has resumed is
// closed and its listener too, nothing of it is left running: the bubble
// ends only when every goroutine it started has returned, and the lab's
// sockets are closed by their connections, not by the test.
func TestNoGoroutineLeftAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t, nil)
		cli := l.client(nil)
		srv := l.accept()
		ctx := context.Background()
		s, err := cli.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s.Write(randomData(1, 100_000))
		ss, err := srv.AcceptStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadFull(ss, make([]byte, 50_000))
		l.lastConn().CloseWithError(0x99, "killed")
		if _, err := io.ReadFull(ss, make([]byte, 50_000)); err != nil {
			t.Fatal(err)
		}
		if cli.Stats().Resumptions != 1 {
			t.Fatalf("stats %+v, want one resumption", cli.Stats())
		}
		cli.Close()
		<-srv.Done()
		l.ln.Close()
		l.tln.Close()
		// The connections' closing periods end their sockets.
		time.Sleep(time.Minute)
	})
}

// TestManyStreamsAtTheLimit: 800 request streams on one connection, eight
// at a time against a limit of four open streams each way, so that
// OpenStream waits on the limit and carriers come and go far past the
// transport's stream slots: every stream finishes and frees its slot,
// and neither end ever sees the other exceed the limit.
func TestManyStreamsAtTheLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const streams = 800
		l := newLab(t, &Config{MaxStreams: 4})
		defer l.close()
		cli := l.client(&Config{MaxStreams: 4})
		srv := l.accept()
		ctx := context.Background()
		go func() {
			for {
				s, err := srv.AcceptStream(ctx)
				if err != nil {
					return
				}
				go func() {
					b, _ := io.ReadAll(s)
					s.Write(bytes.ToUpper(b))
					s.Close()
				}()
			}
		}()
		errs := make(chan error, streams)
		sem := make(chan struct{}, 8)
		for i := range streams {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				s, err := cli.OpenStream(ctx)
				if err != nil {
					errs <- err
					return
				}
				req := []byte(fmt.Sprintf("request %d", i))
				s.Write(req)
				s.CloseWrite()
				got, err := io.ReadAll(s)
				if err == nil && !bytes.Equal(got, bytes.ToUpper(req)) {
					err = fmt.Errorf("reply %q to %q", got, req)
				}
				s.Close()
				errs <- err
			}()
		}
		for range streams {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second)
		if cs, ss := cli.Stats(), srv.Stats(); cs.Streams != 0 || ss.Streams != 0 || cs.Connections != 1 {
			t.Errorf("client %+v, server %+v: want every stream finished on one connection", cs, ss)
		}
		if err := cli.Err(); err != nil {
			t.Fatal(err)
		}
		cli.Close()
		<-srv.Done()
	})
}
