package transport

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/congestion"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/qlog"
)

// qlogState is a connection's event trace (Config.QLogLogger). With no
// logger every method returns at its first line, so a connection without
// a trace pays one nil check per event.
type qlogState struct {
	h slog.Handler // nil: no trace
	// The metrics last logged, so that only changes are.
	cwnd, inFlight      int
	srtt, minRTT, rttvr time.Duration
	pacing              uint64
	phase               string
	keyPhase            bool
	queueDrops          uint64
}

// enabled reports whether events at level are written.
func (q *qlogState) enabled(level slog.Level) bool {
	return q.h != nil && q.h.Enabled(context.Background(), level)
}

// event hands one event to the handler directly: slog.Logger would look
// up the caller's program counter for every record, which a trace does
// not use.
func (q *qlogState) event(level slog.Level, name string, attrs ...slog.Attr) {
	r := slog.NewRecord(time.Now(), level, name, 0)
	r.AddAttrs(attrs...)
	_ = q.h.Handle(context.Background(), r)
}

// startQlog opens the connection's trace, named by the original DCID, and
// logs its start.
func (c *Conn) startQlog(logger *slog.Logger) {
	if logger == nil {
		return
	}
	side := "client"
	if c.isServer {
		side = "server"
	}
	c.qlog.h = logger.Handler().WithAttrs([]slog.Attr{
		slog.String("group_id", hex.EncodeToString(c.hs.origDCID.Bytes())),
		slog.Group("vantage_point", slog.String("name", "limpet"), slog.String("type", side)),
	})
	if !c.qlog.enabled(qlog.LevelConn) {
		return
	}
	c.qlog.event(qlog.LevelConn, qlog.ConnectionStarted,
		slog.Any("local", endpointInfo(c.ep.bind().LocalAddr(), c.ids.localCID)),
		slog.Any("remote", endpointInfo(c.path.peer, c.ids.remoteCID)))
}

// endpointInfo is qlog's EndpointInfo for addr and cid.
func endpointInfo(addr netip.AddrPort, cid packet.ConnectionID) map[string]any {
	m := map[string]any{"connection_ids": []string{hex.EncodeToString(cid.Bytes())}}
	if addr.Addr().Is4() {
		m["ip_v4"], m["port_v4"] = addr.Addr().String(), addr.Port()
	} else {
		m["ip_v6"], m["port_v6"] = addr.Addr().String(), addr.Port()
	}
	return m
}

// qlogParameters logs the transport parameters of one side.
func (c *Conn) qlogParameters(initiator string, p packet.TransportParameters) {
	if !c.qlog.enabled(qlog.LevelConn) {
		return
	}
	c.qlog.event(qlog.LevelConn, qlog.ParametersSet,
		slog.String("initiator", initiator),
		slog.Duration("max_idle_timeout", p.MaxIdleTimeout),
		slog.Int64("max_udp_payload_size", p.MaxUDPPayloadSize),
		slog.Int64("initial_max_data", p.InitialMaxData),
		slog.Int64("initial_max_stream_data_bidi_local", p.InitialMaxStreamDataBidiLocal),
		slog.Int64("initial_max_stream_data_bidi_remote", p.InitialMaxStreamDataBidiRemote),
		slog.Int64("initial_max_stream_data_uni", p.InitialMaxStreamDataUni),
		slog.Uint64("initial_max_streams_bidi", p.InitialMaxStreamsBidi),
		slog.Uint64("initial_max_streams_uni", p.InitialMaxStreamsUni),
		slog.Uint64("active_connection_id_limit", p.ActiveConnIDLimit),
		slog.Uint64("limpet:fec", p.FECMaxRepairSymbols),
		slog.Any("limpet:application_protocols", p.ApplicationProtocols),
	)
}

// qlogFramesOf describes the frames of a plaintext payload when frames
// are traced, and returns nil otherwise.
func (c *Conn) qlogFramesOf(payload []byte) []map[string]any {
	if !c.qlog.enabled(qlog.LevelFrame) {
		return nil
	}
	return qlogFrames(payload)
}

// qlogPacket logs a 1-RTT packet sent or received, with its frames if they
// are traced (qlogFramesOf).
func (c *Conn) qlogPacket(name string, pn packet.PacketNumber, size int, frames []map[string]any) {
	if !c.qlog.enabled(qlog.LevelPacket) {
		return
	}
	attrs := []slog.Attr{
		slog.Group("header", slog.String("packet_type", "1RTT"), slog.Int64("packet_number", int64(pn))),
		slog.Group("raw", slog.Int("length", size)),
	}
	if frames != nil {
		attrs = append(attrs, slog.Any("frames", frames))
	}
	c.qlog.event(qlog.LevelPacket, name, attrs...)
}

// qlogInitial logs an Initial packet sent or received.
func (c *Conn) qlogInitial(name string, pn packet.PacketNumber, size int) {
	if !c.qlog.enabled(qlog.LevelPacket) {
		return
	}
	c.qlog.event(qlog.LevelPacket, name,
		slog.Group("header", slog.String("packet_type", "initial"), slog.Int64("packet_number", int64(pn))),
		slog.Group("raw", slog.Int("length", size)))
}

// drop counts a datagram or packet the connection dropped in counter and
// traces it with its reason.
func (c *Conn) drop(counter *atomic.Uint64, size int, trigger string) {
	counter.Add(1)
	c.qlogDropped(size, trigger)
}

// qlogDropped logs a datagram or packet the connection dropped, and why
// (qlog's triggers: decryption_failure, duplicate, invalid, ...).
func (c *Conn) qlogDropped(size int, trigger string) {
	if !c.qlog.enabled(qlog.LevelPacket) {
		return
	}
	c.qlog.event(qlog.LevelPacket, qlog.PacketDropped,
		slog.Group("raw", slog.Int("length", size)), slog.String("trigger", trigger))
}

// qlogLost logs a packet loss detection declared.
func (c *Conn) qlogLost(pn packet.PacketNumber, trigger string) {
	if !c.qlog.enabled(qlog.LevelPacket) {
		return
	}
	attrs := []slog.Attr{slog.Group("header", slog.String("packet_type", "1RTT"), slog.Int64("packet_number", int64(pn)))}
	if trigger != "" {
		attrs = append(attrs, slog.String("trigger", trigger))
	}
	c.qlog.event(qlog.LevelPacket, qlog.PacketLost, attrs...)
}

// qlogMetrics logs the recovery metrics and congestion state that changed
// since they were last logged; the loop calls it once per iteration.
func (c *Conn) qlogMetrics(now time.Time) {
	if !c.qlog.enabled(qlog.LevelConn) {
		return
	}
	q := &c.qlog
	cwnd, inFlight := c.loss.cc.Window(), c.loss.BytesInFlight()
	srtt, minRTT, rttvar := c.loss.rtt.Smoothed(), c.loss.rtt.Min(), c.loss.rtt.Var()
	pacing := c.loss.pacer.Rate()
	if cwnd != q.cwnd || inFlight != q.inFlight || srtt != q.srtt || minRTT != q.minRTT || rttvar != q.rttvr || pacing != q.pacing {
		q.cwnd, q.inFlight, q.srtt, q.minRTT, q.rttvr, q.pacing = cwnd, inFlight, srtt, minRTT, rttvar, pacing
		attrs := []slog.Attr{
			slog.Int("congestion_window", cwnd),
			slog.Int("bytes_in_flight", inFlight),
			slog.Uint64("pacing_rate", pacing*8), // bits per second
			slog.Int("pto_count", c.loss.PTOCount()),
		}
		if c.loss.rtt.HasSample() {
			// Before the first sample the estimator holds RFC 9002's
			// initial guess, not a measurement.
			attrs = append(attrs,
				slog.Duration("min_rtt", minRTT),
				slog.Duration("smoothed_rtt", srtt),
				slog.Duration("latest_rtt", c.loss.rtt.Latest()),
				slog.Duration("rtt_variance", rttvar))
		}
		c.qlog.event(qlog.LevelConn, qlog.MetricsUpdated, attrs...)
	}
	if ph := congestionPhase(c.loss.cc); ph != q.phase {
		old := q.phase
		q.phase = ph
		attrs := []slog.Attr{slog.String("new", ph)}
		if old != "" {
			attrs = append(attrs, slog.String("old", old))
		}
		c.qlog.event(qlog.LevelConn, qlog.CongestionStateUpdated, attrs...)
	}
	if n := c.rx.dropped.Load(); n != q.queueDrops {
		// Dropped by the reader goroutine, which does not trace: the
		// loop reports how many since the last time.
		c.qlog.event(qlog.LevelConn, qlog.QueueDropped, slog.Uint64("count", n-q.queueDrops))
		q.queueDrops = n
	}
	if c.keys != nil && c.keys.KeyPhase() != q.keyPhase {
		q.keyPhase = c.keys.KeyPhase()
		// A key update replaces the keys of both directions.
		for _, kt := range []string{"client_1rtt_secret", "server_1rtt_secret"} {
			c.qlog.event(qlog.LevelConn, qlog.KeyUpdated,
				slog.String("key_type", kt), slog.Uint64("key_phase", c.keys.Generation()))
		}
	}
}

// congestionPhase names the controller's state as qlog does.
func congestionPhase(cc congestion.Controller) string {
	if p, ok := cc.(interface{ Phase() congestion.Phase }); ok {
		return p.Phase().String()
	}
	if b, ok := cc.(*congestion.BBR); ok {
		return "limpet:bbr_" + b.State().String()
	}
	if cc.InSlowStart() {
		return "slow_start"
	}
	return "congestion_avoidance"
}

// qlogEvent logs a connection-level event with the given data.
func (c *Conn) qlogEvent(name string, attrs ...slog.Attr) {
	if !c.qlog.enabled(qlog.LevelConn) {
		return
	}
	c.qlog.event(qlog.LevelConn, name, attrs...)
}

// qlogClosed ends the trace with why the connection ended.
func (c *Conn) qlogClosed(err error) {
	if c.qlog.h == nil {
		return
	}
	attrs := []slog.Attr{slog.String("reason", err.Error())}
	var te *TransportError
	var ae *ApplicationError
	trigger := "error"
	switch {
	case errors.As(err, &te):
		attrs = append(attrs, slog.String("initiator", initiator(te.Remote)), slog.Uint64("error_code", uint64(te.Code)))
		if te.Code == NoError {
			trigger = "clean"
		}
	case errors.As(err, &ae):
		attrs = append(attrs, slog.String("initiator", initiator(ae.Remote)), slog.Uint64("application_error", uint64(ae.Code)))
		trigger = "application"
	case err == ErrIdleTimeout:
		trigger = "idle_timeout"
	case err == ErrHandshakeTimeout:
		trigger = "handshake_timeout"
	case err == ErrStatelessReset:
		trigger = "stateless_reset"
	}
	attrs = append(attrs, slog.String("trigger", trigger))
	// At Error, above any handler's threshold, so the trace always ends
	// and its file is closed.
	c.qlog.event(slog.LevelError, qlog.ConnectionClosed, attrs...)
	c.qlog.h = nil // nothing follows the end
}

func initiator(remote bool) string {
	if remote {
		return "remote"
	}
	return "local"
}
