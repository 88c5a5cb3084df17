package packet

import "testing"

func BenchmarkAppendStream(b *testing.B) {
	f := StreamFrame{StreamID: 4, Offset: 1 << 20, Data: make([]byte, 1200)}
	buf := make([]byte, 0, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(len(f.Data)))
	for b.Loop() {
		buf = f.Append(buf[:0])
	}
}

func BenchmarkParseStream(b *testing.B) {
	enc := StreamFrame{StreamID: 4, Offset: 1 << 20, Data: make([]byte, 1200)}.Append(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, _, err := ParseStreamFrame(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// benchAck is a typical ACK under light loss: a long run and a few holes.
var benchAck = AckFrame{
	Ranges: []AckRange{{100_050, 100_200}, {100_000, 100_040}, {99_000, 99_990}, {90_000, 98_990}},
	Delay:  3000,
}

func BenchmarkAppendAck(b *testing.B) {
	buf := make([]byte, 0, 1500)
	b.ReportAllocs()
	for b.Loop() {
		buf = benchAck.Append(buf[:0])
	}
}

func BenchmarkParseAck(b *testing.B) {
	enc := benchAck.Append(nil)
	ranges := make([]AckRange, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		f, _, err := ParseAckFrame(enc, ranges)
		if err != nil {
			b.Fatal(err)
		}
		ranges = f.Ranges
	}
}

func BenchmarkParseShortHeader(b *testing.B) {
	dcid, _ := NewConnectionID(seqBytes(DefaultConnIDLen))
	pkt, _ := AppendShortHeader(nil, dcid, false, 2)
	pkt = append(pkt, make([]byte, 1200)...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseShortHeader(pkt, DefaultConnIDLen); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseLongHeader(b *testing.B) {
	dcid, _ := NewConnectionID(seqBytes(DefaultConnIDLen))
	h := LongHeader{Type: LongTypeInitial, Version: Version, DstConnID: dcid, SrcConnID: dcid}
	pkt, _ := AppendLongHeader(nil, h, 2, 1150)
	pkt = append(pkt, make([]byte, 1152)...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseLongHeader(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePacketNumber(b *testing.B) {
	var sink PacketNumber
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sink += DecodePacketNumber(PacketNumber(i), uint64(i+1)&0xffff, 2)
		i++
	}
	_ = sink
}

// BenchmarkParsePayload parses a typical 1-RTT payload the way the
// transport does: PeekFrameType, then the typed parser.
func BenchmarkParsePayload(b *testing.B) {
	var payload []byte
	payload = benchAck.Append(payload)
	payload = MaxStreamDataFrame{StreamID: 4, Max: 1 << 22}.Append(payload)
	payload = ConsumedFrame{StreamID: 8, Offset: 1 << 20}.Append(payload)
	payload = StreamFrame{StreamID: 4, Offset: 1 << 20, Data: make([]byte, 1000), OmitLength: true}.Append(payload)
	ranges := make([]AckRange, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if ranges, err = parsePayload(payload, ranges); err != nil {
			b.Fatal(err)
		}
	}
}

// parsePayload dispatches on the frame type as the transport's receive
// path does, reusing ranges for ACK frames.
func parsePayload(p []byte, ranges []AckRange) ([]AckRange, error) {
	for len(p) > 0 {
		t, _, err := PeekFrameType(p)
		if err != nil {
			return ranges, err
		}
		var n int
		switch {
		case t == FrameAck:
			var f AckFrame
			f, n, err = ParseAckFrame(p, ranges)
			ranges = f.Ranges
		case t == FrameMaxStreamData:
			_, n, err = ParseMaxStreamDataFrame(p)
		case t == FrameConsumed:
			_, n, err = ParseConsumedFrame(p)
		case t.IsStream():
			_, n, err = ParseStreamFrame(p)
		default:
			_, n, err = ParseFrame(p)
		}
		if err != nil {
			return ranges, err
		}
		p = p[n:]
	}
	return ranges, nil
}
