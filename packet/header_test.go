package packet

import (
	"bytes"
	"errors"
	"testing"
)

func mustConnID(t testing.TB, b []byte) ConnectionID {
	t.Helper()
	c, err := NewConnectionID(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func seqBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return b
}

// buildInitial returns a whole Initial packet with pn and a payload of
// payloadLen bytes, and the pnOffset AppendLongHeader reported.
func buildInitial(t testing.TB, prefix []byte, h LongHeader, pnLen, payloadLen int) ([]byte, int) {
	t.Helper()
	out, pnOffset := AppendLongHeader(prefix, h, pnLen, payloadLen)
	out = AppendPacketNumber(out, 0x01020304, pnLen)
	return append(out, bytes.Repeat([]byte{0xcc}, payloadLen)...), pnOffset
}

func TestLongHeaderRoundTrip(t *testing.T) {
	tests := []struct {
		desc       string
		dcid, scid []byte
		token      []byte
		pnLen      int
		payloadLen int
	}{
		{"empty CIDs, no token, minimum length", nil, nil, nil, 1, MinProtectedSpan - 1},
		{"8-byte CIDs, no token", seqBytes(8), seqBytes(8), nil, 2, 100},
		{"20-byte CIDs, token", seqBytes(20), seqBytes(20), seqBytes(37), 4, 1100},
		{"63-byte token", seqBytes(8), nil, seqBytes(63), 3, 200},
		{"64-byte token", seqBytes(8), nil, seqBytes(64), 3, 200},
		{"largest two-byte Length", seqBytes(8), seqBytes(8), nil, 4, 16383 - 4},
		{"four-byte Length", seqBytes(8), seqBytes(8), nil, 4, 16384 - 4},
	}
	for _, tt := range tests {
		h := LongHeader{Type: LongTypeInitial, Version: Version, DstConnID: mustConnID(t, tt.dcid),
			SrcConnID: mustConnID(t, tt.scid), Token: tt.token}
		pkt, pnOffset := buildInitial(t, nil, h, tt.pnLen, tt.payloadLen)
		if got, want := pnOffset+tt.pnLen, LongHeaderLen(h, tt.pnLen, tt.payloadLen); got != want {
			t.Errorf("%s: header through packet number is %d bytes, LongHeaderLen says %d", tt.desc, got, want)
		}
		if got := PacketNumberLenFromByte0(pkt[0]); got != tt.pnLen {
			t.Errorf("%s: pn length bits say %d, want %d", tt.desc, got, tt.pnLen)
		}
		if ReservedBitsSet(pkt[0]) {
			t.Errorf("%s: reserved bits set in %#x", tt.desc, pkt[0])
		}
		got, err := ParseLongHeader(pkt)
		if err != nil {
			t.Fatalf("%s: ParseLongHeader: %v", tt.desc, err)
		}
		if got.Type != LongTypeInitial || got.Version != Version || got.DstConnID != h.DstConnID ||
			got.SrcConnID != h.SrcConnID || !bytes.Equal(got.Token, tt.token) {
			t.Errorf("%s: parsed %+v, want %+v", tt.desc, got, h)
		}
		if got.PNOffset != pnOffset || got.PacketLen != len(pkt) {
			t.Errorf("%s: PNOffset %d PacketLen %d, want %d and %d", tt.desc, got.PNOffset, got.PacketLen, pnOffset, len(pkt))
		}
		for i := range pkt {
			if _, err := ParseLongHeader(pkt[:i]); err == nil {
				t.Fatalf("%s: %d-byte prefix of %d parsed without error", tt.desc, i, len(pkt))
			}
		}
	}
}

func TestLongHeaderGolden(t *testing.T) {
	h := LongHeader{Type: LongTypeInitial, Version: Version, DstConnID: mustConnID(t, []byte{0xd1, 0xd2}),
		SrcConnID: mustConnID(t, []byte{0x51}), Token: []byte{0x70}}
	got, pnOffset := AppendLongHeader([]byte{0xee}, h, 2, 30)
	want := []byte{0xee,
		0xc1,                   // long, fixed, Initial, pn length 2
		0x4c, 0x4d, 0x50, 0x31, // "LMP1"
		0x02, 0xd1, 0xd2, // DCID
		0x01, 0x51, // SCID
		0x01, 0x70, // token
		0x40, 0x20, // Length 32 in two bytes
	}
	if !bytes.Equal(got, want) || pnOffset != len(want) {
		t.Errorf("AppendLongHeader = %x, pnOffset %d; want %x, %d", got, pnOffset, want, len(want))
	}
}

func TestCoalescedLongHeaders(t *testing.T) {
	h1 := LongHeader{Type: LongTypeInitial, Version: Version, DstConnID: mustConnID(t, seqBytes(8))}
	h2 := LongHeader{Type: LongTypeInitial, Version: Version, SrcConnID: mustConnID(t, seqBytes(20)), Token: []byte("tok")}
	dgram, _ := buildInitial(t, nil, h1, 1, 50)
	first := len(dgram)
	dgram, pnOffset2 := buildInitial(t, dgram, h2, 2, 60)
	if pnOffset2 <= first {
		t.Fatalf("pnOffset of the second packet %d is not an index into the whole datagram (first is %d bytes)", pnOffset2, first)
	}
	p1, err := ParseLongHeader(dgram)
	if err != nil {
		t.Fatal(err)
	}
	if p1.PacketLen != first {
		t.Fatalf("first PacketLen = %d, want %d", p1.PacketLen, first)
	}
	p2, err := ParseLongHeader(dgram[p1.PacketLen:])
	if err != nil {
		t.Fatal(err)
	}
	if p2.SrcConnID != h2.SrcConnID || string(p2.Token) != "tok" || p1.PacketLen+p2.PNOffset != pnOffset2 ||
		p1.PacketLen+p2.PacketLen != len(dgram) {
		t.Errorf("second packet parsed as %+v at %d", p2, p1.PacketLen)
	}
}

func TestParseLongHeaderErrors(t *testing.T) {
	valid, _ := buildInitial(t, nil, LongHeader{Type: LongTypeInitial, Version: Version,
		DstConnID: mustConnID(t, seqBytes(8)), SrcConnID: mustConnID(t, seqBytes(8))}, 1, 40)
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	tests := []struct {
		desc string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short header", mod(func(b []byte) []byte { b[0] &^= 0x80; return b }), ErrHeaderForm},
		{"fixed bit clear", mod(func(b []byte) []byte { b[0] &^= 0x40; return b }), ErrFixedBit},
		{"other version", mod(func(b []byte) []byte { b[4] = 0x32; return b }), ErrUnsupportedVersion},
		{"QUIC v1", mod(func(b []byte) []byte { copy(b[1:], []byte{0, 0, 0, 1}); return b }), ErrUnsupportedVersion},
		{"type 1", mod(func(b []byte) []byte { b[0] |= 0x10; return b }), ErrLongType},
		{"type 2", mod(func(b []byte) []byte { b[0] |= 0x20; return b }), ErrLongType},
		{"21-byte DCID", mod(func(b []byte) []byte { b[5] = 21; return b }), ErrConnIDLen},
		{"21-byte SCID", mod(func(b []byte) []byte { b[14] = 21; return b }), ErrConnIDLen},
		{"token past the end", mod(func(b []byte) []byte { b[23] = 0x3f; return b }), ErrTruncated},
		{"Length past the end", mod(func(b []byte) []byte { b[24], b[25] = 0x40, 42; return b }), ErrInvalidLength},
		{"Length too short for the sample", mod(func(b []byte) []byte { b[24], b[25] = 0x40, 19; return b }), ErrInvalidLength},
	}
	for _, tt := range tests {
		if _, err := ParseLongHeader(tt.b); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.desc, err, tt.want)
		}
	}
	// Protected bits are the crypto layer's business: any value parses.
	for bits := range byte(16) {
		b := mod(func(b []byte) []byte { b[0] = b[0]&^0x0f | bits; return b })
		if _, err := ParseLongHeader(b); err != nil {
			t.Errorf("protected bits %#x: %v", bits, err)
		}
	}
	// Length 20 is the minimum a parser accepts.
	b := mod(func(b []byte) []byte { b[24], b[25] = 0x40, 20; return b })
	if h, err := ParseLongHeader(b); err != nil || h.PacketLen != 26+20 {
		t.Errorf("Length 20: PacketLen %d, err %v; want %d, nil", h.PacketLen, err, 26+20)
	}
}

func TestShortHeaderRoundTrip(t *testing.T) {
	for _, dcidLen := range []int{0, 8, 20} {
		for pnLen := 1; pnLen <= 4; pnLen++ {
			for _, keyPhase := range []bool{false, true} {
				dcid := mustConnID(t, seqBytes(dcidLen))
				out, pnOffset := AppendShortHeader([]byte{0xee}, dcid, keyPhase, pnLen)
				hdr := out[1:]
				if pnOffset != len(out) || pnOffset-1+pnLen != ShortHeaderLen(dcidLen, pnLen) {
					t.Errorf("dcid %d pn %d: pnOffset %d, ShortHeaderLen %d", dcidLen, pnLen, pnOffset, ShortHeaderLen(dcidLen, pnLen))
				}
				if hdr[0]&0xe0 != 0x40 || PacketNumberLenFromByte0(hdr[0]) != pnLen ||
					KeyPhaseFromByte0(hdr[0]) != keyPhase || ReservedBitsSet(hdr[0]) {
					t.Errorf("dcid %d pn %d key phase %v: first byte %08b", dcidLen, pnLen, keyPhase, hdr[0])
				}
				pkt := AppendPacketNumber(hdr, 7, pnLen)
				pkt = append(pkt, make([]byte, MinProtectedSpan-pnLen)...)
				h, err := ParseShortHeader(pkt, dcidLen)
				if err != nil {
					t.Fatalf("dcid %d pn %d: %v", dcidLen, pnLen, err)
				}
				if h.DstConnID != dcid || h.PNOffset != 1+dcidLen {
					t.Errorf("dcid %d: parsed %+v", dcidLen, h)
				}
				for i := range pkt {
					if _, err := ParseShortHeader(pkt[:i], dcidLen); !errors.Is(err, ErrTruncated) {
						t.Fatalf("dcid %d: %d-byte prefix of %d: err = %v, want ErrTruncated", dcidLen, i, len(pkt), err)
					}
				}
				got, err := PeekDestConnID(pkt, dcidLen)
				if err != nil || got != dcid {
					t.Errorf("PeekDestConnID = %v, %v; want %v", got, err, dcid)
				}
			}
		}
	}
}

func TestParseShortHeaderErrors(t *testing.T) {
	pkt := make([]byte, 40)
	pkt[0] = 0x40
	tests := []struct {
		desc    string
		byte0   byte
		dcidLen int
		want    error
	}{
		{"long header", 0xc0, 8, ErrHeaderForm},
		{"fixed bit clear", 0x00, 8, ErrFixedBit},
		{"DCID length above 20", 0x40, 21, ErrConnIDLen},
		{"negative DCID length", 0x40, -1, ErrConnIDLen},
	}
	for _, tt := range tests {
		b := bytes.Clone(pkt)
		b[0] = tt.byte0
		if _, err := ParseShortHeader(b, tt.dcidLen); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.desc, err, tt.want)
		}
	}
	// The spin bit and protected bits are not the parser's concern.
	for _, b0 := range []byte{0x7f, 0x60, 0x5f} {
		b := bytes.Clone(pkt)
		b[0] = b0
		if _, err := ParseShortHeader(b, 8); err != nil {
			t.Errorf("first byte %#x: %v", b0, err)
		}
	}
}

func TestPeekDestConnID(t *testing.T) {
	dcid := mustConnID(t, seqBytes(12))
	initial, _ := buildInitial(t, nil, LongHeader{Type: LongTypeInitial, Version: Version, DstConnID: dcid}, 1, 30)
	if got, err := PeekDestConnID(initial, 8); err != nil || got != dcid {
		t.Errorf("Initial: got %v, %v; want %v", got, err, dcid)
	}
	retry := append(AppendRetry(nil, Version, dcid, ConnectionID{}, []byte("t")), make([]byte, RetryTagLen)...)
	if got, err := PeekDestConnID(retry, 8); err != nil || got != dcid {
		t.Errorf("Retry: got %v, %v; want %v", got, err, dcid)
	}
	tests := []struct {
		desc string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"long header cut in the version", initial[:4], ErrTruncated},
		{"long header cut in the DCID", initial[:10], ErrTruncated},
		{"unknown version", append([]byte{0xc0, 0, 0, 0, 1}, initial[5:]...), ErrUnsupportedVersion},
		{"long header fixed bit clear", append([]byte{0x80}, initial[1:]...), ErrFixedBit},
		{"long header 21-byte DCID", append(bytes.Clone(initial[:5]), append([]byte{21}, make([]byte, 40)...)...), ErrConnIDLen},
		{"short header too short", []byte{0x40, 1, 2, 3}, ErrTruncated},
	}
	for _, tt := range tests {
		if _, err := PeekDestConnID(tt.b, 8); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.desc, err, tt.want)
		}
	}
}

func TestRetryRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		desc       string
		dcid, scid []byte
		token      []byte
	}{
		{"empty CIDs", nil, nil, []byte{1}},
		{"20-byte CIDs", seqBytes(20), seqBytes(20), seqBytes(100)},
	} {
		dcid, scid := mustConnID(t, tt.dcid), mustConnID(t, tt.scid)
		body := AppendRetry(nil, Version, dcid, scid, tt.token)
		var tag [RetryTagLen]byte
		copy(tag[:], seqBytes(RetryTagLen))
		pkt := append(bytes.Clone(body), tag[:]...)
		if pkt[0] != 0xf0 {
			t.Errorf("%s: first byte %#x, want 0xf0", tt.desc, pkt[0])
		}
		r, err := ParseRetry(pkt)
		if err != nil {
			t.Fatalf("%s: %v", tt.desc, err)
		}
		if r.Version != Version || r.DstConnID != dcid || r.SrcConnID != scid || !bytes.Equal(r.Token, tt.token) || r.Tag != tag {
			t.Errorf("%s: parsed %+v", tt.desc, r)
		}
		h, err := ParseLongHeader(pkt)
		if err != nil || h.Type != LongTypeRetry || h.DstConnID != dcid || h.SrcConnID != scid ||
			!bytes.Equal(h.Token, tt.token) || h.PacketLen != len(pkt) || h.PNOffset != 0 {
			t.Errorf("%s: ParseLongHeader = %+v, %v", tt.desc, h, err)
		}
		// A Retry runs to the end of the datagram, so only prefixes that
		// leave no room for a token and the tag are malformed.
		for i := 0; i <= len(pkt)-len(tt.token)-RetryTagLen; i++ {
			if _, err := ParseRetry(pkt[:i]); err == nil {
				t.Fatalf("%s: %d-byte prefix parsed", tt.desc, i)
			}
		}
		odcid := mustConnID(t, []byte{9, 8, 7})
		pseudo := AppendRetryPseudoPacket(nil, odcid, pkt[:len(pkt)-RetryTagLen])
		if want := append([]byte{3, 9, 8, 7}, body...); !bytes.Equal(pseudo, want) {
			t.Errorf("%s: pseudo-packet %x, want %x", tt.desc, pseudo, want)
		}
	}
}

func TestParseRetryErrors(t *testing.T) {
	valid := append(AppendRetry(nil, Version, mustConnID(t, seqBytes(8)), mustConnID(t, seqBytes(8)), []byte("token")), make([]byte, 16)...)
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	tests := []struct {
		desc string
		b    []byte
		want error
	}{
		{"unused bits set", mod(func(b []byte) []byte { b[0] |= 0x01; return b }), ErrRetryUnusedBits},
		{"Initial type", mod(func(b []byte) []byte { b[0] = 0xc0; return b }), ErrLongType},
		{"fixed bit clear", mod(func(b []byte) []byte { b[0] &^= 0x40; return b }), ErrFixedBit},
		{"short header", mod(func(b []byte) []byte { b[0] = 0x40; return b }), ErrHeaderForm},
		{"unknown version", mod(func(b []byte) []byte { b[1] = 0; return b }), ErrUnsupportedVersion},
		{"empty token", valid[:len(valid)-5], ErrEmptyRetryToken},
		{"no room for the tag", valid[:30], ErrTruncated},
		{"21-byte SCID", mod(func(b []byte) []byte { b[14] = 21; return b }), ErrConnIDLen},
	}
	for _, tt := range tests {
		if _, err := ParseRetry(tt.b); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.desc, err, tt.want)
		}
	}
}

func TestByte0Helpers(t *testing.T) {
	tests := []struct {
		desc      string
		byte0     byte
		reserved  bool
		pnLen     int
		keyPhase  bool
		protected byte
	}{
		{"long, clean", 0xc3, false, 4, false, 0x0f},
		{"long, reserved bit 0x04", 0xc4, true, 1, true, 0x0f},
		{"long, reserved bit 0x08", 0xc8, true, 1, false, 0x0f},
		{"short, clean, key phase", 0x45, false, 2, true, 0x1f},
		{"short, reserved bit 0x08", 0x48, true, 1, false, 0x1f},
		{"short, reserved bit 0x10", 0x52, true, 3, false, 0x1f},
		{"short, spin bit is not reserved", 0x60, false, 1, false, 0x1f},
	}
	for _, tt := range tests {
		if got := ReservedBitsSet(tt.byte0); got != tt.reserved {
			t.Errorf("%s: ReservedBitsSet = %v, want %v", tt.desc, got, tt.reserved)
		}
		if got := PacketNumberLenFromByte0(tt.byte0); got != tt.pnLen {
			t.Errorf("%s: PacketNumberLenFromByte0 = %d, want %d", tt.desc, got, tt.pnLen)
		}
		if got := KeyPhaseFromByte0(tt.byte0); got != tt.keyPhase {
			t.Errorf("%s: KeyPhaseFromByte0 = %v, want %v", tt.desc, got, tt.keyPhase)
		}
		if got := ProtectedBits(tt.byte0); got != tt.protected {
			t.Errorf("%s: ProtectedBits = %#x, want %#x", tt.desc, got, tt.protected)
		}
	}
	if !IsLongHeader([]byte{0x80}) || IsLongHeader([]byte{0x7f}) || IsLongHeader(nil) {
		t.Error("IsLongHeader disagrees with the header form bit")
	}
}

func TestLongTypeString(t *testing.T) {
	for typ, want := range map[LongType]string{LongTypeInitial: "Initial", LongTypeRetry: "Retry", 2: "LongType(2)"} {
		if got := typ.String(); got != want {
			t.Errorf("LongType(%d).String() = %q, want %q", typ, got, want)
		}
	}
}
