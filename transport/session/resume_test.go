package session

import (
	"context"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/synctest"
	"time"
	"weak"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
)

// TestServerRestartGivesDeliveryFigures: the server restarts while the
// client is cut off; the client's resumption is refused, and the session
// ends with a *LostError whose figures say exactly how far each direction
// of each stream got, as do the stream's Write and WaitConsumed.
func TestServerRestartGivesDeliveryFigures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			written  = 1 << 20
			srvRead  = 100_000
			srvSent  = 50_000
			cliRead  = 20_000
			otherLen = 3000
		)
		l := newLab(t, nil)
		defer l.close()
		var cev events
		cli := l.client(&Config{OnEvent: cev.add})
		srv := l.accept()
		ctx := context.Background()
		s, err := cli.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write(randomData(1, written)); err != nil {
			t.Fatal(err)
		}
		other, err := cli.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		other.Write(randomData(2, otherLen))
		ss, err := srv.AcceptStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(ss, make([]byte, srvRead)); err != nil {
			t.Fatal(err)
		}
		ss.Write(randomData(3, srvSent))
		if _, err := io.ReadFull(s, make([]byte, cliRead)); err != nil {
			t.Fatal(err)
		}
		if err := s.WaitConsumed(ctx, srvRead); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // let every receipt arrive
		if got := s.Consumed(); got != srvRead {
			t.Fatalf("Consumed = %d before the restart, want %d", got, srvRead)
		}

		l.stopServer()
		l.startServer(nil)
		<-cli.Done()

		var le *LostError
		if !errors.As(cli.Err(), &le) {
			t.Fatalf("session ended with %v, want a *LostError", cli.Err())
		}
		var re *RefusedError
		if !errors.As(le, &re) || re.Code != RefusedUnknown {
			t.Fatalf("session lost with %v, want a refusal of an unknown session", le.Err)
		}
		if len(le.Streams) != 2 {
			t.Fatalf("LostError lists %d streams, want 2: %+v", len(le.Streams), le.Streams)
		}
		d := le.Streams[0]
		if d.StreamID != s.StreamID() || d.Written != written || d.Consumed != srvRead || d.Received != cliRead ||
			d.Sent < d.Acked || d.Acked < d.Consumed || d.Written < d.Sent {
			t.Errorf("stream figures %+v: want written %d, consumed %d, received %d, written ≥ sent ≥ acked ≥ consumed", d, written, srvRead, cliRead)
		}
		if d := le.Streams[1]; d.StreamID != other.StreamID() || d.Written != otherLen || d.Consumed != 0 || d.Received != 0 {
			t.Errorf("second stream's figures %+v: want written %d, nothing consumed or received", d, otherLen)
		}
		_, err = s.Write([]byte("more"))
		var de *transport.DeliveryError
		if !errors.As(err, &de) || de.Consumed != srvRead || !errors.As(err, &le) {
			t.Errorf("Write after the loss: %v, want a *transport.DeliveryError with Consumed %d wrapping the *LostError", err, srvRead)
		}
		if err := s.WaitConsumed(ctx, written); !errors.As(err, &de) || de.Consumed != srvRead {
			t.Errorf("WaitConsumed after the loss: %v, want a *transport.DeliveryError with Consumed %d", err, srvRead)
		}
		if _, err := s.Read(make([]byte, 10)); !errors.As(err, &le) {
			t.Errorf("Read after the loss: %v, want the *LostError", err)
		}
		cev.waitFor(t, EventLost)
		if cev.count(EventLost) != 1 {
			t.Errorf("%d session-lost events, want 1", cev.count(EventLost))
		}
	})
}

// rawResume dials a connection with key and sends a resumption hello for
// session id, proving it with secret over the new connection unless
// proof is given.
func (l *lab) rawResume(key crypto.PrivateKey, id [idLen]byte, secret []byte, proof []byte) error {
	tc := labTransport()
	tc.PrivateKey = key
	tc.ServerKey = l.srvKey.Public()
	ctx := context.Background()
	conn, err := l.dial(ctx, &tc)
	if err != nil {
		return err
	}
	defer conn.Close()
	if proof == nil {
		if proof, err = resumptionProof(conn, id, secret); err != nil {
			return err
		}
	}
	h := hello{version: protocolVersion, resume: true, id: id, maxStreams: 100}
	copy(h.proof[:], proof)
	ctrl, err := conn.OpenStream(ctx)
	if err != nil {
		return err
	}
	_, _, err = exchangeHello(ctx, conn, ctrl, &h)
	return err
}

// rawSession opens a session with key on a connection of its own and
// returns its ID and resumption secret, and the connection.
func (l *lab) rawSession(key crypto.PrivateKey) ([idLen]byte, []byte, *transport.Conn) {
	l.t.Helper()
	tc := labTransport()
	tc.PrivateKey = key
	tc.ServerKey = l.srvKey.Public()
	ctx := context.Background()
	conn, err := l.dial(ctx, &tc)
	if err != nil {
		l.t.Fatal(err)
	}
	ctrl, err := conn.OpenStream(ctx)
	if err != nil {
		l.t.Fatal(err)
	}
	w, _, err := exchangeHello(ctx, conn, ctrl, &hello{version: protocolVersion, maxStreams: 100})
	if err != nil {
		l.t.Fatal(err)
	}
	secret, err := conn.ExportKeyingMaterial(labelResumption, w.id[:], 32)
	if err != nil {
		l.t.Fatal(err)
	}
	return w.id, secret, conn
}

func wantRefusal(t *testing.T, what string, err error, code RefusalCode) {
	t.Helper()
	var re *RefusedError
	if !errors.As(err, &re) || re.Code != code {
		t.Errorf("%s: %v, want a refusal with %v", what, err, code)
	}
}

// TestHostileResumption: a resumption is refused when it comes from
// another key (even one holding the secret), when its proof was made for
// another connection (a replayed hello), and once the session expired;
// none of these disturbs the session.
func TestHostileResumption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t, &Config{Lifetime: 2 * time.Minute})
		defer l.close()
		cli := l.client(&Config{Lifetime: 2 * time.Minute})
		srv := l.accept()
		key := cli.tcfg.PrivateKey

		stranger, _ := crypto.GenerateKey()
		wantRefusal(t, "another key with the secret", l.rawResume(stranger, cli.id, cli.secret, nil), RefusedUnknown)
		wantRefusal(t, "the right key without the secret", l.rawResume(key, cli.id, make([]byte, 32), nil), RefusedProof)

		// A hello whose proof was made on another connection.
		tc := labTransport()
		tc.PrivateKey, tc.ServerKey = key, l.srvKey.Public()
		first, err := l.dial(context.Background(), &tc)
		if err != nil {
			t.Fatal(err)
		}
		recorded, err := resumptionProof(first, cli.id, cli.secret)
		if err != nil {
			t.Fatal(err)
		}
		first.Close()
		wantRefusal(t, "a replayed proof", l.rawResume(key, cli.id, cli.secret, recorded), RefusedProof)
		var unknown [idLen]byte
		wantRefusal(t, "an unknown session", l.rawResume(key, unknown, cli.secret, nil), RefusedUnknown)

		if !cli.Connected() || cli.Stats().ConnectionLosses != 0 || srv.Stats().Resumptions != 0 {
			t.Fatalf("the attempts disturbed the session: client %+v, server %+v", cli.Stats(), srv.Stats())
		}
		if got := l.ln.Stats().Refused; got != 4 {
			t.Errorf("listener refused %d hellos, want 4", got)
		}

		// Expiry: cut off for longer than the lifetime.
		l.blackout(true)
		time.Sleep(3 * time.Minute)
		l.blackout(false)
		<-cli.Done()
		<-srv.Done()
		if !errors.Is(cli.Err(), ErrExpired) || !errors.Is(srv.Err(), ErrExpired) {
			t.Errorf("sessions ended with %v (client) and %v (server), want ErrExpired", cli.Err(), srv.Err())
		}
		if st := l.ln.Stats(); st.Expired != 1 || st.Sessions != 0 || st.Suspended != 0 {
			t.Errorf("listener stats %+v after expiry", st)
		}
		wantRefusal(t, "an expired session", l.rawResume(key, cli.id, cli.secret, nil), RefusedUnknown)
	})
}

// TestSuspendedEviction: past MaxSuspended (or MaxSuspendedBytes) the
// sessions suspended longest ago are dropped, and only they.
func TestSuspendedEviction(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"count", Config{MaxSuspended: 3}},
		{"bytes", Config{MaxSuspendedBytes: 3*sessionFootprint + 3*streamFootprint}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLab(t, &tc.cfg)
				defer l.close()
				type raw struct {
					key    crypto.PrivateKey
					id     [idLen]byte
					secret []byte
					srv    *Session
				}
				var all []raw
				for range 5 {
					k, _ := crypto.GenerateKey()
					id, secret, conn := l.rawSession(k)
					srv := l.accept()
					conn.CloseWithError(0x99, "gone")
					for l.ln.Stats().Suspended+l.ln.Stats().Evicted < len(all)+1 {
						time.Sleep(time.Millisecond)
					}
					all = append(all, raw{k, id, secret, srv})
					time.Sleep(time.Second)
				}
				if st := l.ln.Stats(); st.Suspended != 3 || st.Evicted != 2 || st.Sessions != 3 {
					t.Fatalf("listener stats %+v, want 3 suspended, 2 evicted", st)
				}
				for i, r := range all {
					err := l.rawResume(r.key, r.id, r.secret, nil)
					if i < 2 {
						wantRefusal(t, "an evicted session", err, RefusedUnknown)
						if !errors.Is(r.srv.Err(), ErrEvicted) {
							t.Errorf("evicted session %d ended with %v", i, r.srv.Err())
						}
					} else if err != nil {
						t.Errorf("session %d: %v", i, err)
					}
				}
			})
		})
	}
}

// TestSuspendedMemory measures a listener's memory per suspended session
// (each with one stream and no data held), for 10,000 sessions.
func TestSuspendedMemory(t *testing.T) {
	const n = 10_000
	l := newListener(nil, &Config{})
	defer l.Close()
	key, _ := crypto.GenerateKey()
	before := heapInUse()
	for i := range n {
		s := newSession(l.cfg, false)
		s.listener = l
		s.clientKey = key.Public()
		s.id[0], s.id[1] = byte(i), byte(i>>8)
		s.secret = make([]byte, 32)
		st := newStream(s, 0)
		s.streams[0] = st
		s.opened, s.myOpen = 1, 1
		l.sessions[s.id] = s
		l.suspend(s)
	}
	per := (heapInUse() - before) / n
	t.Logf("%d suspended sessions: %d bytes each", n, per)
	if st := l.Stats(); st.Suspended != n {
		t.Fatalf("%d suspended, want %d", st.Suspended, n)
	}
	if per > 8<<10 {
		t.Errorf("a suspended session takes %d bytes, more than 8 KiB", per)
	}
}

func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestSuspendedSessionReleasesConnection: a suspended session keeps its
// state, not its dead connection (whose buffers are tens of kilobytes):
// once the connection has ended, nothing holds it.
func TestSuspendedSessionReleasesConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t, nil)
		defer l.close()
		cli := l.client(nil)
		srv := l.accept()
		st, _ := cli.OpenStream(context.Background())
		st.Write([]byte("hello"))
		ss, err := srv.AcceptStream(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		io.ReadFull(ss, make([]byte, 5))
		srv.mu.Lock()
		conn := weak.Make(srv.conn)
		srv.mu.Unlock()
		l.blackout(true)
		time.Sleep(90 * time.Second)
		if st := l.ln.Stats(); st.Suspended != 1 {
			t.Fatalf("listener stats %+v, want the session suspended", st)
		}
		runtime.GC()
		if conn.Value() != nil {
			t.Error("the suspended session still holds its dead connection")
		}
		l.blackout(false)
		st.Write([]byte(" again"))
		got := make([]byte, 6)
		if _, err := io.ReadFull(ss, got); err != nil || string(got) != " again" {
			t.Fatalf("after the resumption: %q, %v", got, err)
		}
		cli.Close()
		<-srv.Done()
	})
}
