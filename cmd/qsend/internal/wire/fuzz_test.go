package wire

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzParseManifest checks that no input panics the receiver's manifest
// decoder, that whatever it accepts passes ValidatePath, and that accepted
// manifests round-trip.
func FuzzParseManifest(f *testing.F) {
	m := sampleManifest()
	f.Add(m.Append(nil))
	f.Add(manifestBytes(entryBytes(KindFile, 0o644, 0, "../evil")))
	f.Add(manifestBytes(entryBytes(KindFile, 0o644, 0, "a/../../b")))
	f.Add(manifestBytes(entryBytes(KindFile, 0o644, 3, "ok"), entryBytes(KindFile, 0o644, 0, "ok/x")))
	f.Add(manifestBytes(entryBytes(KindDir, 0o755, 0, "d"), entryBytes(KindFile, 0o600, 9, "d/f")))
	f.Add([]byte{Version, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		for _, e := range m.Entries {
			if err := ValidatePath(e.Path); err != nil {
				t.Fatalf("accepted entry with bad path: %v", err)
			}
		}
		again, err := ParseManifest(m.Append(nil))
		if err != nil {
			t.Fatalf("re-parsing an accepted manifest: %v", err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip changed the manifest: got %+v, want %+v", again, m)
		}
	})
}

// FuzzParseMessages runs the small messages' decoders (the sender parses
// replies and results, the receiver file headers and trailers) through
// arbitrary bytes and round-trips what they accept.
func FuzzParseMessages(f *testing.F) {
	f.Add((&ManifestReply{Status: StatusOK, Offsets: []int64{0, 9}}).Append(nil))
	f.Add((&FileHeader{Index: 3, Offset: 77}).Append(nil))
	f.Add(Result{Status: StatusAbort, Message: "no space"}.Append(nil))
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParseManifestReply(b); err == nil {
			again, err := ParseManifestReply(r.Append(nil))
			if err != nil || !reflect.DeepEqual(again, r) {
				t.Fatalf("ManifestReply round trip: got %+v, %v, want %+v", again, err, r)
			}
		}
		if h, err := ParseFileHeader(b); err == nil {
			again, err := ParseFileHeader(h.Append(nil))
			if err != nil || again != h {
				t.Fatalf("FileHeader round trip: got %+v, %v, want %+v", again, err, h)
			}
		}
		if tr, err := ParseTrailer(b); err == nil {
			if !bytes.Equal(tr.Append(nil), b) {
				t.Fatalf("Trailer round trip changed the bytes")
			}
		}
		if r, err := ParseResult(b); err == nil {
			again, err := ParseResult(r.Append(nil))
			if err != nil || again != r {
				t.Fatalf("Result round trip: got %+v, %v, want %+v", again, err, r)
			}
		}
		_, _ = ReadFrame(bytes.NewReader(b), FrameFileHeader, MaxFileHeaderLen)
	})
}
