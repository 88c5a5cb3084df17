package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// FrameType says what a frame's body is.
type FrameType uint8

// The frame types, in the order a session uses them.
const (
	FrameManifest      FrameType = 0x01
	FrameManifestReply FrameType = 0x02
	FrameFileHeader    FrameType = 0x03
	FrameTrailer       FrameType = 0x04
	FrameResult        FrameType = 0x05
	FrameDone          FrameType = 0x06
	FrameDoneReply     FrameType = 0x07
)

func (t FrameType) String() string {
	switch t {
	case FrameManifest:
		return "manifest"
	case FrameManifestReply:
		return "manifest reply"
	case FrameFileHeader:
		return "file header"
	case FrameTrailer:
		return "trailer"
	case FrameResult:
		return "result"
	case FrameDone:
		return "done"
	case FrameDoneReply:
		return "done reply"
	}
	return fmt.Sprintf("frame type %#x", uint8(t))
}

// ErrMalformed matches (errors.Is) every decoding error: a truncated or
// oversized frame, a field out of range, an unexpected frame type.
var ErrMalformed = errors.New("malformed message")

// AppendFrame appends a frame of type t carrying body.
func AppendFrame(b []byte, t FrameType, body []byte) []byte {
	b = append(b, byte(t))
	b = binary.AppendUvarint(b, uint64(len(body)))
	return append(b, body...)
}

// ReadFrame reads one frame of type want whose body is at most max bytes.
// It reads the header a byte at a time so that it never consumes anything
// past the frame: file data follows a FileHeader on the same stream.
func ReadFrame(r io.Reader, want FrameType, max int) ([]byte, error) {
	br := byteReader{r: r}
	t, err := br.ReadByte()
	if err != nil {
		return nil, err
	}
	if FrameType(t) != want {
		return nil, fmt.Errorf("%w: got %v, want %v", ErrMalformed, FrameType(t), want)
	}
	n, err := binary.ReadUvarint(&br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: %v length: %w", ErrMalformed, want, err)
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: %v of %d bytes exceeds the cap of %d", ErrMalformed, want, n, max)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading %v: %w", want, err)
	}
	return body, nil
}

// byteReader reads single bytes straight from r, with no read-ahead.
type byteReader struct {
	r   io.Reader
	buf [1]byte
}

func (br *byteReader) ReadByte() (byte, error) {
	if _, err := io.ReadFull(br.r, br.buf[:]); err != nil {
		return 0, err
	}
	return br.buf[0], nil
}

// decoder consumes a frame body field by field; the first error sticks, so
// a parser checks it once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (d *decoder) uint8(field string) uint8 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("%s: truncated", field)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint16(field string) uint16 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 2 {
		d.fail("%s: truncated", field)
		return 0
	}
	v := binary.BigEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}

func (d *decoder) uint64(field string) uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("%s: truncated", field)
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) uvarint(field string, max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("%s: bad varint", field)
		return 0
	}
	if v > max {
		d.fail("%s: %d exceeds %d", field, v, max)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("%s: truncated", field)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// finish reports the first error, or trailing bytes after the last field.
func (d *decoder) finish(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%s: %d trailing bytes", what, len(d.b))
	}
	return d.err
}
