package bench

import (
	"fmt"
	"strings"
	"time"
)

// PathStats is what a transfer's sender knew about the path at the end:
// the packet size it had settled on, what ECN did, and how much queue it
// kept standing at the bottleneck. Fields a protocol does not report are
// zero.
type PathStats struct {
	// MaxDatagramSize is limpet's largest UDP payload
	// (transport.ConnStats.MaxDatagramSize): 1200 until path MTU
	// discovery confirms more. MTUProbesSent, MTUProbesLost and
	// MTUBlackHoles are the discovery's counters.
	MaxDatagramSize int    `json:"max_datagram_size,omitempty"`
	MTUProbesSent   uint64 `json:"mtu_probes_sent,omitempty"`
	MTUProbesLost   uint64 `json:"mtu_probes_lost,omitempty"`
	MTUBlackHoles   uint64 `json:"mtu_black_holes,omitempty"`
	// MSS is TCP's sending segment size (TCP_INFO tcpi_snd_mss), which
	// path MTU discovery lowers.
	MSS int `json:"mss,omitempty"`
	// ECN is limpet's ECN validation state (transport.ECNState: testing,
	// unknown, capable, failed), or for TCP "on" or "off": whether the
	// connection negotiated ECN.
	ECN string `json:"ecn,omitempty"`
	// CEMarks counts congestion marks the sender heard of: for limpet the
	// packets the peer reported CE (ECNCEMarks), for TCP the packets
	// acknowledged with ECE (tcpi_delivered_ce), which with classic ECN
	// repeats until the sender's CWR, so it overcounts the marks.
	CEMarks uint64 `json:"ce_marks,omitempty"`
	// ECNCongestionEvents counts limpet's window reductions for CE marks.
	ECNCongestionEvents uint64 `json:"ecn_congestion_events,omitempty"`
	// QueueDelay is the smoothed RTT above the minimum RTT at the end of
	// the transfer (limpet SmoothedRTT − MinRTT, TCP tcpi_rtt −
	// tcpi_min_rtt): the queue the sender kept standing at the
	// bottleneck, as it saw it.
	QueueDelay time.Duration `json:"queue_delay_ns,omitempty"`
}

// String is the compact form of the result line.
func (p PathStats) String() string {
	var parts []string
	if p.MaxDatagramSize > 0 {
		parts = append(parts, fmt.Sprintf("datagrams %d B", p.MaxDatagramSize))
	}
	if p.MTUProbesSent > 0 || p.MTUBlackHoles > 0 {
		parts = append(parts, fmt.Sprintf("MTU probes %d sent, %d lost, %d black holes", p.MTUProbesSent, p.MTUProbesLost, p.MTUBlackHoles))
	}
	if p.MSS > 0 {
		parts = append(parts, fmt.Sprintf("MSS %d B", p.MSS))
	}
	if p.ECN != "" {
		s := "ECN " + p.ECN
		if p.CEMarks > 0 {
			s += fmt.Sprintf(", %d CE", p.CEMarks)
		}
		parts = append(parts, s)
	}
	parts = append(parts, "queue "+formatDelay(p.QueueDelay))
	return strings.Join(parts, ", ")
}

// formatDelay writes a queueing delay in milliseconds, to a tenth below
// 10 ms.
func formatDelay(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// queueDelay is srtt − min RTT, never negative.
func queueDelay(srtt, minRTT time.Duration) time.Duration {
	if minRTT <= 0 || srtt < minRTT {
		return 0
	}
	return srtt - minRTT
}
