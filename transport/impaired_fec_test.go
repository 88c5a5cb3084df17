package transport

import (
	"context"
	"io"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/transport/netsim"
)

// TestImpairedFEC: over a path that loses 3% of datagrams at random in both
// directions, a transfer with forward error correction (groups of 8, 2
// repair packets) arrives byte for byte and rebuilds lost packets at the
// receiver instead of waiting for their retransmission. The same seeded
// transfer without FEC runs first for comparison; which datagrams the
// network drops is fixed by the seed, but which packets they are depends on
// goroutine timing, so the retransmitted bytes are logged, not compared.
func TestImpairedFEC(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-MiB transfer")
	}
	const size = 4 << 20
	netCfg := netsim.Config{Seed: 31, Loss: 0.03}
	run := func(desc string, fc FECConfig) (cs, ss ConnStats) {
		t.Helper()
		cli, srv, cliNet, srvNet := impairedPairWith(t, netCfg, &Config{FEC: fc}, &Config{FEC: fc})
		start := time.Now()
		exchange(t, cli, srv, 1, size, 120*time.Second)
		cs, ss = cli.Stats(), srv.Stats()
		t.Logf("%s, %v: client sent %d packets, lost %d, retransmitted %d B, repairs %d, rebuilt %d, rebuilt by peer %d",
			desc, time.Since(start).Round(time.Millisecond), cs.PacketsSent, cs.PacketsLost, cs.BytesRetransmitted, cs.FECRepairSent, cs.FECRecovered, cs.FECPeerRecovered)
		t.Logf("%s: server sent %d packets, lost %d, retransmitted %d B, repairs %d, rebuilt %d, rebuilt by peer %d",
			desc, ss.PacketsSent, ss.PacketsLost, ss.BytesRetransmitted, ss.FECRepairSent, ss.FECRecovered, ss.FECPeerRecovered)
		t.Logf("%s: network client→server %+v, server→client %+v", desc, cliNet.Stats(), srvNet.Stats())
		return cs, ss
	}
	offC, offS := run("without FEC", FECConfig{Disable: true})
	onC, onS := run("with FEC 8+2", FECConfig{GroupSize: 8, Repair: 2})
	if offC.FECRepairSent+offS.FECRepairSent+offC.FECRecovered+offS.FECRecovered != 0 {
		t.Errorf("without FEC: repairs sent %d+%d, rebuilt %d+%d; want none", offC.FECRepairSent, offS.FECRepairSent, offC.FECRecovered, offS.FECRecovered)
	}
	for _, side := range []struct {
		name     string
		us, peer ConnStats
	}{{"client", onC, onS}, {"server", onS, onC}} {
		// FECPeerRecovered is not checked: whether the peer's ACK of a
		// rebuilt packet comes before or after loss detection gives up on
		// it depends on timing.
		if side.us.FECRepairSent == 0 || side.peer.FECRecovered == 0 {
			t.Errorf("with FEC, %s's data: %d repairs sent, %d packets rebuilt by the peer; want both > 0",
				side.name, side.us.FECRepairSent, side.peer.FECRecovered)
		}
	}
	t.Logf("retransmitted bytes, client+server: %d without FEC, %d with FEC",
		offC.BytesRetransmitted+offS.BytesRetransmitted, onC.BytesRetransmitted+onS.BytesRetransmitted)
}

// TestImpairedRequestResponseFEC: 1000 requests of 4 KiB answered with
// 4 KiB, one at a time on one stream, over a 50 ms path that loses 2 % of
// datagrams each way. Adaptive FEC (the default) protects each message
// once the path has shown loss, so nearly every exchange that loses a
// packet still takes one round trip; with FEC off each such loss costs a
// retransmission. The seeded network and the synctest clock make both runs
// repeatable.
func TestImpairedRequestResponseFEC(t *testing.T) {
	const (
		exchanges = 1000
		size      = 4096
		rtt       = 50 * time.Millisecond
	)
	run := func(fc FECConfig) (slow int, cs, ss ConnStats) {
		synctest.Test(t, func(t *testing.T) {
			netCfg := netsim.Config{Seed: 17, Loss: 0.02, Delay: rtt / 2}
			cli, srv, cliNet, srvNet := impairedPairWith(t, netCfg, &Config{FEC: fc}, &Config{FEC: fc})
			defer func() { srv.Close(); cliNet.Close(); srvNet.Close() }()
			ctx := context.Background()
			go func() {
				s, err := srv.AcceptStream(ctx)
				if err != nil {
					return
				}
				buf := make([]byte, size)
				for {
					if _, err := io.ReadFull(s, buf); err != nil {
						return
					}
					if _, err := s.Write(buf); err != nil {
						return
					}
				}
			}()
			s, err := cli.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var times []time.Duration
			got := make([]byte, size)
			for i := range exchanges {
				req := randomData(uint64(i), size)
				start := time.Now()
				if _, err := s.Write(req); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(s, got); err != nil {
					t.Fatal(err)
				}
				times = append(times, time.Since(start))
				if string(got) != string(req) {
					t.Fatalf("exchange %d: the answer differs from the request", i)
				}
			}
			for _, d := range times {
				if d > rtt*3/2 {
					slow++
				}
			}
			slices.Sort(times)
			cs, ss = cli.Stats(), srv.Stats()
			t.Logf("FEC %+v: p50 %v, p99 %v, %d of %d over 1.5 RTT; client lost %d, repairs %d; server rebuilt %d, lost %d, repairs %d; client rebuilt %d",
				fc, times[len(times)/2], times[len(times)*99/100], slow, exchanges, cs.PacketsLost, cs.FECRepairSent, ss.FECRecovered, ss.PacketsLost, ss.FECRepairSent, cs.FECRecovered)
		})
		return slow, cs, ss
	}
	slowOff, offC, offS := run(FECConfig{Disable: true})
	slowOn, onC, onS := run(FECConfig{})
	if offC.FECRepairSent+offS.FECRepairSent != 0 {
		t.Errorf("FEC off: %d+%d repair packets, want none", offC.FECRepairSent, offS.FECRepairSent)
	}
	if onC.FECRepairSent == 0 || onS.FECRecovered == 0 || onS.FECRepairSent == 0 || onC.FECRecovered == 0 {
		t.Errorf("adaptive FEC: client sent %d repairs and the server rebuilt %d; server sent %d and the client rebuilt %d; want all > 0",
			onC.FECRepairSent, onS.FECRecovered, onS.FECRepairSent, onC.FECRecovered)
	}
	// The 99th percentile under 1.5 RTT with adaptive FEC; without, a
	// tenth of the exchanges lose a packet and wait for it.
	if slowOn*100 >= exchanges || slowOn*3 > slowOff {
		t.Errorf("exchanges over 1.5 RTT: %d of %d with adaptive FEC, %d without; want under 1%% and under a third", slowOn, exchanges, slowOff)
	}
}
