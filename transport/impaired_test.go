package transport

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport/netsim"
)

// impairedPair connects a client and a server over an in-memory network
// whose both directions are impaired by cfg (with different seeds).
func impairedPair(t *testing.T, cfg netsim.Config, cliCfg *Config) (cli, srv *Conn, cliNet, srvNet *netsim.Conn) {
	t.Helper()
	return impairedPairWith(t, cfg, cliCfg, nil)
}

// impairedPairWith is impairedPair with a server configuration too (its
// PrivateKey is set here).
func impairedPairWith(t *testing.T, cfg netsim.Config, cliCfg, srvCfg *Config) (cli, srv *Conn, cliNet, srvNet *netsim.Conn) {
	t.Helper()
	return impairedPairWrapped(t, cfg, cliCfg, srvCfg, nil)
}

// ethernetPayload is the UDP payload a 1500-byte MTU carries over IPv4.
const ethernetPayload = 1500 - 20 - 8

// impairedPairWrapped is impairedPairWith with the client's socket
// wrapped by wrap, if set.
func impairedPairWrapped(t *testing.T, cfg netsim.Config, cliCfg, srvCfg *Config, wrap func(Bind) Bind) (cli, srv *Conn, cliNet, srvNet *netsim.Conn) {
	t.Helper()
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
	if cfg.MTU == 0 {
		// An Ethernet path (IPv4): what path MTU discovery finds on most.
		cfg.MTU = ethernetPayload
	}
	scfg := cfg
	scfg.Seed = cfg.Seed + 1000
	srvNet = netsim.Impair(spc, scfg)
	cliNet = netsim.Impair(cpc, cfg)
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if srvCfg == nil {
		srvCfg = &Config{}
	}
	srvCfg.PrivateKey = key
	ln, err := ListenBind(NewPacketConnBind(srvNet), srvCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if cliCfg == nil {
		cliCfg = &Config{}
	}
	cliCfg.ServerKey = key.Public()
	var cliBind Bind = NewPacketConnBind(cliNet)
	if wrap != nil {
		cliBind = wrap(cliBind)
	}
	cli, err = DialBind(ctx, cliBind, srvAddr, cliCfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	srv, err = ln.Accept(ctx)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	return cli, srv, cliNet, srvNet
}

func randomData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// exchange runs nStreams streams each way between a and b, each carrying
// size bytes, and checks every stream's SHA-256.
func exchange(t *testing.T, a, b *Conn, nStreams, size int, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4*nStreams)
	send := func(c *Conn, seed uint64) {
		defer wg.Done()
		s, err := c.OpenStream(ctx)
		if err != nil {
			errs <- err
			return
		}
		data := randomData(seed, size)
		// The first 8 bytes name the seed so the reader can check the data.
		hdr := []byte(fmt.Sprintf("%08d", seed))
		if _, err := s.Write(hdr); err != nil {
			errs <- err
			return
		}
		if _, err := s.Write(data); err != nil {
			errs <- fmt.Errorf("write seed %d: %w", seed, err)
			return
		}
		s.Close()
		if err := s.WaitConsumed(ctx, int64(len(hdr)+size)); err != nil {
			errs <- fmt.Errorf("WaitConsumed seed %d: %w", seed, err)
		}
	}
	recv := func(c *Conn) {
		defer wg.Done()
		s, err := c.AcceptStream(ctx)
		if err != nil {
			errs <- err
			return
		}
		hdr := make([]byte, 8)
		if _, err := io.ReadFull(s, hdr); err != nil {
			errs <- err
			return
		}
		var seed uint64
		fmt.Sscanf(string(hdr), "%d", &seed)
		h := sha256.New()
		n, err := io.Copy(h, s)
		if err != nil {
			errs <- fmt.Errorf("read seed %d after %d bytes: %w", seed, n, err)
			return
		}
		want := sha256.Sum256(randomData(seed, size))
		if n != int64(size) || string(h.Sum(nil)) != string(want[:]) {
			errs <- fmt.Errorf("stream seed %d: got %d bytes sha %x, want %d bytes sha %x", seed, n, h.Sum(nil), size, want)
		}
	}
	for i := 0; i < nStreams; i++ {
		wg.Add(4)
		go send(a, uint64(i+1))
		go send(b, uint64(i+101))
		go recv(a)
		go recv(b)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestImpairedTransfer(t *testing.T) {
	for _, tc := range []struct {
		desc     string
		cfg      netsim.Config
		streams  int
		size     int
		wantLoss bool
	}{
		{desc: "clean", cfg: netsim.Config{Seed: 1}, streams: 10, size: 8 << 20},
		{desc: "10% loss, 5% reorder, 2% dup, 1% corrupt", cfg: netsim.Config{Seed: 2, Loss: 0.10, Reorder: 0.05, Duplicate: 0.02, Corrupt: 0.01}, streams: 10, size: 8 << 20, wantLoss: true},
		{desc: "30% loss", cfg: netsim.Config{Seed: 3, Loss: 0.30}, streams: 2, size: 1 << 20, wantLoss: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			cli, srv, cliNet, srvNet := impairedPair(t, tc.cfg, nil)
			start := time.Now()
			exchange(t, cli, srv, tc.streams, tc.size, 300*time.Second)
			cs, ss := cli.Stats(), srv.Stats()
			t.Logf("%v: client %+v", time.Since(start), cs)
			t.Logf("server %+v", ss)
			t.Logf("net client→server %+v, server→client %+v", cliNet.Stats(), srvNet.Stats())
			if tc.wantLoss {
				if cs.PacketsLost == 0 || ss.PacketsLost == 0 || cs.BytesRetransmitted == 0 || ss.BytesRetransmitted == 0 {
					t.Errorf("losses not recovered by retransmission: client lost %d retx %d, server lost %d retx %d",
						cs.PacketsLost, cs.BytesRetransmitted, ss.PacketsLost, ss.BytesRetransmitted)
				}
				if tc.cfg.Corrupt > 0 && cs.AuthFailed+ss.AuthFailed+cs.Malformed+ss.Malformed == 0 {
					t.Errorf("no corrupted packet was rejected")
				}
			}
		})
	}
}
