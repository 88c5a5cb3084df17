package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/quic-go/quic-go"
)

// writeChunk is the client's write size, the same for every protocol the
// harness compares.
const writeChunk = 64 << 10

// runClient dials, sends o.size bytes on one stream and waits for the
// server's receipt.
func runClient(ctx context.Context, o options, stdout io.Writer, warnings *logWarnings) error {
	raddr, err := net.ResolveUDPAddr("udp", o.addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	// Unconnected and on the wildcard address, as a QUIC client's socket
	// usually is.
	udp, err := net.ListenUDP("udp", nil)
	if err != nil {
		return fmt.Errorf("opening UDP socket: %w", err)
	}
	tr := &quic.Transport{Conn: udp}
	defer tr.Close()
	chunk := payload()

	report := clientReport{sharedReport: newSharedReport()}
	cpuBefore, err := cpuTime()
	if err != nil {
		return err
	}
	report.CPUBeforeNanos = int64(cpuBefore)
	start := time.Now()
	report.DialStartUnixNano = start.UnixNano()
	conn, err := tr.Dial(ctx, raddr, clientTLSConfig(), nil)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	report.HandshakeDoneUnixNano = time.Now().UnixNano()
	defer conn.CloseWithError(codeAborted, "client gave up")
	// Stream writes and reads take no context: closing the connection
	// ends them.
	stop := context.AfterFunc(ctx, func() { conn.CloseWithError(codeAborted, "client stopped") })
	defer stop()

	if err := send(ctx, conn, chunk, o.size, &report.Bytes); err != nil {
		// What the sender did until it stopped still describes the path.
		report.fill(conn, udp, warnings)
		report.Error = err.Error()
		writeReport(stdout, report)
		return err
	}
	report.fill(conn, udp, warnings)
	if err := conn.CloseWithError(codeDone, ""); err != nil {
		return fmt.Errorf("closing connection: %w", err)
	}
	return writeReport(stdout, report)
}

// send writes size bytes in chunks on a new stream, counting them in *sent,
// and waits for the server's receipt.
func send(ctx context.Context, conn *quic.Conn, chunk []byte, size int64, sent *int64) error {
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	for *sent < size {
		n := min(int64(len(chunk)), size-*sent)
		m, err := str.Write(chunk[:n])
		*sent += int64(m)
		if err != nil {
			return fmt.Errorf("write after %d bytes: %w", *sent, err)
		}
	}
	if err := str.Close(); err != nil {
		return fmt.Errorf("closing stream: %w", err)
	}
	// The server closes its side once it has read every byte.
	if extra, err := io.Copy(io.Discard, str); err != nil || extra != 0 {
		return fmt.Errorf("waiting for the server's receipt: %d unexpected bytes, error %v", extra, err)
	}
	return nil
}

// fill records what the connection negotiated and the sender's counters.
func (report *clientReport) fill(conn *quic.Conn, udp *net.UDPConn, warnings *logWarnings) {
	state := conn.ConnectionState()
	stats := conn.ConnectionStats()
	report.CipherSuite = tls.CipherSuiteName(state.TLS.CipherSuite)
	report.QUICVersion = state.Version.String()
	report.GSO = state.GSO
	report.BytesSent, report.PacketsSent = stats.BytesSent, stats.PacketsSent
	report.BytesLost, report.PacketsLost = stats.BytesLost, stats.PacketsLost
	report.CongestionWindow = stats.CongestionWindow
	report.SmoothedRTTNanos, report.MinRTTNanos = int64(stats.SmoothedRTT), int64(stats.MinRTT)
	report.UDPReceiveBuffer, report.UDPSendBuffer = socketBuffers(udp)
	report.Warnings = warnings.Lines()
}

// payload is the chunk the client writes: a fixed non-zero pattern (the
// same xorshift sequence as package bench), so nothing along the way can
// profit from runs of zeros.
func payload() []byte {
	b := make([]byte, writeChunk)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
