package packet

import (
	"encoding/hex"
	"errors"
)

// MaxConnIDLen is the longest connection ID the wire format carries.
const MaxConnIDLen = 20

// ErrConnIDLen reports a connection ID longer than MaxConnIDLen.
var ErrConnIDLen = errors.New("packet: connection ID longer than 20 bytes")

// ConnectionID is a connection ID of 0 to 20 bytes. It is a value type so it
// can be copied, compared with == and used as a map key without allocating.
type ConnectionID struct {
	n uint8
	b [MaxConnIDLen]byte
}

// NewConnectionID copies b into a ConnectionID.
func NewConnectionID(b []byte) (ConnectionID, error) {
	var c ConnectionID
	if len(b) > MaxConnIDLen {
		return c, ErrConnIDLen
	}
	c.n = uint8(copy(c.b[:], b))
	return c, nil
}

// Len is the connection ID's length in bytes.
func (c ConnectionID) Len() int { return int(c.n) }

// Bytes returns the connection ID's bytes. The slice aliases c's storage
// when c is addressable; callers must not keep it past c's lifetime.
func (c *ConnectionID) Bytes() []byte { return c.b[:c.n] }

// String is the connection ID in lower-case hex.
func (c ConnectionID) String() string { return hex.EncodeToString(c.b[:c.n]) }
