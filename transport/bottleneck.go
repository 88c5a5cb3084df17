package transport

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// Limit names what held a connection's sender back, in a
// BottleneckReport; its value is a short identifier (for JSON and
// metrics), Description the words for a person.
type Limit string

// The limits, from ConnStats.Limited, and the peer waiting on our credit.
const (
	LimitApplication     Limit = "application"
	LimitCongestion      Limit = "congestion_window"
	LimitPacing          Limit = "pacing"
	LimitPeerStream      Limit = "peer_stream_window"
	LimitPeerConn        Limit = "peer_connection_window"
	LimitSocket          Limit = "socket"
	LimitCPU             Limit = "cpu"
	LimitOurStreamWindow Limit = "our_stream_window"
	LimitOurConnWindow   Limit = "our_connection_window"
)

// Description is the limit in words.
func (l Limit) Description() string {
	switch l {
	case LimitApplication:
		return "the application (nothing to send)"
	case LimitCongestion:
		return "the congestion window"
	case LimitPacing:
		return "pacing"
	case LimitPeerStream:
		return "the peer's stream window"
	case LimitPeerConn:
		return "the peer's connection window"
	case LimitSocket:
		return "the socket"
	case LimitCPU:
		return "the CPU (the connection busy processing packets)"
	case LimitOurStreamWindow:
		return "our stream window"
	case LimitOurConnWindow:
		return "our connection window"
	}
	return string(l)
}

// BottleneckReport says why a connection moved data as fast as it did over
// an interval: the share of the time each limit held the sender back, the
// loss rate and RTT, the rate a loss-based congestion controller can reach
// at that loss and RTT, the goodput achieved, and a line of advice when
// one limit dominates.
type BottleneckReport struct {
	Elapsed time.Duration
	// Shares of Elapsed, by limit, largest first.
	Shares []LimitShare
	// PeerWaited is how much of Elapsed the peer reported waiting for our
	// stream or connection credit.
	PeerWaited []LimitShare
	// LossRate is packets declared lost per packet sent (ACK-only
	// packets, never declared lost, included: a receiver's rate is low).
	LossRate float64
	// RandomLossShare is the fraction of the lost packets that congestion
	// control judged random and did not slow down for (ConnStats.RandomLosses).
	RandomLossShare     float64
	SmoothedRTT, MinRTT time.Duration
	// GoodputSent and GoodputRead are the stream bytes sent for the first
	// time and read by the application, per second.
	GoodputSent, GoodputRead float64
	// LossBound estimates what a loss-based controller gets at LossRate
	// and SmoothedRTT, in bytes per second: the larger of the Mathis
	// formula (TCP Reno) and CUBIC's response function (RFC 9438 §5.1);
	// zero without loss. A model, not a limit: random loss, one flow.
	LossBound float64
	// DatagramSize is the datagram size path MTU discovery had reached at
	// the end; ECN is the path's ECN validation state and CEMarks the
	// packets the peer reported marked Congestion Experienced.
	DatagramSize int
	ECN          ECNState
	CEMarks      uint64
	// SocketReceiveDrops is how many datagrams the kernel dropped for a
	// full receive buffer on this side's socket (Linux only), and
	// QueueDrops how many the connection dropped because its loop was
	// behind (ConnStats).
	SocketReceiveDrops, QueueDrops uint64
	// Advice is one line on the dominant limit, or "".
	Advice string

	packetsReceived uint64
}

// LimitShare is one limit's part of a report.
type LimitShare struct {
	Limit    Limit
	Duration time.Duration
	Share    float64 // of BottleneckReport.Elapsed
}

// reportDatagramSize is the packet size the loss bound assumes when the
// snapshot has none.
const reportDatagramSize = packet.DefaultMaxUDPPayload

// NewBottleneckReport builds the report for the interval between two
// Stats snapshots of one connection; pass the zero ConnStats as before for
// the connection's whole life.
func NewBottleneckReport(before, after ConnStats) BottleneckReport {
	d := func(a, b time.Duration) time.Duration { return max(a-b, 0) }
	l, p := after.Limited, before.Limited
	r := BottleneckReport{SmoothedRTT: after.SmoothedRTT, MinRTT: after.MinRTT}
	for _, s := range []LimitShare{
		{Limit: LimitApplication, Duration: d(l.Application, p.Application)},
		{Limit: LimitCongestion, Duration: d(l.CongestionWindow, p.CongestionWindow)},
		{Limit: LimitPacing, Duration: d(l.Pacing, p.Pacing)},
		{Limit: LimitPeerStream, Duration: d(l.PeerStreamWindow, p.PeerStreamWindow)},
		{Limit: LimitPeerConn, Duration: d(l.PeerConnWindow, p.PeerConnWindow)},
		{Limit: LimitSocket, Duration: d(l.Socket, p.Socket)},
		{Limit: LimitCPU, Duration: d(l.CPU, p.CPU)},
	} {
		r.Elapsed += s.Duration
		r.Shares = append(r.Shares, s)
	}
	r.PeerWaited = []LimitShare{
		{Limit: LimitOurStreamWindow, Duration: d(after.PeerWaitedOnOurStreamWindow, before.PeerWaitedOnOurStreamWindow)},
		{Limit: LimitOurConnWindow, Duration: d(after.PeerWaitedOnOurConnWindow, before.PeerWaitedOnOurConnWindow)},
	}
	if r.Elapsed > 0 {
		for i := range r.Shares {
			r.Shares[i].Share = float64(r.Shares[i].Duration) / float64(r.Elapsed)
		}
		for i := range r.PeerWaited {
			r.PeerWaited[i].Share = min(float64(r.PeerWaited[i].Duration)/float64(r.Elapsed), 1)
		}
	}
	sortShares(r.Shares)
	if sent := after.PacketsSent - before.PacketsSent; sent > 0 {
		r.LossRate = float64(after.PacketsLost-before.PacketsLost) / float64(sent)
	}
	if lost := after.PacketsLost - before.PacketsLost; lost > 0 {
		r.RandomLossShare = min(float64(after.RandomLosses-before.RandomLosses)/float64(lost), 1)
	}
	if secs := r.Elapsed.Seconds(); secs > 0 {
		r.GoodputSent = float64(after.StreamBytesSent-before.StreamBytesSent) / secs
		r.GoodputRead = float64(after.StreamBytesRead-before.StreamBytesRead) / secs
	}
	// The bound scales with the datagram: loss strikes per packet.
	size := after.MaxDatagramSize
	if size <= 0 {
		size = reportDatagramSize
	}
	r.LossBound = LossBound(r.LossRate, r.SmoothedRTT, size)
	r.DatagramSize, r.ECN = after.MaxDatagramSize, after.ECN
	r.CEMarks = after.ECNCEMarks - min(before.ECNCEMarks, after.ECNCEMarks)
	r.SocketReceiveDrops = after.SocketReceiveDrops - min(before.SocketReceiveDrops, after.SocketReceiveDrops)
	r.QueueDrops = after.QueueDrops - min(before.QueueDrops, after.QueueDrops)
	r.packetsReceived = after.PacketsReceived - min(before.PacketsReceived, after.PacketsReceived)
	r.Advice = r.advice()
	return r
}

func sortShares(s []LimitShare) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].Duration > s[j-1].Duration; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// LossBound estimates the throughput, in bytes per second, that a
// loss-based congestion controller sustains at loss rate p and round-trip time rtt
// with packets of mss bytes: the larger of the Mathis formula,
// mss/rtt × √(3/2) / √p, which CUBIC's Reno-friendly region follows, and
// CUBIC's own average window, (C(3+β)/(4(1−β)))^¼ × rtt^¾ / p^¾ packets with
// C = 0.4 and β = 0.7 (RFC 9438 §5.1, RFC 8312 §5.1). It is 0 when p or rtt
// is 0: without loss nothing bounds it.
func LossBound(p float64, rtt time.Duration, mss int) float64 {
	if p <= 0 || rtt <= 0 {
		return 0
	}
	r := rtt.Seconds()
	reno := math.Sqrt(1.5) / math.Sqrt(p)
	const c, beta = 0.4, 0.7
	cubic := math.Pow(c*(3+beta)/(4*(1-beta)), 0.25) * math.Pow(r, 0.75) / math.Pow(p, 0.75)
	return max(reno, cubic) * float64(mss) / r
}

// advice words the dominant limit, if one held the sender back more than
// half the time.
func (r BottleneckReport) advice() string {
	if len(r.Shares) == 0 || r.Elapsed == 0 {
		return ""
	}
	// Datagrams dropped before the connection could read them were lost
	// here, not on the path: more than 1% is worth fixing first.
	if r.SocketReceiveDrops > 0 && r.SocketReceiveDrops*100 > r.packetsReceived {
		return fmt.Sprintf("the socket's receive buffer overflowed: %d datagrams dropped on arrival (this side's CPU does not keep up, or the buffer is too small)", r.SocketReceiveDrops)
	}
	if r.QueueDrops > 0 && r.QueueDrops*100 > r.packetsReceived {
		return fmt.Sprintf("the connection's receive queue overflowed: %d datagrams dropped on arrival (its loop does not keep up: this side's CPU)", r.QueueDrops)
	}
	for _, w := range r.PeerWaited {
		if w.Share > 0.5 {
			knob := "MaxStreamWindow"
			if w.Limit == LimitOurConnWindow {
				knob = "MaxConnWindow"
			}
			return fmt.Sprintf("the peer waited for %s %.0f%% of the time: raise Config.%s here", w.Limit.Description(), 100*w.Share, knob)
		}
	}
	share := func(l Limit) float64 {
		for _, s := range r.Shares {
			if s.Limit == l {
				return s.Share
			}
		}
		return 0
	}
	// The window and pacing are one limit seen twice: the congestion
	// controller's rate, spent in bursts or spread over the round trip.
	// They count together against the largest other limit.
	var top LimitShare
	for _, s := range r.Shares {
		if s.Limit != LimitCongestion && s.Limit != LimitPacing {
			top = s
			break
		}
	}
	if cc := share(LimitCongestion) + share(LimitPacing); cc > 0.5 {
		pct := 100 * cc
		if r.LossRate >= 0.001 && r.RandomLossShare >= 0.5 {
			return fmt.Sprintf("limited by the congestion controller %.0f%% of the time, with %.2f%% loss, %.0f%% of it judged random and not slowed down for: the path's capacity", pct, 100*r.LossRate, 100*r.RandomLossShare)
		}
		if r.LossRate >= 0.001 {
			return fmt.Sprintf("limited by the congestion controller %.0f%% of the time, with %.2f%% loss that came with a queue or at a high rate, taken as congestion (a loss-based controller gets about %s there): if it is not, Config.CongestionControl BBR slows down only for loss above 2%%", pct, 100*r.LossRate, rateString(r.LossBound))
		}
		return fmt.Sprintf("limited by the congestion controller %.0f%% of the time: the path's capacity", pct)
	}
	if top.Share <= 0.5 {
		return ""
	}
	pct := 100 * top.Share
	switch top.Limit {
	case LimitPeerStream:
		return fmt.Sprintf("limited by the peer's stream window %.0f%% of the time: raise Config.MaxStreamWindow on the receiver", pct)
	case LimitPeerConn:
		return fmt.Sprintf("limited by the peer's connection window %.0f%% of the time: raise Config.MaxConnWindow on the receiver", pct)
	case LimitApplication:
		if r.GoodputSent == 0 {
			return "" // a receiver: it had nothing to send by design
		}
		return fmt.Sprintf("the application had nothing to send %.0f%% of the time: it is the bottleneck, not the network", pct)
	case LimitSocket:
		return fmt.Sprintf("limited by the socket %.0f%% of the time: sends blocked or failed (a full send buffer, a rate-limited interface)", pct)
	case LimitCPU:
		return fmt.Sprintf("busy processing packets %.0f%% of the time: the CPU here is the bottleneck", pct)
	}
	return ""
}

// String is the report as a few lines for a person.
func (r BottleneckReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "over %v: ", r.Elapsed.Round(time.Millisecond))
	first := true
	for _, s := range r.Shares {
		if s.Share < 0.005 {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		fmt.Fprintf(&b, "%s %.0f%%", s.Limit.Description(), 100*s.Share)
	}
	for _, w := range r.PeerWaited {
		if w.Share >= 0.005 {
			fmt.Fprintf(&b, "; the peer waited for %s %.0f%%", w.Limit.Description(), 100*w.Share)
		}
	}
	fmt.Fprintf(&b, "\nloss %.3f%%, RTT %v (min %v); goodput sent %s",
		100*r.LossRate, r.SmoothedRTT.Round(time.Microsecond), r.MinRTT.Round(time.Microsecond), rateString(r.GoodputSent))
	if r.GoodputRead > 0 {
		fmt.Fprintf(&b, ", read %s", rateString(r.GoodputRead))
	}
	if r.LossBound > 0 {
		fmt.Fprintf(&b, "; a loss-based controller gets about %s at this loss and RTT", rateString(r.LossBound))
	}
	if r.DatagramSize > 0 {
		fmt.Fprintf(&b, "\ndatagrams of %d bytes; ECN %v", r.DatagramSize, r.ECN)
		if r.CEMarks > 0 {
			fmt.Fprintf(&b, ", %d CE marks", r.CEMarks)
		}
	}
	if r.SocketReceiveDrops > 0 {
		fmt.Fprintf(&b, "; %d datagrams dropped by a full receive buffer", r.SocketReceiveDrops)
	}
	if r.QueueDrops > 0 {
		fmt.Fprintf(&b, "; %d dropped by a full connection queue", r.QueueDrops)
	}
	if r.Advice != "" {
		b.WriteString("\n" + r.Advice)
	}
	return b.String()
}

// rateString writes bytes per second as Mbit/s.
func rateString(bytesPerSecond float64) string {
	return fmt.Sprintf("%.1f Mbit/s", bytesPerSecond*8/1e6)
}
