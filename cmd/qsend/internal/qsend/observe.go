package qsend

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/limpetnet/limpet/transport"
	"github.com/limpetnet/limpet/transport/qlog"
)

// qlogLogger returns the logger that writes each connection's qlog trace
// into dir (--qlog), creating dir; nil when dir is empty.
func qlogLogger(dir string) (*slog.Logger, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--qlog: %w", err)
	}
	return slog.New(qlog.NewJSONHandler(qlog.HandlerOptions{Dir: dir, Level: qlog.LevelPacket})), nil
}

// BottleneckSummary is the bottleneck report (--stats) in a Summary.
type BottleneckSummary struct {
	// Limited is the share of the connection's time each limit held the
	// sender back (transport.Limit names), and PeerWaited the share the
	// peer waited for this side's flow-control credit.
	Limited    map[string]float64 `json:"limited"`
	PeerWaited map[string]float64 `json:"peer_waited,omitempty"`
	LossRate   float64            `json:"loss_rate"`
	SmoothedMS float64            `json:"smoothed_rtt_ms"`
	MinRTTMS   float64            `json:"min_rtt_ms"`
	// LossBoundMbps is what a loss-based congestion controller gets at
	// that loss and RTT, in Mbit/s; 0 without loss.
	LossBoundMbps float64 `json:"loss_bound_mbit_per_s"`
	// SocketReceiveDrops counts datagrams the kernel dropped for a full
	// receive buffer on this side (Linux).
	SocketReceiveDrops uint64 `json:"socket_receive_drops"`
	// DatagramSize is the datagram size path MTU discovery settled on;
	// ECN the path's ECN validation state and CEMarks the CE marks the
	// peer reported.
	DatagramSize int    `json:"datagram_size"`
	ECN          string `json:"ecn"`
	CEMarks      uint64 `json:"ce_marks"`
	Advice       string `json:"advice,omitempty"`
}

func bottleneckSummary(r transport.BottleneckReport) *BottleneckSummary {
	b := &BottleneckSummary{
		Limited:       make(map[string]float64),
		LossRate:      round6(r.LossRate),
		SmoothedMS:    round3(float64(r.SmoothedRTT) / float64(time.Millisecond)),
		MinRTTMS:      round3(float64(r.MinRTT) / float64(time.Millisecond)),
		LossBoundMbps: round3(r.LossBound * 8 / 1e6),
		Advice:        r.Advice,

		SocketReceiveDrops: r.SocketReceiveDrops,
		DatagramSize:       r.DatagramSize,
		ECN:                r.ECN.String(),
		CEMarks:            r.CEMarks,
	}
	for _, s := range r.Shares {
		b.Limited[string(s.Limit)] = round3(s.Share)
	}
	for _, w := range r.PeerWaited {
		if w.Share > 0 {
			if b.PeerWaited == nil {
				b.PeerWaited = make(map[string]float64)
			}
			b.PeerWaited[string(w.Limit)] = round3(w.Share)
		}
	}
	return b
}

func round6(v float64) float64 { return float64(int64(v*1e6+0.5)) / 1e6 }

// logReport writes the bottleneck report to the console, a line each.
func logReport(con *console, r transport.BottleneckReport) {
	for _, line := range strings.Split(r.String(), "\n") {
		con.logf("stats: %s", line)
	}
}
