package packet

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// boundaryValues are the edges of the varint encodings.
var boundaryValues = []uint64{0, 63, 64, 16383, 16384, 1<<30 - 1, 1 << 30, MaxVarint}

// sampleFrames returns at least one frame of every type, with every field
// at each varint boundary where the field allows it. Tests, fuzz seeds and
// the corpus generator share it.
func sampleFrames() []Frame {
	data1200 := bytes.Repeat([]byte{0xab}, 1200)
	cid8, _ := NewConnectionID(seqBytes(8))
	cid1, _ := NewConnectionID([]byte{0x42})
	cid20, _ := NewConnectionID(seqBytes(20))
	var token [StatelessResetTokenLen]byte
	copy(token[:], seqBytes(16))
	fs := []Frame{
		PaddingFrame{Size: 1},
		PaddingFrame{Size: 1200},
		PingFrame{},
		HandshakeDoneFrame{},
		ImmediateAckFrame{},
		AckFrequencyFrame{Sequence: 1, AckElicitingThreshold: 9, RequestedMaxAckDelay: 12500 * time.Microsecond, ReorderingThreshold: 1},
		AckFrame{Ranges: []AckRange{{100, 100}, {90, 95}, {0, 10}}, Delay: 25},
		AckFrame{Ranges: []AckRange{{2, 2}, {0, 0}}, HasECN: true, ECN: ECNCounts{1, 2, 3}},
		AckFrame{Ranges: boundaryAckRanges()},
		StreamFrame{StreamID: 4, Data: []byte("hello"), Fin: true},
		StreamFrame{StreamID: 4, Offset: 1, Data: data1200},
		StreamFrame{StreamID: 4, Offset: 1 << 20, Data: data1200, OmitLength: true},
		StreamFrame{StreamID: 3, Data: []byte{}, OmitLength: true, Fin: true},
		StreamFrame{StreamID: 3, Offset: MaxVarint - 5, Data: []byte("12345")},
		CryptoFrame{Offset: 0, Data: data1200},
		CryptoFrame{Offset: MaxVarint - 1, Data: []byte{7}},
		NewTokenFrame{Token: []byte{1}},
		NewTokenFrame{Token: data1200},
		NewConnectionIDFrame{SequenceNumber: 1, ConnID: cid1, ResetToken: token},
		NewConnectionIDFrame{SequenceNumber: 9, RetirePriorTo: 3, ConnID: cid20, ResetToken: token},
		PathChallengeFrame{Data: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}},
		PathResponseFrame{Data: [8]byte{8, 7, 6, 5, 4, 3, 2, 1}},
		ConnectionCloseFrame{ErrorCode: uint64(FrameEncodingError), FrameType: FrameAck, Reason: []byte("bad ack")},
		ConnectionCloseFrame{Application: true, ErrorCode: 42, Reason: data1200},
		FECRepairFrame{Sources: []PacketNumber{7}, Index: 0, Symbol: []byte{0, 1, byte(FramePing)}},
		FECRepairFrame{Sources: []PacketNumber{100, 101, 103, 167, 168}, Index: MaxFECRepairSymbols - 1, Symbol: data1200},
		FECRepairFrame{Sources: fecSources(MaxPacketNumber-MaxFECSources+1, MaxFECSources), Index: 5, Symbol: seqBytes(64)},
	}
	for _, v := range boundaryValues {
		iv := int64(v)
		fs = append(fs,
			AckFrame{Ranges: []AckRange{{0, PacketNumber(v)}}, Delay: v},
			AckFrame{Ranges: []AckRange{{PacketNumber(v), PacketNumber(v)}}, HasECN: true, ECN: ECNCounts{v, v, v}},
			StreamFrame{StreamID: StreamID(v), Offset: iv, Data: []byte{}, Fin: true},
			StreamFrame{StreamID: StreamID(v), Offset: iv / 2, Data: []byte("x")},
			ResetStreamFrame{StreamID: StreamID(v), ErrorCode: v, FinalSize: iv},
			StopSendingFrame{StreamID: StreamID(v), ErrorCode: v},
			AckFrequencyFrame{Sequence: v, AckElicitingThreshold: v, RequestedMaxAckDelay: time.Duration(min(v, maxDurationMicros)) * time.Microsecond, ReorderingThreshold: v},
			CryptoFrame{Offset: iv, Data: []byte{}},
			MaxDataFrame{Max: iv},
			MaxStreamDataFrame{StreamID: StreamID(v), Max: iv},
			MaxStreamsFrame{Bidirectional: true, Max: min(v, MaxStreamCount)},
			MaxStreamsFrame{Max: min(v, MaxStreamCount)},
			DataBlockedFrame{Limit: iv},
			StreamDataBlockedFrame{StreamID: StreamID(v), Limit: iv},
			StreamsBlockedFrame{Bidirectional: true, Limit: min(v, MaxStreamCount)},
			StreamsBlockedFrame{Limit: min(v, MaxStreamCount)},
			NewConnectionIDFrame{SequenceNumber: v, RetirePriorTo: v, ConnID: cid8, ResetToken: token},
			RetireConnectionIDFrame{SequenceNumber: v},
			ConnectionCloseFrame{ErrorCode: v, FrameType: FrameType(v), Reason: []byte{}},
			ConnectionCloseFrame{Application: true, ErrorCode: v, Reason: []byte("r")},
			ConsumedFrame{StreamID: StreamID(v), Offset: iv},
			FECRepairFrame{Sources: []PacketNumber{0, PacketNumber(min(v, MaxVarint-1)) + 1}, Index: 1, Symbol: seqBytes(MinFECSymbolLen)},
		)
	}
	return fs
}

// fecSources is n consecutive packet numbers from first.
func fecSources(first PacketNumber, n int) []PacketNumber {
	pns := make([]PacketNumber, n)
	for i := range pns {
		pns[i] = first + PacketNumber(i)
	}
	return pns
}

// boundaryAckRanges descend from the largest packet number with every gap
// and range length at a varint boundary (all but 2^62-1, which would not
// leave room below).
func boundaryAckRanges() []AckRange {
	var rs []AckRange
	largest := MaxPacketNumber
	for _, v := range boundaryValues[:len(boundaryValues)-1] {
		r := AckRange{Smallest: largest - PacketNumber(v), Largest: largest}
		rs = append(rs, r)
		largest = r.Smallest - PacketNumber(v) - 2 // Gap field = v
	}
	return rs
}

func TestFrameRoundTrip(t *testing.T) {
	for _, f := range sampleFrames() {
		desc := fmt.Sprintf("%T %+v", f, abbreviate(f))
		enc := f.Append(nil)
		if len(enc) != f.Len() {
			t.Errorf("%s: Append wrote %d bytes, Len says %d", desc, len(enc), f.Len())
		}
		if FrameType(enc[0]) != f.Type() {
			t.Errorf("%s: encoded type %#x, Type() %#x", desc, enc[0], f.Type())
		}
		if prefixed := f.Append([]byte{0xee}); prefixed[0] != 0xee || !bytes.Equal(prefixed[1:], enc) {
			t.Errorf("%s: Append to a non-empty buffer changed the encoding", desc)
		}
		got, n, err := ParseFrame(enc)
		if err != nil {
			t.Errorf("%s: ParseFrame(%x): %v", desc, enc[:min(len(enc), 32)], err)
			continue
		}
		if n != len(enc) {
			t.Errorf("%s: ParseFrame consumed %d of %d bytes", desc, n, len(enc))
		}
		if !reflect.DeepEqual(got, f) {
			t.Errorf("%s: round trip gave %+v", desc, abbreviate(got))
		}
		// A frame followed by another must stop where it ends, unless it
		// runs to the end of the packet by design.
		if !runsToEnd(f) {
			more := append(bytes.Clone(enc), byte(FramePing))
			if _, n, err := ParseFrame(more); err != nil || n != len(enc) {
				t.Errorf("%s: with a PING after it: consumed %d, err %v; want %d, nil", desc, n, err, len(enc))
			}
		}
	}
}

// runsToEnd reports whether f's encoding extends to the end of the input:
// a STREAM frame without Length, or PADDING, which absorbs following zeros.
func runsToEnd(f Frame) bool {
	switch f := f.(type) {
	case StreamFrame:
		return f.OmitLength
	case PaddingFrame:
		return true
	}
	return false
}

// abbreviate keeps test messages short for frames with long data.
func abbreviate(f Frame) Frame {
	switch g := f.(type) {
	case StreamFrame:
		if len(g.Data) > 16 {
			g.Data = g.Data[:16]
		}
		return g
	case CryptoFrame:
		if len(g.Data) > 16 {
			g.Data = g.Data[:16]
		}
		return g
	}
	return f
}

// TestFrameTruncation checks that every strict prefix of every encoded
// frame is an error naming the frame's type, not a panic or a shorter
// frame.
func TestFrameTruncation(t *testing.T) {
	for _, f := range sampleFrames() {
		enc := f.Append(nil)
		end := len(enc)
		switch g := f.(type) {
		case PaddingFrame:
			continue // every prefix is a shorter run of padding
		case StreamFrame:
			if g.OmitLength {
				end = StreamFrameHeaderLen(g.StreamID, g.Offset, 0, false) // data may be cut anywhere
			}
		}
		for i := range end {
			_, _, err := ParseFrame(enc[:i])
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("%T: %d-byte prefix of %d: err = %v, want a *FrameError", f, i, len(enc), err)
			}
			if i > 0 && fe.Type != f.Type() {
				t.Errorf("%T: %d-byte prefix: error names type %#x, want %#x", f, i, fe.Type, f.Type())
			}
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrInvalidAckRange) {
				t.Errorf("%T: %d-byte prefix: err = %v, want ErrTruncated (or ErrInvalidAckRange for a cut range count)", f, i, err)
			}
		}
	}
}

func TestFrameGolden(t *testing.T) {
	cid, _ := NewConnectionID([]byte{0xc1, 0xc2})
	tests := []struct {
		desc string
		f    Frame
		want []byte
	}{
		{"STREAM at offset 0 with FIN: no OFF bit", StreamFrame{StreamID: 4, Data: []byte("hi"), Fin: true},
			[]byte{0x0b, 0x04, 0x02, 'h', 'i'}},
		{"STREAM at offset 64 without length", StreamFrame{StreamID: 4, Offset: 64, Data: []byte("x"), OmitLength: true},
			[]byte{0x0c, 0x04, 0x40, 0x40, 'x'}},
		{"ACK with two ranges", AckFrame{Ranges: []AckRange{{10, 12}, {5, 7}}, Delay: 3},
			[]byte{0x02, 0x0c, 0x03, 0x01, 0x02, 0x01, 0x02}},
		{"ACK_ECN", AckFrame{Ranges: []AckRange{{0, 0}}, HasECN: true, ECN: ECNCounts{1, 0, 64}},
			[]byte{0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x40, 0x40}},
		{"transport CONNECTION_CLOSE", ConnectionCloseFrame{ErrorCode: 7, FrameType: FrameStream, Reason: []byte("x")},
			[]byte{0x1c, 0x07, 0x08, 0x01, 'x'}},
		{"application CONNECTION_CLOSE", ConnectionCloseFrame{Application: true, ErrorCode: 7},
			[]byte{0x1d, 0x07, 0x00}},
		{"CRYPTO", CryptoFrame{Offset: 16384, Data: []byte{1}}, []byte{0x06, 0x80, 0x00, 0x40, 0x00, 0x01, 0x01}},
		{"MAX_STREAMS uni", MaxStreamsFrame{Max: 5}, []byte{0x13, 0x05}},
		{"STREAMS_BLOCKED bidi", StreamsBlockedFrame{Bidirectional: true, Limit: 5}, []byte{0x16, 0x05}},
		{"NEW_CONNECTION_ID", NewConnectionIDFrame{SequenceNumber: 2, RetirePriorTo: 1, ConnID: cid, ResetToken: [16]byte{15: 0xff}},
			append([]byte{0x18, 0x02, 0x01, 0x02, 0xc1, 0xc2}, append(make([]byte, 15), 0xff)...)},
		{"CONSUMED", ConsumedFrame{StreamID: 8, Offset: 1000}, []byte{0x32, 0x08, 0x43, 0xe8}},
		{"PADDING run", PaddingFrame{Size: 3}, []byte{0, 0, 0}},
	}
	for _, tt := range tests {
		if got := tt.f.Append(nil); !bytes.Equal(got, tt.want) {
			t.Errorf("%s: Append = %x, want %x", tt.desc, got, tt.want)
		}
	}
}

func TestParseFrameErrors(t *testing.T) {
	tests := []struct {
		desc     string
		b        []byte
		wantType FrameType
		want     error
	}{
		{"empty", nil, 0, ErrTruncated},
		{"non-minimal PING", []byte{0x40, 0x01}, FramePing, ErrNonMinimalFrameType},
		{"non-minimal STREAM", []byte{0x80, 0x00, 0x00, 0x08, 0x00}, FrameStream, ErrNonMinimalFrameType},
		{"truncated two-byte type", []byte{0x40}, 0, ErrTruncated},
		{"unknown type 0x1f", []byte{0x1f}, 0x1f, ErrUnknownFrame},
		{"unknown two-byte type", []byte{0x40, 0x40}, 0x40, ErrUnknownFrame},
		{"FEC_SOURCE_INFO", []byte{0x31, 0x00}, FrameFECSourceInfo, ErrUnsupportedFrame},
		{"FEC_REPAIR without sources", []byte{0x30, 0x00, 0x00, 0x00, 0x03, 1, 2, 3}, FrameFECRepair, ErrFECRepair},
		{"FEC_REPAIR with 33 sources", append([]byte{0x30, 0x00, 33}, make([]byte, 32+2+3)...), FrameFECRepair, ErrFECRepair},
		{"FEC_REPAIR repair index 32", []byte{0x30, 0x00, 0x01, 32, 0x03, 1, 2, 3}, FrameFECRepair, ErrFECRepair},
		{"FEC_REPAIR symbol shorter than 3 bytes", []byte{0x30, 0x00, 0x01, 0x00, 0x02, 1, 2}, FrameFECRepair, ErrFECRepair},
		{"FEC_REPAIR symbol past the packet", []byte{0x30, 0x00, 0x01, 0x00, 0x04, 1, 2, 3}, FrameFECRepair, ErrTruncated},
		{"FEC_REPAIR truncated in the gaps", []byte{0x30, 0x00, 0x03, 0x00}, FrameFECRepair, ErrTruncated},
		{"FEC_REPAIR sources past 2^62-1", append(append(append([]byte{0x30}, AppendVarint(nil, MaxVarint-1)...), 0x02), AppendVarint(nil, 1)...), FrameFECRepair, ErrFECRepair},
		{"STREAM ending past 2^62-1", []byte{0x0e, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xaa},
			0x0e, ErrOffsetRange},
		{"STREAM without length ending past 2^62-1", []byte{0x0c, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xaa},
			0x0c, ErrOffsetRange},
		{"STREAM length past the packet", []byte{0x0a, 0x00, 0x05, 1, 2, 3, 4}, 0x0a, ErrTruncated},
		{"CRYPTO ending past 2^62-1", []byte{0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xaa},
			FrameCrypto, ErrOffsetRange},
		{"empty NEW_TOKEN", []byte{0x07, 0x00}, FrameNewToken, ErrEmptyToken},
		{"MAX_STREAMS above 2^60", append([]byte{0x12}, AppendVarint(nil, MaxStreamCount+1)...), FrameMaxStreamsBidi, ErrStreamCount},
		{"STREAMS_BLOCKED above 2^60", append([]byte{0x17}, AppendVarint(nil, MaxStreamCount+1)...), FrameStreamsBlockedUni, ErrStreamCount},
		{"NEW_CONNECTION_ID with empty CID", append([]byte{0x18, 0x01, 0x00, 0x00}, make([]byte, 16)...), FrameNewConnectionID, ErrInvalidConnIDLen},
		{"NEW_CONNECTION_ID with 21-byte CID", append([]byte{0x18, 0x01, 0x00, 21}, make([]byte, 21+16)...), FrameNewConnectionID, ErrInvalidConnIDLen},
		{"NEW_CONNECTION_ID retiring beyond itself", append([]byte{0x18, 0x01, 0x02, 0x01, 0xaa}, make([]byte, 16)...), FrameNewConnectionID, ErrRetirePriorTo},
		{"CONNECTION_CLOSE reason past the packet", []byte{0x1d, 0x00, 0x05, 'a', 'b'}, FrameConnectionCloseApp, ErrTruncated},
	}
	for _, tt := range tests {
		_, _, err := ParseFrame(tt.b)
		var fe *FrameError
		if !errors.As(err, &fe) || !errors.Is(err, tt.want) || fe.Type != tt.wantType {
			t.Errorf("%s: err = %v, want a *FrameError{Type: %#x} wrapping %v", tt.desc, err, uint64(tt.wantType), tt.want)
			continue
		}
		if fe.Code() != FrameEncodingError {
			t.Errorf("%s: Code() = %v, want FRAME_ENCODING_ERROR", tt.desc, fe.Code())
		}
	}
}

func TestTypedParserRejectsOtherTypes(t *testing.T) {
	ping := []byte{byte(FramePing)}
	parsers := map[string]func([]byte) error{
		"padding":   func(b []byte) error { _, _, err := ParsePaddingFrame(b); return err },
		"ack":       func(b []byte) error { _, _, err := ParseAckFrame(b, nil); return err },
		"stream":    func(b []byte) error { _, _, err := ParseStreamFrame(b); return err },
		"crypto":    func(b []byte) error { _, _, err := ParseCryptoFrame(b); return err },
		"max data":  func(b []byte) error { _, _, err := ParseMaxDataFrame(b); return err },
		"streams":   func(b []byte) error { _, _, err := ParseMaxStreamsFrame(b); return err },
		"close":     func(b []byte) error { _, _, err := ParseConnectionCloseFrame(b); return err },
		"path":      func(b []byte) error { _, _, err := ParsePathResponseFrame(b); return err },
		"consumed":  func(b []byte) error { _, _, err := ParseConsumedFrame(b); return err },
		"new CID":   func(b []byte) error { _, _, err := ParseNewConnectionIDFrame(b); return err },
		"handshake": func(b []byte) error { _, _, err := ParseHandshakeDoneFrame(b); return err },
		"ack freq":  func(b []byte) error { _, _, err := ParseAckFrequencyFrame(b); return err },
		"immediate": func(b []byte) error { _, _, err := ParseImmediateAckFrame(b); return err },
	}
	for name, parse := range parsers {
		if err := parse(ping); !errors.Is(err, ErrFrameTypeMismatch) {
			t.Errorf("%s parser on a PING: err = %v, want ErrFrameTypeMismatch", name, err)
		}
	}
	if _, _, err := ParsePingFrame([]byte{0x1e}); !errors.Is(err, ErrFrameTypeMismatch) {
		t.Errorf("PING parser on HANDSHAKE_DONE: err = %v, want ErrFrameTypeMismatch", err)
	}
}

func TestParsePaddingFrameConsumesRun(t *testing.T) {
	f, n, err := ParsePaddingFrame([]byte{0, 0, 0, 0x01, 0})
	if err != nil || n != 3 || f.Size != 3 {
		t.Errorf("ParsePaddingFrame = %+v, %d, %v; want Size 3, 3, nil", f, n, err)
	}
}

func TestPeekFrameType(t *testing.T) {
	tests := []struct {
		desc  string
		b     []byte
		want  FrameType
		wantN int
	}{
		{"PING", []byte{0x01, 0xff}, FramePing, 1},
		{"STREAM with bits", []byte{0x0f}, 0x0f, 1},
		{"CONSUMED", []byte{0x32}, FrameConsumed, 1},
		{"unknown two-byte type", []byte{0x41, 0x00}, 0x100, 2},
	}
	for _, tt := range tests {
		got, n, err := PeekFrameType(tt.b)
		if err != nil || got != tt.want || n != tt.wantN {
			t.Errorf("%s: PeekFrameType = %#x, %d, %v; want %#x, %d, nil", tt.desc, uint64(got), n, err, uint64(tt.want), tt.wantN)
		}
	}
}

func TestStreamFrameSizing(t *testing.T) {
	tests := []struct {
		desc   string
		id     StreamID
		offset int64
		budget int
		want   int
	}{
		{"nothing fits", 4, 0, 2, 0},
		{"header and length only", 4, 0, 3, 0},
		{"one byte", 4, 0, 4, 1},
		{"largest one-byte length", 4, 0, 3 + 63, 63},
		{"one-byte length gives way at 64", 4, 0, 3 + 64, 63},
		{"two-byte length", 4, 0, 4 + 64, 64},
		{"with offset", 4, 64, 1200, 1200 - 1 - 1 - 2 - 2},
		{"large stream ID", 1 << 30, 1 << 30, 1452, 1452 - 1 - 8 - 8 - 2},
		{"four-byte length boundary", 0, 0, 1 + 1 + 4 + 16384, 16384},
		{"two-byte length limit", 0, 0, 1 + 1 + 2 + 16383 + 1, 16383},
		{"capped by 2^62-1", 0, MaxVarint - 10, 1000, 10},
		{"negative budget", 0, 0, -5, 0},
	}
	for _, tt := range tests {
		got := MaxStreamDataLen(tt.id, tt.offset, tt.budget)
		if got != tt.want {
			t.Errorf("%s: MaxStreamDataLen(%d, %d, %d) = %d, want %d", tt.desc, tt.id, tt.offset, tt.budget, got, tt.want)
			continue
		}
		if got > 0 {
			f := StreamFrame{StreamID: tt.id, Offset: tt.offset, Data: make([]byte, got)}
			if f.Len() > tt.budget {
				t.Errorf("%s: frame with %d bytes is %d long, over budget %d", tt.desc, got, f.Len(), tt.budget)
			}
		}
	}
	// Exhaustively near the length-field boundaries: the answer fits and
	// one more byte would not.
	for budget := 0; budget < 16500; budget++ {
		n := MaxStreamDataLen(4, 1000, budget)
		if n > 0 && (StreamFrame{StreamID: 4, Offset: 1000, Data: make([]byte, n)}).Len() > budget {
			t.Fatalf("budget %d: %d bytes do not fit", budget, n)
		}
		if (StreamFrame{StreamID: 4, Offset: 1000, Data: make([]byte, n+1)}).Len() <= budget {
			t.Fatalf("budget %d: %d bytes fit but MaxStreamDataLen said %d", budget, n+1, n)
		}
		c := MaxCryptoDataLen(1000, budget)
		if c > 0 && (CryptoFrame{Offset: 1000, Data: make([]byte, c)}).Len() > budget {
			t.Fatalf("budget %d: %d crypto bytes do not fit", budget, c)
		}
		if (CryptoFrame{Offset: 1000, Data: make([]byte, c+1)}).Len() <= budget {
			t.Fatalf("budget %d: %d crypto bytes fit but MaxCryptoDataLen said %d", budget, c+1, c)
		}
	}
	if got, want := StreamFrameHeaderLen(4, 0, 100, true), 1+1+2; got != want {
		t.Errorf("StreamFrameHeaderLen with length = %d, want %d", got, want)
	}
	if got, want := StreamFrameHeaderLen(4, 100, 100, false), 1+1+2; got != want {
		t.Errorf("StreamFrameHeaderLen without length = %d, want %d", got, want)
	}
	if got, want := CryptoFrameHeaderLen(0, 1200), 1+1+2; got != want {
		t.Errorf("CryptoFrameHeaderLen = %d, want %d", got, want)
	}
}

func TestFrameTypeProperties(t *testing.T) {
	tests := []struct {
		t                FrameType
		name             string
		ackEliciting     bool
		allowedInInitial bool
	}{
		{FramePadding, "PADDING", false, true},
		{FramePing, "PING", true, true},
		{FrameAck, "ACK", false, true},
		{FrameAckECN, "ACK", false, true},
		{FrameCrypto, "CRYPTO", true, true},
		{FrameConnectionClose, "CONNECTION_CLOSE", false, true},
		{FrameConnectionCloseApp, "CONNECTION_CLOSE", false, false},
		{0x0d, "STREAM", true, false},
		{FrameHandshakeDone, "HANDSHAKE_DONE", true, false},
		{FrameNewConnectionID, "NEW_CONNECTION_ID", true, false},
		{FrameConsumed, "CONSUMED", true, false},
		{FrameFECRepair, "FEC_REPAIR", true, false},
		{0x21, "FRAME(0x21)", true, false},
	}
	for _, tt := range tests {
		if got := tt.t.String(); got != tt.name {
			t.Errorf("FrameType(%#x).String() = %q, want %q", uint64(tt.t), got, tt.name)
		}
		if got := tt.t.AckEliciting(); got != tt.ackEliciting {
			t.Errorf("%s (%#x): AckEliciting = %v, want %v", tt.name, uint64(tt.t), got, tt.ackEliciting)
		}
		if got := tt.t.AllowedInInitial(); got != tt.allowedInInitial {
			t.Errorf("%s (%#x): AllowedInInitial = %v, want %v", tt.name, uint64(tt.t), got, tt.allowedInInitial)
		}
	}
}

func TestFrameErrorMessage(t *testing.T) {
	_, _, err := ParseFrame([]byte{0x02, 0x05, 0x00, 0x00, 0x06})
	if got, want := err.Error(), "packet: ACK frame: "+ErrInvalidAckRange.Error(); got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

// TestParsePaddingRunLengths: a PADDING run ends exactly at the first
// non-zero byte or at the end of the payload, whatever its length against
// the eight-byte steps of the scan.
func TestParsePaddingRunLengths(t *testing.T) {
	for size := 1; size <= 40; size++ {
		for _, tail := range [][]byte{nil, {byte(FramePing)}, {byte(FramePing), 0, 0}} {
			b := append(make([]byte, size), tail...)
			f, n, err := ParsePaddingFrame(b)
			if err != nil || n != size || f.Size != size {
				t.Errorf("run of %d then %x: size %d, consumed %d, err %v", size, tail, f.Size, n, err)
			}
		}
	}
}
