package qsend

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/limpetnet/limpet/cmd/qsend/internal/wire"
)

func newTestStore(t *testing.T) (*partialStore, string) {
	t.Helper()
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	s, err := newPartialStore(root)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func TestRecordRoundTrip(t *testing.T) {
	for _, n := range []int64{0, 1, 16 << 20, 1 << 40} {
		got, ok := parseRecord(appendRecord(nil, n))
		if !ok || got != n {
			t.Errorf("parseRecord(appendRecord(%d)) = %d, %v", n, got, ok)
		}
	}
	rec := appendRecord(nil, 5)
	rec[7] ^= 1
	if _, ok := parseRecord(rec); ok {
		t.Error("a record with a flipped bit parsed")
	}
	if _, ok := parseRecord(rec[:10]); ok {
		t.Error("a torn record parsed")
	}
}

func TestPartialIDSeparatesSendersPathsAndSizes(t *testing.T) {
	a, b := testPublicKey(t), testPublicKey(t)
	ids := map[string]string{
		"base":         partialID(a, "x/y", 10),
		"other sender": partialID(b, "x/y", 10),
		"other path":   partialID(a, "x/z", 10),
		"other size":   partialID(a, "x/y", 11),
	}
	seen := map[string]string{}
	for desc, id := range ids {
		if prev, dup := seen[id]; dup {
			t.Errorf("%s and %s share partial ID %s", desc, prev, id)
		}
		seen[id] = desc
	}
	if partialID(a, "x/y", 10) != ids["base"] {
		t.Error("partialID is not deterministic")
	}
}

// TestOfferFor checks where a file resumes from in each state a receiver
// can be left in.
func TestOfferFor(t *testing.T) {
	sender := testPublicKey(t)
	const size = 1000
	entry := wire.Entry{Path: "f.bin", Kind: wire.KindFile, Mode: 0o644, Size: size}
	id := partialID(sender, entry.Path, entry.Size)
	tests := []struct {
		desc    string
		partial int64 // bytes in ID.part; -1 for none
		record  []byte
		final   int64 // size of a file in place; -1 for none
		want    offer
	}{
		{desc: "nothing here", partial: -1, final: -1, want: offer{}},
		{desc: "durable partial", partial: 600, record: appendRecord(nil, 512), final: -1, want: offer{offset: 512}},
		{desc: "record beyond the data is cut to the data", partial: 300, record: appendRecord(nil, 512), final: -1, want: offer{offset: 300}},
		{desc: "partial without a record", partial: 600, final: -1, want: offer{}},
		{desc: "damaged record", partial: 600, record: []byte("garbage garbage!"), final: -1, want: offer{}},
		{desc: "record longer than the file", partial: 2000, record: appendRecord(nil, 2000), final: -1, want: offer{}},
		{desc: "complete file in place", partial: -1, final: size, want: offer{offset: size, fromFinal: true}},
		{desc: "file in place of another size", partial: -1, final: size - 1, want: offer{}},
		{desc: "partial wins over the file in place", partial: 100, record: appendRecord(nil, 100), final: size, want: offer{offset: 100}},
		{desc: "empty partial falls back to the file in place", partial: 0, record: appendRecord(nil, 0), final: size, want: offer{offset: size, fromFinal: true}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			s, dir := newTestStore(t)
			if tt.partial >= 0 {
				writeZeros(t, filepath.Join(dir, filepath.FromSlash(dataName(id))), tt.partial)
			}
			if tt.record != nil {
				if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(recordName(id))), tt.record, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tt.final >= 0 {
				writeZeros(t, filepath.Join(dir, entry.Path), tt.final)
			}
			if got := s.offerFor(id, entry); got != tt.want {
				t.Fatalf("got offer %+v, want %+v", got, tt.want)
			}
		})
	}
}

func writeZeros(t *testing.T, path string, n int64) {
	t.Helper()
	if err := os.WriteFile(path, make([]byte, n), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPartialCheckpointAndResume writes a partial past a checkpoint, then
// reopens it as a new session would: the resume offset is the checkpoint,
// what came after it is cut, and the re-read prefix hashes as written.
func TestPartialCheckpointAndResume(t *testing.T) {
	s, _ := newTestStore(t)
	id := "0123456789abcdef"
	pf, err := s.open(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := pf.startAt(0); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := pf.write(data[:2000]); err != nil {
		t.Fatal(err)
	}
	if err := pf.checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := pf.write(data[2000:]); err != nil { // not checkpointed: lost in a crash
		t.Fatal(err)
	}
	pf.close()

	entry := wire.Entry{Path: "x", Kind: wire.KindFile, Size: 5000}
	if got, want := s.offerFor(id, entry), (offer{offset: 2000}); got != want {
		t.Fatalf("got offer %+v, want %+v", got, want)
	}
	pf, err = s.open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.close()
	got, err := pf.hashPrefix(2000)
	if err != nil {
		t.Fatal(err)
	}
	h := wire.NewHash()
	h.Write(data[:2000])
	if want := [wire.HashLen]byte(h.Sum(nil)); got != want {
		t.Fatalf("prefix hash %x, want %x", got, want)
	}
	if err := pf.startAt(2000); err != nil {
		t.Fatal(err)
	}
	info, err := pf.data.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != 2000 {
		t.Fatalf("partial is %d bytes after startAt(2000), want 2000", info.Size())
	}
}

func TestBusyPartialsAreExclusive(t *testing.T) {
	s, _ := newTestStore(t)
	if !s.acquire("a") {
		t.Fatal("first acquire failed")
	}
	if s.acquire("a") {
		t.Fatal("second acquire of the same ID succeeded")
	}
	if !s.acquire("b") {
		t.Fatal("acquire of another ID failed")
	}
	s.release("a")
	if !s.acquire("a") {
		t.Fatal("acquire after release failed")
	}
}

func TestPruneStale(t *testing.T) {
	s, dir := newTestStore(t)
	old := filepath.Join(dir, wire.StateDir, "old.part")
	fresh := filepath.Join(dir, wire.StateDir, "fresh.part")
	writeZeros(t, old, 1)
	writeZeros(t, fresh, 1)
	longAgo := time.Now().Add(-staleAfter - time.Hour)
	if err := os.Chtimes(old, longAgo, longAgo); err != nil {
		t.Fatal(err)
	}
	s.pruneStale(time.Now())
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("stale partial: got %v, want it removed", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh partial: got %v, want it kept", err)
	}
}

func TestStateDirMustBeADirectory(t *testing.T) {
	dir := t.TempDir()
	writeZeros(t, filepath.Join(dir, wire.StateDir), 1)
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := newPartialStore(root); err == nil {
		t.Fatal("got nil error with a file named .qsend in the way")
	}
}
