package packet

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"
)

// FuzzFrames parses every frame of a packet payload. Each frame that
// parses must re-encode to something that parses back to an equal frame
// and encodes identically again; each failure must be a *FrameError.
func FuzzFrames(f *testing.F) {
	var payload []byte
	for _, fr := range sampleFrames() {
		enc := fr.Append(nil)
		f.Add(enc)
		if !runsToEnd(fr) {
			payload = append(payload, enc...)
		}
	}
	f.Add(payload)
	f.Add([]byte{0x40, 0x01})
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			fr, n, err := ParseFrame(b)
			if err != nil {
				var fe *FrameError
				if !errors.As(err, &fe) {
					t.Fatalf("ParseFrame error %v is not a *FrameError", err)
				}
				return
			}
			if n <= 0 || n > len(b) {
				t.Fatalf("ParseFrame consumed %d of %d bytes", n, len(b))
			}
			checkFrameReencodes(t, fr)
			b = b[n:]
		}
	})
}

func checkFrameReencodes(t *testing.T, fr Frame) {
	t.Helper()
	enc := fr.Append(nil)
	if len(enc) != fr.Len() {
		t.Fatalf("%T: Append wrote %d bytes, Len says %d", fr, len(enc), fr.Len())
	}
	again, n, err := ParseFrame(enc)
	if err != nil || n != len(enc) {
		t.Fatalf("%T %x: re-parse consumed %d of %d: %v", fr, enc, n, len(enc), err)
	}
	if !reflect.DeepEqual(again, fr) {
		t.Fatalf("re-parse gave %+v, want %+v", again, fr)
	}
	if enc2 := again.Append(nil); !bytes.Equal(enc2, enc) {
		t.Fatalf("%T: re-encoding %x differs from %x", fr, enc2, enc)
	}
}

// FuzzAckFrame decodes ACK frames with a reused range buffer. A valid frame
// has descending, disjoint ranges at or above 0 and survives a round trip.
func FuzzAckFrame(f *testing.F) {
	for _, fr := range sampleFrames() {
		if a, ok := fr.(AckFrame); ok {
			f.Add(a.Append(nil))
		}
	}
	f.Add([]byte{0x02, 0x0a, 0x00, 0x01, 0x00, 0x09, 0x00})
	buf := make([]AckRange, 0, 16)
	f.Fuzz(func(t *testing.T, b []byte) {
		a, n, err := ParseAckFrame(b, buf)
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FrameError", err)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("consumed %d of %d bytes", n, len(b))
		}
		checkAckRanges(t, a.Ranges)
		enc := a.Append(nil)
		if len(enc) != a.Len() {
			t.Fatalf("Append wrote %d bytes, Len says %d", len(enc), a.Len())
		}
		again, m, err := ParseAckFrame(enc, nil)
		if err != nil || m != len(enc) || !reflect.DeepEqual(again, a) {
			t.Fatalf("round trip: %+v, %d, %v; want %+v", again, m, err, a)
		}
		if enc2 := again.Append(nil); !bytes.Equal(enc2, enc) {
			t.Fatalf("re-encoding %x differs from %x", enc2, enc)
		}
	})
}

// FuzzHeader parses a datagram as a long header (all its coalesced
// packets) or as a short header with a DCID length taken from the input.
// Whatever parses must rebuild, with the append functions, into a packet
// that parses to the same header.
func FuzzHeader(f *testing.F) {
	for _, h := range []LongHeader{
		{Type: LongTypeInitial, Version: Version, DstConnID: mustConnID(f, seqBytes(8)), SrcConnID: mustConnID(f, seqBytes(8))},
		{Type: LongTypeInitial, Version: Version, DstConnID: mustConnID(f, seqBytes(20)), Token: seqBytes(30)},
	} {
		pkt, _ := buildInitial(f, nil, h, 2, 40)
		f.Add(pkt, uint8(8))
		two, _ := buildInitial(f, bytes.Clone(pkt), h, 4, 30)
		f.Add(two, uint8(0))
	}
	retry := AppendRetry(nil, Version, mustConnID(f, seqBytes(8)), mustConnID(f, seqBytes(8)), []byte("retry token"))
	f.Add(append(retry, seqBytes(16)...), uint8(8))
	short, _ := AppendShortHeader(nil, mustConnID(f, seqBytes(8)), true, 3)
	f.Add(append(short, make([]byte, 30)...), uint8(8))
	f.Fuzz(func(t *testing.T, b []byte, dcidLen uint8) {
		if !IsLongHeader(b) {
			checkShortHeader(t, b, int(dcidLen%(MaxConnIDLen+1)))
			return
		}
		for len(b) > 0 {
			h, err := ParseLongHeader(b)
			if err != nil {
				return
			}
			if h.PacketLen <= 0 || h.PacketLen > len(b) {
				t.Fatalf("PacketLen %d of %d bytes", h.PacketLen, len(b))
			}
			if dcid, err := PeekDestConnID(b, 8); err != nil || dcid != h.DstConnID {
				t.Fatalf("PeekDestConnID = %v, %v; ParseLongHeader says %v", dcid, err, h.DstConnID)
			}
			checkLongHeader(t, b[:h.PacketLen], h)
			b = b[h.PacketLen:]
		}
	})
}

func checkLongHeader(t *testing.T, pkt []byte, h LongHeader) {
	t.Helper()
	var rebuilt []byte
	if h.Type == LongTypeRetry {
		rebuilt = AppendRetry(nil, h.Version, h.DstConnID, h.SrcConnID, h.Token)
		rebuilt = append(rebuilt, pkt[len(pkt)-RetryTagLen:]...)
		if !bytes.Equal(rebuilt, pkt) {
			t.Fatalf("Retry rebuilt as %x, was %x", rebuilt, pkt)
		}
		return
	}
	pnLen := PacketNumberLenFromByte0(pkt[0])
	payloadLen := h.PacketLen - h.PNOffset - pnLen
	rebuilt, pnOffset := AppendLongHeader(nil, h, pnLen, payloadLen)
	if pnOffset+pnLen != LongHeaderLen(h, pnLen, payloadLen) {
		t.Fatalf("LongHeaderLen %d, header through pn %d", LongHeaderLen(h, pnLen, payloadLen), pnOffset+pnLen)
	}
	rebuilt = append(rebuilt, pkt[h.PNOffset:]...)
	again, err := ParseLongHeader(rebuilt)
	if err != nil {
		t.Fatalf("rebuilt %x: %v", rebuilt, err)
	}
	if again.PNOffset != pnOffset || again.PacketLen != len(rebuilt) {
		t.Fatalf("rebuilt header offsets %d, %d; want %d, %d", again.PNOffset, again.PacketLen, pnOffset, len(rebuilt))
	}
	again.PNOffset, again.PacketLen = h.PNOffset, h.PacketLen
	if !reflect.DeepEqual(again, h) {
		t.Fatalf("rebuilt header %+v, want %+v", again, h)
	}
}

func checkShortHeader(t *testing.T, b []byte, dcidLen int) {
	t.Helper()
	h, err := ParseShortHeader(b, dcidLen)
	if err != nil {
		return
	}
	if h.PNOffset != 1+dcidLen || h.DstConnID.Len() != dcidLen {
		t.Fatalf("DCID length %d: parsed %+v", dcidLen, h)
	}
	rebuilt, pnOffset := AppendShortHeader(nil, h.DstConnID, KeyPhaseFromByte0(b[0]), PacketNumberLenFromByte0(b[0]))
	rebuilt = append(rebuilt, b[pnOffset:]...)
	// Only the spin and reserved bits, which the writer zeroes, may differ.
	if rebuilt[0] != b[0]&^(shortSpinBit|shortReserved) || !bytes.Equal(rebuilt[1:], b[1:]) {
		t.Fatalf("rebuilt %x, was %x", rebuilt, b)
	}
	if dcid, err := PeekDestConnID(b, dcidLen); err != nil || dcid != h.DstConnID {
		t.Fatalf("PeekDestConnID = %v, %v; want %v", dcid, err, h.DstConnID)
	}
}

// FuzzTransportParameters parses parameter lists from either side. Valid
// ones must pass Validate and survive a round trip.
func FuzzTransportParameters(f *testing.F) {
	f.Add(fullTransportParameters(f).Append(nil), true)
	f.Add(DefaultTransportParameters().Append(nil), false)
	f.Add([]byte{0x04, 0x02, 0x44, 0x00, 0x21, 0x00, 0x0c, 0x00}, false)
	f.Fuzz(func(t *testing.T, b []byte, fromServer bool) {
		p, err := ParseTransportParameters(b, fromServer)
		if err != nil {
			if !errors.Is(err, ErrTransportParameter) {
				t.Fatalf("error %v does not wrap ErrTransportParameter", err)
			}
			return
		}
		if err := p.Validate(fromServer); err != nil {
			t.Fatalf("parsed parameters fail Validate: %v", err)
		}
		enc := p.Append(nil)
		again, err := ParseTransportParameters(enc, fromServer)
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, p)
		}
		if enc2 := again.Append(nil); !bytes.Equal(enc2, enc) {
			t.Fatalf("re-encoding %x differs from %x", enc2, enc)
		}
	})
}

// FuzzDecodePacketNumber checks that any decoded packet number is in range,
// keeps the truncated bits, and is the closest such number to the expected
// one.
func FuzzDecodePacketNumber(f *testing.F) {
	f.Add(int64(0xa82f30ea), uint64(0x9b32), uint8(2))
	f.Add(int64(-1), uint64(0xff), uint8(1))
	f.Add(int64(MaxPacketNumber), uint64(0), uint8(4))
	f.Fuzz(func(t *testing.T, largest int64, truncated uint64, n uint8) {
		n = n%4 + 1
		l := PacketNumber(largest)
		if l < InvalidPacketNumber || l > MaxPacketNumber {
			l = PacketNumber(uint64(largest)%uint64(MaxPacketNumber+2)) - 1
		}
		got := DecodePacketNumber(l, truncated, int(n))
		win := int64(1) << (8 * n)
		if got < 0 || got > MaxPacketNumber {
			t.Fatalf("decoded %#x out of range", got)
		}
		if uint64(got)&uint64(win-1) != truncated&uint64(win-1) {
			t.Fatalf("decoded %#x does not end in %#x", got, truncated&uint64(win-1))
		}
		// No other in-range number with the same low bits is closer to
		// the expected one (ties go to the larger number's side as in
		// RFC 9000 A.3, which allows a distance of exactly half a window
		// ahead).
		expected := int64(l) + 1
		dist := func(x int64) int64 {
			if x > expected {
				return x - expected
			}
			return expected - x
		}
		for _, other := range []int64{int64(got) - win, int64(got) + win} {
			if other >= 0 && other <= int64(MaxPacketNumber) && dist(other) < dist(int64(got)) {
				t.Fatalf("largest %#x, truncated %#x/%d: decoded %#x, but %#x is closer", l, truncated, n, got, other)
			}
		}
	})
}

// FuzzFECRepairFrame parses FEC_REPAIR frames into a reused source buffer.
// A frame that parses has 1 to MaxFECSources increasing packet numbers, a
// repair index and symbol length in range, and survives parse → append →
// parse unchanged; anything else is a *FrameError.
func FuzzFECRepairFrame(f *testing.F) {
	for _, fr := range sampleFrames() {
		if r, ok := fr.(FECRepairFrame); ok {
			f.Add(r.Append(nil))
		}
	}
	f.Add([]byte{0x30, 0x00, 0x00, 0x00, 0x03, 1, 2, 3})
	f.Add([]byte{0x30, 0x05, 0x03, 0x00, 0x40, 0x00, 0x1f, 0x03, 0, 1, 1})
	buf := make([]PacketNumber, 0, MaxFECSources)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := ParseFECRepairFrame(b, buf)
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) || fe.Type != FrameFECRepair {
				t.Fatalf("error %v is not a *FrameError for FEC_REPAIR", err)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("consumed %d of %d bytes", n, len(b))
		}
		if k := len(r.Sources); k < 1 || k > MaxFECSources {
			t.Fatalf("%d sources", k)
		}
		for i := 1; i < len(r.Sources); i++ {
			if r.Sources[i] <= r.Sources[i-1] || r.Sources[i] > MaxPacketNumber {
				t.Fatalf("sources %v not increasing within 2^62-1", r.Sources)
			}
		}
		if r.Index < 0 || r.Index >= MaxFECRepairSymbols || len(r.Symbol) < MinFECSymbolLen {
			t.Fatalf("index %d, symbol length %d out of range", r.Index, len(r.Symbol))
		}
		r.Sources = slices.Clone(r.Sources) // buf is reused by the next parse
		enc := r.Append(nil)
		if len(enc) != r.Len() {
			t.Fatalf("Append wrote %d bytes, Len says %d", len(enc), r.Len())
		}
		again, m, err := ParseFECRepairFrame(enc, nil)
		if err != nil || m != len(enc) || !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip: %+v, %d, %v; want %+v", again, m, err, r)
		}
		if enc2 := again.Append(nil); !bytes.Equal(enc2, enc) {
			t.Fatalf("re-encoding %x differs from %x", enc2, enc)
		}
	})
}
