package transport

import (
	"context"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/transport/netsim"
)

// limitScenario is one transfer, client to server, over a simulated path
// with a one-way delay of 10 ms, run on synctest's fake clock so that the
// time accounted is the simulated path's and not this machine's.
type limitScenario struct {
	path           netsim.Config
	cliCfg, srvCfg Config
	// wrapClientBind, if set, wraps the client's socket.
	wrapClientBind func(Bind) Bind
	// write sends the data on the client's stream (all at once if nil).
	write func(s *Stream, data []byte) error
	size  int
	// finish, if set, runs after the transfer inside the bubble, while
	// both connections are still open.
	finish func(cli, srv *Conn)
}

// connect opens a client and a server connection over the scenario's
// simulated path, inside the caller's synctest bubble; everything is
// closed when the test ends.
func (sc limitScenario) connect(t *testing.T) (cli, srv *Conn) {
	t.Helper()
	if sc.path.Delay == 0 {
		sc.path.Delay = 10 * time.Millisecond
	}
	cli, srv, cliNet, srvNet := impairedPairWrapped(t, sc.path, &sc.cliCfg, &sc.srvCfg, sc.wrapClientBind)
	t.Cleanup(func() { srv.Close(); cliNet.Close(); srvNet.Close() })
	return cli, srv
}

// run moves sc.size bytes from client to server, checks them, and returns
// the client's and the server's bottleneck reports for the transfer.
func (sc limitScenario) run(t *testing.T) (cliReport, srvReport BottleneckReport) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv := sc.connect(t)
		ctx := context.Background()

		data := randomData(7, sc.size)
		got := make(chan []byte, 1)
		go func() {
			s, err := srv.AcceptStream(ctx)
			if err != nil {
				t.Error(err)
				got <- nil
				return
			}
			b, err := io.ReadAll(s)
			if err != nil {
				t.Error(err)
			}
			got <- b
		}()
		cliBefore, srvBefore := cli.Stats(), srv.Stats()
		s, err := cli.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		write := sc.write
		if write == nil {
			write = func(s *Stream, b []byte) error { _, err := s.Write(b); return err }
		}
		if err := write(s, data); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if b := <-got; string(b) != string(data) {
			t.Fatalf("server read %d bytes, not the %d sent", len(b), len(data))
		}
		cliReport = NewBottleneckReport(cliBefore, cli.Stats())
		srvReport = NewBottleneckReport(srvBefore, srv.Stats())
		t.Logf("client: %v", cliReport)
		t.Logf("server: %v", srvReport)
		if sc.finish != nil {
			sc.finish(cli, srv)
		}
	})
	return cliReport, srvReport
}

// wantDominant fails unless limit held the sender back for more than half
// the time and the advice names want.
func wantDominant(t *testing.T, r BottleneckReport, limit Limit, advice string) {
	t.Helper()
	if len(r.Shares) == 0 || r.Shares[0].Limit != limit || r.Shares[0].Share <= 0.5 {
		t.Errorf("dominant limit %+v, want %q over half the time", r.Shares, limit)
	}
	if !strings.Contains(r.Advice, advice) {
		t.Errorf("advice %q does not say %q", r.Advice, advice)
	}
	if total := r.Elapsed; total <= 0 {
		t.Errorf("no time accounted")
	}
}

func TestBottleneckPeerStreamWindow(t *testing.T) {
	// The server grants 16 KiB of stream credit and never more: with a
	// 20 ms round trip the client can move one window per round trip.
	r, srv := limitScenario{
		srvCfg: Config{InitialStreamWindow: 16 << 10, MaxStreamWindow: 16 << 10},
		size:   1 << 20,
	}.run(t)
	wantDominant(t, r, LimitPeerStream, "raise Config.MaxStreamWindow on the receiver")
	// The receiver sees the same limit from its side, through the
	// client's STREAM_DATA_BLOCKED frames.
	if w := srv.PeerWaited[0]; w.Limit != LimitOurStreamWindow || w.Share <= 0.5 {
		t.Errorf("server: peer waited %+v, want our stream window over half the time", srv.PeerWaited)
	}
	if !strings.Contains(srv.Advice, "raise Config.MaxStreamWindow here") {
		t.Errorf("server advice %q", srv.Advice)
	}
}

func TestBottleneckSlowApplication(t *testing.T) {
	// The application writes 1 KB every 10 ms: 100 KB/s on a path that
	// could carry far more.
	r, _ := limitScenario{
		size: 100 << 10,
		write: func(s *Stream, b []byte) error {
			for len(b) > 0 {
				n := min(1000, len(b))
				if _, err := s.Write(b[:n]); err != nil {
					return err
				}
				if err := s.Flush(); err != nil {
					return err
				}
				b = b[n:]
				time.Sleep(10 * time.Millisecond)
			}
			return nil
		},
	}.run(t)
	wantDominant(t, r, LimitApplication, "the application had nothing to send")
}

func TestBottleneckLossyPath(t *testing.T) {
	// 3% random loss each way, every loss taken as congestion: CUBIC keeps
	// its window near what that loss allows, far under what 20 ms and the
	// stream credit would.
	r, _ := limitScenario{
		path:   netsim.Config{Seed: 5, Loss: 0.03},
		cliCfg: Config{EveryLossIsCongestion: true},
		size:   4 << 20,
	}.run(t)
	wantDominant(t, r, LimitCongestion, "loss")
	if r.LossRate < 0.01 || r.LossRate > 0.06 {
		t.Errorf("loss rate %.4f, want about 0.03", r.LossRate)
	}
	// The bound at 3% loss and 20 ms is a few Mbit/s; a loss-based
	// controller cannot beat it by much.
	if r.LossBound <= 0 || r.GoodputSent > 3*r.LossBound {
		t.Errorf("goodput %.0f B/s against loss bound %.0f B/s", r.GoodputSent, r.LossBound)
	}
}

// By default the same random loss, with no queue anywhere on the path, is
// not taken as congestion: the window stays, and goodput is far above what
// a loss-based controller gets.
func TestBottleneckRandomLossIsNotCongestion(t *testing.T) {
	r, _ := limitScenario{
		path: netsim.Config{Seed: 5, Loss: 0.03},
		size: 4 << 20,
	}.run(t)
	if r.LossRate < 0.01 || r.LossRate > 0.06 {
		t.Errorf("loss rate %.4f, want about 0.03", r.LossRate)
	}
	// Losses before the first RTT sample count as congestion, and so do
	// those while slow start's queue drains; the rest are random.
	if r.RandomLossShare < 0.75 {
		t.Errorf("%.0f%% of the losses judged random, want most", 100*r.RandomLossShare)
	}
	if r.LossBound <= 0 || r.GoodputSent < 5*r.LossBound {
		t.Errorf("goodput %.0f B/s, want over 5 times the loss bound of %.0f B/s", r.GoodputSent, r.LossBound)
	}
}

// slowBind passes a Bind's writes on at rate bytes per second, blocking the
// writer as a full send buffer on a slow interface would.
type slowBind struct {
	Bind
	rate    float64
	mu      sync.Mutex
	blocked atomic.Int64
}

func (b *slowBind) WriteBatch(dgrams []Datagram) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for i := range dgrams {
		n += dgrams[i].N
	}
	d := time.Duration(float64(n) / b.rate * float64(time.Second))
	time.Sleep(d)
	b.blocked.Add(int64(d))
	return b.Bind.WriteBatch(dgrams)
}

// SendBlocked reports the waits, as the Linux bind reports the time its
// writes wait for room in the send buffer.
func (b *slowBind) SendBlocked() time.Duration { return time.Duration(b.blocked.Load()) }

func TestBottleneckSocket(t *testing.T) {
	// The socket drains 1 MB/s: writes block in it.
	r, _ := limitScenario{
		wrapClientBind: func(b Bind) Bind { return &slowBind{Bind: b, rate: 1e6} },
		size:           2 << 20,
	}.run(t)
	wantDominant(t, r, LimitSocket, "limited by the socket")
}

func TestLossBound(t *testing.T) {
	for _, tc := range []struct {
		p    float64
		rtt  time.Duration
		want float64 // B/s, worked out by hand
	}{
		// Mathis: 12.2 packets per 100 ms round trip beat CUBIC's 5.9
		// (71113 B/s).
		{0.01, 100 * time.Millisecond, 146969.38},
		// CUBIC: 626.6 packets per 500 ms beat Mathis's 122.5 (293939 B/s).
		{0.0001, 500 * time.Millisecond, 1503865.04},
		{0, time.Second, 0},
		{0.1, 0, 0},
	} {
		if got := LossBound(tc.p, tc.rtt, 1200); math.Abs(got-tc.want) > 0.01 {
			t.Errorf("LossBound(%v, %v, 1200) = %.2f, want %.2f", tc.p, tc.rtt, got, tc.want)
		}
	}
}

// TestBottleneckReportFromCounters builds reports from counters alone:
// shares, loss, goodput and the advice each dominant limit gets.
func TestBottleneckReportFromCounters(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		desc   string
		after  ConnStats
		top    Limit
		advice string
	}{
		{"window and pacing together, with loss",
			ConnStats{Limited: LimitDurations{CongestionWindow: 450 * ms, Pacing: 400 * ms, Application: 150 * ms},
				PacketsSent: 1000, PacketsLost: 20, StreamBytesSent: 1e6, SmoothedRTT: 50 * ms},
			LimitCongestion, "limited by the congestion controller 85% of the time, with 2.00% loss"},
		{"window and pacing together outweigh the largest other limit",
			ConnStats{Limited: LimitDurations{Application: 450 * ms, CongestionWindow: 300 * ms, Pacing: 250 * ms}, PacketsSent: 1000, StreamBytesSent: 1e6},
			LimitApplication, "limited by the congestion controller 55% of the time"},
		{"a full connection queue",
			ConnStats{Limited: LimitDurations{CPU: time.Second}, PacketsReceived: 1000, QueueDrops: 20, StreamBytesSent: 1e6},
			LimitCPU, "the connection's receive queue overflowed: 20 datagrams"},
		{"window without loss",
			ConnStats{Limited: LimitDurations{CongestionWindow: 900 * ms, Application: 100 * ms}, PacketsSent: 1000, StreamBytesSent: 1e6},
			LimitCongestion, "limited by the congestion controller 90% of the time: the path's capacity"},
		{"peer connection window",
			ConnStats{Limited: LimitDurations{PeerConnWindow: 700 * ms, CongestionWindow: 300 * ms}, StreamBytesSent: 1e6},
			LimitPeerConn, "raise Config.MaxConnWindow on the receiver"},
		{"CPU",
			ConnStats{Limited: LimitDurations{CPU: 800 * ms, Socket: 200 * ms}, StreamBytesSent: 1e6},
			LimitCPU, "the CPU here is the bottleneck"},
		{"a receiver whose peer waited on its connection window",
			ConnStats{Limited: LimitDurations{Application: time.Second}, PeerWaitedOnOurConnWindow: 600 * ms, StreamBytesRead: 1e6},
			LimitApplication, "raise Config.MaxConnWindow here"},
		{"a receiver nobody waited on",
			ConnStats{Limited: LimitDurations{Application: time.Second}, StreamBytesRead: 1e6},
			LimitApplication, ""},
		{"datagrams dropped by a full receive buffer",
			ConnStats{Limited: LimitDurations{CongestionWindow: time.Second}, PacketsReceived: 1000, SocketReceiveDrops: 50, StreamBytesSent: 1e6},
			LimitCongestion, "the socket's receive buffer overflowed: 50 datagrams dropped on arrival"},
		{"no limit dominates",
			ConnStats{Limited: LimitDurations{Application: 400 * ms, Socket: 300 * ms, PeerStreamWindow: 300 * ms}, StreamBytesSent: 1e6},
			LimitApplication, ""},
	} {
		r := NewBottleneckReport(ConnStats{}, tc.after)
		if r.Elapsed != tc.after.Limited.Total() || r.Shares[0].Limit != tc.top {
			t.Errorf("%s: elapsed %v, top %v, want %v and %v", tc.desc, r.Elapsed, r.Shares[0].Limit, tc.after.Limited.Total(), tc.top)
		}
		if (tc.advice == "") != (r.Advice == "") || !strings.Contains(r.Advice, tc.advice) {
			t.Errorf("%s: advice %q, want %q", tc.desc, r.Advice, tc.advice)
		}
	}
	// Between two snapshots only the difference counts.
	before := ConnStats{Limited: LimitDurations{Application: time.Second}, StreamBytesSent: 1e6, PacketsSent: 100}
	after := ConnStats{Limited: LimitDurations{Application: time.Second, CongestionWindow: 2 * time.Second}, StreamBytesSent: 3e6, PacketsSent: 300, PacketsLost: 2}
	r := NewBottleneckReport(before, after)
	if r.Elapsed != 2*time.Second || r.Shares[0].Share != 1 || r.LossRate != 0.01 || r.GoodputSent != 1e6 {
		t.Errorf("interval report %+v", r)
	}
}

// TestBottleneckStatsAreCurrent checks that a snapshot covers the time up
// to the moment it is taken, with no loop iteration in between: an idle
// connection's five seconds are all the application's, and a stream
// stalled on credit the peer never gives is the peer's stream window, on
// both sides, until the sender resets it.
func TestBottleneckStatsAreCurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The server grants 16 KiB and its application never reads.
		cli, srv := limitScenario{srvCfg: Config{InitialStreamWindow: 16 << 10, MaxStreamWindow: 16 << 10}}.connect(t)
		ctx := context.Background()
		s, err := cli.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		s.Flush()
		if _, err := srv.AcceptStream(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()

		before := cli.Stats()
		time.Sleep(5 * time.Second)
		idle := NewBottleneckReport(before, cli.Stats())
		if idle.Elapsed != 5*time.Second || idle.Shares[0].Limit != LimitApplication || idle.Shares[0].Share != 1 {
			t.Errorf("idle 5 s: %v", idle)
		}

		go s.Write(make([]byte, 64<<10)) // blocks: 16 KiB of credit
		time.Sleep(time.Second)          // the credit is gone and STREAM_DATA_BLOCKED is there
		cliBefore, srvBefore := cli.Stats(), srv.Stats()
		time.Sleep(2 * time.Second)
		stalled := NewBottleneckReport(cliBefore, cli.Stats())
		if stalled.Elapsed != 2*time.Second || stalled.Shares[0].Limit != LimitPeerStream || stalled.Shares[0].Share != 1 {
			t.Errorf("stalled 2 s on stream credit, client: %v", stalled)
		}
		waited := NewBottleneckReport(srvBefore, srv.Stats())
		if w := waited.PeerWaited[0]; w.Limit != LimitOurStreamWindow || w.Duration != 2*time.Second {
			t.Errorf("stalled 2 s on stream credit, server: peer waited %+v", waited.PeerWaited)
		}

		s.CancelWrite(7) // the data no longer waits for credit
		time.Sleep(time.Second)
		cliBefore, srvBefore = cli.Stats(), srv.Stats()
		time.Sleep(2 * time.Second)
		after := NewBottleneckReport(cliBefore, cli.Stats())
		if after.Shares[0].Limit != LimitApplication || after.Shares[0].Share != 1 {
			t.Errorf("2 s after the reset, client: %v", after)
		}
		if w := NewBottleneckReport(srvBefore, srv.Stats()).PeerWaited; w[0].Duration != 0 || w[1].Duration != 0 {
			t.Errorf("2 s after the reset, server: peer still waiting %+v", w)
		}
	})
}
