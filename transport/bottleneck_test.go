package transport

import (
	"context"
	"io"
	"math"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/crypto"
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

// run moves sc.size bytes from client to server, checks them, and returns
// the client's and the server's bottleneck reports for the transfer.
func (sc limitScenario) run(t *testing.T) (cliReport, srvReport BottleneckReport) {
	synctest.Test(t, func(t *testing.T) {
		n := netsim.NewNetwork()
		srvAddr := netip.MustParseAddrPort("198.18.0.1:4433")
		cliAddr := netip.MustParseAddrPort("198.18.0.2:5000")
		spc, err := n.Listen(srvAddr)
		if err != nil {
			t.Fatal(err)
		}
		cpc, err := n.Listen(cliAddr)
		if err != nil {
			t.Fatal(err)
		}
		if sc.path.Delay == 0 {
			sc.path.Delay = 10 * time.Millisecond
		}
		srvPath := sc.path
		srvPath.Seed += 1000
		key, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		srvCfg, cliCfg := sc.srvCfg, sc.cliCfg
		srvCfg.PrivateKey, cliCfg.ServerKey = key, key.Public()
		srvNet, cliNet := netsim.Impair(spc, srvPath), netsim.Impair(cpc, sc.path)
		defer srvNet.Close()
		defer cliNet.Close()
		ln, err := ListenBind(NewPacketConnBind(srvNet), &srvCfg)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var cliBind Bind = NewPacketConnBind(cliNet)
		if sc.wrapClientBind != nil {
			cliBind = sc.wrapClientBind(cliBind)
		}
		ctx := context.Background()
		cli, err := DialBind(ctx, cliBind, srvAddr, &cliCfg)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		defer cli.Close()
		srv, err := ln.Accept(ctx)
		if err != nil {
			t.Fatalf("Accept: %v", err)
		}
		defer srv.Close()

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
	// 3% random loss each way: CUBIC keeps its window near what that loss
	// allows, far under what 20 ms and the stream credit would.
	r, _ := limitScenario{
		path: netsim.Config{Seed: 5, Loss: 0.03},
		size: 4 << 20,
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

// slowBind passes a Bind's writes on at rate bytes per second, blocking the
// writer as a full send buffer on a slow interface would.
type slowBind struct {
	Bind
	rate float64
	mu   sync.Mutex
}

func (b *slowBind) WriteBatch(dgrams []Datagram) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for i := range dgrams {
		n += dgrams[i].N
	}
	time.Sleep(time.Duration(float64(n) / b.rate * float64(time.Second)))
	return b.Bind.WriteBatch(dgrams)
}

func TestBottleneckSocket(t *testing.T) {
	// The socket drains 1 MB/s: writes block in it.
	r, _ := limitScenario{
		wrapClientBind: func(b Bind) Bind { return &slowBind{Bind: b, rate: 1e6} },
		size:           2 << 20,
	}.run(t)
	wantDominant(t, r, LimitSocket, "limited by the socket")
}

func TestLossBound(t *testing.T) {
	// At 1% loss, 100 ms and 1200-byte packets Mathis gives 12.2 packets
	// per round trip (146969 B/s) and CUBIC's response 5.9 (71110 B/s):
	// the larger wins.
	got := LossBound(0.01, 100*time.Millisecond, 1200)
	reno := 1200 / 0.1 * math.Sqrt(1.5) / 0.1
	cubic := math.Pow(0.4*3.7/1.2, 0.25) * math.Pow(0.1, 0.75) / math.Pow(0.01, 0.75) * 1200 / 0.1
	if want := max(reno, cubic); math.Abs(got-want) > 1e-6*want {
		t.Errorf("LossBound = %f, want %f", got, want)
	}
	if LossBound(0, time.Second, 1200) != 0 || LossBound(0.1, 0, 1200) != 0 {
		t.Errorf("LossBound without loss or RTT is not 0")
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
