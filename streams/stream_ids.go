package streams

import (
	"fmt"

	"github.com/limpetnet/limpet/packet"
)

// maxStreamCount is the largest MAX_STREAMS value: stream numbers must fit
// a varint after the two type bits are added (RFC 9000 §4.6, §19.11).
const maxStreamCount = 1 << 60

// LocalStreamIDs allocates the IDs of streams this endpoint opens, of one
// kind (bidirectional or unidirectional), within the peer's MAX_STREAMS
// limit (RFC 9000 §2.1, §4.6). The transport keeps one per kind. It is not
// safe for concurrent use.
type LocalStreamIDs struct {
	isServer      bool
	bidirectional bool

	next     uint64 // number of the next stream to open
	peerMax  uint64 // streams the peer allows us to open in total
	blocked  bool   // an open failed at peerMax
	reported bool   // STREAMS_BLOCKED was sent for peerMax
}

// NewLocalStreamIDs returns an allocator for streams opened by the client
// (isServer false) or the server, of the given kind, starting with the
// peer's initial_max_streams transport parameter.
func NewLocalStreamIDs(isServer, bidirectional bool, peerMax uint64) *LocalStreamIDs {
	return &LocalStreamIDs{isServer: isServer, bidirectional: bidirectional, peerMax: min(peerMax, maxStreamCount)}
}

// OpenNext allocates the next stream ID. It returns ErrStreamLimit when the
// peer's limit is reached; the transport waits for MAX_STREAMS and sends
// STREAMS_BLOCKED as Blocked reports.
func (l *LocalStreamIDs) OpenNext() (packet.StreamID, error) {
	if l.next >= l.peerMax {
		l.blocked = true
		return 0, fmt.Errorf("%w: %d streams open, peer allows %d", ErrStreamLimit, l.next, l.peerMax)
	}
	id := packet.NewStreamID(l.next, l.isServer, l.bidirectional)
	l.next++
	return id, nil
}

// SetPeerMax applies a MAX_STREAMS frame of this kind. Limits only grow; it
// reports whether this one did, so the transport can wake openers. A value
// above 2^60 returns an error wrapping ErrStreamsValue.
func (l *LocalStreamIDs) SetPeerMax(limit uint64) (increased bool, err error) {
	if limit > maxStreamCount {
		return false, fmt.Errorf("%w: MAX_STREAMS %d", ErrStreamsValue, limit)
	}
	if limit <= l.peerMax {
		return false, nil
	}
	l.peerMax = limit
	l.blocked, l.reported = false, false
	return true, nil
}

// PeerMax is the number of streams of this kind the peer allows us to open.
func (l *LocalStreamIDs) PeerMax() uint64 { return l.peerMax }

// Opened is the number of streams of this kind opened so far.
func (l *LocalStreamIDs) Opened() uint64 { return l.next }

// Blocked reports the limit to carry in STREAMS_BLOCKED: once per limit,
// after OpenNext failed at it.
func (l *LocalStreamIDs) Blocked() (limit uint64, ok bool) {
	if !l.blocked || l.reported {
		return 0, false
	}
	l.reported = true
	return l.peerMax, true
}

// OnBlockedLost re-arms a lost STREAMS_BLOCKED if still blocked at limit.
func (l *LocalStreamIDs) OnBlockedLost(limit uint64) {
	if l.blocked && limit == l.peerMax {
		l.reported = false
	}
}

// CheckOpened validates a frame from the peer that names a stream of this
// kind opened by us: the stream must exist. Otherwise it returns an error
// wrapping ErrStreamState (RFC 9000 §19.8 and the sections of the other
// stream frames).
func (l *LocalStreamIDs) CheckOpened(id packet.StreamID) error {
	if id.ServerInitiated() != l.isServer || id.Bidirectional() != l.bidirectional {
		return fmt.Errorf("%w: stream %d is not of this allocator's kind", ErrStreamState, id)
	}
	if id.Num() >= l.next {
		return fmt.Errorf("%w: stream %d not opened yet", ErrStreamState, id)
	}
	return nil
}

// RemoteStreamIDs tracks streams of one kind opened by the peer: it checks
// incoming IDs against the MAX_STREAMS limit we advertised, opens every
// lower-numbered stream implicitly as RFC 9000 §3.2 requires, and raises the
// limit as streams close, keeping at most maxConcurrent open at once. It is
// not safe for concurrent use.
type RemoteStreamIDs struct {
	peerIsServer  bool
	bidirectional bool
	maxConcurrent uint64

	opened uint64 // streams opened so far; numbers below are all open or closed
	closed uint64 // streams fully closed
	limit  uint64 // MAX_STREAMS granted to the peer
	resend bool   // the last MAX_STREAMS was lost
}

// NewRemoteStreamIDs returns a tracker for streams the peer opens, where
// isServer is our role. maxConcurrent is both the initial_max_streams
// transport parameter we send and the cap on streams open at once.
func NewRemoteStreamIDs(isServer, bidirectional bool, maxConcurrent uint64) *RemoteStreamIDs {
	maxConcurrent = min(maxConcurrent, maxStreamCount)
	return &RemoteStreamIDs{
		peerIsServer:  !isServer,
		bidirectional: bidirectional,
		maxConcurrent: maxConcurrent,
		limit:         maxConcurrent,
	}
}

// Open handles a frame naming peer-initiated stream id. It returns the IDs
// that became open, first and then every fourth ID up to id (count of
// them), for the transport to create and queue for Accept; count is 0 if id
// was already open or closed. It returns an error wrapping
// ErrStreamLimitExceeded if id is beyond our limit, or ErrStreamState if id
// is not a peer-initiated stream of this kind.
func (r *RemoteStreamIDs) Open(id packet.StreamID) (first packet.StreamID, count int, err error) {
	if id.ServerInitiated() != r.peerIsServer || id.Bidirectional() != r.bidirectional {
		return 0, 0, fmt.Errorf("%w: stream %d is not of this tracker's kind", ErrStreamState, id)
	}
	num := id.Num()
	if num >= r.limit {
		return 0, 0, fmt.Errorf("%w: stream %d, limit %d streams", ErrStreamLimitExceeded, id, r.limit)
	}
	if num < r.opened {
		return 0, 0, nil
	}
	first = packet.NewStreamID(r.opened, r.peerIsServer, r.bidirectional)
	count = int(num - r.opened + 1)
	r.opened = num + 1
	return first, count, nil
}

// StreamClosed records that one peer-initiated stream reached a terminal
// state in every direction it has, freeing a slot for MaxStreamsToSend.
// Closing more streams than were opened is a bug in the caller.
func (r *RemoteStreamIDs) StreamClosed() {
	if r.closed >= r.opened {
		panic("streams: more remote streams closed than opened")
	}
	r.closed++
}

// MaxStreamsToSend returns a new MAX_STREAMS value when one is due: the
// limit moves to closed+maxConcurrent once the peer has used more than half
// of its remaining credit, which batches updates without starving it. It
// also repeats a lost update that is still current.
func (r *RemoteStreamIDs) MaxStreamsToSend() (limit uint64, ok bool) {
	next := min(r.closed+r.maxConcurrent, maxStreamCount)
	if next > r.limit && r.limit-r.opened <= r.maxConcurrent/2 {
		r.limit = next
		r.resend = false
		return r.limit, true
	}
	if r.resend {
		r.resend = false
		return r.limit, true
	}
	return 0, false
}

// OnMaxStreamsLost re-arms a lost MAX_STREAMS frame carrying limit, unless a
// later one superseded it.
func (r *RemoteStreamIDs) OnMaxStreamsLost(limit uint64) {
	if limit == r.limit {
		r.resend = true
	}
}

// Limit is the MAX_STREAMS value granted to the peer.
func (r *RemoteStreamIDs) Limit() uint64 { return r.limit }

// Opened is the number of peer streams of this kind opened so far.
func (r *RemoteStreamIDs) Opened() uint64 { return r.opened }

// Active is the number of peer streams of this kind open now.
func (r *RemoteStreamIDs) Active() uint64 { return r.opened - r.closed }
