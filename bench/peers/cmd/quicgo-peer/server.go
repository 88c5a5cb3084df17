package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/quic-go/quic-go"
)

// readBuffer is the server's read size, as in package bench: larger than
// the client's writes so that reads never hold the sender back.
const readBuffer = 256 << 10

// closeGrace bounds the wait, after the receipt, for the client to close
// the connection: quic-go would otherwise keep it until the idle timeout.
const closeGrace = 10 * time.Second

// Application error codes in CONNECTION_CLOSE.
const (
	codeDone    quic.ApplicationErrorCode = 0
	codeAborted quic.ApplicationErrorCode = 1
)

// runServer accepts one connection and one stream and reads it to its end.
func runServer(ctx context.Context, o options, stdout io.Writer, warnings *logWarnings) error {
	tlsConfig, err := serverTLSConfig(time.Now())
	if err != nil {
		return err
	}
	laddr, err := net.ResolveUDPAddr("udp", o.listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	udp, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	tr := &quic.Transport{Conn: udp}
	defer tr.Close()
	ln, err := tr.Listen(tlsConfig, nil)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()

	report := serverReport{sharedReport: newSharedReport()}
	report.UDPReceiveBuffer, report.UDPSendBuffer = socketBuffers(udp)
	cpuBefore, err := cpuTime()
	if err != nil {
		return err
	}
	report.CPUBeforeNanos = int64(cpuBefore)
	if _, err := fmt.Fprintf(stdout, "listening on %s\n", udp.LocalAddr()); err != nil {
		return err
	}

	conn, err := ln.Accept(ctx)
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	defer conn.CloseWithError(codeAborted, "server gave up")
	// Stream reads take no context: closing the connection ends them.
	stop := context.AfterFunc(ctx, func() { conn.CloseWithError(codeAborted, "server stopped") })
	defer stop()
	str, err := conn.AcceptStream(ctx)
	if err != nil {
		return fmt.Errorf("accept stream: %w", err)
	}
	n, first, err := drain(str, o.size)
	report.Bytes = n
	report.FirstByteUnixNano, report.DoneUnixNano = unixNano(first), time.Now().UnixNano()
	report.CipherSuite = tls.CipherSuiteName(conn.ConnectionState().TLS.CipherSuite)
	report.Warnings = warnings.Lines()
	if err != nil {
		err = fmt.Errorf("read after %d bytes: %w", n, err)
		report.Error = err.Error()
		writeReport(stdout, report)
		return err
	}
	// Closing our side of the stream is the client's receipt that every
	// byte arrived.
	if err := str.Close(); err != nil {
		return fmt.Errorf("closing stream: %w", err)
	}
	if err := writeReport(stdout, report); err != nil {
		return err
	}

	wait, cancel := context.WithTimeout(ctx, closeGrace)
	defer cancel()
	select {
	case <-conn.Context().Done():
	case <-wait.Done():
	}
	return nil
}

// errTooMuch reports a client that sent more than -size bytes.
var errTooMuch = errors.New("client sent more than -size bytes")

// drain reads r to its end, which must come after exactly size bytes, and
// says when the first byte arrived.
func drain(r io.Reader, size int64) (n int64, first time.Time, err error) {
	buf := make([]byte, readBuffer)
	for {
		m, err := r.Read(buf)
		if m > 0 && n == 0 {
			first = time.Now()
		}
		n += int64(m)
		switch {
		case n > size:
			return n, first, errTooMuch
		case err == io.EOF && n < size:
			return n, first, io.ErrUnexpectedEOF
		case err == io.EOF:
			return n, first, nil
		case err != nil:
			return n, first, err
		}
	}
}
