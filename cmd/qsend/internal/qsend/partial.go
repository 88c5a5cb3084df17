package qsend

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"
	"time"

	"github.com/limpetnet/limpet/cmd/qsend/internal/wire"
	"github.com/limpetnet/limpet/crypto"
)

// partialStore keeps unfinished files in DIR/.qsend so that an interrupted
// transfer resumes. Each file being received has two entries there, named by
// partialID:
//
//	ID.part  the data received so far
//	ID.len   the resume record: how many bytes of ID.part are durable
//
// The record is updated only after ID.part has been fsync'd, so after a
// crash (even of the machine) the recorded prefix is on disk; bytes written
// after the last record are discarded on resume. The prefix is never
// trusted blindly either: the sender sends the hash of its own prefix and
// the receiver re-hashes what it has before appending.
//
// All file-system access goes through an os.Root on DIR, which refuses any
// path (or symbolic link) that leads out of it.
type partialStore struct {
	root *os.Root

	mu   sync.Mutex
	busy map[string]bool // IDs a session is receiving into right now
}

// staleAfter is how long an untouched partial is kept: long enough to
// resume after a holiday, short enough that abandoned transfers do not
// fill the disk for ever.
const staleAfter = 30 * 24 * time.Hour

func newPartialStore(root *os.Root) (*partialStore, error) {
	if err := root.Mkdir(wire.StateDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("creating %s: %w", wire.StateDir, err)
	}
	info, err := root.Lstat(wire.StateDir)
	if err != nil {
		return nil, fmt.Errorf("checking %s: %w", wire.StateDir, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s exists and is not a directory", wire.StateDir)
	}
	return &partialStore{root: root, busy: make(map[string]bool)}, nil
}

// partialID names a partial by the sender's key, the path and the size, so
// that one sender never continues another's data and a file whose size
// changed starts afresh.
func partialID(sender crypto.PublicKey, p string, size int64) string {
	h := sha256.New()
	h.Write(sender[:])
	h.Write([]byte{0})
	h.Write([]byte(p))
	h.Write([]byte{0})
	binary.Write(h, binary.BigEndian, size)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func dataName(id string) string   { return path.Join(wire.StateDir, id+".part") }
func recordName(id string) string { return path.Join(wire.StateDir, id+".len") }

// acquire marks id as being received; it fails if a session already is.
func (s *partialStore) acquire(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[id] {
		return false
	}
	s.busy[id] = true
	return true
}

func (s *partialStore) release(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.busy, id)
}

// offer is what a receiver tells a sender about one file: where to resume,
// and whether that offset refers to a partial or to a complete file already
// in place.
type offer struct {
	offset    int64
	fromFinal bool
}

// offerFor decides where a file can resume: after the durable part of its
// partial if there is one, at its end if a file of its size is already in
// place (the sender's hash then decides whether anything is sent), else at
// 0. A partial wins over a file in place: it means the last transfer of this
// file did not finish, so what is in place is older.
func (s *partialStore) offerFor(id string, e wire.Entry) offer {
	if n := s.durableLength(id); n > 0 && n <= e.Size {
		return offer{offset: n}
	}
	if e.Size > 0 {
		if info, err := s.root.Lstat(e.Path); err == nil && info.Mode().IsRegular() && info.Size() == e.Size {
			return offer{offset: e.Size, fromFinal: true}
		}
	}
	return offer{}
}

// durableLength is the recorded durable length of id's partial, no more
// than the partial's actual size; 0 if either is missing or damaged.
func (s *partialStore) durableLength(id string) int64 {
	rec, err := s.root.ReadFile(recordName(id))
	if err != nil {
		return 0
	}
	n, ok := parseRecord(rec)
	if !ok {
		return 0
	}
	info, err := s.root.Lstat(dataName(id))
	if err != nil || !info.Mode().IsRegular() {
		return 0
	}
	return min(n, info.Size())
}

// The record is 16 bytes: a magic, the length and a CRC of both, so that a
// torn or foreign file reads as "nothing durable" rather than as a length.
var recordMagic = [4]byte{'Q', 'S', 'P', '1'}

const recordLen = 16

func appendRecord(b []byte, n int64) []byte {
	start := len(b)
	b = append(b, recordMagic[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(n))
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

func parseRecord(b []byte) (int64, bool) {
	if len(b) != recordLen || [4]byte(b[:4]) != recordMagic {
		return 0, false
	}
	if crc32.ChecksumIEEE(b[:12]) != binary.BigEndian.Uint32(b[12:]) {
		return 0, false
	}
	n := int64(binary.BigEndian.Uint64(b[4:12]))
	return n, n >= 0
}

// partialFile is a partial open for appending, with its resume record.
// The record is created at the first checkpoint, so a small file that
// arrives in one go costs no record at all.
//
// Checkpoints run in the background while data keeps arriving: fsync
// guarantees what was written before it started, so the length captured at
// that moment is what the record may claim. The goroutine receiving the
// file owns every field except those under mu, which the checkpoint
// goroutine sets.
type partialFile struct {
	store    *partialStore
	id       string
	data     *os.File
	record   *os.File      // nil until the first checkpoint; used by one checkpoint at a time
	written  int64         // bytes written to data
	lastSync time.Time     // when the last checkpoint started
	pending  chan struct{} // closed when the background checkpoint ends; nil if none

	mu      sync.Mutex
	durable int64 // bytes known to be on disk and recorded
	err     error // a background checkpoint's failure
}

// Checkpoint cadence: a SIGKILL or crash loses at most about this much of
// the transfer, and an fsync every 16 MiB costs little when it overlaps
// with receiving.
const (
	checkpointBytes    = 16 << 20
	checkpointInterval = time.Second
)

// open opens (creating) id's partial.
func (s *partialStore) open(id string) (*partialFile, error) {
	data, err := s.root.OpenFile(dataName(id), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &partialFile{store: s, id: id, data: data, lastSync: time.Now()}, nil
}

// hashPrefix returns the file hash (wire.NewHash) of the partial's first n bytes, read back from
// disk. A partial shorter than n hashes what there is, which then cannot
// match the sender's hash.
func (p *partialFile) hashPrefix(n int64) ([wire.HashLen]byte, error) {
	var sum [wire.HashLen]byte
	h := wire.NewHash()
	if _, err := io.Copy(h, io.NewSectionReader(p.data, 0, n)); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}

// startAt truncates the partial to n bytes (discarding anything written
// after the last checkpoint) and positions writes there. Starting afresh
// removes the old record first: a record must never describe data that is
// no longer there. (Should a crash undo that removal, the sender's prefix
// hash still catches the stale record.)
func (p *partialFile) startAt(n int64) error {
	p.waitCheckpoint()
	if n == 0 {
		if err := p.store.root.Remove(recordName(p.id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := p.data.Truncate(n); err != nil {
		return err
	}
	if _, err := p.data.Seek(n, io.SeekStart); err != nil {
		return err
	}
	p.written = n
	p.mu.Lock()
	p.durable = n
	p.mu.Unlock()
	return nil
}

// write appends b and starts a checkpoint when one is due. A checkpoint
// slower than the data makes it wait once two checkpoints' worth is
// unsynced: a crash must lose a bounded part of the transfer, and an fsync
// that took 100 ms at 600 MB/s left 66 MB unsynced behind a 16 MiB
// cadence.
func (p *partialFile) write(b []byte) error {
	if p.pending != nil {
		select {
		case <-p.pending:
			p.pending = nil
		default:
			p.mu.Lock()
			behind := p.written - p.durable
			p.mu.Unlock()
			if behind >= 2*checkpointBytes {
				p.waitCheckpoint()
			}
		}
	}
	p.mu.Lock()
	durable, err := p.durable, p.err
	p.mu.Unlock()
	if err != nil {
		return err
	}
	n, err := p.data.Write(b)
	p.written += int64(n)
	if err != nil {
		return err
	}
	if p.pending == nil && (p.written-durable >= checkpointBytes || time.Since(p.lastSync) >= checkpointInterval) {
		written := p.written
		done := make(chan struct{})
		p.pending = done
		p.lastSync = time.Now()
		go func() {
			defer close(done)
			p.persist(written)
		}()
	}
	return nil
}

// waitCheckpoint waits for a background checkpoint to end.
func (p *partialFile) waitCheckpoint() {
	if p.pending != nil {
		<-p.pending
		p.pending = nil
	}
}

// checkpoint makes everything written so far durable and records it, and
// returns the first checkpoint error, background ones included.
func (p *partialFile) checkpoint() error {
	p.waitCheckpoint()
	p.lastSync = time.Now()
	return p.persist(p.written)
}

// persist fsyncs the data and then records n as durable.
func (p *partialFile) persist(n int64) error {
	p.mu.Lock()
	durable, prev := p.durable, p.err
	p.mu.Unlock()
	if prev != nil || n == durable {
		return prev
	}
	err := p.data.Sync()
	if err == nil && p.record == nil {
		p.record, err = p.store.root.OpenFile(recordName(p.id), os.O_RDWR|os.O_CREATE, 0o600)
	}
	if err == nil {
		_, err = p.record.WriteAt(appendRecord(nil, n), 0)
	}
	if err == nil {
		err = p.record.Sync()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.err = err
		return err
	}
	p.durable = n
	return nil
}

func (p *partialFile) close() {
	p.waitCheckpoint()
	p.data.Close()
	if p.record != nil {
		p.record.Close()
	}
}

// discard removes the partial and its record.
func (s *partialStore) discard(id string) {
	s.root.Remove(dataName(id))
	s.root.Remove(recordName(id))
}

// pruneStale removes partials and records not touched for staleAfter.
func (s *partialStore) pruneStale(now time.Time) {
	dir, err := s.root.Open(wire.StateDir)
	if err != nil {
		return
	}
	defer dir.Close()
	for {
		entries, err := dir.ReadDir(256)
		for _, e := range entries {
			info, err := e.Info()
			if err == nil && info.Mode().IsRegular() && now.Sub(info.ModTime()) > staleAfter {
				s.root.Remove(path.Join(wire.StateDir, e.Name()))
			}
		}
		if err != nil {
			return
		}
	}
}
