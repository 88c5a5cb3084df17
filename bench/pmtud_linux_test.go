//go:build linux && !nolimpet && !race && measure

// The acceptance figures for path MTU discovery, minutes of transfers in
// the namespace lab, so they run in .ci/measure (go test -tags measure),
// not in every go test, and never under the race detector, which changes
// the timing measured.

package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/limpetnet/limpet/bench/netlab"
)

// pmtudSize is each byte-exact transfer of TestPathMTUDiscoveryFigures.
const pmtudSize = 64 << 20

// udpOverhead is the IP and UDP header bytes around a datagram's payload.
func udpOverhead(ipv6 bool) int {
	if ipv6 {
		return 48
	}
	return 28
}

// TestPathMTUDiscoveryFigures moves 64 MiB byte-exact with limpet through
// a 1280- and a 1420-byte tunnel (100 Mbit/s, RTT 50 ms; IPv4, and IPv6 for
// 1420) and a link of 9000-byte jumbo frames (1 Gbit/s, RTT 10 ms), and
// logs the datagram size limpet settled on and the goodput of each; then
// runs the path MTU change rows of the full matrix (1500 → 1280 at 3 s and
// back at 10 s, with ICMP and as a black hole) and logs the longest stall
// after the drop and how long after the rise limpet's datagrams were above
// 1400 bytes again.
//
// It asserts what must hold whatever the discovery does: every byte
// arrives intact, and the settled datagram size is between 1200 and what
// the path carries. The figures themselves (a settled size near the path's
// limit, a short stall, a quick return to large datagrams) are for the
// reader: before limpet discovers path MTUs they show 1200 everywhere.
//
//	go test -tags measure -count=1 -v -run TestPathMTUDiscoveryFigures ./bench
func TestPathMTUDiscoveryFigures(t *testing.T) {
	var table strings.Builder
	table.WriteString("| row | outcome | goodput, Mbit/s | datagram size at the end | largest the path carries | MTU probes sent / lost | black holes | time |\n|---|---|--:|--:|--:|--:|--:|--:|\n")
	run := func(t *testing.T, lab *netlab.Lab, name string, pathLimit int, sc DisruptionScenario) DisruptionResult {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		sc.Name = name
		r := RunDisruption(ctx, lab, DisruptLimpet, sc)
		size, probes, holes := "–", "–", "–"
		if p := r.Path; p != nil {
			size = fmt.Sprintf("%d B", p.MaxDatagramSize)
			probes = fmt.Sprintf("%d / %d", p.MTUProbesSent, p.MTUProbesLost)
			holes = fmt.Sprint(p.MTUBlackHoles)
		}
		goodput := 0.0
		if r.Seconds > 0 {
			goodput = float64(r.Bytes) * 8 / 1e6 / r.Seconds
		}
		fmt.Fprintf(&table, "| %s | %s | %.1f | %s | %d B | %s | %s | %.1f s |\n", name, r.Outcome(), goodput, size, pathLimit, probes, holes, r.Seconds)
		t.Logf("%s: %s, %.1f Mbit/s; %s; datagram sizes %v; changes %+v", name, r.Outcome(), goodput, r.Detail, r.DatagramSizes, r.Changes)
		if !r.Survived {
			t.Fatalf("limpet did not deliver %s intact: %s", FormatSize(sc.Size), r.Err)
		}
		if r.Path == nil || r.Path.MaxDatagramSize < 1200 || r.Path.MaxDatagramSize > pathLimit {
			t.Errorf("datagram size at the end %v, want between 1200 and %d, what the path carries", r.Path, pathLimit)
		}
		return r
	}

	t.Run("tunnels", func(t *testing.T) {
		link := netlab.SymmetricLink(emulatedPath(50*time.Millisecond, 0).LinkConfig(1))
		lab := netlab.NewForTest(t, netlab.Options{Link: &link})
		for _, tc := range []struct {
			mtu  int
			ipv6 bool
		}{{1280, false}, {1420, false}, {1420, true}} {
			name := fmt.Sprintf("%d-MTU tunnel, 100 Mbit/s, RTT 50 ms", tc.mtu)
			if tc.ipv6 {
				name = "IPv6: " + name
			}
			t.Run(name, func(t *testing.T) {
				if err := lab.SetPathMTU(tc.mtu); err != nil {
					t.Fatal(err)
				}
				defer func() {
					if err := lab.SetPathMTU(0); err != nil {
						t.Error(err)
					}
					if err := lab.FlushPathMTUCache(); err != nil {
						t.Error(err)
					}
				}()
				run(t, lab, name, tc.mtu-udpOverhead(tc.ipv6), DisruptionScenario{Size: pmtudSize, IPv6: tc.ipv6})
			})
		}
	})

	t.Run("jumbo", func(t *testing.T) {
		jumbo := mtuPaths()[3]
		if jumbo.MTU != jumboMTU {
			t.Fatalf("row %q is not the jumbo row", jumbo.Name)
		}
		link := netlab.SymmetricLink(jumbo.LinkConfig(1))
		lab := netlab.NewForTest(t, netlab.Options{Link: &link, MTU: jumbo.MTU})
		run(t, lab, jumbo.Name, jumbo.MTU-udpOverhead(false), DisruptionScenario{Size: pmtudSize})
	})

	t.Run("path MTU changes", func(t *testing.T) {
		link := netlab.SymmetricLink(emulatedPath(50*time.Millisecond, 0).LinkConfig(1))
		lab := netlab.NewForTest(t, netlab.Options{Link: &link})
		for _, row := range mtuChangePaths() {
			t.Run(row.Name, func(t *testing.T) {
				sc := *row.Disruption
				r := run(t, lab, row.Name, lab.MTU()-udpOverhead(false), sc)
				if len(r.Changes) != 2 {
					t.Fatalf("%d changes made, want the drop and the rise", len(r.Changes))
				}
				recovered := "never"
				if d, ok := r.DatagramSizeAbove(mtuRecoveredSize, r.Changes[1].At); ok {
					recovered = formatStall(d)
				}
				t.Logf("%s: longest stall after the drop %s, after the rise %s; datagrams above %d B %s after the rise",
					row.Name, formatStall(r.Changes[0].Stall), formatStall(r.Changes[1].Stall), mtuRecoveredSize, recovered)
				fmt.Fprintf(&table, "| %s: longest stall after the drop | %s | | | | | | |\n", row.Name, formatStall(r.Changes[0].Stall))
				fmt.Fprintf(&table, "| %s: datagrams above %d B after the rise | %s | | | | | | |\n", row.Name, mtuRecoveredSize, recovered)
			})
		}
	})
	t.Logf("limpet's path MTU discovery in the namespace lab:\n%s", table.String())
}
