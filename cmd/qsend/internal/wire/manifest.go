package wire

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// Version is the protocol version this package speaks.
const Version = 2

// Caps on a manifest, which a receiver holds in memory for a whole session.
// A million entries with typical paths is well under MaxManifestLen.
const (
	MaxEntries     = 1 << 20
	MaxManifestLen = 32 << 20
	// MaxFileSize is the largest size a varint field may claim (2^62−1, as
	// in QUIC); real files are bounded by the receiver's disk long before.
	MaxFileSize = 1<<62 - 1
)

// Kind is the type of a manifest entry.
type Kind uint8

// The entry kinds. Symbolic links and special files are never sent.
const (
	KindDir  Kind = 1
	KindFile Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindDir:
		return "directory"
	case KindFile:
		return "file"
	}
	return fmt.Sprintf("kind %d", uint8(k))
}

// Entry is one directory or regular file of a transfer.
type Entry struct {
	Path    string      // relative, slash-separated; see ValidatePath
	Kind    Kind        // KindDir or KindFile
	Mode    fs.FileMode // permission bits only (at most 0o777)
	ModTime int64       // Unix nanoseconds
	Size    int64       // bytes; 0 for a directory
}

// Manifest lists everything a sender will send in one session.
type Manifest struct {
	Entries []Entry
}

// Append appends the manifest's frame body.
func (m *Manifest) Append(b []byte) []byte {
	b = append(b, Version)
	b = binary.AppendUvarint(b, uint64(len(m.Entries)))
	for _, e := range m.Entries {
		b = append(b, byte(e.Kind))
		b = binary.BigEndian.AppendUint16(b, uint16(e.Mode.Perm()))
		b = binary.BigEndian.AppendUint64(b, uint64(e.ModTime))
		b = binary.AppendUvarint(b, uint64(e.Size))
		b = binary.AppendUvarint(b, uint64(len(e.Path)))
		b = append(b, e.Path...)
	}
	return b
}

// FileCount returns how many entries are files.
func (m *Manifest) FileCount() int {
	n := 0
	for _, e := range m.Entries {
		if e.Kind == KindFile {
			n++
		}
	}
	return n
}

// ErrVersion matches (errors.Is) a manifest of a protocol version this
// package does not speak.
var ErrVersion = fmt.Errorf("%w: unsupported protocol version", ErrMalformed)

// ParseManifest decodes and validates a manifest frame body. Beyond the
// encoding it checks what a receiver relies on: every path passes
// ValidatePath, no path appears twice, and no entry lies under a file entry
// (which would make a file a directory).
func ParseManifest(b []byte) (Manifest, error) {
	if len(b) > MaxManifestLen {
		return Manifest{}, fmt.Errorf("%w: manifest of %d bytes exceeds %d", ErrMalformed, len(b), MaxManifestLen)
	}
	d := decoder{b: b}
	if v := d.uint8("version"); d.err == nil && v != Version {
		return Manifest{}, fmt.Errorf("%w %d (this side speaks %d)", ErrVersion, v, Version)
	}
	count := d.uvarint("entry count", MaxEntries)
	// Each entry takes at least 13 bytes, so a count the body cannot hold is
	// refused before it sizes an allocation.
	if d.err == nil && count > uint64(len(d.b))/13 {
		d.fail("entry count %d does not fit in %d bytes", count, len(d.b))
	}
	if d.err != nil {
		return Manifest{}, d.err
	}
	m := Manifest{Entries: make([]Entry, 0, count)}
	for i := uint64(0); i < count; i++ {
		kind := Kind(d.uint8("kind"))
		mode := d.uint16("mode")
		mtime := int64(d.uint64("modified"))
		size := d.uvarint("size", MaxFileSize)
		pathLen := d.uvarint("path length", MaxPathLen)
		path := string(d.bytes("path", int(pathLen)))
		if d.err != nil {
			return Manifest{}, fmt.Errorf("entry %d: %w", i, d.err)
		}
		switch {
		case kind != KindDir && kind != KindFile:
			return Manifest{}, fmt.Errorf("%w: entry %d: unknown kind %d", ErrMalformed, i, kind)
		case mode > 0o777:
			return Manifest{}, fmt.Errorf("%w: entry %d: mode %#o has bits beyond 0777", ErrMalformed, i, mode)
		case kind == KindDir && size != 0:
			return Manifest{}, fmt.Errorf("%w: entry %d: directory with size %d", ErrMalformed, i, size)
		}
		if err := ValidatePath(path); err != nil {
			return Manifest{}, err
		}
		m.Entries = append(m.Entries, Entry{Path: path, Kind: kind, Mode: fs.FileMode(mode), ModTime: mtime, Size: int64(size)})
	}
	if err := d.finish("manifest"); err != nil {
		return Manifest{}, err
	}
	if err := checkTree(m.Entries); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// checkTree refuses duplicate paths and entries under a file. It sorts the
// paths as trees are walked (a directory's descendants straight after it),
// so both checks compare neighbours only and a hostile manifest of deep
// paths costs O(n log n) comparisons, not a map lookup per path prefix.
func checkTree(entries []Entry) error {
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return comparePaths(entries[a].Path, entries[b].Path) })
	for k := 1; k < len(order); k++ {
		prev, cur := entries[order[k-1]], entries[order[k]]
		if prev.Path == cur.Path {
			return fmt.Errorf("%w: %q listed twice", ErrMalformed, truncateForMessage(cur.Path))
		}
		if prev.Kind == KindFile && strings.HasPrefix(cur.Path, prev.Path+"/") {
			return fmt.Errorf("%w: %q lies under the file %q", ErrMalformed, truncateForMessage(cur.Path), truncateForMessage(prev.Path))
		}
	}
	return nil
}

// comparePaths orders slash paths with '/' below every other byte, so that
// "a", "a/b", "a-b" sort in that order: a path's descendants come directly
// after it. ValidatePath has already excluded NUL, the only byte below '/'
// that could tie.
func comparePaths(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			return -1
		}
		if cb == '/' {
			return 1
		}
		return int(ca) - int(cb)
	}
	return len(a) - len(b)
}
