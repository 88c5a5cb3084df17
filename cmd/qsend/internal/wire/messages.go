package wire

import (
	"encoding/binary"
	"fmt"
	"hash"
	"unicode/utf8"

	"github.com/zeebo/blake3"
)

// HashLen is the length of the hashes in FileHeader and Trailer.
const HashLen = 32

// NewHash returns the end-to-end file hash: BLAKE3 with a 256-bit output.
// It is a cryptographic hash like SHA-256 (a partial or a file in place is
// only trusted when it matches) at about twice SHA-256's speed with SHA-NI
// here, which matters because both ends hash every byte they move.
func NewHash() hash.Hash { return blake3.New() }

// MaxMessageLen caps the human-readable message of a reply or result.
const MaxMessageLen = 1024

// Frame body caps, checked by ReadFrame before it allocates.
const (
	// MaxManifestReplyLen holds a status, a full message and an offset of up
	// to 9 bytes for every possible file entry.
	MaxManifestReplyLen = 1 + 2 + MaxMessageLen + 5 + 9*MaxEntries
	MaxFileHeaderLen    = 9 + 9 + HashLen
	MaxTrailerLen       = HashLen
	MaxResultLen        = 1 + 2 + MaxMessageLen
	MaxDoneLen          = 0
)

// Status is a receiver's answer to a manifest, a file or Done.
type Status uint8

// The statuses.
const (
	// StatusOK: the manifest is accepted, or the file is verified, durable
	// and in place, or the session is complete.
	StatusOK Status = 0
	// StatusFailed: this file could not be received; others may continue.
	StatusFailed Status = 1
	// StatusAbort: the session cannot continue (for example the device is
	// full); the receiver closes the connection after saying so.
	StatusAbort Status = 2
	// StatusRestart: the sender's prefix hash does not match the partial
	// file, so the sender must send the file again from offset 0.
	StatusRestart Status = 3
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusFailed:
		return "failed"
	case StatusAbort:
		return "abort"
	case StatusRestart:
		return "restart"
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// Result answers a file stream or Done.
type Result struct {
	Status  Status
	Message string // why, for anything but StatusOK
}

// Append appends the result's frame body. A message longer than
// MaxMessageLen is cut.
func (r Result) Append(b []byte) []byte {
	b = append(b, byte(r.Status))
	return appendMessage(b, r.Message)
}

// ParseResult decodes a Result frame body.
func ParseResult(b []byte) (Result, error) {
	d := decoder{b: b}
	r := Result{Status: parseStatus(&d)}
	r.Message = parseMessage(&d)
	return r, d.finish("result")
}

// ManifestReply answers a Manifest: either an error, or one resume offset per
// file entry, in manifest order.
type ManifestReply struct {
	Status  Status // StatusOK or StatusAbort
	Message string
	Offsets []int64
}

// Append appends the reply's frame body.
func (r *ManifestReply) Append(b []byte) []byte {
	b = append(b, byte(r.Status))
	b = appendMessage(b, r.Message)
	b = binary.AppendUvarint(b, uint64(len(r.Offsets)))
	for _, off := range r.Offsets {
		b = binary.AppendUvarint(b, uint64(off))
	}
	return b
}

// ParseManifestReply decodes a ManifestReply frame body. The caller checks
// that there is one offset per file and that none exceeds its file's size.
func ParseManifestReply(b []byte) (ManifestReply, error) {
	d := decoder{b: b}
	r := ManifestReply{Status: parseStatus(&d)}
	r.Message = parseMessage(&d)
	n := d.uvarint("offset count", MaxEntries)
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("offset count %d does not fit in %d bytes", n, len(d.b))
	}
	if d.err != nil {
		return ManifestReply{}, d.err
	}
	r.Offsets = make([]int64, 0, n)
	for i := uint64(0); i < n; i++ {
		r.Offsets = append(r.Offsets, int64(d.uvarint("offset", MaxFileSize)))
	}
	if err := d.finish("manifest reply"); err != nil {
		return ManifestReply{}, err
	}
	return r, nil
}

// FileHeader starts a file stream.
type FileHeader struct {
	Index      int64 // index of a file entry in the manifest
	Offset     int64 // where the data that follows starts in the file
	PrefixHash [HashLen]byte
}

// Append appends the header's frame body.
func (h *FileHeader) Append(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(h.Index))
	b = binary.AppendUvarint(b, uint64(h.Offset))
	return append(b, h.PrefixHash[:]...)
}

// ParseFileHeader decodes a FileHeader frame body. The caller checks Index
// and Offset against the manifest.
func ParseFileHeader(b []byte) (FileHeader, error) {
	d := decoder{b: b}
	var h FileHeader
	h.Index = int64(d.uvarint("index", MaxEntries-1))
	h.Offset = int64(d.uvarint("offset", MaxFileSize))
	copy(h.PrefixHash[:], d.bytes("prefix hash", HashLen))
	return h, d.finish("file header")
}

// Trailer ends a file's data with the hash of the whole file.
type Trailer struct {
	Hash [HashLen]byte
}

// Append appends the trailer's frame body.
func (t *Trailer) Append(b []byte) []byte { return append(b, t.Hash[:]...) }

// ParseTrailer decodes a Trailer frame body.
func ParseTrailer(b []byte) (Trailer, error) {
	d := decoder{b: b}
	var t Trailer
	copy(t.Hash[:], d.bytes("hash", HashLen))
	return t, d.finish("trailer")
}

func parseStatus(d *decoder) Status {
	s := Status(d.uint8("status"))
	if d.err == nil && s > StatusRestart {
		d.fail("unknown status %d", s)
	}
	return s
}

func appendMessage(b []byte, msg string) []byte {
	if len(msg) > MaxMessageLen {
		msg = msg[:MaxMessageLen]
		for !utf8.ValidString(msg) {
			msg = msg[:len(msg)-1]
		}
	}
	b = binary.AppendUvarint(b, uint64(len(msg)))
	return append(b, msg...)
}

// parseMessage decodes a message and makes it safe to print on a terminal:
// a hostile peer must not be able to send escape sequences.
func parseMessage(d *decoder) string {
	n := d.uvarint("message length", MaxMessageLen)
	return Printable(string(d.bytes("message", int(n))))
}

// Printable replaces control characters and invalid UTF-8 in s, so that text
// from a peer cannot move the cursor or recolour a terminal.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = '?'
		}
		out = append(out, r)
	}
	return string(out)
}
