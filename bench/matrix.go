package bench

import (
	"fmt"
	"strings"
	"time"

	"github.com/limpetnet/limpet/bench/netlab/linkem"
)

// PathSpec is one row of the scenario matrix: a path between the lab's
// client and server, or loopback.
type PathSpec struct {
	Name string `json:"name"`
	// Loopback runs in this process over the loopback interface; the
	// other fields are then unused.
	Loopback bool `json:"loopback,omitempty"`
	// RateBitsPerSecond, RTT and Loss describe the emulated link. Loss
	// applies to each direction independently, so data and ACKs both see
	// it; Burst and Reorder add correlated loss and reordering.
	RateBitsPerSecond uint64                `json:"rate_bps,omitempty"`
	RTT               time.Duration         `json:"rtt_ns,omitempty"`
	Loss              float64               `json:"loss,omitempty"`
	Burst             linkem.GilbertElliott `json:"burst,omitzero"`
	Reorder           linkem.Reorder        `json:"reorder,omitzero"`
	// Disruption, if set, makes this a migration row: TCP and limpet run
	// the scenario over the emulated link instead of the bulk and 1 MiB
	// transfers.
	Disruption *DisruptionScenario `json:"disruption,omitempty"`
	// Fairness, if set, makes this a row where one limpet flow and another
	// share the link: a TCP flow with this congestion controller ("cubic",
	// "bbr"), or a second limpet flow ("limpet").
	Fairness string `json:"fairness,omitempty"`
	// FairnessLimpet is the protocol of the limpet flows of a fairness
	// row: ProtocolLimpet if empty, or ProtocolLimpetBBR; ProtocolTCPCubic
	// or ProtocolTCPBBR make the first flow TCP (a reference row).
	FairnessLimpet string `json:"fairness_limpet,omitempty"`
	// FairnessHeadStart, on a row of two flows of one kind, starts the
	// first flow's sender before the second flow is dialled, so the first
	// has a handshake's head start; otherwise both start together.
	FairnessHeadStart bool `json:"fairness_head_start,omitempty"`
	// MTU is the MTU of every link of the lab for the row
	// (netlab.Options.MTU); zero means 1500. The matrix builds a new lab
	// when a row needs another MTU than the last.
	MTU int `json:"mtu,omitempty"`
	// PathMTU, if set, narrows the path between the router and the server
	// to this many bytes for the row, as a tunnel hop does: longer packets
	// are dropped and answered with ICMP "fragmentation needed" or "packet
	// too big" (netlab.Lab.SetPathMTU).
	PathMTU int `json:"path_mtu,omitempty"`
	// CoDelECN manages each direction's bottleneck queue with CoDel, which
	// marks ECN-capable packets Congestion Experienced and drops the others
	// (linkem.CoDelConfig{ECN: true}), and runs tcp-cubic-ecn beside the
	// row's protocols.
	CoDelECN bool `json:"codel_ecn,omitempty"`
	// RequestResponse, if set, makes this a row of request/response
	// exchanges instead of the bulk and 1 MiB transfers, with the
	// protocols of RequestResponseProtocols the run includes.
	RequestResponse *RequestResponseSpec `json:"request_response,omitempty"`
}

// LinkConfig is one direction of the path for the emulator: half the RTT
// of delay, and a drop-tail queue of one bandwidth-delay product (at least
// 5 ms), the usual buffer sizing for a bottleneck. With CoDelECN, CoDel
// keeps the queue short and the drop-tail limit is only a backstop of four
// round trips (at least 100 ms), as deep as the buffers CoDel is deployed
// to tame.
func (p PathSpec) LinkConfig(seed uint64) linkem.Config {
	c := linkem.Config{
		Delay:             p.RTT / 2,
		RateBitsPerSecond: p.RateBitsPerSecond,
		QueueLimitTime:    max(p.RTT, 5*time.Millisecond),
		Loss:              p.Loss,
		Burst:             p.Burst,
		Reorder:           p.Reorder,
		Seed:              seed,
	}
	if p.CoDelECN {
		c.CoDel = linkem.CoDelConfig{ECN: true}
		c.QueueLimitTime = max(4*p.RTT, 100*time.Millisecond)
	}
	return c
}

// LabMTU is the MTU the row's lab needs: MTU, or 1500.
func (p PathSpec) LabMTU() int {
	if p.MTU == 0 {
		return defaultMTU
	}
	return p.MTU
}

// defaultMTU is the lab's MTU when a row names none, Ethernet's.
const defaultMTU = 1500

// Matrix rates and delays.
const (
	matrixRate = 100_000_000 // 100 Mbit/s
)

// emulatedPath names and builds a row of the loss/RTT grid.
func emulatedPath(rtt time.Duration, loss float64) PathSpec {
	return PathSpec{
		Name:              fmt.Sprintf("100 Mbit/s, RTT %d ms, %s loss", rtt.Milliseconds(), formatPercent(loss)),
		RateBitsPerSecond: matrixRate,
		RTT:               rtt,
		Loss:              loss,
	}
}

func formatPercent(f float64) string {
	return fmt.Sprintf("%g%%", f*100)
}

// MatrixRTTs and MatrixLosses span the grid of the full matrix; the plots
// draw one chart per RTT with loss along the x axis.
var (
	MatrixRTTs   = []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond}
	MatrixLosses = []float64{0, 0.001, 0.01, 0.03}
)

// FullMatrix is every row qbench knows (-full): loopback; 100 Mbit/s at
// RTT 10, 50 and 200 ms with 0, 0.1, 1 and 3 % random loss; bursty loss;
// reordering; request/response at 2 % loss; one limpet flow sharing the
// link with TCP CUBIC, TCP BBR or another limpet flow; the migration
// rows (NAT rebinding every 5 s, a client address change, a 10 s
// blackout); the outage rows (90 s without a path, with and without a new
// client address); the path MTU rows (1280- and 1420-byte tunnels, a jumbo-frame
// link with its 1500-byte baseline, the path MTU dropping mid-transfer and
// rising again, with and without ICMP); and a CoDel bottleneck that marks
// ECN.
func FullMatrix() []PathSpec {
	paths := []PathSpec{{Name: "loopback", Loopback: true}}
	for _, rtt := range MatrixRTTs {
		for _, loss := range MatrixLosses {
			paths = append(paths, emulatedPath(rtt, loss))
		}
	}
	paths = append(paths, burstyPath(), reorderPath(), requestResponsePath())
	paths = append(paths, fairnessPaths()...)
	paths = append(paths, migrationPaths()...)
	paths = append(paths, outagePaths()...)
	paths = append(paths, mtuPaths()...)
	paths = append(paths, mtuChangePaths()...)
	return append(paths, codelECNPath())
}

// Path MTU rows' parameters. The jumbo rows run at 1 Gbit/s, where the
// per-packet cost that jumbo frames save shows in CPU time, and at RTT
// 10 ms, whose bandwidth-delay product the kernel's default TCP buffers
// can fill.
const (
	jumboRate = 1_000_000_000
	jumboRTT  = 10 * time.Millisecond
	jumboMTU  = 9000
)

// mtuPaths are the rows where the path's MTU differs from Ethernet's: a
// 1280-byte tunnel (IPv6's minimum, the worst a path may do) and a
// 1420-byte one (WireGuard's default) between the router and the server,
// and a link of jumbo frames with its 1500-byte baseline at the same rate.
func mtuPaths() []PathSpec {
	tunnel := func(mtu int) PathSpec {
		p := emulatedPath(50*time.Millisecond, 0)
		p.Name = fmt.Sprintf("%d-MTU tunnel, 100 Mbit/s, RTT 50 ms", mtu)
		p.PathMTU = mtu
		return p
	}
	link := func(mtu int, name string) PathSpec {
		return PathSpec{
			Name:              fmt.Sprintf("%s, %s, RTT %d ms", name, formatRate(jumboRate), jumboRTT.Milliseconds()),
			RateBitsPerSecond: jumboRate,
			RTT:               jumboRTT,
			MTU:               mtu,
		}
	}
	return []PathSpec{
		tunnel(1280),
		tunnel(1420),
		link(defaultMTU, "1500-MTU link (jumbo baseline)"),
		link(jumboMTU, "9000-MTU jumbo link"),
	}
}

// formatRate writes a link rate in Mbit/s or Gbit/s.
func formatRate(bps uint64) string {
	if bps >= 1e9 && bps%1e8 == 0 {
		return fmt.Sprintf("%g Gbit/s", float64(bps)/1e9)
	}
	return fmt.Sprintf("%g Mbit/s", float64(bps)/1e6)
}

// mtuChangePaths are the rows where the path MTU drops to 1280 bytes at
// 3 s into the transfer and rises back to 1500 at 10 s, on the 100 Mbit/s,
// 50 ms link: once with ICMP from the router, as a route change onto a
// tunnel does, and once without, a black hole that only a sender probing
// for itself (RFC 8899) gets out of. 160 MiB take about 14 s, so the
// transfer goes on for a few seconds after the rise, long enough to see a
// sender find the larger size again.
func mtuChangePaths() []PathSpec {
	row := func(name string, change PathChange, stallLimit time.Duration) PathSpec {
		p := emulatedPath(50*time.Millisecond, 0)
		p.Name = name + ", 100 Mbit/s, RTT 50 ms"
		p.Disruption = &DisruptionScenario{
			Name: p.Name, Change: change, Count: 1, Every: 3 * time.Second,
			PathMTU: 1280, MTURestore: 7 * time.Second, Size: 160 << 20, StallLimit: stallLimit,
		}
		return p
	}
	return []PathSpec{
		row("path MTU 1280 from 3 s to 10 s", ChangePathMTU, 0),
		// A TCP without MTU probing (tcp_mtu_probing=0, the default) waits
		// out the black hole; the stall limit lets it resume at 10 s.
		row("MTU black hole 1280 from 3 s to 10 s", ChangePathMTUBlackHole, 30*time.Second),
	}
}

// codelECNPath is the 100 Mbit/s, 50 ms link with a CoDel bottleneck that
// marks ECN-capable packets: TCP CUBIC with and without ECN, and limpet,
// which marks its packets ECT(0).
func codelECNPath() PathSpec {
	p := emulatedPath(50*time.Millisecond, 0)
	p.Name = "CoDel ECN-marking bottleneck, 100 Mbit/s, RTT 50 ms"
	p.CoDelECN = true
	return p
}

// fairnessPaths share the 100 Mbit/s, 50 ms link between one limpet flow
// and another: TCP CUBIC, TCP BBR, and a second limpet flow, started
// together and a handshake later; with limpet as it comes, then with
// limpet-bbr; then TCP against TCP, for reference.
func fairnessPaths() []PathSpec {
	const link = " sharing 100 Mbit/s, RTT 50 ms"
	const later = ", the second a handshake later"
	var paths []PathSpec
	for _, limpet := range []string{ProtocolLimpet, ProtocolLimpetBBR} {
		for _, other := range []string{"cubic", "bbr", "limpet", "limpet later"} {
			p := emulatedPath(50*time.Millisecond, 0)
			p.Name = limpet + " and TCP " + strings.ToUpper(other) + link
			p.Fairness = other
			if strings.HasPrefix(other, "limpet") {
				p.Name = "two " + limpet + " flows" + link
				p.Fairness = "limpet"
				if other == "limpet later" {
					p.Name += later
					p.FairnessHeadStart = true
				}
			}
			if limpet != ProtocolLimpet {
				p.FairnessLimpet = limpet
			}
			paths = append(paths, p)
		}
	}
	// References without limpet: what TCP gets against TCP on the same
	// link, started the same way (together, and for two flows of one
	// kind also with the first a handshake ahead).
	for _, pair := range [][2]string{{ProtocolTCPCubic, "bbr"}, {ProtocolTCPCubic, "cubic"}, {ProtocolTCPBBR, "bbr"}} {
		first := strings.ToUpper(strings.TrimPrefix(pair[0], "tcp-"))
		for _, headStart := range []bool{false, true} {
			p := emulatedPath(50*time.Millisecond, 0)
			p.Name = "reference: TCP " + first + " and TCP " + strings.ToUpper(pair[1]) + link
			if first == strings.ToUpper(pair[1]) {
				p.Name = "reference: two TCP " + first + " flows" + link
				if headStart {
					p.Name += later
				}
			} else if headStart {
				continue
			}
			p.Fairness, p.FairnessLimpet, p.FairnessHeadStart = pair[1], pair[0], headStart
			paths = append(paths, p)
		}
	}
	return paths
}

// fairnessLimpet is the protocol of the row's limpet flows.
func (p PathSpec) fairnessLimpet() string {
	if p.FairnessLimpet == "" {
		return ProtocolLimpet
	}
	return p.FairnessLimpet
}

// StandardMatrix is the representative default: loopback, one clean and
// one lossy emulated path, and one path change (a NAT rebinding), each
// with every protocol; a few minutes in all.
func StandardMatrix() []PathSpec { return representativeMatrix(64<<20, 2*time.Second) }

// QuickMatrix is a smoke run of every kind of row, under a minute: the
// standard rows with a shorter NAT rebinding run.
func QuickMatrix() []PathSpec { return representativeMatrix(32<<20, time.Second) }

// representativeMatrix is loopback, a clean and a 1%-loss path at RTT
// 50 ms, and a transfer of size across two NAT rebindings, one every
// every.
func representativeMatrix(size int64, every time.Duration) []PathSpec {
	rebind := migrationPaths()[0]
	rebind.Disruption.Size = size
	rebind.Disruption.Every = every
	rebind.Disruption.Count = 2
	rebind.Name = fmt.Sprintf("NAT rebinding every %d s, 100 Mbit/s, RTT 50 ms", int(every.Seconds()))
	return []PathSpec{
		{Name: "loopback", Loopback: true},
		emulatedPath(50*time.Millisecond, 0),
		emulatedPath(50*time.Millisecond, 0.01),
		rebind,
	}
}

// burstyPath loses packets in bursts: Gilbert–Elliott with a 1 % chance of
// entering the bad state, which loses everything and lasts 4 packets on
// average; about 3.8 % loss in all.
func burstyPath() PathSpec {
	p := emulatedPath(50*time.Millisecond, 0)
	p.Name = "100 Mbit/s, RTT 50 ms, bursty loss (Gilbert–Elliott, bursts of ~4)"
	p.Burst = linkem.GilbertElliott{P: 0.01, R: 0.25, LossBad: 1}
	return p
}

// requestResponsePath is 1,000 requests of 4 KiB, each answered with
// 4 KiB, at 100 Mbit/s and RTT 50 ms with 2 % random loss: the RPC case,
// where every loss not repaired costs a round trip or more.
func requestResponsePath() PathSpec {
	p := emulatedPath(50*time.Millisecond, 0.02)
	p.Name = "request/response, 1000 × 4 KiB, 100 Mbit/s, RTT 50 ms, 2% loss"
	p.RequestResponse = &RequestResponseSpec{Requests: 1000, Size: 4096}
	return p
}

// reorderPath holds back 2 % of packets by 5 ms, about 40 packets' time at
// 100 Mbit/s: deep reordering that a 3-packet threshold mistakes for loss.
func reorderPath() PathSpec {
	p := emulatedPath(50*time.Millisecond, 0)
	p.Name = "100 Mbit/s, RTT 50 ms, 2% reordered by 5 ms"
	p.Reorder = linkem.Reorder{Probability: 0.02, ExtraDelay: 5 * time.Millisecond}
	return p
}

// migrationPaths are the rows where the path changes under the transfer,
// on a 100 Mbit/s, 50 ms link.
func migrationPaths() []PathSpec {
	base := emulatedPath(50*time.Millisecond, 0)
	row := func(name string, sc DisruptionScenario) PathSpec {
		p := base
		p.Name = name + ", 100 Mbit/s, RTT 50 ms"
		sc.Name = p.Name
		p.Disruption = &sc
		return p
	}
	return []PathSpec{
		row("NAT rebinding every 5 s", DisruptionScenario{Change: ChangeNATRebind, Count: 3, Every: 5 * time.Second, Size: 200 << 20}),
		row("client IP change", DisruptionScenario{Change: ChangeClientIP, Count: 1, Size: 64 << 20}),
		row("10 s blackout", DisruptionScenario{Change: ChangeBlackout, Count: 1, Size: 64 << 20,
			Blackout: 10 * time.Second, StallLimit: 40 * time.Second}),
	}
}

// outagePaths are the rows where the path goes away for 90 s, longer than
// limpet's 60 s idle timeout, in the middle of a 64 MiB transfer on the
// 100 Mbit/s, 50 ms link: once with the client keeping its address, once
// with a new one when the path comes back. TCP, a limpet connection and a
// limpet session (which reconnects) run each; TCP's retransmission
// backoff may take up to two minutes to notice the path is back.
func outagePaths() []PathSpec {
	base := emulatedPath(50*time.Millisecond, 0)
	row := func(name string, newIP bool) PathSpec {
		p := base
		p.Name = name + ", 100 Mbit/s, RTT 50 ms"
		p.Disruption = &DisruptionScenario{
			Name: p.Name, Change: ChangeBlackout, Count: 1, Size: 64 << 20,
			Blackout: 90 * time.Second, NewClientIP: newIP, StallLimit: 150 * time.Second,
			Protocols: []string{DisruptTCP, DisruptLimpet, DisruptLimpetSession},
		}
		return p
	}
	return []PathSpec{
		row("90 s blackout", false),
		row("90 s blackout, new client IP", true),
	}
}
