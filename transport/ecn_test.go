package transport

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/transport/netsim"
)

// TestECNPaths: over the in-memory network, ECN validation ends capable on
// a path that carries the marks, and failed, with marking off, on one that
// bleaches them or marks every packet CE; the transfer completes on all.
func TestECNPaths(t *testing.T) {
	for _, tc := range []struct {
		desc string
		path netsim.Config
		want ECNState
	}{
		{"marks arrive intact", netsim.Config{Seed: 1}, ECNCapable},
		{"a middlebox bleaches them", netsim.Config{Seed: 2, ECNBleach: true}, ECNFailed},
		{"a broken marker turns every one CE", netsim.Config{Seed: 3, ECNMarkAllCE: true}, ECNFailed},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tc.path.Delay = 10 * time.Millisecond
				cli, srv, cliNet, srvNet := impairedPairWith(t, tc.path, nil, nil)
				t.Cleanup(func() { srv.Close(); cliNet.Close(); srvNet.Close() })
				transferDuring(t, cli, srv, 2<<20, func() {})
				st := cli.Stats()
				if st.ECN != tc.want {
					t.Fatalf("sender's ECN state %v, want %v", st.ECN, tc.want)
				}
				if tc.want == ECNFailed && st.ECNCongestionEvents > 1 {
					t.Errorf("%d congestion events from CE marks on a path whose marks mean nothing", st.ECNCongestionEvents)
				}
				if cliNet.Stats().Sent == 0 {
					t.Fatal("nothing crossed the path")
				}
			})
		})
	}
}
