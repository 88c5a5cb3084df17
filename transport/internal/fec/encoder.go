package fec

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/klauspost/reedsolomon"
	"github.com/limpetnet/limpet/packet"
)

// groupRing is how many recent groups an Encoder remembers for GroupState:
// enough for the groups a sender has in flight over one round trip at
// several gigabits per second with small groups. Older groups are
// forgotten, and a loss in one is handled as if it were unprotected.
const groupRing = 1024

// Encoder is the sender's half of forward error correction
// (docs/PROTOCOL.md section 10). Add collects the payloads of protected
// packets into a group; once the group has K of them, or when the sender
// calls Flush, it computes min(R, count) repair symbols, which the sender
// sends as FEC_REPAIR frames with AppendRepair, each in a packet of its own,
// before any further data.
//
// Groups are numbered from 1 in the order they open; GroupState says
// whether a group's repairs have all been sent and in which packet the last
// one went, which is what the sender's loss handling needs.
type Encoder struct {
	k, r int
	// repairs, if set, chooses each group's repair count from its number
	// of sources when it closes, instead of min(r, sources).
	repairs func(sources int) int
	codes   map[[2]int]reedsolomon.Encoder

	// The open group: its number, its sources and their symbols (length
	// prefix and payload, padded only when the group closes).
	seq     uint64
	sources []packet.PacketNumber
	symbols [][]byte
	symLen  int

	pending []repair // repair frames of closed groups not yet sent, oldest first
	spare   [][]byte // symbol buffers for reuse
	shards  [][]byte // scratch: sources then repairs, for the coder
	// groups holds groupRing entries, allocated with the first group: an
	// encoder that protects nothing (adaptive FEC on a clean path, which
	// is most connections) holds none of its 32 KiB.
	groups []GroupState
}

// repair is a repair frame waiting to be sent.
type repair struct {
	seq   uint64
	frame packet.FECRepairFrame
}

// GroupState is what an Encoder remembers about a group.
type GroupState struct {
	Seq uint64
	// Open is set while the group still collects sources.
	Open bool
	// Unsent is how many of the group's repair frames are not yet sent.
	Unsent int
	// LastRepair is the packet that carried the group's last repair frame,
	// once the group is closed and Unsent is 0.
	LastRepair packet.PacketNumber
}

// NewEncoder returns an Encoder that sends r repair symbols after every k
// protected packets: 1 ≤ k ≤ packet.MaxFECSources and 1 ≤ r ≤ k.
func NewEncoder(k, r int) (*Encoder, error) {
	if k < 1 || k > packet.MaxFECSources || r < 1 || r > k {
		return nil, fmt.Errorf("fec: group of %d with %d repair symbols: want 1 ≤ repair ≤ group ≤ %d", k, r, packet.MaxFECSources)
	}
	return &Encoder{k: k, r: r, codes: make(map[[2]int]reedsolomon.Encoder)}, nil
}

// NewAdaptiveEncoder returns an Encoder for groups of at most k protected
// packets whose repair count repairs chooses when each group closes, from
// its number of sources; a result outside 0 to that number is clamped to
// it. A group given 0 repairs closes with none.
func NewAdaptiveEncoder(k int, repairs func(sources int) int) (*Encoder, error) {
	e, err := NewEncoder(k, k)
	if err != nil {
		return nil, err
	}
	e.repairs = repairs
	return e, nil
}

// GroupSize and Repair are the K and R the Encoder was made with.
func (e *Encoder) GroupSize() int { return e.k }
func (e *Encoder) Repair() int    { return e.r }

// Reserve is how many bytes shorter than the largest packet a protected
// packet's payload must be, so that the group's repair frame, whose symbol
// is two bytes longer than the longest payload, fits in a packet as large
// as the largest source packet even if its packet number takes three more
// bytes (docs/PROTOCOL.md section 10).
func (e *Encoder) Reserve() int {
	return packet.FECRepairOverhead(e.k) + prefixLen + packet.MaxPacketNumberLen - 1
}

// Add adds the payload (the frames, before encryption) of protected packet
// pn to the open group and returns the group's number. It closes the
// group first if pn is too far from the group's last packet for the frame's
// one-byte gap fields, and closes it after adding if the group is full.
// Packet numbers must increase, and a payload must be 1 to MaxPayload bytes
// long: anything else is the caller's bug and panics. Add copies payload.
func (e *Encoder) Add(pn packet.PacketNumber, payload []byte) uint64 {
	if len(payload) == 0 || len(payload) > MaxPayload {
		panic(fmt.Sprintf("fec: protected payload of %d bytes", len(payload)))
	}
	if n := len(e.sources); n > 0 {
		if pn <= e.sources[n-1] {
			panic("fec: packet numbers must increase")
		}
		if !packet.FECGapFits(e.sources[n-1], pn) {
			e.close()
		}
	}
	if len(e.sources) == 0 {
		e.seq++
		e.setGroup(GroupState{Seq: e.seq, Open: true})
	}
	seq := e.seq
	sym := e.buffer()[:prefixLen]
	binary.BigEndian.PutUint16(sym, uint16(len(payload)))
	sym = append(sym, payload...)
	e.symbols = append(e.symbols, sym)
	e.sources = append(e.sources, pn)
	e.symLen = max(e.symLen, len(sym))
	if len(e.sources) == e.k {
		e.close()
	}
	return seq
}

// Open is how many sources the open group has.
func (e *Encoder) Open() int { return len(e.sources) }

// Flush closes the open group, if it has any sources, with a repair frame
// count of min(R, sources): a partial group when the sender has nothing
// more to send for now, so that the end of a burst is protected too.
func (e *Encoder) Flush() {
	if len(e.sources) > 0 {
		e.close()
	}
}

// close computes the open group's repair symbols and queues their frames.
func (e *Encoder) close() {
	k := len(e.sources)
	r := min(e.r, k)
	if e.repairs != nil {
		r = min(max(e.repairs(k), 0), k)
	}
	if r == 0 {
		e.setGroup(GroupState{Seq: e.seq})
		e.recycleSources()
		return
	}
	code := e.codes[[2]int{k, r}]
	if code == nil {
		var err error
		if code, err = newCode(k, r); err != nil {
			panic("fec: " + err.Error()) // k and r were validated
		}
		e.codes[[2]int{k, r}] = code
	}
	e.shards = e.shards[:0]
	for _, sym := range e.symbols {
		n := len(sym)
		sym = sym[:e.symLen]
		clear(sym[n:])
		e.shards = append(e.shards, sym)
	}
	sources := slices.Clone(e.sources) // shared by the group's repair frames
	for range r {
		e.shards = append(e.shards, e.buffer()[:e.symLen])
	}
	if err := code.Encode(e.shards); err != nil {
		panic("fec: encode: " + err.Error()) // equal, non-empty shards
	}
	for i, sym := range e.shards[k:] {
		e.pending = append(e.pending, repair{seq: e.seq, frame: packet.FECRepairFrame{Sources: sources, Index: i, Symbol: sym}})
	}
	e.setGroup(GroupState{Seq: e.seq, Unsent: r})
	clear(e.shards)
	e.recycleSources()
}

// recycleSources empties the open group, keeping its buffers for reuse.
func (e *Encoder) recycleSources() {
	for i, sym := range e.symbols {
		e.spare = append(e.spare, sym[:0])
		e.symbols[i] = nil
	}
	e.symbols = e.symbols[:0]
	e.sources = e.sources[:0]
	e.symLen = 0
}

// buffer returns an empty symbol buffer of capacity MaxSymbolLen.
func (e *Encoder) buffer() []byte { return takeSpare(&e.spare, MaxSymbolLen) }

// HasRepair reports whether a repair frame is waiting to be sent.
func (e *Encoder) HasRepair() bool { return len(e.pending) > 0 }

// RepairLen is the encoded length of the next repair frame, 0 if none.
func (e *Encoder) RepairLen() int {
	if len(e.pending) == 0 {
		return 0
	}
	return e.pending[0].frame.Len()
}

// AppendRepair appends the next repair frame to b and records that it goes
// in packet pn. It returns b unchanged if no repair is waiting.
func (e *Encoder) AppendRepair(b []byte, pn packet.PacketNumber) []byte {
	if len(e.pending) == 0 {
		return b
	}
	rp := e.pending[0]
	copy(e.pending, e.pending[1:])
	e.pending[len(e.pending)-1] = repair{}
	e.pending = e.pending[:len(e.pending)-1]
	b = rp.frame.Append(b)
	e.spare = append(e.spare, rp.frame.Symbol[:0])
	if g := &e.groups[rp.seq%groupRing]; g.Seq == rp.seq && g.Unsent > 0 {
		g.Unsent--
		g.LastRepair = pn
	}
	return b
}

// DropRepair discards the next repair frame unsent, as if it had been sent
// and lost: the datagram size fell below its length. Its group settles
// without it.
func (e *Encoder) DropRepair() {
	if len(e.pending) == 0 {
		return
	}
	rp := e.pending[0]
	copy(e.pending, e.pending[1:])
	e.pending[len(e.pending)-1] = repair{}
	e.pending = e.pending[:len(e.pending)-1]
	e.spare = append(e.spare, rp.frame.Symbol[:0])
	if g := &e.groups[rp.seq%groupRing]; g.Seq == rp.seq && g.Unsent > 0 {
		g.Unsent--
	}
}

// setGroup records g in the ring, making the ring on first use.
func (e *Encoder) setGroup(g GroupState) {
	if e.groups == nil {
		e.groups = make([]GroupState, groupRing)
	}
	e.groups[g.Seq%groupRing] = g
}

// GroupState returns what the Encoder remembers about group seq, or false
// if it has forgotten the group (more than groupRing groups ago) or never
// opened it.
func (e *Encoder) GroupState(seq uint64) (GroupState, bool) {
	if e.groups == nil {
		return GroupState{}, false
	}
	g := e.groups[seq%groupRing]
	if seq == 0 || g.Seq != seq {
		return GroupState{}, false
	}
	return g, true
}
