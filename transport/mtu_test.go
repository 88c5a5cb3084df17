package transport

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/transport/internal/pmtud"
	"github.com/limpetnet/limpet/transport/netsim"
)

// TestMTUDropsAndRisesMidTransfer: a path of Ethernet MTU turns into a
// 1280-byte tunnel in the middle of a transfer, silently dropping larger
// datagrams both ways. The transfer completes byte for byte, the sender
// having found the black hole once and settled at 1252 bytes. Idle, it
// sends no probes; once it sends again after pmtud.RaiseInterval, it finds
// that the path is Ethernet again.
func TestMTUDropsAndRisesMidTransfer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv, cliNet, srvNet := impairedPairWith(t, netsim.Config{Seed: 7, Delay: 10 * time.Millisecond}, nil, nil)
		t.Cleanup(func() { srv.Close(); cliNet.Close(); srvNet.Close() })
		roundTrip(t, cli, srv)
		time.Sleep(time.Second) // the searches settle
		for _, c := range []*Conn{cli, srv} {
			if got := c.Stats().MaxDatagramSize; got != ethernetPayload {
				t.Fatalf("before the drop: datagrams of %d bytes, want %d", got, ethernetPayload)
			}
		}
		transferDuring(t, cli, srv, 4<<20, func() {
			cliNet.SetMTU(1252)
			srvNet.SetMTU(1252)
		})
		st := cli.Stats()
		if st.MTUBlackHoles != 1 || st.MaxDatagramSize != 1252 {
			t.Fatalf("sender after the drop: black holes %d, datagrams of %d bytes; want 1, 1252", st.MTUBlackHoles, st.MaxDatagramSize)
		}
		// The search below the hole settles (while idle it moves only
		// when a keepalive or a loss timer wakes the connection); an idle
		// connection then sends no probes, however long it waits.
		settled := cli.Stats()
		for i := 0; ; i++ {
			time.Sleep(2 * defaultKeepAlivePeriod)
			st := cli.Stats()
			if st.MTUProbesSent == settled.MTUProbesSent {
				break
			}
			if i == 20 {
				t.Fatalf("the search still probes after %d rounds: %+v", i, st)
			}
			settled = st
		}
		time.Sleep(3 * pmtud.RaiseInterval)
		if st := cli.Stats(); st.MTUProbesSent != settled.MTUProbesSent || st.MaxDatagramSize != 1252 {
			t.Errorf("idle: %d probes sent, datagrams of %d bytes; want none, 1252", st.MTUProbesSent-settled.MTUProbesSent, st.MaxDatagramSize)
		}
		cliNet.SetMTU(ethernetPayload)
		srvNet.SetMTU(ethernetPayload)
		transferDuring(t, cli, srv, 8<<20, func() {})
		if got := cli.Stats().MaxDatagramSize; got != ethernetPayload {
			t.Errorf("sending after the path recovered: datagrams of %d bytes, want %d", got, ethernetPayload)
		}
	})
}

// TestMTUDropWithFEC: repair packets built for 1472-byte groups cannot
// cross the path once it narrows to 1252 bytes; they are dropped unsent,
// so later groups' repairs still go out and the transfer completes.
func TestMTUDropWithFEC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fec := FECConfig{GroupSize: 8, Repair: 2}
		cli, srv, cliNet, srvNet := impairedPairWith(t, netsim.Config{Seed: 8, Delay: 10 * time.Millisecond, Loss: 0.01},
			&Config{FEC: fec}, &Config{FEC: FECConfig{GroupSize: 8}})
		t.Cleanup(func() { srv.Close(); cliNet.Close(); srvNet.Close() })
		roundTrip(t, cli, srv)
		time.Sleep(time.Second)
		var before ConnStats
		transferDuring(t, cli, srv, 4<<20, func() {
			cliNet.SetMTU(1252)
			srvNet.SetMTU(1252)
			before = cli.Stats()
		})
		transferDuring(t, cli, srv, 2<<20, func() {})
		st := cli.Stats()
		if st.MaxDatagramSize > 1252 || st.MTUBlackHoles != 1 {
			t.Fatalf("after the drop: datagrams of %d bytes, %d black holes; want at most 1252, 1", st.MaxDatagramSize, st.MTUBlackHoles)
		}
		if st.FECRepairSent <= before.FECRepairSent+10 {
			t.Fatalf("%d repair packets sent after the drop, want many", st.FECRepairSent-before.FECRepairSent)
		}
	})
}
