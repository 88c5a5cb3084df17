package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func sampleManifest() Manifest {
	return Manifest{Entries: []Entry{
		{Path: "tree", Kind: KindDir, Mode: 0o755, ModTime: 1_700_000_000_000_000_000},
		{Path: "tree/empty", Kind: KindDir, Mode: 0o700, ModTime: -5},
		{Path: "tree/a.txt", Kind: KindFile, Mode: 0o644, ModTime: 42, Size: 0},
		{Path: "tree/sub/b.bin", Kind: KindFile, Mode: 0o600, Size: 1 << 40},
		{Path: "big.bin", Kind: KindFile, Mode: 0o444, Size: MaxFileSize},
	}}
}

func TestManifestRoundTrip(t *testing.T) {
	m := sampleManifest()
	got, err := ParseManifest(m.Append(nil))
	if err != nil {
		t.Fatalf("ParseManifest: %v", err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("got %+v, want %+v", got, m)
	}
	if n := got.FileCount(); n != 3 {
		t.Fatalf("got FileCount %d, want 3", n)
	}
}

// entryBytes encodes one entry by hand, so tests can build what Append
// never would.
func entryBytes(kind Kind, mode uint16, size uint64, path string) []byte {
	b := []byte{byte(kind)}
	b = binary.BigEndian.AppendUint16(b, mode)
	b = binary.BigEndian.AppendUint64(b, 0)
	b = binary.AppendUvarint(b, size)
	b = binary.AppendUvarint(b, uint64(len(path)))
	return append(b, path...)
}

func manifestBytes(entries ...[]byte) []byte {
	b := []byte{Version}
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, e := range entries {
		b = append(b, e...)
	}
	return b
}

func TestParseManifestRefuses(t *testing.T) {
	good := entryBytes(KindFile, 0o644, 1, "ok")
	tests := []struct {
		desc    string
		in      []byte
		wantErr error
	}{
		{desc: "empty", in: nil, wantErr: ErrMalformed},
		{desc: "older version", in: []byte{1, 0}, wantErr: ErrVersion},
		{desc: "newer version", in: []byte{3, 0}, wantErr: ErrVersion},
		{desc: "count beyond cap", in: binary.AppendUvarint([]byte{Version}, MaxEntries+1), wantErr: ErrMalformed},
		{desc: "count beyond the bytes present", in: binary.AppendUvarint([]byte{Version}, 1000), wantErr: ErrMalformed},
		{desc: "truncated entry", in: manifestBytes(good[:len(good)-1]), wantErr: ErrMalformed},
		{desc: "trailing bytes", in: append(manifestBytes(good), 0), wantErr: ErrMalformed},
		{desc: "unknown kind", in: manifestBytes(entryBytes(3, 0o644, 0, "x")), wantErr: ErrMalformed},
		{desc: "setuid bit", in: manifestBytes(entryBytes(KindFile, 0o4755, 0, "x")), wantErr: ErrMalformed},
		{desc: "directory with a size", in: manifestBytes(entryBytes(KindDir, 0o755, 5, "x")), wantErr: ErrMalformed},
		{desc: "size beyond 2^62", in: manifestBytes(entryBytes(KindFile, 0o644, 1<<62, "x")), wantErr: ErrMalformed},
		{desc: "path too long", in: manifestBytes(entryBytes(KindFile, 0o644, 0, strings.Repeat("a", MaxPathLen+1))), wantErr: ErrMalformed},
		{desc: "parent traversal", in: manifestBytes(entryBytes(KindFile, 0o644, 0, "../evil")), wantErr: ErrBadPath},
		{desc: "absolute", in: manifestBytes(entryBytes(KindFile, 0o644, 0, "/etc/x")), wantErr: ErrBadPath},
		{desc: "traversal in the middle", in: manifestBytes(entryBytes(KindFile, 0o644, 0, "a/../../b")), wantErr: ErrBadPath},
		{desc: "state dir", in: manifestBytes(entryBytes(KindDir, 0o755, 0, ".qsend")), wantErr: ErrBadPath},
		{desc: "duplicate", in: manifestBytes(good, good), wantErr: ErrMalformed},
		{desc: "duplicate file and dir", in: manifestBytes(good, entryBytes(KindDir, 0o755, 0, "ok")), wantErr: ErrMalformed},
		{desc: "entry under a file", in: manifestBytes(good, entryBytes(KindFile, 0o644, 0, "ok/x")), wantErr: ErrMalformed},
		{desc: "entry deep under a file", in: manifestBytes(entryBytes(KindFile, 0o644, 0, "ok/x/y"), entryBytes(KindDir, 0o755, 0, "ok-"), good), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := ParseManifest(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestMessagesRoundTrip(t *testing.T) {
	reply := ManifestReply{Status: StatusOK, Offsets: []int64{0, 5, MaxFileSize}}
	gotReply, err := ParseManifestReply(reply.Append(nil))
	if err != nil || !reflect.DeepEqual(gotReply, reply) {
		t.Fatalf("ManifestReply: got %+v, %v, want %+v", gotReply, err, reply)
	}
	hdr := FileHeader{Index: 7, Offset: 1 << 33, PrefixHash: [HashLen]byte{1, 2, 3}}
	gotHdr, err := ParseFileHeader(hdr.Append(nil))
	if err != nil || gotHdr != hdr {
		t.Fatalf("FileHeader: got %+v, %v, want %+v", gotHdr, err, hdr)
	}
	tr := Trailer{Hash: [HashLen]byte{9}}
	gotTr, err := ParseTrailer(tr.Append(nil))
	if err != nil || gotTr != tr {
		t.Fatalf("Trailer: got %+v, %v, want %+v", gotTr, err, tr)
	}
	res := Result{Status: StatusAbort, Message: "no space left on device writing big.bin at 15.9 MiB"}
	gotRes, err := ParseResult(res.Append(nil))
	if err != nil || gotRes != res {
		t.Fatalf("Result: got %+v, %v, want %+v", gotRes, err, res)
	}
}

func TestResultMessageIsMadePrintable(t *testing.T) {
	res := Result{Status: StatusFailed, Message: "bad\x1b[2J\nname\xff"}
	got, err := ParseResult(res.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := "bad?[2J?name?"; got.Message != want {
		t.Fatalf("got message %q, want %q", got.Message, want)
	}
}

func TestResultMessageIsCut(t *testing.T) {
	res := Result{Status: StatusFailed, Message: strings.Repeat("é", MaxMessageLen)}
	b := res.Append(nil)
	if len(b) > MaxResultLen {
		t.Fatalf("got %d-byte result, want at most %d", len(b), MaxResultLen)
	}
	got, err := ParseResult(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Message) != MaxMessageLen {
		t.Fatalf("got message of %d bytes, want %d", len(got.Message), MaxMessageLen)
	}
}

func TestParseStatusRefusesUnknown(t *testing.T) {
	if _, err := ParseResult([]byte{9, 0}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", err)
	}
}

func TestReadFrame(t *testing.T) {
	body := []byte("hello")
	stream := append(AppendFrame(nil, FrameResult, body), "data after"...)
	tests := []struct {
		desc    string
		in      []byte
		want    FrameType
		max     int
		wantErr error
	}{
		{desc: "good", in: stream, want: FrameResult, max: 10},
		{desc: "wrong type", in: stream, want: FrameDone, max: 10, wantErr: ErrMalformed},
		{desc: "over the cap", in: stream, want: FrameResult, max: 4, wantErr: ErrMalformed},
		{desc: "empty stream", in: nil, want: FrameResult, max: 10, wantErr: io.EOF},
		{desc: "truncated length", in: []byte{byte(FrameResult)}, want: FrameResult, max: 10, wantErr: io.ErrUnexpectedEOF},
		{desc: "truncated body", in: stream[:4], want: FrameResult, max: 10, wantErr: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := bytes.NewReader(tt.in)
			got, err := ReadFrame(r, tt.want, tt.max)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("got %q, %v, want %q", got, err, body)
			}
			rest, _ := io.ReadAll(r)
			if string(rest) != "data after" {
				t.Fatalf("ReadFrame consumed past its frame: rest %q", rest)
			}
		})
	}
}
