package bench

import (
	"fmt"
	"strings"
	"time"

	"github.com/limpetnet/limpet/bench/svgplot"
)

// Protocols a DisruptionScenario can run.
const (
	DisruptTCP           = "tcp"            // kernel TCP with the default congestion control
	DisruptLimpet        = "limpet"         // one limpet stream
	DisruptLimpetSession = "limpet-session" // one stream of a limpet session (transport/session)
)

// protocols are the protocols the scenario runs: sc.Protocols, or TCP and
// limpet.
func (sc DisruptionScenario) protocols() []string {
	if len(sc.Protocols) > 0 {
		return sc.Protocols
	}
	return []string{DisruptTCP, DisruptLimpet}
}

// PathChange is a change to the network under a running transfer, the kind
// that kills TCP connections: what the netlab does to the path, and when.
type PathChange string

const (
	// ChangeNATRebind gives the client's flows new external ports on the
	// router's NAT, as after a NAT mapping timeout.
	ChangeNATRebind PathChange = "nat-rebind"
	// ChangeClientIP removes the client's address and adds a new one, as a
	// new DHCP lease does.
	ChangeClientIP PathChange = "client-ip"
	// ChangeBlackout drops every packet for a while, then restores the path.
	ChangeBlackout PathChange = "blackout"
	// ChangePathMTU narrows the path to DisruptionScenario.PathMTU bytes,
	// with ICMP "fragmentation needed" or "packet too big" for longer
	// packets (netlab.Lab.SetPathMTU), and widens it again after
	// MTURestore.
	ChangePathMTU PathChange = "path-mtu"
	// ChangePathMTUBlackHole is ChangePathMTU without the ICMP: longer
	// packets vanish (netlab.Lab.SetPathMTUBlackHole).
	ChangePathMTUBlackHole PathChange = "path-mtu-black-hole"
)

// narrowsMTU reports whether the change narrows the path MTU.
func (c PathChange) narrowsMTU() bool {
	return c == ChangePathMTU || c == ChangePathMTUBlackHole
}

// DisruptionScenario is one transfer and the path changes made during it.
// By default changes are triggered by progress, not by the clock, so every
// change lands mid-transfer whatever the protocol's speed: change i happens
// when the server has read (i+1)/(Count+1) of Size. With Every set, change i
// happens (i+1)·Every after the start instead, as long as the transfer runs.
type DisruptionScenario struct {
	Name   string
	Change PathChange
	Count  int   // how many changes at most
	Size   int64 // bytes the client sends
	Every  time.Duration
	// Blackout is how long each ChangeBlackout lasts.
	Blackout time.Duration
	// NewClientIP, with ChangeBlackout, also gives the client a new
	// address in the middle of each blackout, as a phone that comes back
	// on another network.
	NewClientIP bool
	// Protocols lists the protocols to run (default TCP and limpet).
	Protocols []string `json:"protocols,omitempty"`
	// StallLimit ends a transfer that made no progress for this long: the
	// connection is counted as hung (TCP across an address change waits
	// for minutes).
	StallLimit time.Duration
	// IPv6 runs the transfer between the lab's IPv6 addresses.
	IPv6 bool
	// PathMTU is the MTU ChangePathMTU and ChangePathMTUBlackHole narrow
	// the path to. With MTURestore set, the path's own MTU comes back that
	// long after each narrowing, and the restore counts as a change of its
	// own (so Count narrowings make 2·Count changes); zero leaves the path
	// narrow to the end.
	PathMTU    int
	MTURestore time.Duration
}

// ChangeOutcome is what one path change did to the transfer.
type ChangeOutcome struct {
	// At is when the change was in place (for a blackout: when the path
	// was restored), from the start of the transfer.
	At time.Duration `json:"at_ns"`
	// Stall is the longest time without data arriving at the server in
	// the interval from the change to the next one (or the end), counted
	// from the change: the outage the application saw. For a blackout it
	// is counted from the restore.
	Stall time.Duration `json:"stall_ns"`
	// FirstData is the time from the change to the next data arriving:
	// for a blackout, the time from path restored to data flowing.
	FirstData time.Duration `json:"first_data_ns"`
	// Resumed reports whether data arrived after the change at all.
	Resumed bool `json:"resumed"`
}

// ProgressSample is the server's byte count at a moment of the transfer,
// for plotting delivery over time.
type ProgressSample struct {
	At    time.Duration `json:"at_ns"`
	Bytes int64         `json:"bytes"`
}

// DisruptionResult is one protocol's run of a DisruptionScenario.
type DisruptionResult struct {
	Scenario string `json:"scenario"`
	Protocol string `json:"protocol"`
	// Survived: every byte arrived, in order, with the sender's SHA-256.
	Survived bool  `json:"survived"`
	Bytes    int64 `json:"bytes"`
	// Seconds is the whole transfer, from dial to the last byte read (or
	// to the failure).
	Seconds float64         `json:"seconds"`
	Changes []ChangeOutcome `json:"changes"`
	// Timeline is the server's progress, sampled at most every millisecond.
	Timeline []ProgressSample `json:"timeline,omitempty"`
	// Detail is the sender's view at the end: limpet's migration and loss
	// counters, or TCP's error.
	Detail string `json:"detail,omitempty"`
	// Path is limpet's view of the path at the end (datagram size, path
	// MTU discovery and ECN counters); nil for TCP.
	Path *PathStats `json:"path_stats,omitempty"`
	// DatagramSizes is limpet's ConnStats.MaxDatagramSize over the
	// transfer: its value when sampling began and every change after,
	// sampled every 10 ms.
	DatagramSizes []DatagramSizeSample `json:"datagram_sizes,omitempty"`
	// Resumptions and Resent are a limpet session's: how many times it
	// resumed on a new connection, and the bytes it sent again for that.
	Resumptions int    `json:"resumptions,omitempty"`
	Resent      int64  `json:"resent_bytes,omitempty"`
	Err         string `json:"error,omitempty"`
}

// DatagramSizeSample is limpet's largest datagram from a moment of the
// transfer on.
type DatagramSizeSample struct {
	At   time.Duration `json:"at_ns"`
	Size int           `json:"size"`
}

// DatagramSizeAbove is how long after after the sender's datagram size
// first exceeded size: zero if it already did at that moment, and ok false
// if it never did afterwards (or limpet's sizes were not sampled). The MTU
// rows ask it about the moment the path MTU rose back.
func (r DisruptionResult) DatagramSizeAbove(size int, after time.Duration) (d time.Duration, ok bool) {
	samples := r.DatagramSizes
	current := 0
	for len(samples) > 0 && samples[0].At <= after {
		current, samples = samples[0].Size, samples[1:]
	}
	if current > size {
		return 0, true
	}
	for _, s := range samples {
		if s.Size > size {
			return s.At - after, true
		}
	}
	return 0, false
}

// LongestStall is the worst outage after any change; ok is false if data
// never resumed after one of them.
func (r DisruptionResult) LongestStall() (stall time.Duration, ok bool) {
	for _, c := range r.Changes {
		if !c.Resumed {
			return 0, false
		}
		stall = max(stall, c.Stall)
	}
	return stall, true
}

// SlowestResume is the longest time from a change to the next data; ok is
// false if data never resumed after one of them.
func (r DisruptionResult) SlowestResume() (d time.Duration, ok bool) {
	for _, c := range r.Changes {
		if !c.Resumed {
			return 0, false
		}
		d = max(d, c.FirstData)
	}
	return d, true
}

// Outcome is the one-phrase verdict of a run for tables.
func (r DisruptionResult) Outcome() string {
	switch {
	case r.Survived:
		return "completed byte-exact"
	case strings.Contains(r.Err, "connection reset"):
		return "connection reset"
	case strings.HasPrefix(r.Err, "hung"):
		return r.Err
	case r.Err != "":
		return "failed: " + r.Err
	default:
		return "failed"
	}
}

// FormatDisruptionTable renders results as a markdown table, one row per
// run, in the order given.
func FormatDisruptionTable(results []DisruptionResult) string {
	var b strings.Builder
	b.WriteString("| scenario | protocol | outcome | delivered | first data after a change | longest stall | time |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|\n")
	for _, r := range results {
		resume, stall := "never", "never resumed"
		if d, ok := r.SlowestResume(); ok {
			resume = formatStall(d)
		}
		if s, ok := r.LongestStall(); ok {
			stall = formatStall(s)
		}
		if len(r.Changes) == 0 {
			resume, stall = "–", "–"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %.1f s |\n",
			r.Scenario, r.Protocol, r.Outcome(), formatMiB(r.Bytes), resume, stall, r.Seconds)
	}
	return b.String()
}

func formatStall(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	if d < time.Second {
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func formatMiB(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// changeOutcomes computes each change's stall from the server's progress
// samples. changesAt are the times the changes took effect, ascending; end
// is when the transfer ended.
func changeOutcomes(samples []ProgressSample, changesAt []time.Duration, end time.Duration) []ChangeOutcome {
	out := make([]ChangeOutcome, len(changesAt))
	for i, at := range changesAt {
		windowEnd := end
		if i+1 < len(changesAt) {
			windowEnd = changesAt[i+1]
		}
		out[i].At = at
		// The gap in progress at the change is counted from the change;
		// later gaps whole. A gap still open at windowEnd counts up to
		// there, and means no data came in the window if nothing followed.
		last := at
		for _, s := range samples {
			if s.At <= at {
				continue
			}
			if s.At > windowEnd {
				break
			}
			if !out[i].Resumed {
				out[i].FirstData = s.At - at
			}
			out[i].Stall = max(out[i].Stall, s.At-last)
			out[i].Resumed = true
			last = s.At
		}
		if !out[i].Resumed {
			// Nothing arrived before the next change; data arriving after
			// it says the connection lived, so the stall runs until then.
			for _, s := range samples {
				if s.At > at {
					out[i].Resumed = true
					out[i].Stall = s.At - at
					out[i].FirstData = out[i].Stall
					break
				}
			}
		}
	}
	return out
}

// ThinTimeline keeps at most n samples of the timeline, the first and last
// of each of n/2 equal stretches of time, so that the ends of every stall
// survive; the report's JSON and plots need no more.
func (d *DisruptionResult) ThinTimeline(n int) {
	if len(d.Timeline) <= n {
		return
	}
	pts := make([]svgplot.Point, len(d.Timeline))
	for i, s := range d.Timeline {
		pts[i] = svgplot.Point{X: float64(s.At), Y: float64(s.Bytes)}
	}
	kept := svgplot.Downsample(pts, n)
	d.Timeline = d.Timeline[:0]
	for _, p := range kept {
		d.Timeline = append(d.Timeline, ProgressSample{At: time.Duration(p.X), Bytes: int64(p.Y)})
	}
}
