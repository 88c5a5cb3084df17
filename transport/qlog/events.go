// Package qlog writes limpet's event traces in the qlog format
// (draft-ietf-quic-qlog-main-schema and the QUIC event definitions), as
// JSON-SEQ files that qvis (https://qvis.quictools.info) and other qlog
// tools read: set transport.Config.QLogLogger to
//
//	slog.New(qlog.NewJSONHandler(qlog.HandlerOptions{Dir: dir}))
//
// and every connection writes <group_id>_<client|server>.sqlog in dir. The
// transport logs each event as a slog record whose message is the event's
// name and whose attributes are its data, so any slog.Handler can take
// them instead.
//
// Event names use the categories qvis reads (transport:, recovery:,
// security:, connectivity:), which the latest drafts have merged into
// quic:; the names are the constants below, so that a change is made in
// one place. Events of limpet's own (FEC, delivery receipts, the
// bottleneck counters) are in the limpet: namespace.
package qlog

import "log/slog"

// Levels: each event is logged at one of these, and a handler's level
// chooses how much is written.
const (
	// LevelFrame adds each packet's frames to its packet events.
	LevelFrame = slog.Level(-6)
	// LevelPacket logs every packet sent, received, lost and dropped.
	LevelPacket = slog.Level(-4)
	// LevelConn logs the connection's state: metrics, congestion state,
	// paths, keys, parameters, start and end.
	LevelConn = slog.Level(-2)
	// LevelEndpoint logs what happens to datagrams of no connection.
	LevelEndpoint = slog.Level(0)
)

// Event names.
const (
	ConnectionStarted      = "connectivity:connection_started"
	ConnectionClosed       = "connectivity:connection_closed"
	ConnectionStateUpdated = "connectivity:connection_state_updated"
	PathAssigned           = "connectivity:path_assigned"
	MigrationStateUpdated  = "transport:migration_state_updated"
	ParametersSet          = "transport:parameters_set"
	PacketSent             = "transport:packet_sent"
	PacketReceived         = "transport:packet_received"
	PacketDropped          = "transport:packet_dropped"
	PacketLost             = "recovery:packet_lost"
	MetricsUpdated         = "recovery:metrics_updated"
	CongestionStateUpdated = "recovery:congestion_state_updated"
	KeyUpdated             = "security:key_updated"
	// MTUUpdated: the path's datagram size changed (path MTU discovery
	// confirmed a larger one, or a black hole sent it back to 1200); done
	// says the search has ended.
	MTUUpdated = "connectivity:mtu_updated"
	// ECNStateUpdated: the path's ECN validation changed state (testing,
	// unknown, capable, failed).
	ECNStateUpdated = "recovery:ecn_state_updated"

	// FECRecovered: the receiver rebuilt a packet from repair symbols
	// (docs/PROTOCOL.md section 10).
	FECRecovered = "limpet:fec_recovered"
	// SpuriousLoss: a packet declared lost was acknowledged after all.
	SpuriousLoss = "limpet:spurious_loss"
	// Limited: what held the sender back changed (the bottleneck report's
	// states: application, congestion_window, pacing, peer_stream_window,
	// peer_connection_window, socket, cpu).
	Limited = "limpet:limited"
	// QueueDropped: datagrams for the connection dropped on arrival
	// because its queue was full (its loop was behind), counted since the
	// last such event.
	QueueDropped = "limpet:queue_dropped"
	// DropsSuppressed: how many packet_dropped events of the endpoint were
	// left out in the last second (at most 100 are written per second).
	DropsSuppressed = "limpet:drops_suppressed"
)
