package transport

import (
	"testing"
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
	offC, offS := run("without FEC", FECConfig{})
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
