package bench

import (
	"fmt"
	"time"
)

// Protocol names, as accepted by ParseProtocols and qbench's -protocols flag,
// and as they appear in Result.Protocol.
const (
	ProtocolTCPCubic = "tcp-cubic" // TCP with TCP_CONGESTION=cubic
	ProtocolTCPBBR   = "tcp-bbr"   // TCP with TCP_CONGESTION=bbr
	// ProtocolTCPCubicECN is tcp-cubic with ECN negotiated
	// (net.ipv4.tcp_ecn=1 at both ends), for the rows whose bottleneck
	// marks ECN. It needs the network lab, and runs only where a row asks
	// for it (PathSpec.CoDelECN) or -protocols names it.
	ProtocolTCPCubicECN = "tcp-cubic-ecn"
	ProtocolTLS         = "tls"     // TLS 1.3 (AES-128-GCM) over TCP with the kernel's default congestion control
	ProtocolQuicGo      = "quic-go" // one quic-go stream, client and server in child processes
	// ProtocolLimpet is one limpet stream with the default configuration:
	// adaptive FEC, and CUBIC that does not slow down for random loss.
	ProtocolLimpet = "limpet"
	// ProtocolLimpetNoFEC is one limpet stream with FEC off in both
	// directions (Config.FEC.Disable), to show what adaptive FEC costs
	// and buys.
	ProtocolLimpetNoFEC = "limpet-nofec"
	// ProtocolLimpetBBR is one limpet stream whose sender runs BBR
	// (Config.CongestionControl), otherwise as limpet.
	ProtocolLimpetBBR = "limpet-bbr"
	// ProtocolLimpetFEC is one limpet stream with fixed forward error
	// correction: 2 Reed-Solomon repair packets with every 8 (LimpetFEC).
	ProtocolLimpetFEC = "limpet-fec"
	// ProtocolLimpetNoECN is one limpet stream whose sender does not mark
	// its packets ECN-capable (Config.DisableECN), for the rows whose
	// bottleneck marks ECN; it runs only where a row asks for it or
	// -protocols names it.
	ProtocolLimpetNoECN = "limpet-noecn"
)

// MB is the megabyte of every MB/s figure: 10^6 bytes, as in anchors.md.
const MB = 1e6

// GiB is the gibibyte of every CPU s/GiB figure.
const GiB = 1 << 30

// Result is one measured transfer. A failed transfer keeps the bytes the
// server had read and the time until the failure, has zero MBps and
// CPUSecondsPerGiB, and says why in Err.
type Result struct {
	// Protocol is one of the Protocol constants.
	Protocol string `json:"protocol"`
	// Bytes is how many bytes the server read.
	Bytes int64 `json:"bytes"`
	// Seconds runs from the start of the dial to the server having read
	// the last byte.
	Seconds float64 `json:"seconds"`
	// MBps is Bytes/Seconds in MB (10^6 bytes) per second.
	MBps float64 `json:"mb_per_s"`
	// CPUSecondsPerGiB is the process's user+sys CPU time over the transfer
	// (client and server together) divided by the GiB moved.
	CPUSecondsPerGiB float64 `json:"cpu_s_per_gib"`
	// TTFB is the time from the start of the dial to the server's first
	// read returning data: handshake plus one trip.
	TTFB time.Duration `json:"ttfb_ns"`
	// Retransmitted is how many bytes the sender retransmitted (TCP_INFO's
	// tcpi_bytes_retrans for TCP and TLS, ConnStats.BytesRetransmitted for
	// limpet, the bytes of lost packets for quic-go).
	Retransmitted uint64 `json:"retransmitted_bytes"`
	// Detail records what was negotiated, so a reader can check the
	// comparison is the intended one: the congestion controller the kernel
	// actually used, the TLS cipher suite, or limpet's connection stats.
	Detail string `json:"detail,omitempty"`
	// Bottleneck is what held limpet's sender back over the connection's
	// life (transport.BottleneckReport); nil for the other protocols.
	Bottleneck *Bottleneck `json:"bottleneck,omitempty"`
	// Path is what the sender knew about the path at the end: limpet's
	// datagram size and ECN state, TCP's segment size and ECN, and the
	// queueing delay; nil for quic-go.
	Path *PathStats `json:"path_stats,omitempty"`
	// Err is the reason the transfer failed; empty on success.
	Err string `json:"error,omitempty"`

	// Capped marks a run stopped at the plan's time cap before it moved
	// every byte: on a slow path the figures then describe the bytes
	// delivered until the cap, and Err is empty.
	Capped bool `json:"capped,omitempty"`

	// cause is the error behind Err, kept for errors.Is in tests.
	cause error
	// partialCPU is the CPU time of a failed run, kept so that a run cut
	// by the time cap can still report its cost.
	partialCPU time.Duration
}

// OK reports whether the transfer completed.
func (r Result) OK() bool { return r.Err == "" }

// failedResult is the Result of a transfer that failed before or during the
// measurement.
func failedResult(protocol string, err error) Result {
	return Result{Protocol: protocol, Err: err.Error(), cause: err}
}

// complete fills the derived figures of a successful transfer.
func (r *Result) complete(elapsed time.Duration, cpu time.Duration) {
	r.Seconds = elapsed.Seconds()
	if r.Seconds > 0 {
		r.MBps = float64(r.Bytes) / MB / r.Seconds
	}
	if r.Bytes > 0 {
		r.CPUSecondsPerGiB = cpu.Seconds() / (float64(r.Bytes) / GiB)
	}
}

// String is the one-line form qbench prints as progress.
func (r Result) String() string {
	if !r.OK() {
		return fmt.Sprintf("%s: FAIL after %d bytes, %.2f s: %s", r.Protocol, r.Bytes, r.Seconds, r.Err)
	}
	s := fmt.Sprintf("%s: %s in %.2f s = %s MB/s, %.2f CPU s/GiB, TTFB %v, %d bytes retransmitted",
		r.Protocol, FormatSize(r.Bytes), r.Seconds, formatMBps(r.MBps), r.CPUSecondsPerGiB,
		r.TTFB.Round(time.Microsecond), r.Retransmitted)
	if r.Detail != "" {
		s += " (" + r.Detail + ")"
	}
	if r.Path != nil {
		s += "; path: " + r.Path.String()
	}
	if r.Bottleneck != nil {
		s += "; limited by " + r.Bottleneck.String()
	}
	return s
}
