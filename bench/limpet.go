//go:build !nolimpet

package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
	"github.com/limpetnet/limpet/transport/qlog"
)

// RunLimpet moves size bytes on one limpet stream over nw: the client
// writes in 64 KiB chunks, half-closes, and waits for the receipt that the
// server application has read every byte (Stream.WaitConsumed). The clock
// still stops when the server has read the last byte, as for TCP.
func RunLimpet(ctx context.Context, nw Network, size int64) Result {
	return runLimpet(ctx, nw, size, ProtocolLimpet, transport.Config{})
}

// RunLimpetNoECN is RunLimpet with the client's ECN marking off
// (Config.DisableECN), to measure what ECN buys on a marking bottleneck.
func RunLimpetNoECN(ctx context.Context, nw Network, size int64) Result {
	return runLimpet(ctx, nw, size, ProtocolLimpetNoECN, transport.Config{DisableECN: true})
}

// RunLimpetBBR is RunLimpet with the client's sender running BBR.
func RunLimpetBBR(ctx context.Context, nw Network, size int64) Result {
	return runLimpet(ctx, nw, size, ProtocolLimpetBBR, transport.Config{CongestionControl: transport.CongestionBBR})
}

// RunLimpetNoFEC is RunLimpet with FEC off at both ends.
func RunLimpetNoFEC(ctx context.Context, nw Network, size int64) Result {
	return runLimpet(ctx, nw, size, ProtocolLimpetNoFEC, transport.Config{FEC: transport.FECConfig{Disable: true}})
}

// LimpetFEC is the forward error correction of the limpet-fec protocol:
// 2 repair packets with every 8, as qsend --fec sends.
var LimpetFEC = transport.FECConfig{GroupSize: 8, Repair: 2}

// RunLimpetFEC is RunLimpet with the client sending LimpetFEC.
func RunLimpetFEC(ctx context.Context, nw Network, size int64) Result {
	return runLimpet(ctx, nw, size, ProtocolLimpetFEC, transport.Config{FEC: LimpetFEC})
}

// runLimpet runs the transfer with the client configured as tune says
// (its FEC and ECN settings; the keys are filled in).
func runLimpet(ctx context.Context, nw Network, size int64, protocol string, tune transport.Config) Result {
	key, err := crypto.GenerateKey()
	if err != nil {
		return failedResult(protocol, err)
	}
	closers := new(closerSet)
	ln, err := listenLimpet(nw, key, tune.FEC)
	if err != nil {
		return failedResult(protocol, fmt.Errorf("listen: %w", err))
	}
	closers.add(ln)

	var client *transport.Conn
	var stream *transport.Stream
	return transfer(ctx, size, session{
		protocol: protocol,
		closers:  closers,
		accept: func(ctx context.Context) (io.Reader, error) {
			conn, err := ln.Accept(ctx)
			if err != nil {
				return nil, err
			}
			closers.add(conn)
			return conn.AcceptStream(ctx)
		},
		dial: func(ctx context.Context) (io.Writer, error) {
			conn, err := dialLimpet(ctx, nw, ln.Addr().(*net.UDPAddr).AddrPort(), key.Public(), tune)
			if err != nil {
				return nil, err
			}
			closers.add(conn)
			client = conn
			stream, err = conn.OpenStream(ctx)
			return stream, err
		},
		finish: func(ctx context.Context) error {
			if err := stream.CloseWrite(); err != nil {
				return err
			}
			return stream.WaitConsumed(ctx, size)
		},
		stats: func() (uint64, string, error) {
			st := client.Stats()
			return st.BytesRetransmitted, describeStats(st), nil
		},
		bottleneck: func() *Bottleneck {
			return newBottleneck(transport.NewBottleneckReport(transport.ConnStats{}, client.Stats()))
		},
		path: func() *PathStats { return limpetPathStats(client.Stats()) },
	})
}

// limpetPathStats is the PathStats of a limpet sender.
func limpetPathStats(st transport.ConnStats) *PathStats {
	return &PathStats{
		MaxDatagramSize:     st.MaxDatagramSize,
		MTUProbesSent:       st.MTUProbesSent,
		MTUProbesLost:       st.MTUProbesLost,
		MTUBlackHoles:       st.MTUBlackHoles,
		ECN:                 st.ECN.String(),
		CEMarks:             st.ECNCEMarks,
		ECNCongestionEvents: st.ECNCongestionEvents,
		QueueDelay:          queueDelay(st.SmoothedRTT, st.MinRTT),
	}
}

// listenLimpet starts a limpet listener on nw's server side, with FEC as
// the client's fec has it: off, fixed (decoding only), or adaptive.
func listenLimpet(nw Network, key crypto.PrivateKey, fec transport.FECConfig) (*transport.Listener, error) {
	bind, err := udpBind(nw.ListenUDP())
	if err != nil {
		return nil, err
	}
	srvFEC := transport.FECConfig{Disable: fec.Disable, GroupSize: fec.GroupSize}
	return transport.ListenBind(bind, &transport.Config{PrivateKey: key, FEC: srvFEC, QLogLogger: qlogLogger()})
}

// QlogDir, if set, is where limpet runs write the qlog traces of both
// ends of every connection, with every frame (qbench -qlog).
var QlogDir string

var qlogLoggers struct {
	sync.Mutex
	byDir map[string]*slog.Logger
}

// qlogLogger is the logger for QlogDir: one for every run, so that the
// endpoint events share one endpoint.sqlog.
func qlogLogger() *slog.Logger {
	if QlogDir == "" {
		return nil
	}
	qlogLoggers.Lock()
	defer qlogLoggers.Unlock()
	l := qlogLoggers.byDir[QlogDir]
	if l == nil {
		l = slog.New(qlog.NewJSONHandler(qlog.HandlerOptions{Dir: QlogDir, Level: qlog.LevelFrame}))
		if qlogLoggers.byDir == nil {
			qlogLoggers.byDir = make(map[string]*slog.Logger)
		}
		qlogLoggers.byDir[QlogDir] = l
	}
	return l
}

// dialLimpet connects from nw's client side, configured as tune says.
func dialLimpet(ctx context.Context, nw Network, addr netip.AddrPort, server crypto.PublicKey, tune transport.Config) (*transport.Conn, error) {
	bind, err := udpBind(nw.ClientUDP())
	if err != nil {
		return nil, err
	}
	tune.ServerKey, tune.QLogLogger = server, qlogLogger()
	return transport.DialBind(ctx, bind, addr, &tune)
}

// udpBind wraps a socket from a Network for the transport, closing it if
// that fails.
func udpBind(sock *net.UDPConn, err error) (transport.Bind, error) {
	if err != nil {
		return nil, err
	}
	bind, err := transport.NewUDPBind(sock)
	if err != nil {
		sock.Close()
		return nil, err
	}
	return bind, nil
}

// describeStats is the Detail of a limpet row: what the sender's congestion
// controller and loss recovery did.
func describeStats(st transport.ConnStats) string {
	s := fmt.Sprintf("srtt %v, cwnd %d B, %d packets sent, %d lost (%d judged random), %d window cuts for loss",
		st.SmoothedRTT.Round(time.Microsecond), st.CongestionWindow, st.PacketsSent, st.PacketsLost, st.RandomLosses, st.LossCongestionEvents)
	if st.FECRepairSent > 0 {
		s += fmt.Sprintf(", %d FEC repair packets", st.FECRepairSent)
	}
	return s
}

// SelfTest dials a limpet listener on loopback, sends SelfTestSize random
// bytes on one stream, has the server echo them, and checks the echo
// byte-for-byte by SHA-256. It is the quick "does the protocol work at all"
// line qbench prints before spending minutes on the comparison.
func SelfTest(ctx context.Context) SelfTestResult {
	res := SelfTestResult{Protocol: ProtocolLimpet, Bytes: SelfTestSize}
	sent := make([]byte, SelfTestSize)
	rand.Read(sent)
	sum := sha256.Sum256(sent)
	res.SHA256 = hex.EncodeToString(sum[:])

	if err := selfTest(ctx, sent, &res); err != nil {
		res.Err = err.Error()
	}
	return res
}

func selfTest(parent context.Context, sent []byte, res *SelfTestResult) error {
	key, err := crypto.GenerateKey()
	if err != nil {
		return err
	}
	closers := new(closerSet)
	defer closers.closeAll()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	stop := context.AfterFunc(ctx, closers.closeAll)
	defer stop()

	start := time.Now()
	ln, err := transport.Listen("127.0.0.1:0", &transport.Config{PrivateKey: key})
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	closers.add(ln)

	var (
		wg       sync.WaitGroup
		failOnce sync.Once
		firstErr error
	)
	fail := func(err error) { failOnce.Do(func() { firstErr = err; cancel() }) }
	wg.Go(func() {
		if err := echoOnce(ctx, ln, closers, int64(len(sent))); err != nil {
			fail(fmt.Errorf("server: %w", err))
		}
	})

	conn, err := transport.Dial(ctx, ln.Addr().String(), &transport.Config{ServerKey: key.Public()})
	if err != nil {
		fail(fmt.Errorf("dial: %w", err))
		wg.Wait()
		return firstErr
	}
	closers.add(conn)
	s, err := conn.OpenStream(ctx)
	if err != nil {
		fail(fmt.Errorf("open stream: %w", err))
		wg.Wait()
		return firstErr
	}
	// Write and read at once: the echo comes back while we still send.
	wg.Go(func() {
		if _, err := s.Write(sent); err != nil {
			fail(fmt.Errorf("client write: %w", err))
			return
		}
		if err := s.CloseWrite(); err != nil {
			fail(fmt.Errorf("client close: %w", err))
		}
	})
	got, err := io.ReadAll(io.LimitReader(s, int64(len(sent))+1))
	if err != nil {
		fail(fmt.Errorf("client read after %d bytes: %w", len(got), err))
	}
	res.Elapsed = time.Since(start)
	wg.Wait()
	if firstErr != nil {
		if parent.Err() != nil && !errors.Is(firstErr, parent.Err()) {
			return fmt.Errorf("%w (%v)", parent.Err(), firstErr)
		}
		return firstErr
	}
	if gotSum, wantSum := sha256.Sum256(got), sha256.Sum256(sent); len(got) != len(sent) || !bytes.Equal(gotSum[:], wantSum[:]) {
		return fmt.Errorf("echo differs: got %d bytes with sha256 %x, want %d bytes with sha256 %x",
			len(got), gotSum[:8], len(sent), wantSum[:8])
	}
	res.Detail = describeStats(conn.Stats())
	return nil
}

// echoOnce accepts one connection and one stream, reads up to size bytes to
// the peer's FIN, writes them back and half-closes. The connection stays in
// closers, open until the client has read the echo. More than size bytes is
// an error: the buffer is bounded.
func echoOnce(ctx context.Context, ln *transport.Listener, closers *closerSet, size int64) error {
	conn, err := ln.Accept(ctx)
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	closers.add(conn)
	s, err := conn.AcceptStream(ctx)
	if err != nil {
		return fmt.Errorf("accept stream: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(s, size+1))
	if err != nil {
		return fmt.Errorf("read after %d bytes: %w", len(data), err)
	}
	if int64(len(data)) > size {
		return fmt.Errorf("client sent more than %d bytes", size)
	}
	if _, err := s.Write(data); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}
