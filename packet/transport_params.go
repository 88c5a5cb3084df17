package packet

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Transport parameter identifiers (docs/PROTOCOL.md section 6; RFC 9000
// §18.2, plus limpet's fec).
const (
	tpOriginalDstConnID              = 0x00
	tpMaxIdleTimeout                 = 0x01
	tpStatelessResetToken            = 0x02
	tpMaxUDPPayloadSize              = 0x03
	tpInitialMaxData                 = 0x04
	tpInitialMaxStreamDataBidiLocal  = 0x05
	tpInitialMaxStreamDataBidiRemote = 0x06
	tpInitialMaxStreamDataUni        = 0x07
	tpInitialMaxStreamsBidi          = 0x08
	tpInitialMaxStreamsUni           = 0x09
	tpAckDelayExponent               = 0x0a
	tpMaxAckDelay                    = 0x0b
	tpDisableActiveMigration         = 0x0c
	tpActiveConnIDLimit              = 0x0e
	tpInitialSrcConnID               = 0x0f
	tpRetrySrcConnID                 = 0x10
	tpFEC                            = 0x4c01
	tpApplicationProtocols           = 0x4c02
	tpMinAckDelay                    = 0x4c03
)

// Limits on transport parameter values (RFC 9000 §18.2).
const (
	// MaxAckDelayExponent is the largest ack_delay_exponent.
	MaxAckDelayExponent = 20
	// MaxMaxAckDelay bounds max_ack_delay: it must be below 2^14 ms.
	MaxMaxAckDelay = (1<<14 - 1) * time.Millisecond
	// MinActiveConnIDLimit is the smallest active_connection_id_limit.
	MinActiveConnIDLimit = 2
	// MinUDPPayloadSize is the smallest max_udp_payload_size.
	MinUDPPayloadSize = 1200
	// MaxApplicationProtocols bounds the names in application_protocols,
	// and MaxApplicationProtocolLen the length of each.
	MaxApplicationProtocols   = 16
	MaxApplicationProtocolLen = 255
)

// maxUnknownTransportParameters bounds how many parameters with
// identifiers limpet does not know it will skip. Duplicates must be
// detected among them too, and a fixed table keeps that cheap; no limpet
// peer sends more than a handful.
const maxUnknownTransportParameters = 32

// maxDurationMs is the largest millisecond count a time.Duration holds.
const maxDurationMs = math.MaxInt64 / int64(time.Millisecond)

// ErrTransportParameter reports transport parameters that are malformed,
// repeated, out of range or not allowed from the sender. The connection
// closes with TRANSPORT_PARAMETER_ERROR. Errors from
// ParseTransportParameters wrap it with the detail.
var ErrTransportParameter = errors.New("packet: invalid transport parameters")

// TransportParameters are the limits and identities an endpoint declares in
// its handshake payload (docs/PROTOCOL.md section 6). Start from
// DefaultTransportParameters: the zero value is not the protocol's
// defaults.
type TransportParameters struct {
	// OriginalDstConnID is the DCID of the client's first Initial; a server
	// sends it after a Retry. Server only.
	OriginalDstConnID    ConnectionID
	HasOriginalDstConnID bool
	// MaxIdleTimeout closes a connection idle this long; 0 means no limit
	// from this side. It travels in whole milliseconds.
	MaxIdleTimeout time.Duration
	// StatelessResetToken goes with the server's handshake connection ID.
	// Server only.
	StatelessResetToken    [StatelessResetTokenLen]byte
	HasStatelessResetToken bool
	// MaxUDPPayloadSize is the largest UDP payload this endpoint accepts, at
	// least 1200.
	MaxUDPPayloadSize int64
	// Initial flow-control credit, in bytes.
	InitialMaxData                 int64
	InitialMaxStreamDataBidiLocal  int64
	InitialMaxStreamDataBidiRemote int64
	InitialMaxStreamDataUni        int64
	// Initial stream limits, at most MaxStreamCount.
	InitialMaxStreamsBidi uint64
	InitialMaxStreamsUni  uint64
	// AckDelayExponent scales the ACK Delay field of this endpoint's ACKs;
	// at most 20.
	AckDelayExponent uint8
	// MaxAckDelay is how long this endpoint may delay an ACK, below 2^14 ms.
	// It travels in whole milliseconds.
	MaxAckDelay time.Duration
	// DisableActiveMigration asks the peer not to migrate the connection.
	DisableActiveMigration bool
	// ActiveConnIDLimit is how many connection IDs from the peer this
	// endpoint is willing to hold; at least 2.
	ActiveConnIDLimit uint64
	// InitialSrcConnID is the SCID of this endpoint's first Initial packet,
	// which authenticates the connection IDs of the handshake.
	InitialSrcConnID    ConnectionID
	HasInitialSrcConnID bool
	// RetrySrcConnID is the SCID of the server's Retry. Server only.
	RetrySrcConnID    ConnectionID
	HasRetrySrcConnID bool
	// FECMaxRepairSymbols is limpet's fec parameter (docs/PROTOCOL.md
	// section 10): the most repair symbols per group this endpoint decodes,
	// so the peer may send FEC_REPAIR frames with a Repair Index below it;
	// 0 (absent) means the peer must send none. Values above
	// MaxFECRepairSymbols mean MaxFECRepairSymbols.
	FECMaxRepairSymbols uint64
	// ApplicationProtocols is limpet's application_protocols parameter
	// (docs/PROTOCOL.md section 6), in the spirit of TLS's ALPN: the
	// names of the protocols a client offers, in its order of preference,
	// or the one a server chose. Each is 1 to 255 bytes; at most 16.
	ApplicationProtocols []string
	// MinAckDelay is limpet's min_ack_delay parameter (docs/PROTOCOL.md
	// section 5, "ACK frequency"): the shortest ACK delay this endpoint
	// can keep to, in whole microseconds, at most MaxAckDelay. Announcing
	// it (HasMinAckDelay) lets the peer send ACK_FREQUENCY and
	// IMMEDIATE_ACK.
	MinAckDelay    time.Duration
	HasMinAckDelay bool
}

// DefaultTransportParameters are the values an absent parameter stands for
// (RFC 9000 §18.2): ack_delay_exponent 3, max_ack_delay 25 ms,
// active_connection_id_limit 2, max_udp_payload_size 65527, and zero for
// every limit and credit.
func DefaultTransportParameters() TransportParameters {
	return TransportParameters{
		MaxUDPPayloadSize: 65527,
		AckDelayExponent:  3,
		MaxAckDelay:       25 * time.Millisecond,
		ActiveConnIDLimit: 2,
	}
}

// Append appends p's encoding: every parameter whose value differs from
// its default, in identifier order, and each connection ID or token whose
// Has flag is set. Durations are truncated to milliseconds. p must pass
// Validate; a value above 2^62-1 panics.
func (p TransportParameters) Append(b []byte) []byte {
	d := DefaultTransportParameters()
	if p.HasOriginalDstConnID {
		b = appendConnIDParam(b, tpOriginalDstConnID, p.OriginalDstConnID)
	}
	if ms := durationMs(p.MaxIdleTimeout); ms != 0 {
		b = appendVarintParam(b, tpMaxIdleTimeout, ms)
	}
	if p.HasStatelessResetToken {
		b = AppendVarint(b, tpStatelessResetToken)
		b = AppendVarint(b, StatelessResetTokenLen)
		b = append(b, p.StatelessResetToken[:]...)
	}
	varints := [...]struct {
		id       uint64
		v, deflt uint64
	}{
		{tpMaxUDPPayloadSize, uint64(p.MaxUDPPayloadSize), uint64(d.MaxUDPPayloadSize)},
		{tpInitialMaxData, uint64(p.InitialMaxData), 0},
		{tpInitialMaxStreamDataBidiLocal, uint64(p.InitialMaxStreamDataBidiLocal), 0},
		{tpInitialMaxStreamDataBidiRemote, uint64(p.InitialMaxStreamDataBidiRemote), 0},
		{tpInitialMaxStreamDataUni, uint64(p.InitialMaxStreamDataUni), 0},
		{tpInitialMaxStreamsBidi, p.InitialMaxStreamsBidi, 0},
		{tpInitialMaxStreamsUni, p.InitialMaxStreamsUni, 0},
		{tpAckDelayExponent, uint64(p.AckDelayExponent), uint64(d.AckDelayExponent)},
		{tpMaxAckDelay, durationMs(p.MaxAckDelay), durationMs(d.MaxAckDelay)},
	}
	for _, v := range varints {
		if v.v != v.deflt {
			b = appendVarintParam(b, v.id, v.v)
		}
	}
	if p.DisableActiveMigration {
		b = AppendVarint(b, tpDisableActiveMigration)
		b = AppendVarint(b, 0)
	}
	if p.ActiveConnIDLimit != d.ActiveConnIDLimit {
		b = appendVarintParam(b, tpActiveConnIDLimit, p.ActiveConnIDLimit)
	}
	if p.HasInitialSrcConnID {
		b = appendConnIDParam(b, tpInitialSrcConnID, p.InitialSrcConnID)
	}
	if p.HasRetrySrcConnID {
		b = appendConnIDParam(b, tpRetrySrcConnID, p.RetrySrcConnID)
	}
	if p.FECMaxRepairSymbols != 0 {
		b = appendVarintParam(b, tpFEC, p.FECMaxRepairSymbols)
	}
	if len(p.ApplicationProtocols) > 0 {
		n := 0
		for _, name := range p.ApplicationProtocols {
			n += 1 + len(name)
		}
		b = AppendVarint(b, tpApplicationProtocols)
		b = AppendVarint(b, uint64(n))
		for _, name := range p.ApplicationProtocols {
			b = append(b, byte(len(name)))
			b = append(b, name...)
		}
	}
	if p.HasMinAckDelay {
		b = appendVarintParam(b, tpMinAckDelay, uint64(p.MinAckDelay/time.Microsecond))
	}
	return b
}

func durationMs(d time.Duration) uint64 { return uint64(max(d.Milliseconds(), 0)) }

func appendVarintParam(b []byte, id, v uint64) []byte {
	b = AppendVarint(b, id)
	b = AppendVarint(b, uint64(VarintLen(v)))
	return AppendVarint(b, v)
}

func appendConnIDParam(b []byte, id uint64, c ConnectionID) []byte {
	b = AppendVarint(b, id)
	b = AppendVarint(b, uint64(c.n))
	return append(b, c.b[:c.n]...)
}

// ParseTransportParameters parses the peer's transport parameters;
// fromServer says which side sent them. Parameters limpet does not know are
// skipped (at most 32 of them). A repeated parameter, a value whose
// encoding does not fill its Length exactly, a value out of range (see
// Validate), or a server-only parameter from a client returns an error
// wrapping ErrTransportParameter. Absent parameters take their defaults.
func ParseTransportParameters(b []byte, fromServer bool) (TransportParameters, error) {
	p := DefaultTransportParameters()
	var seen uint32 // bit i: known parameter i (tpFEC maps to bit 31)
	var unknown [maxUnknownTransportParameters]uint64
	nUnknown := 0
	for len(b) > 0 {
		id, n, err := ParseVarint(b)
		if err != nil {
			return TransportParameters{}, fmt.Errorf("%w: parameter ID: %w", ErrTransportParameter, err)
		}
		b = b[n:]
		length, n, err := ParseVarint(b)
		if err != nil {
			return TransportParameters{}, fmt.Errorf("%w: parameter 0x%x length: %w", ErrTransportParameter, id, err)
		}
		b = b[n:]
		if length > uint64(len(b)) {
			return TransportParameters{}, fmt.Errorf("%w: parameter 0x%x: %w", ErrTransportParameter, id, ErrTruncated)
		}
		val := b[:length]
		b = b[length:]

		bit, known := transportParameterBit(id)
		if !known {
			for _, u := range unknown[:nUnknown] {
				if u == id {
					return TransportParameters{}, fmt.Errorf("%w: parameter 0x%x repeated", ErrTransportParameter, id)
				}
			}
			if nUnknown == len(unknown) {
				return TransportParameters{}, fmt.Errorf("%w: more than %d unknown parameters", ErrTransportParameter, len(unknown))
			}
			unknown[nUnknown] = id
			nUnknown++
			continue
		}
		if seen&bit != 0 {
			return TransportParameters{}, fmt.Errorf("%w: parameter 0x%x repeated", ErrTransportParameter, id)
		}
		seen |= bit
		if err := p.set(id, val, fromServer); err != nil {
			return TransportParameters{}, fmt.Errorf("%w: parameter 0x%x: %w", ErrTransportParameter, id, err)
		}
	}
	if err := p.Validate(fromServer); err != nil {
		return TransportParameters{}, err
	}
	return p, nil
}

// transportParameterBit maps the identifier of a parameter limpet knows to
// its bit in the duplicate-detection mask.
func transportParameterBit(id uint64) (uint32, bool) {
	switch {
	case id == tpFEC:
		return 1 << 31, true
	case id == tpApplicationProtocols:
		return 1 << 30, true
	case id == tpMinAckDelay:
		return 1 << 29, true
	case id <= tpRetrySrcConnID && id != 0x0d: // 0x0d, preferred_address, is not a limpet parameter
		return 1 << id, true
	}
	return 0, false
}

var (
	errParamValueLen = errors.New("value does not fill its length")
	errServerOnly    = errors.New("server-only parameter sent by a client")
)

// set stores the value of the known parameter id.
func (p *TransportParameters) set(id uint64, val []byte, fromServer bool) error {
	switch id {
	case tpOriginalDstConnID, tpStatelessResetToken, tpRetrySrcConnID:
		if !fromServer {
			return errServerOnly
		}
	}
	switch id {
	case tpOriginalDstConnID, tpInitialSrcConnID, tpRetrySrcConnID:
		if len(val) > MaxConnIDLen {
			return ErrConnIDLen
		}
		c := connIDFrom(val)
		switch id {
		case tpOriginalDstConnID:
			p.OriginalDstConnID, p.HasOriginalDstConnID = c, true
		case tpInitialSrcConnID:
			p.InitialSrcConnID, p.HasInitialSrcConnID = c, true
		default:
			p.RetrySrcConnID, p.HasRetrySrcConnID = c, true
		}
		return nil
	case tpStatelessResetToken:
		if len(val) != StatelessResetTokenLen {
			return errParamValueLen
		}
		copy(p.StatelessResetToken[:], val)
		p.HasStatelessResetToken = true
		return nil
	case tpDisableActiveMigration:
		if len(val) != 0 {
			return errParamValueLen
		}
		p.DisableActiveMigration = true
		return nil
	case tpApplicationProtocols:
		return p.setApplicationProtocols(val, fromServer)
	}
	v, n, err := ParseVarint(val)
	if err != nil {
		return err
	}
	if n != len(val) {
		return errParamValueLen
	}
	switch id {
	case tpMaxIdleTimeout:
		p.MaxIdleTimeout = time.Duration(min(int64(v), maxDurationMs)) * time.Millisecond
	case tpMaxUDPPayloadSize:
		p.MaxUDPPayloadSize = int64(v)
	case tpInitialMaxData:
		p.InitialMaxData = int64(v)
	case tpInitialMaxStreamDataBidiLocal:
		p.InitialMaxStreamDataBidiLocal = int64(v)
	case tpInitialMaxStreamDataBidiRemote:
		p.InitialMaxStreamDataBidiRemote = int64(v)
	case tpInitialMaxStreamDataUni:
		p.InitialMaxStreamDataUni = int64(v)
	case tpInitialMaxStreamsBidi:
		p.InitialMaxStreamsBidi = v
	case tpInitialMaxStreamsUni:
		p.InitialMaxStreamsUni = v
	case tpAckDelayExponent:
		if v > MaxAckDelayExponent {
			return errors.New("ack_delay_exponent above 20")
		}
		p.AckDelayExponent = uint8(v)
	case tpMaxAckDelay:
		if v >= 1<<14 {
			return errors.New("max_ack_delay of 2^14 ms or more")
		}
		p.MaxAckDelay = time.Duration(v) * time.Millisecond
	case tpActiveConnIDLimit:
		p.ActiveConnIDLimit = v
	case tpFEC:
		p.FECMaxRepairSymbols = v
	case tpMinAckDelay:
		// Beyond 2^14 ms it cannot be below max_ack_delay, which Validate
		// checks; capping keeps the Duration in range.
		p.MinAckDelay = time.Duration(min(v, uint64(MaxMaxAckDelay/time.Microsecond)+1)) * time.Microsecond
		p.HasMinAckDelay = true
	}
	return nil
}

// setApplicationProtocols parses application_protocols: names, each a
// length byte and 1 to 255 bytes, at most 16 of them, exactly one from a
// server.
func (p *TransportParameters) setApplicationProtocols(val []byte, fromServer bool) error {
	var names []string
	for len(val) > 0 {
		n := int(val[0])
		if n == 0 || n > len(val)-1 {
			return errors.New("application_protocols: empty or truncated name")
		}
		names = append(names, string(val[1:1+n]))
		val = val[1+n:]
	}
	switch {
	case len(names) == 0:
		return errors.New("application_protocols: no name")
	case len(names) > MaxApplicationProtocols:
		return fmt.Errorf("application_protocols: more than %d names", MaxApplicationProtocols)
	case fromServer && len(names) != 1:
		return errors.New("application_protocols: a server names exactly one")
	}
	p.ApplicationProtocols = names
	return nil
}

// Validate checks p's values against RFC 9000 §18.2's ranges, and for
// parameters a client sent (fromServer false) that no server-only
// parameter is present. The transport calls it on its own configuration;
// ParseTransportParameters calls it on the peer's. Errors wrap
// ErrTransportParameter.
func (p TransportParameters) Validate(fromServer bool) error {
	var problem string
	switch {
	case !fromServer && (p.HasOriginalDstConnID || p.HasStatelessResetToken || p.HasRetrySrcConnID):
		problem = "server-only parameter sent by a client"
	case p.MaxIdleTimeout < 0:
		problem = "negative max_idle_timeout"
	case p.MaxUDPPayloadSize < MinUDPPayloadSize:
		problem = "max_udp_payload_size below 1200"
	case p.InitialMaxData < 0 || p.InitialMaxStreamDataBidiLocal < 0 ||
		p.InitialMaxStreamDataBidiRemote < 0 || p.InitialMaxStreamDataUni < 0:
		problem = "negative flow-control credit"
	case p.InitialMaxStreamsBidi > MaxStreamCount || p.InitialMaxStreamsUni > MaxStreamCount:
		problem = "initial_max_streams above 2^60"
	case p.AckDelayExponent > MaxAckDelayExponent:
		problem = "ack_delay_exponent above 20"
	case p.MaxAckDelay < 0 || p.MaxAckDelay > MaxMaxAckDelay:
		problem = "max_ack_delay outside 0..2^14-1 ms"
	case p.HasMinAckDelay && (p.MinAckDelay < 0 || p.MinAckDelay > p.MaxAckDelay):
		problem = "min_ack_delay above max_ack_delay"
	case p.ActiveConnIDLimit < MinActiveConnIDLimit:
		problem = "active_connection_id_limit below 2"
	case len(p.ApplicationProtocols) > MaxApplicationProtocols || (fromServer && len(p.ApplicationProtocols) > 1):
		problem = "too many application_protocols"
	case !validProtocolNames(p.ApplicationProtocols):
		problem = "an application protocol name is empty or longer than 255 bytes"
	case p.MaxUDPPayloadSize > MaxVarint || p.InitialMaxData > MaxVarint ||
		p.InitialMaxStreamDataBidiLocal > MaxVarint || p.InitialMaxStreamDataBidiRemote > MaxVarint ||
		p.InitialMaxStreamDataUni > MaxVarint || p.ActiveConnIDLimit > MaxVarint ||
		p.FECMaxRepairSymbols > MaxVarint:
		problem = "value above 2^62-1"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s", ErrTransportParameter, problem)
}

func validProtocolNames(names []string) bool {
	for _, n := range names {
		if len(n) == 0 || len(n) > MaxApplicationProtocolLen {
			return false
		}
	}
	return true
}
