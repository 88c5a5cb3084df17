package packet

import "errors"

// Limits of an FEC_REPAIR frame (docs/PROTOCOL.md section 10). They keep
// every field one byte long on the wire and bound what a receiver keeps per
// group.
const (
	// MaxFECSources is the most source packets one repair group protects.
	MaxFECSources = 32
	// MaxFECRepairSymbols is the most repair symbols a group can have, so
	// Repair Index is below it.
	MaxFECRepairSymbols = 32
	// MinFECSymbolLen is the shortest repair symbol: the 2-byte length
	// prefix and a payload of at least one byte.
	MinFECSymbolLen = 3
	// maxFECGap is the largest packet-number gap between consecutive
	// source packets that a sender writes, keeping each Gap field one
	// byte; a receiver accepts any gap.
	maxFECGap = 63
)

// ErrFECRepair reports an FEC_REPAIR frame whose source count, repair index
// or symbol length is out of range, or whose source packet numbers run past
// 2^62-1.
var ErrFECRepair = errors.New("packet: FEC_REPAIR source count, repair index, symbol length or packet numbers out of range")

// FECRepairFrame carries one Reed-Solomon repair symbol of a group of source
// packets (type 0x30, docs/PROTOCOL.md section 10). A receiver that lost up
// to as many of the group's packets as it holds repair symbols rebuilds
// their payloads from the rest.
type FECRepairFrame struct {
	// Sources are the packet numbers of the group's source packets in
	// increasing order, 1 to MaxFECSources of them. On the wire they are
	// the first number and the gaps between consecutive ones, because
	// ACK-only packets, probes and skipped numbers may fall between them.
	Sources []PacketNumber
	// Index is the repair symbol's row of the code, 0 to
	// MaxFECRepairSymbols-1.
	Index int
	// Symbol is the repair symbol, as long as the group's longest source
	// symbol. It aliases the packet in a parsed frame.
	Symbol []byte
}

// Type returns FrameFECRepair.
func (f FECRepairFrame) Type() FrameType { return FrameFECRepair }

// Len is the number of bytes Append writes.
func (f FECRepairFrame) Len() int {
	n := 1 + VarintLen(uint64(len(f.Sources))) + VarintLen(uint64(f.Index)) + VarintLen(uint64(len(f.Symbol))) + len(f.Symbol)
	for i, pn := range f.Sources {
		if i == 0 {
			n += VarintLen(uint64(pn))
		} else {
			n += VarintLen(uint64(pn - f.Sources[i-1] - 1))
		}
	}
	return n
}

// Append appends the frame. Sources that are empty, not increasing or
// outside 0..2^62-1 are a programming error and panic.
func (f FECRepairFrame) Append(b []byte) []byte {
	if len(f.Sources) == 0 || f.Sources[0] < 0 {
		panic("packet: FEC_REPAIR frame without valid sources")
	}
	b = append(b, byte(FrameFECRepair))
	b = AppendVarint(b, uint64(f.Sources[0]))
	b = AppendVarint(b, uint64(len(f.Sources)))
	for i := 1; i < len(f.Sources); i++ {
		gap := f.Sources[i] - f.Sources[i-1] - 1
		if gap < 0 {
			panic("packet: FEC_REPAIR sources not increasing")
		}
		b = AppendVarint(b, uint64(gap))
	}
	b = AppendVarint(b, uint64(f.Index))
	b = AppendVarint(b, uint64(len(f.Symbol)))
	return append(b, f.Symbol...)
}

// FECRepairOverhead is the most bytes an FEC_REPAIR frame adds to its
// symbol when it protects k packets whose numbers are at most 2^62-1 and
// at most maxFECGap apart, and its symbol is shorter than 16384 bytes: the
// sender keeps this much room in every protected packet (docs/PROTOCOL.md
// section 10).
func FECRepairOverhead(k int) int {
	// type, first packet number, count, gaps, index, symbol length
	return 1 + 8 + 1 + (k - 1) + 1 + 2
}

// FECGapFits reports whether a packet numbered next may follow prev in a
// group with a one-byte gap field, as FECRepairOverhead assumes.
func FECGapFits(prev, next PacketNumber) bool {
	return next > prev && next-prev-1 <= maxFECGap
}

// ParseFECRepairFrame parses an FEC_REPAIR frame. The source packet numbers
// are appended to sources[:0], so a caller that passes a buffer of
// MaxFECSources entries parses without allocating; Symbol aliases b.
func ParseFECRepairFrame(b []byte, sources []PacketNumber) (FECRepairFrame, int, error) {
	if err := checkFrameType(b, FrameFECRepair); err != nil {
		return FECRepairFrame{}, 0, err
	}
	r := frameReader{b: b, off: 1}
	first := r.varint()
	k := r.varint()
	if r.err == nil && (k == 0 || k > MaxFECSources) {
		r.fail(ErrFECRepair)
	}
	sources = sources[:0]
	if r.err == nil {
		pn := first
		sources = append(sources, PacketNumber(pn))
		for i := uint64(1); i < k && r.err == nil; i++ {
			gap := r.varint()
			if gap >= MaxVarint-pn {
				r.fail(ErrFECRepair) // pn + gap + 1 would pass 2^62-1
				break
			}
			pn += gap + 1
			sources = append(sources, PacketNumber(pn))
		}
	}
	index := r.varint()
	if r.err == nil && index >= MaxFECRepairSymbols {
		r.fail(ErrFECRepair)
	}
	symLen := r.varint()
	if r.err == nil && symLen < MinFECSymbolLen {
		r.fail(ErrFECRepair)
	}
	symbol := r.bytes(symLen)
	if r.err != nil {
		return FECRepairFrame{}, 0, frameErr(FrameFECRepair, r.err)
	}
	return FECRepairFrame{Sources: sources, Index: int(index), Symbol: symbol}, r.off, nil
}
