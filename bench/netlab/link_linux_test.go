package netlab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/limpetnet/limpet/bench/netlab/linkem"
)

// newLinkLab builds a lab whose client and router are joined by the
// emulated link cfg.
func newLinkLab(t *testing.T, cfg LinkConfig) *Lab {
	t.Helper()
	return NewForTest(t, Options{Link: &cfg})
}

// linkStats is LinkStats for a lab that must have an emulated link.
func linkStats(t *testing.T, l *Lab) LinkStats {
	t.Helper()
	st, err := l.LinkStats()
	if err != nil {
		t.Fatalf("LinkStats: %v", err)
	}
	return st
}

// timedRoundTrips measures n sequential echo round trips.
func timedRoundTrips(t *testing.T, c *net.UDPConn, server netip.AddrPort, n int) []time.Duration {
	t.Helper()
	rtts := make([]time.Duration, n)
	for i := range rtts {
		start := time.Now()
		mustRoundTrip(t, c, server, i)
		rtts[i] = time.Since(start)
	}
	slices.Sort(rtts)
	return rtts
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLinkKeepsPathChanges checks that NAT rebinding, client renumbering,
// blackout, nftables loss, tc rate limits and IPv6 work through the
// emulated link as they do through the veth pair.
func TestLinkKeepsPathChanges(t *testing.T) {
	t.Parallel()
	for _, fam := range families {
		t.Run(fam.desc, func(t *testing.T) {
			t.Parallel()
			l := newLinkLab(t, SymmetricLink(linkem.Config{Delay: time.Millisecond}))
			server, _ := startEcho(t, l, fam.server(l))
			c, err := l.ListenUDP(Client, netip.AddrPortFrom(fam.wildcard, 0))
			if err != nil {
				t.Fatalf("ListenUDP(Client): %v", err)
			}
			defer c.Close()
			first := mustRoundTrip(t, c, server, 0)
			if lo, hi := natPortRange(0); first.Addr() != fam.nat(l) || first.Port() < lo || first.Port() > hi {
				t.Errorf("server saw %v, want %v with a port in %d-%d", first, fam.nat(l), lo, hi)
			}

			if err := l.RebindNAT(); err != nil {
				t.Fatalf("RebindNAT: %v", err)
			}
			rebound := mustRoundTrip(t, c, server, 1)
			if lo, hi := natPortRange(1); rebound.Addr() != fam.nat(l) || rebound.Port() < lo || rebound.Port() > hi {
				t.Errorf("after RebindNAT: server saw %v (before: %v), want %v with a port in %d-%d", rebound, first, fam.nat(l), lo, hi)
			}

			if err := l.ChangeClientIP(); err != nil {
				t.Fatalf("ChangeClientIP: %v", err)
			}
			if got := fam.client(l).AsSlice(); got[len(got)-1] != firstClientHost+1 {
				t.Errorf("client address after ChangeClientIP: %v, want host byte %d", fam.client(l), firstClientHost+1)
			}
			moved := mustRoundTrip(t, c, server, 2)
			if moved.Addr() != fam.nat(l) || moved.Port() == rebound.Port() {
				t.Errorf("after ChangeClientIP: server saw %v (before: %v), want %v with a new port", moved, rebound, fam.nat(l))
			}

			if err := l.Blackout(true); err != nil {
				t.Fatalf("Blackout(true): %v", err)
			}
			wantSilence(t, c, server, 3)
			if err := l.Blackout(false); err != nil {
				t.Fatalf("Blackout(false): %v", err)
			}
			mustRoundTrip(t, c, server, 4)

			if err := l.SetLoss(100); err != nil {
				t.Fatalf("SetLoss(100): %v", err)
			}
			wantSilence(t, c, server, 5)
			if err := l.SetLoss(0); err != nil {
				t.Fatalf("SetLoss(0): %v", err)
			}
			// tc's token bucket works on the router's TUN device as on the
			// veth end it replaces.
			if err := l.SetRate(50_000_000); err != nil {
				t.Fatalf("SetRate: %v", err)
			}
			mustRoundTrip(t, c, server, 6)
			if err := l.SetRate(0); err != nil {
				t.Fatalf("SetRate(0): %v", err)
			}
		})
	}
}

// TestSetLink changes the delay and the loss of a running link and checks
// the errors of SetLink and LinkStats.
func TestSetLink(t *testing.T) {
	t.Parallel()
	l := newLinkLab(t, SymmetricLink(linkem.Config{Delay: 2 * time.Millisecond}))
	server, _ := startEcho(t, l, l.ServerAddr())
	c, err := l.ListenUDP(Client, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	if err != nil {
		t.Fatalf("ListenUDP(Client): %v", err)
	}
	defer c.Close()
	if rtt := timedRoundTrips(t, c, server, 3)[0]; rtt < 4*time.Millisecond {
		t.Errorf("round trip %v through 2 ms each way, want at least 4 ms", rtt)
	}
	if err := l.SetLink(SymmetricLink(linkem.Config{Delay: 20 * time.Millisecond})); err != nil {
		t.Fatalf("SetLink: %v", err)
	}
	if rtt := timedRoundTrips(t, c, server, 3)[0]; rtt < 40*time.Millisecond {
		t.Errorf("round trip %v after SetLink to 20 ms each way, want at least 40 ms", rtt)
	}
	// Asymmetric: only the replies are lost.
	if err := l.SetLink(LinkConfig{Down: linkem.Config{Loss: 1}}); err != nil {
		t.Fatalf("SetLink: %v", err)
	}
	before := linkStats(t, l)
	wantSilence(t, c, server, 10)
	after := linkStats(t, l)
	if got := after.Up.Delivered - before.Up.Delivered; got < 1 {
		t.Errorf("up direction delivered %d packets while the down direction lost everything, want at least 1", got)
	}
	if got := after.Down.Lost - before.Down.Lost; got < 1 {
		t.Errorf("down direction lost %d packets at loss 1, want at least 1", got)
	}
	if err := l.SetLink(LinkConfig{}); err != nil {
		t.Fatalf("SetLink: %v", err)
	}
	mustRoundTrip(t, c, server, 11)

	bad := LinkConfig{Down: linkem.Config{Loss: 1.5}}
	if err := l.SetLink(bad); !errors.Is(err, ErrInvalidArgument) || !errors.Is(err, linkem.ErrInvalidConfig) {
		t.Errorf("SetLink with loss 1.5: %v, want ErrInvalidArgument and linkem.ErrInvalidConfig", err)
	}
	if _, err := New(Options{Link: &bad}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("New with loss 1.5: %v, want ErrInvalidArgument", err)
	}

	plain := NewForTest(t, Options{})
	if err := plain.SetLink(LinkConfig{}); !errors.Is(err, ErrNoLink) {
		t.Errorf("SetLink without an emulated link: %v, want ErrNoLink", err)
	}
	if _, err := plain.LinkStats(); !errors.Is(err, ErrNoLink) {
		t.Errorf("LinkStats without an emulated link: %v, want ErrNoLink", err)
	}
}

func TestSymmetricLink(t *testing.T) {
	t.Parallel()
	cfg := linkem.Config{Delay: time.Millisecond, Loss: 0.1, Seed: 7}
	got := SymmetricLink(cfg)
	if got.Up != cfg {
		t.Errorf("Up = %+v, want %+v", got.Up, cfg)
	}
	down := got.Down
	down.Seed = cfg.Seed
	if down != cfg || got.Down.Seed == cfg.Seed {
		t.Errorf("Down = %+v, want %+v with a different seed", got.Down, cfg)
	}
}

// childProcesses counts this process's children, zombies included (a
// child not waited for).
func childProcesses(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so parse after ")".
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		var state string
		var ppid int
		if _, err := fmt.Sscan(rest, &state, &ppid); err == nil && ppid == os.Getpid() {
			n++
		}
	}
	return n
}

// emulatorRunning reports whether the lab's forwarder process is alive.
func emulatorRunning(l *Lab) bool {
	p := l.emu.cmd
	return p.ProcessState == nil && p.Process.Signal(syscall.Signal(0)) == nil
}

// TestLinkCloseStopsEmulator: the forwarder runs in a process of its own
// from New, and Close ends it, with packets still in the link.
func TestLinkCloseStopsEmulator(t *testing.T) {
	requireRoot(t)
	cfg := SymmetricLink(linkem.Config{Delay: 50 * time.Millisecond})
	l, err := New(Options{Link: &cfg})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if !emulatorRunning(l) {
		t.Errorf("no emulator process running after New")
	}
	// Leave packets in flight.
	c, err := l.ListenUDP(Client, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	if err != nil {
		t.Fatalf("ListenUDP: %v", err)
	}
	defer c.Close()
	for range 10 {
		c.WriteToUDPAddrPort([]byte("x"), netip.AddrPortFrom(l.ServerAddr(), 9))
	}
	waitFor(t, "packets in the link", 5*time.Second, func() bool { return linkStats(t, l).Up.Accepted >= 10 })
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if emulatorRunning(l) {
		t.Errorf("the emulator process still runs after Close")
	}
	if st := l.emu.cmd.ProcessState; st == nil || !st.Success() {
		t.Errorf("emulator process state after Close: %v, want a clean exit", st)
	}
	if got := labNamespaces(t, l.Prefix()); len(got) != 0 {
		t.Errorf("namespaces left after Close: %v", got)
	}
	for _, op := range []struct {
		desc string
		do   func() error
	}{
		{"SetLink", func() error { return l.SetLink(cfg) }},
		{"LinkStats", func() error { _, err := l.LinkStats(); return err }},
	} {
		if err := op.do(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", op.desc, err)
		}
	}

	// A setup that fails after the emulator started stops it too.
	ours := fmt.Sprintf("lp%dn", os.Getpid())
	for _, step := range []string{"tun", "addresses", "nftables"} {
		before := labNamespaces(t, ours)
		l, err := New(Options{Link: &cfg, failAt: step})
		if err == nil || l != nil {
			t.Fatalf("New with failure at %q: got %v, %v; want nil and an error", step, l, err)
		}
		if got := childProcesses(t); got != 0 {
			t.Errorf("failure at %q: %d child processes left (an emulator), want 0", step, got)
		}
		if got := labNamespaces(t, ours); len(got) != len(before) {
			t.Errorf("failure at %q: namespaces %v, want %v", step, got, before)
		}
	}
}
