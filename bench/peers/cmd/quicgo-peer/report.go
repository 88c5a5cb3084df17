package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"time"
)

// serverReport is the server's JSON line. package bench parses it (its
// quicGoServerReport mirrors these field names).
type serverReport struct {
	// Bytes is how many stream bytes the server read.
	Bytes int64 `json:"bytes"`
	// FirstByteUnixNano is when the first read returned data.
	FirstByteUnixNano int64 `json:"first_byte_unix_ns"`
	// DoneUnixNano is when the last byte had been read, or when reading
	// stopped early.
	DoneUnixNano int64 `json:"done_unix_ns"`
	// CPUBeforeNanos is the process's user+sys time when it started
	// listening: set-up the harness leaves out of the transfer's cost.
	CPUBeforeNanos int64 `json:"cpu_before_ns"`
	sharedReport
}

// clientReport is the client's JSON line.
type clientReport struct {
	// Bytes is how many stream bytes the client wrote.
	Bytes int64 `json:"bytes"`
	// DialStartUnixNano is when the client began to dial: the start of the
	// measured interval, as for the in-process protocols.
	DialStartUnixNano int64 `json:"dial_start_unix_ns"`
	// HandshakeDoneUnixNano is when Dial returned.
	HandshakeDoneUnixNano int64 `json:"handshake_done_unix_ns"`
	// CPUBeforeNanos is the process's user+sys time just before dialling.
	CPUBeforeNanos int64 `json:"cpu_before_ns"`
	// QUICVersion is the negotiated QUIC version, such as "v1".
	QUICVersion string `json:"quic_version"`
	// GSO says whether quic-go sent with UDP generic segmentation offload.
	GSO bool `json:"gso"`
	// The sender's counters from quic-go's ConnectionStats. quic-go
	// retransmits the frames of lost packets, never whole packets, so
	// BytesLost (lost packets' QUIC bytes) is the nearest it has to TCP's
	// retransmitted bytes.
	BytesSent        uint64 `json:"bytes_sent"`
	PacketsSent      uint64 `json:"packets_sent"`
	BytesLost        uint64 `json:"bytes_lost"`
	PacketsLost      uint64 `json:"packets_lost"`
	CongestionWindow uint64 `json:"congestion_window"`
	SmoothedRTTNanos int64  `json:"smoothed_rtt_ns"`
	MinRTTNanos      int64  `json:"min_rtt_ns"`
	sharedReport
}

// sharedReport holds what both sides report.
type sharedReport struct {
	// CipherSuite is the negotiated TLS 1.3 suite by its IANA name.
	CipherSuite string `json:"cipher_suite"`
	// QuicGoVersion is the quic-go module version linked in.
	QuicGoVersion string `json:"quic_go_version"`
	// GOMAXPROCS is the Go runtime's processor limit in this process.
	GOMAXPROCS int `json:"gomaxprocs"`
	// UDPReceiveBuffer and UDPSendBuffer are SO_RCVBUF and SO_SNDBUF as
	// the kernel reports them after quic-go raised them (Linux reports
	// twice the size asked for); zero where they cannot be read.
	UDPReceiveBuffer int `json:"udp_rcvbuf"`
	UDPSendBuffer    int `json:"udp_sndbuf"`
	// Warnings are the lines quic-go logged, such as a UDP buffer it could
	// not raise.
	Warnings []string `json:"warnings,omitempty"`
	// Error says why the transfer stopped early; empty on success. A
	// report with an error still gives the bytes moved until then, which
	// the harness uses for a run it cut short at a time cap.
	Error string `json:"error,omitempty"`
}

// unixNano is t in Unix nanoseconds, or 0 for the zero time (an event that
// did not happen).
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// writeReport prints r as one JSON line.
func writeReport(w io.Writer, r any) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding report: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}

// newSharedReport fills in what is known at start-up.
func newSharedReport() sharedReport {
	return sharedReport{QuicGoVersion: quicGoVersion(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
}

// quicGoVersion is the version of github.com/quic-go/quic-go in this
// binary's build information.
func quicGoVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == "github.com/quic-go/quic-go" {
			if dep.Replace != nil {
				return dep.Version + " (replaced)"
			}
			return dep.Version
		}
	}
	return "unknown"
}
