package packet

// StreamID identifies a stream within a connection. The two low bits say
// who opened it and whether it is bidirectional (docs/PROTOCOL.md section 5, "Stream IDs";
// RFC 9000 §2.1).
type StreamID uint64

// MaxStreamID is the largest stream ID a varint can carry.
const MaxStreamID = StreamID(MaxVarint)

// Bidirectional reports whether both sides may send on the stream.
func (id StreamID) Bidirectional() bool { return id&0x2 == 0 }

// ServerInitiated reports whether the server opened the stream.
func (id StreamID) ServerInitiated() bool { return id&0x1 == 1 }

// Num is the stream's sequence number among streams of its kind (0, 1, 2, …).
func (id StreamID) Num() uint64 { return uint64(id) >> 2 }

// NewStreamID builds the ID of the num'th stream of a kind.
func NewStreamID(num uint64, serverInitiated, bidirectional bool) StreamID {
	id := StreamID(num << 2)
	if serverInitiated {
		id |= 0x1
	}
	if !bidirectional {
		id |= 0x2
	}
	return id
}
