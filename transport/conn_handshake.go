package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/qlog"
)

// handshakeState is the Noise IK handshake carried in Initial packets
// (docs/PROTOCOL.md section 4.5), and the Retry that may precede it
// (section 2.2). It is owned by the loop, except that a server's is filled
// in by acceptConn before the loop starts.
type handshakeState struct {
	initSeal *crypto.Sealer
	initOpen *crypto.Opener
	client   *crypto.ClientHandshake // client, until message 2 is read
	out      []byte                  // our handshake message (1 or 2), resent as needed

	resendAt  time.Time     // client: when message 1 goes out again
	backoff   time.Duration // client: the current retransmission interval
	resends   int           // server: copies of message 1 to answer with message 2
	nextPN    packet.PacketNumber
	largestRx packet.PacketNumber // largest Initial packet number opened

	confirmed bool // handshake confirmed (docs/PROTOCOL.md section 4.6)
	sendDone  bool // server: HANDSHAKE_DONE due
	// acceptDue: the server confirmed the handshake; the connection goes
	// to Accept at the end of the loop's iteration, unless a packet
	// processed with the confirming one closed it.
	acceptDue bool
	deadline  time.Time // the handshake must be confirmed by then
	// lastDeadline caps a server's deadline, which each copy of message 1
	// pushes back (halfOpenIdle).
	lastDeadline time.Time
	// source is the client's source (sourceOf) on a server: what its
	// handshake slot and connection count against. holdsSlot says the
	// slot is still held; Endpoint.mu guards it.
	source    netip.Addr
	holdsSlot bool

	// origDCID is the DCID of the client's first Initial. It seeds the
	// Initial keys and the handshake prologue unless a Retry intervened;
	// a Retry's integrity tag covers it, and a server that sent a Retry
	// echoes it in original_destination_connection_id.
	origDCID packet.ConnectionID
	// retried says the client followed a Retry, or the server accepted the
	// token of one; then retrySrcCID is that Retry's SCID, which the server
	// announces in retry_source_connection_id, and the client repeats
	// retryToken in every Initial.
	retried     bool
	retrySrcCID packet.ConnectionID
	retryToken  []byte

	// peerKey, suite and appProto are what the handshake settled, written
	// once before established is closed (ConnectionState).
	peerKey  crypto.PublicKey
	suite    crypto.Suite
	appProto string
	exporter [32]byte
}

// halfOpenIdle is how long a server keeps a handshake that is not
// confirmed while the client sends nothing, so that clients that abandon
// handshakes free their slots in seconds. An honest client whose message 2
// was lost sends message 1 again within 3 s (its backoff's cap), which
// pushes the deadline back, up to HandshakeTimeout in all.
const halfOpenIdle = 3500 * time.Millisecond

// maxHandshakeMessage bounds a handshake message: it must fit one Initial
// packet, and the CRYPTO frames of one packet cannot reach past this.
const maxHandshakeMessage = 4096

// initialFrames is what the frames of one Initial packet carried.
type initialFrames struct {
	// message is the handshake message, when the packet's CRYPTO frames
	// covered [0, end) without a gap (docs/PROTOCOL.md section 4.5).
	message []byte
	// hasCrypto says the packet had CRYPTO frames, whole message or not.
	hasCrypto bool
	close     *packet.ConnectionCloseFrame
}

// parseInitialFrames checks and parses the payload of an Initial packet.
// Only PADDING, PING, ACK, CRYPTO and transport CONNECTION_CLOSE may appear
// (docs/PROTOCOL.md section 2.1): another known frame is a
// PROTOCOL_VIOLATION, an unknown or malformed one a FRAME_ENCODING_ERROR.
// A handshake message lies whole in one packet, in one or more CRYPTO
// frames; overlapping frames must agree byte for byte.
func parseInitialFrames(p []byte) (initialFrames, error) {
	var out initialFrames
	var pieces []packet.CryptoFrame
	end := int64(0)
	for len(p) > 0 {
		ft, _, err := packet.PeekFrameType(p)
		if err != nil {
			return out, protoErr(packet.FrameEncodingError, ft, err.Error())
		}
		if !ft.Known() {
			return out, protoErr(packet.FrameEncodingError, ft, "unknown frame type")
		}
		if !ft.AllowedInInitial() {
			return out, protoErr(packet.ProtocolViolation, ft, "frame not allowed in an Initial packet")
		}
		var n int
		switch ft {
		case packet.FramePadding:
			_, n, _ = packet.ParsePaddingFrame(p)
		case packet.FramePing:
			n = 1
		case packet.FrameAck, packet.FrameAckECN:
			// Initial packets are never acknowledged by limpet, and
			// nothing is sent that an ACK here could acknowledge; the
			// frame is checked and ignored.
			_, n, err = packet.ParseAckFrame(p, nil)
		case packet.FrameCrypto:
			var f packet.CryptoFrame
			f, n, err = packet.ParseCryptoFrame(p)
			if err == nil {
				out.hasCrypto = true
				end = max(end, f.Offset+int64(len(f.Data)))
				if end > maxHandshakeMessage {
					return out, protoErr(packet.CryptoBufferExceeded, ft, "handshake message too long")
				}
				pieces = append(pieces, f)
			}
		case packet.FrameConnectionClose:
			var f packet.ConnectionCloseFrame
			f, n, err = packet.ParseConnectionCloseFrame(p)
			out.close = &f
		}
		if err != nil {
			return out, protoErr(packet.FrameEncodingError, ft, err.Error())
		}
		p = p[n:]
	}
	msg, err := assembleCrypto(pieces, end)
	out.message = msg
	return out, err
}

// assembleCrypto joins one packet's CRYPTO frames into the message they
// carry, or returns nil if they leave a gap.
func assembleCrypto(pieces []packet.CryptoFrame, end int64) ([]byte, error) {
	switch {
	case len(pieces) == 0 || end == 0:
		return nil, nil
	case len(pieces) == 1:
		if pieces[0].Offset != 0 {
			return nil, nil
		}
		return pieces[0].Data, nil
	}
	msg := make([]byte, end)
	have := make([]bool, end)
	for _, f := range pieces {
		for i, v := range f.Data {
			at := f.Offset + int64(i)
			if have[at] && msg[at] != v {
				return nil, protoErr(packet.ProtocolViolation, packet.FrameCrypto, "overlapping CRYPTO frames disagree")
			}
			msg[at], have[at] = v, true
		}
	}
	for _, ok := range have {
		if !ok {
			return nil, nil
		}
	}
	return msg, nil
}

// firstInitial is a client's first Initial packet, opened by an accepting
// endpoint before any connection exists.
type firstInitial struct {
	hdr         packet.LongHeader
	seal        *crypto.Sealer // the server's Initial keys for hdr.DstConnID
	open        *crypto.Opener
	pn          packet.PacketNumber
	message     []byte                       // message 1
	refusal     *packet.ConnectionCloseFrame // why the packet cannot start a handshake
	from        netip.AddrPort
	local       netip.Addr // the address the Initial came to
	now         time.Time
	datagramLen int
	// origDCID is the DCID of the client's very first Initial: this one's,
	// or the one a Retry token carries; retried says a valid token came.
	origDCID packet.ConnectionID
	retried  bool
	// replayed says the handshake failed as a replay, caught before any
	// Diffie-Hellman work.
	replayed bool
}

// openFirstInitial removes the protection of a client's first Initial
// packet with the server's Initial keys (docs/PROTOCOL.md section 4.3) and
// parses its frames. It fails when the packet does not open: it was not
// sealed for this server's key, or was altered. A packet that opens but
// cannot start a handshake (a forbidden frame, reserved bits, no message 1)
// comes back with refusal set.
func openFirstInitial(pub crypto.PublicKey, pkt []byte, h packet.LongHeader) (*firstInitial, error) {
	in := &firstInitial{hdr: h, origDCID: h.DstConnID}
	// Only the opener until the packet opens: most datagrams that fail
	// here are junk sent to make the server work.
	open := crypto.NewInitialOpener(pub, h.DstConnID.Bytes())
	pnLen, trunc, byte0, err := open.UnprotectHeader(pkt, h.PNOffset)
	if err != nil {
		return nil, err
	}
	in.pn = packet.DecodePacketNumber(packet.InvalidPacketNumber, trunc, pnLen)
	payload, err := open.Open(pkt, h.PNOffset, pnLen, uint64(in.pn))
	if err != nil {
		return nil, err
	}
	in.seal, in.open = crypto.NewInitialKeys(pub, h.DstConnID.Bytes(), false)
	refuse := func(code packet.TransportErrorCode, ft packet.FrameType, reason string) (*firstInitial, error) {
		in.refusal = &packet.ConnectionCloseFrame{ErrorCode: uint64(code), FrameType: ft, Reason: []byte(reason)}
		return in, nil
	}
	if packet.ReservedBitsSet(byte0) {
		return refuse(packet.ProtocolViolation, 0, "reserved header bits set")
	}
	frames, err := parseInitialFrames(payload)
	if te, ok := err.(*transportError); ok {
		return refuse(te.code, te.frame, te.reason)
	}
	if frames.message == nil {
		return refuse(packet.ProtocolViolation, packet.FrameCrypto, "first Initial does not carry message 1 whole")
	}
	in.message = frames.message
	return in, nil
}

// acceptConn runs the server's half of the handshake for a client's first
// Initial (docs/PROTOCOL.md section 4.5) and returns the new connection,
// ready for its loop, with message 2 due. It returns nil when the handshake
// fails, and with it the CONNECTION_CLOSE to answer with, if the client is
// to be told (a replayed or forged message 1 is not).
func acceptConn(e *Endpoint, in *firstInitial) (*Conn, *packet.ConnectionCloseFrame) {
	c := newConn(e, true, *e.lcfg, in.from, in.now)
	c.path.local = in.local
	c.ids.remoteCID = in.hdr.SrcConnID
	c.hs.origDCID = in.origDCID
	if in.retried {
		// The client echoed our token from the address it was sent to: the
		// address is validated, and the transport parameters prove to the
		// client that this server sent the Retry (RFC 9000 §7.3).
		c.hs.retried = true
		c.hs.retrySrcCID = in.hdr.DstConnID
		c.path.validated = true
	}
	c.hs.largestRx = in.pn
	c.hs.source = sourceOf(in.from)
	c.hs.lastDeadline = c.hs.deadline
	c.hs.deadline = minTime(in.now.Add(halfOpenIdle), c.hs.lastDeadline)
	c.hs.initSeal, c.hs.initOpen = in.seal, in.open
	c.stats.packetsReceived.Add(1)
	var clientParams packet.TransportParameters
	var paramErr error
	msg2, res, err := e.hs.Accept(in.message, in.hdr.DstConnID.Bytes(), in.now, func(raw []byte) ([]byte, error) {
		clientParams, paramErr = checkClientParams(raw, in.hdr.SrcConnID)
		if paramErr == nil {
			c.hs.appProto, paramErr = chooseApplicationProtocol(c.cfg.ApplicationProtocols, clientParams.ApplicationProtocols)
		}
		if paramErr != nil {
			return nil, paramErr
		}
		return c.localParams().Append(nil), nil
	})
	if err != nil {
		in.replayed = errors.Is(err, crypto.ErrReplay)
		return nil, handshakeRefusal(err, paramErr)
	}
	c.keys = res.Keys
	c.hs.peerKey, c.hs.suite, c.hs.exporter = res.PeerStatic, res.Suite, res.ExporterSecret
	// The trace starts once the handshake has succeeded, so that Initials
	// refused open no file.
	c.startQlog(e.lcfg.QLogLogger)
	c.qlogInitial(qlog.PacketReceived, in.pn, in.datagramLen)
	c.applyPeerParams(clientParams, in.now)
	c.initConnIDs(nil)
	c.state = stateActive
	c.diag(slog.LevelDebug, "handshake complete", slog.String("suite", res.Suite.String()))
	c.hs.out = msg2
	c.hs.resends = 1
	c.path.bytesRecv = int64(in.datagramLen)
	close(c.established)
	return c, nil
}

// checkClientParams parses a client's transport parameters and checks the
// one it must send: initial_source_connection_id, equal to the SCID of its
// Initial packets (docs/PROTOCOL.md section 6, RFC 9000 §7.3).
func checkClientParams(raw []byte, scid packet.ConnectionID) (packet.TransportParameters, error) {
	p, err := packet.ParseTransportParameters(raw, false)
	if err != nil {
		return p, err
	}
	if !p.HasInitialSrcConnID {
		return p, errors.New("initial_source_connection_id missing")
	}
	if p.InitialSrcConnID != scid {
		return p, errors.New("initial_source_connection_id does not match the Initial's source connection ID")
	}
	return p, nil
}

// errNoApplicationProtocol: client and server have lists of application
// protocols with nothing in common.
var errNoApplicationProtocol = errors.New("no application protocol in common")

// chooseApplicationProtocol picks the first of the server's protocols the
// client offered (docs/PROTOCOL.md section 6). Without a list on either
// side there is no protocol to agree on, and "" is chosen.
func chooseApplicationProtocol(server, client []string) (string, error) {
	if len(server) == 0 || len(client) == 0 {
		return "", nil
	}
	for _, p := range server {
		if slices.Contains(client, p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: the client offered %q, the server serves %q", errNoApplicationProtocol, client, server)
}

// handshakeRefusal is the CONNECTION_CLOSE a server answers a failed
// handshake with (docs/PROTOCOL.md section 4.5, "Errors before a
// connection"), or nil when it stays silent: for a message 1 that was
// replayed, is not for this server's key or finds the replay cache full,
// anyone could have sent it, and an answer would go to an address nobody
// validated.
func handshakeRefusal(err, paramErr error) *packet.ConnectionCloseFrame {
	closeWith := func(code packet.TransportErrorCode, reason string) *packet.ConnectionCloseFrame {
		return &packet.ConnectionCloseFrame{ErrorCode: uint64(code), FrameType: packet.FrameCrypto, Reason: []byte(reason)}
	}
	switch {
	case errors.Is(paramErr, errNoApplicationProtocol):
		return closeWith(packet.NoApplicationProtocol, paramErr.Error())
	case paramErr != nil:
		return closeWith(packet.TransportParameterError, paramErr.Error())
	case errors.Is(err, crypto.ErrClientKeyNotAllowed):
		return closeWith(packet.UnknownClientKey, "client key not allowed")
	case errors.Is(err, crypto.ErrStaleTimestamp):
		return closeWith(packet.HandshakeFailed, "handshake timestamp outside the server's replay window: check the client's clock")
	case errors.Is(err, crypto.ErrNoCommonSuite):
		return closeWith(packet.HandshakeFailed, "no common cipher suite")
	case errors.Is(err, crypto.ErrHandshakeMessage):
		return closeWith(packet.HandshakeFailed, "malformed message 1")
	}
	return nil
}

// newClientConn makes the connection Dial drives: its first handshake
// message is ready to go to the server at peer (docs/PROTOCOL.md section
// 4.5).
func newClientConn(e *Endpoint, cfg Config, peer netip.AddrPort, now time.Time) (*Conn, error) {
	c := newConn(e, false, cfg, peer, now)
	c.path.validated = true // the client chose the server's address
	c.hs.origDCID = newConnID()
	if err := c.startClientHandshake(c.hs.origDCID, now); err != nil {
		return nil, err
	}
	c.startQlog(cfg.QLogLogger)
	return c, nil
}

// startClientHandshake starts the handshake towards the server connection
// ID dcid: a fresh ephemeral key and message 1, whose prologue binds dcid,
// and the Initial keys dcid seeds (docs/PROTOCOL.md sections 4.3, 4.5).
// newClientConn calls it with the original DCID, and handleRetry again with
// a Retry's SCID.
func (c *Conn) startClientHandshake(dcid packet.ConnectionID, now time.Time) error {
	params := c.localParams()
	hs, msg1, err := crypto.NewClientHandshake(crypto.ClientConfig{
		StaticKey:       c.cfg.PrivateKey,
		ServerKey:       c.cfg.ServerKey,
		TransportParams: params.Append(nil),
	}, dcid.Bytes(), now)
	if err != nil {
		return err
	}
	c.hs.client = hs
	c.hs.out = msg1
	c.ids.remoteCID = dcid
	c.hs.initSeal, c.hs.initOpen = crypto.NewInitialKeys(c.cfg.ServerKey, dcid.Bytes(), true)
	return nil
}

// handleInitial processes an Initial packet that reached a connection: on a
// client, message 2 or the server's refusal; on a server, a copy of message
// 1, which means the client did not get message 2.
func (c *Conn) handleInitial(pkt []byte, h packet.LongHeader, from netip.AddrPort, now time.Time) {
	if c.hs.initOpen == nil || from != c.path.peer {
		return
	}
	if !c.isServer && len(h.Token) > 0 {
		// Only clients send tokens (RFC 9000 §17.2.2).
		c.drop(&c.stats.malformed, len(pkt), dropInvalid)
		return
	}
	pnLen, trunc, byte0, err := c.hs.initOpen.UnprotectHeader(pkt, h.PNOffset)
	if err != nil {
		c.drop(&c.stats.malformed, len(pkt), dropInvalid)
		return
	}
	pn := packet.DecodePacketNumber(c.hs.largestRx, trunc, pnLen)
	payload, err := c.hs.initOpen.Open(pkt, h.PNOffset, pnLen, uint64(pn))
	if err != nil {
		c.drop(&c.stats.authFailed, len(pkt), dropDecryptionFailure)
		return
	}
	if pn > c.hs.largestRx {
		c.hs.largestRx = pn
	}
	c.stats.packetsReceived.Add(1)
	c.qlogInitial(qlog.PacketReceived, pn, len(pkt))
	if packet.ReservedBitsSet(byte0) {
		c.closeTransport(packet.ProtocolViolation, 0, "reserved header bits set", now)
		return
	}
	if !c.isServer && c.state == stateHandshake && c.ids.remoteCID != h.SrcConnID {
		// The server chose its own connection ID; use it from now on
		// (RFC 9000 §7.2). Each Initial that authenticates may set it, so
		// that a forged first one cannot hijack the handshake; the
		// server's transport parameters confirm the final choice.
		c.ids.remoteCID = h.SrcConnID
	}
	frames, err := parseInitialFrames(payload)
	if err != nil {
		c.closeOnFrameError(err, now)
		return
	}
	if frames.close != nil {
		c.onConnectionClose(*frames.close, now)
		return
	}
	if c.isServer {
		if frames.hasCrypto {
			// Each copy of message 1 means the client did not get message
			// 2; each is answered, as the first was (section 4.5).
			c.hs.resends = min(c.hs.resends+1, maxDuplicateInitials+1)
			if !c.hs.confirmed {
				c.hs.deadline = minTime(now.Add(halfOpenIdle), c.hs.lastDeadline)
			}
		}
		return
	}
	if frames.message == nil || c.state != stateHandshake {
		return // no whole message, or a copy of message 2
	}
	c.onServerHello(frames.message, now)
}

// onServerHello completes the client's handshake with message 2.
func (c *Conn) onServerHello(msg2 []byte, now time.Time) {
	res, err := c.hs.client.ReadServerHello(msg2)
	if err != nil {
		if errors.Is(err, crypto.ErrServerKeyMismatch) {
			// Anyone who knows the server key can forge an Initial; only a
			// message that authenticates ends the wait.
			c.drop(&c.stats.authFailed, len(msg2), dropDecryptionFailure)
			return
		}
		c.closeTransport(packet.HandshakeFailed, packet.FrameCrypto, err.Error(), now)
		return
	}
	params, err := packet.ParseTransportParameters(res.PeerTransportParams, true)
	if err != nil {
		c.closeTransport(packet.TransportParameterError, packet.FrameCrypto, err.Error(), now)
		return
	}
	if reason := c.checkServerConnIDs(params); reason != "" {
		c.closeTransport(packet.TransportParameterError, packet.FrameCrypto, reason, now)
		return
	}
	if chosen := params.ApplicationProtocols; len(chosen) == 1 {
		if !slices.Contains(c.cfg.ApplicationProtocols, chosen[0]) {
			c.closeTransport(packet.TransportParameterError, packet.FrameCrypto, "the server chose an application protocol the client did not offer", now)
			return
		}
		c.hs.appProto = chosen[0]
	}
	c.keys = res.Keys
	c.hs.peerKey, c.hs.suite, c.hs.exporter = res.PeerStatic, res.Suite, res.ExporterSecret
	c.applyPeerParams(params, now)
	var peerToken *[packet.StatelessResetTokenLen]byte
	if params.HasStatelessResetToken {
		peerToken = &params.StatelessResetToken
	}
	c.initConnIDs(peerToken)
	c.issueConnIDs()
	c.state = stateActive
	c.path.validated = true
	c.hs.client = nil
	c.hs.out = nil
	c.diag(slog.LevelDebug, "handshake complete", slog.String("suite", res.Suite.String()))
	// Tell the server promptly that we have the keys: its first 1-RTT
	// packet from us confirms the handshake.
	c.loss.pingDue = true
	c.ep.doneDialing(c)
	close(c.established)
}

// needInitial says whether an Initial packet (our handshake message) is due.
func (c *Conn) needInitial(now time.Time) bool {
	if c.hs.initSeal == nil || c.hs.out == nil {
		return false
	}
	if c.isServer {
		return c.hs.resends > 0
	}
	return c.state == stateHandshake && !now.Before(c.hs.resendAt)
}

// buildInitial builds an Initial packet carrying our whole handshake
// message in one CRYPTO frame. A client pads the packet with PADDING frames
// to fill a 1200-byte datagram (docs/PROTOCOL.md section 2).
func (c *Conn) buildInitial(b []byte, now time.Time) []byte {
	f := packet.CryptoFrame{Offset: 0, Data: c.hs.out}
	payloadLen := f.Len()
	pn := c.hs.nextPN
	h := c.initialHeader()
	if !c.isServer {
		payloadLen = max(payloadLen, clientInitialPayloadLen(h))
	}
	b = appendInitialPacket(b, h, c.hs.initSeal, pn, f, payloadLen)
	c.hs.nextPN++
	c.stats.packetsSent.Add(1)
	c.qlogInitial(qlog.PacketSent, pn, len(b))
	if c.isServer {
		c.hs.resends--
	} else {
		// Retransmit message 1 until message 2 arrives, backing off
		// (docs/PROTOCOL.md section 4.5: Initial packets need no ACKs).
		if c.hs.backoff == 0 {
			c.hs.backoff = 300 * time.Millisecond
		} else {
			c.hs.backoff = min(2*c.hs.backoff, 3*time.Second)
		}
		c.hs.resendAt = now.Add(c.hs.backoff)
	}
	return b
}

// buildInitialClose builds an Initial packet carrying only f. A client's
// fills a 1200-byte datagram, as its every Initial does, or the server
// would drop it (docs/PROTOCOL.md section 2); a server's stays small, so
// that it cannot amplify.
func (c *Conn) buildInitialClose(b []byte, f packet.ConnectionCloseFrame) []byte {
	start := len(b)
	h := c.initialHeader()
	if c.isServer {
		b = appendInitialClose(b, h, c.hs.initSeal, c.hs.nextPN, f)
	} else {
		b = appendInitialPacket(b, h, c.hs.initSeal, c.hs.nextPN, f, clientInitialPayloadLen(h))
	}
	c.qlogInitial(qlog.PacketSent, c.hs.nextPN, len(b)-start)
	c.hs.nextPN++
	return b
}

// clientInitialPayloadLen is the payload, PADDING included, that makes a
// client's Initial packet with header h fill a 1200-byte datagram.
func clientInitialPayloadLen(h packet.LongHeader) int {
	const pnLen = 4 // appendInitialPacket's
	return packet.MinInitialDatagramSize - packet.LongHeaderLen(h, pnLen, packet.MinInitialDatagramSize) - crypto.TagLen
}

// appendInitialClose appends an Initial packet with header h and packet
// number pn, sealed with seal, whose only frame is CONNECTION_CLOSE f.
func appendInitialClose(b []byte, h packet.LongHeader, seal *crypto.Sealer, pn packet.PacketNumber, f packet.ConnectionCloseFrame) []byte {
	return appendInitialPacket(b, h, seal, pn, f, 0)
}

// appendInitialPacket appends an Initial packet with header h and a 4-byte
// packet number pn, sealed with seal, whose payload is frame and PADDING up
// to payloadLen bytes, and at least 4 (room for the header-protection
// sample).
func appendInitialPacket(b []byte, h packet.LongHeader, seal *crypto.Sealer, pn packet.PacketNumber, frame packet.Frame, payloadLen int) []byte {
	const pnLen = 4
	payloadLen = max(payloadLen, frame.Len(), 4)
	b, pnOffset := packet.AppendLongHeader(b, h, pnLen, payloadLen+crypto.TagLen)
	b = packet.AppendPacketNumber(b, pn, pnLen)
	start := len(b)
	b = frame.Append(b)
	for len(b)-start < payloadLen {
		b = append(b, 0) // PADDING
	}
	b = slices.Grow(b, crypto.TagLen)
	return seal.Seal(b, pnOffset, pnLen, uint64(pn))
}

// minTime returns the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
