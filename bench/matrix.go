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
	// Fairness, if set, makes this a row where one limpet flow and one TCP
	// flow with this congestion controller ("cubic", "bbr") share the link.
	Fairness string `json:"fairness,omitempty"`
}

// LinkConfig is one direction of the path for the emulator: half the RTT
// of delay, and a drop-tail queue of one bandwidth-delay product (at least
// 5 ms), the usual buffer sizing for a bottleneck.
func (p PathSpec) LinkConfig(seed uint64) linkem.Config {
	return linkem.Config{
		Delay:             p.RTT / 2,
		RateBitsPerSecond: p.RateBitsPerSecond,
		QueueLimitTime:    max(p.RTT, 5*time.Millisecond),
		Loss:              p.Loss,
		Burst:             p.Burst,
		Reorder:           p.Reorder,
		Seed:              seed,
	}
}

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

// FullMatrix is qbench's default scenario list: loopback; 100 Mbit/s at
// RTT 10, 50 and 200 ms with 0, 0.1, 1 and 3 % random loss; bursty loss;
// reordering; one limpet and one TCP flow sharing the link; and the
// migration rows (NAT rebinding every 5 s, a client
// address change, a 10 s blackout).
func FullMatrix() []PathSpec {
	paths := []PathSpec{{Name: "loopback", Loopback: true}}
	for _, rtt := range MatrixRTTs {
		for _, loss := range MatrixLosses {
			paths = append(paths, emulatedPath(rtt, loss))
		}
	}
	paths = append(paths, burstyPath(), reorderPath())
	paths = append(paths, fairnessPaths()...)
	return append(paths, migrationPaths()...)
}

// fairnessPaths share the 100 Mbit/s, 50 ms link between one limpet flow
// and one TCP flow, CUBIC and then BBR.
func fairnessPaths() []PathSpec {
	var paths []PathSpec
	for _, cc := range []string{"cubic", "bbr"} {
		p := emulatedPath(50*time.Millisecond, 0)
		p.Name = "limpet and TCP " + strings.ToUpper(cc) + " sharing 100 Mbit/s, RTT 50 ms"
		p.Fairness = cc
		paths = append(paths, p)
	}
	return paths
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
