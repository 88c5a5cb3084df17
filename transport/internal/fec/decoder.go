package fec

import (
	"errors"
	"fmt"
	"slices"

	"github.com/klauspost/reedsolomon"
	"github.com/limpetnet/limpet/packet"
)

// ErrInconsistent reports repair frames that contradict each other, the
// source packets they name, or the limits the receiver announced. The
// frames were authenticated, so the peer sent them: the connection closes
// with PROTOCOL_VIOLATION (docs/PROTOCOL.md section 10).
var ErrInconsistent = errors.New("fec: inconsistent FEC_REPAIR")

// DecoderConfig bounds a Decoder. Zero fields select the defaults.
type DecoderConfig struct {
	// MaxRepair is the fec transport parameter this endpoint announced: a
	// repair frame's index must be below it (default and at most
	// packet.MaxFECRepairSymbols).
	MaxRepair int
	// MaxSources and MaxSourceBytes bound the payloads of received packets
	// kept for groups whose repair frames have not arrived yet (default 256
	// payloads, 384 KiB).
	MaxSources     int
	MaxSourceBytes int
	// MaxGroups and MaxRepairBytes bound the groups waiting for more
	// symbols and their repair symbols (default 16 groups, 256 KiB).
	MaxGroups      int
	MaxRepairBytes int
}

// Default Decoder bounds: about 640 KiB per connection at most, reached
// only while the peer sends protected data.
const (
	defaultMaxSources     = 256
	defaultMaxSourceBytes = 384 << 10
	defaultMaxGroups      = 16
	defaultMaxRepairBytes = 256 << 10
	// doneRing is how many finished groups a Decoder remembers, to ignore
	// their later repair frames and to catch groups that overlap them.
	doneRing = 64
	// recoveredRing is how many recovered packet numbers it remembers for
	// WasRecovered.
	recoveredRing = 256
)

func (c DecoderConfig) withDefaults() DecoderConfig {
	if c.MaxRepair <= 0 || c.MaxRepair > packet.MaxFECRepairSymbols {
		c.MaxRepair = packet.MaxFECRepairSymbols
	}
	if c.MaxSources <= 0 {
		c.MaxSources = defaultMaxSources
	}
	if c.MaxSourceBytes <= 0 {
		c.MaxSourceBytes = defaultMaxSourceBytes
	}
	if c.MaxGroups <= 0 {
		c.MaxGroups = defaultMaxGroups
	}
	if c.MaxRepairBytes <= 0 {
		c.MaxRepairBytes = defaultMaxRepairBytes
	}
	return c
}

// Recovered is a source packet a Decoder rebuilt.
type Recovered struct {
	PN packet.PacketNumber
	// Payload is the packet's plaintext payload, byte for byte. It is
	// valid until the next call to the Decoder.
	Payload []byte
}

// Decoder is the receiver's half of forward error correction
// (docs/PROTOCOL.md section 10). The receiver gives it the payload of every
// packet that may be a source (AddSource) and every FEC_REPAIR frame
// (AddRepair); whenever a group then holds K of its K source payloads and
// repair symbols with a source missing, the call returns the missing
// payloads. Memory is bounded by DecoderConfig; the oldest payloads and
// groups are forgotten first.
type Decoder struct {
	cfg DecoderConfig
	// codes, done and recoveredRing are made on first use: a Decoder
	// that never sees a repair (a peer on a clean path) holds none of them.
	codes []reedsolomon.Encoder // by group size

	// Received source payloads by packet number, and their arrival order
	// (a FIFO from srcHead) for eviction.
	src      map[packet.PacketNumber][]byte
	srcOrder []packet.PacketNumber
	srcHead  int
	srcBytes int
	spare    [][]byte
	// smallSpare are evicted buffers of small sources, for reuse.
	smallSpare [][]byte

	groups      []*group // waiting for symbols, oldest first
	repairBytes int
	done        []span // doneRing finished groups, newest at doneNext-1
	doneNext    int

	recovered     map[packet.PacketNumber]bool
	recoveredRing []packet.PacketNumber
	recoveredNext int

	out    []Recovered
	shards [][]byte
}

// group is a group the Decoder has repair symbols for.
type group struct {
	sources []packet.PacketNumber
	symLen  int
	repairs [packet.MaxFECRepairSymbols][]byte // by index; nil if absent
	count   int                                // repair symbols held
}

// span is the first and last source packet of a group.
type span struct{ first, last packet.PacketNumber }

func (s span) overlaps(o span) bool { return s.first <= o.last && o.first <= s.last }

// NewDecoder returns a Decoder bounded by cfg.
func NewDecoder(cfg DecoderConfig) *Decoder {
	d := &Decoder{
		cfg:       cfg.withDefaults(),
		src:       make(map[packet.PacketNumber][]byte),
		recovered: make(map[packet.PacketNumber]bool),
	}
	return d
}

// AddSource records the payload of received packet pn, which may be a
// source of a group, and returns the payloads it lets the Decoder rebuild
// (when a group's repair symbols arrived before this packet). A payload
// longer than MaxPayload cannot be a source and is not kept. AddSource
// copies payload.
func (d *Decoder) AddSource(pn packet.PacketNumber, payload []byte) ([]Recovered, error) {
	d.out = d.out[:0]
	if len(payload) == 0 || len(payload) > MaxPayload {
		return nil, nil
	}
	if _, dup := d.src[pn]; dup {
		return nil, nil
	}
	var buf []byte
	if len(payload) <= smallSource {
		// A small buffer: an idle connection's last few small packets
		// stay here until newer ones push them out, and a full-size
		// buffer each would be most of what the connection holds.
		// (Bytes are counted by what the buffers hold, not by what they
		// carry, so the bounds are on memory: a peer's tiny payloads and
		// symbols each cost it a whole buffer of the count.)
		buf = append(d.smallBuffer(), payload...)
	} else {
		buf = append(d.buffer(), payload...)
	}
	d.src[pn] = buf
	d.srcOrder = append(d.srcOrder, pn)
	d.srcBytes += cap(buf)
	d.evictSources()
	for i, g := range d.groups {
		if _, in := slices.BinarySearch(g.sources, pn); in {
			if err := d.try(i); err != nil {
				return nil, err
			}
			break
		}
	}
	return d.out, nil
}

// AddRepair records the FEC_REPAIR frame f that arrived in packet
// repairPN and returns the payloads it lets the Decoder rebuild. It fails
// with ErrInconsistent when the frame's index is not below MaxRepair, its
// symbol is longer than MaxSymbolLen, it names a source at or after its own
// packet, it disagrees with an earlier frame of its group (sources or symbol
// length), its group overlaps another one, or a received source is longer
// than the symbol; and when the rebuilt payloads turn out inconsistent. A
// repair frame of a finished group is ignored. AddRepair copies f.Symbol.
func (d *Decoder) AddRepair(repairPN packet.PacketNumber, f packet.FECRepairFrame) ([]Recovered, error) {
	d.out = d.out[:0]
	switch {
	case len(f.Sources) == 0 || len(f.Sources) > packet.MaxFECSources || len(f.Symbol) < packet.MinFECSymbolLen:
		return nil, fmt.Errorf("%w: %d sources, %d-byte symbol", ErrInconsistent, len(f.Sources), len(f.Symbol))
	case f.Index < 0 || f.Index >= d.cfg.MaxRepair:
		return nil, fmt.Errorf("%w: repair index %d, announced at most %d symbols", ErrInconsistent, f.Index, d.cfg.MaxRepair)
	case len(f.Symbol) > MaxSymbolLen:
		return nil, fmt.Errorf("%w: %d-byte symbol, at most %d", ErrInconsistent, len(f.Symbol), MaxSymbolLen)
	case groupEnd(f.Sources) >= repairPN:
		return nil, fmt.Errorf("%w: source %d not before repair packet %d", ErrInconsistent, groupEnd(f.Sources), repairPN)
	}
	sp := span{f.Sources[0], groupEnd(f.Sources)}
	for _, done := range d.done {
		if done == sp {
			return nil, nil // finished: recovered, complete or given up
		}
		if done.overlaps(sp) {
			return nil, fmt.Errorf("%w: group %d..%d overlaps group %d..%d", ErrInconsistent, sp.first, sp.last, done.first, done.last)
		}
	}
	gi := -1
	for i, g := range d.groups {
		gsp := span{g.sources[0], groupEnd(g.sources)}
		if gsp.first == sp.first {
			if !slices.Equal(g.sources, f.Sources) || g.symLen != len(f.Symbol) {
				return nil, fmt.Errorf("%w: group at %d repeated with other sources or symbol length", ErrInconsistent, sp.first)
			}
			gi = i
			break
		}
		if gsp.overlaps(sp) {
			return nil, fmt.Errorf("%w: group %d..%d overlaps group %d..%d", ErrInconsistent, sp.first, sp.last, gsp.first, gsp.last)
		}
	}
	if gi < 0 {
		d.groups = append(d.groups, &group{sources: slices.Clone(f.Sources), symLen: len(f.Symbol)})
		gi = len(d.groups) - 1
	}
	g := d.groups[gi]
	if g.repairs[f.Index] == nil {
		g.repairs[f.Index] = append(d.buffer(), f.Symbol...)
		g.count++
		d.repairBytes += cap(g.repairs[f.Index])
	}
	if err := d.try(gi); err != nil {
		return nil, err
	}
	d.evictGroups()
	return d.out, nil
}

// try finishes group i if it can: when every source arrived, or when enough
// symbols arrived to rebuild the missing ones, which it appends to d.out.
func (d *Decoder) try(i int) error {
	g := d.groups[i]
	k := len(g.sources)
	present := 0
	for _, pn := range g.sources {
		p, ok := d.src[pn]
		if !ok {
			continue
		}
		if len(p) > g.symLen-prefixLen {
			d.finish(i)
			return fmt.Errorf("%w: source %d of %d bytes, symbol of %d", ErrInconsistent, pn, len(p), g.symLen)
		}
		present++
	}
	switch {
	case present == k:
		d.finish(i) // nothing lost
		return nil
	case present+g.count < k:
		return nil // wait for more
	}
	err := d.decode(g)
	d.finish(i)
	return err
}

// decode rebuilds g's missing sources into d.out.
func (d *Decoder) decode(g *group) error {
	k := len(g.sources)
	if d.codes == nil {
		d.codes = make([]reedsolomon.Encoder, packet.MaxFECSources+1)
	}
	code := d.codes[k]
	if code == nil {
		var err error
		if code, err = newCode(k, packet.MaxFECRepairSymbols); err != nil {
			return fmt.Errorf("fec: %w", err)
		}
		d.codes[k] = code
	}
	d.shards = slices.Grow(d.shards[:0], k+packet.MaxFECRepairSymbols)[:k+packet.MaxFECRepairSymbols]
	clear(d.shards)
	for j, pn := range g.sources {
		if p, ok := d.src[pn]; ok {
			d.shards[j] = putSymbol(make([]byte, 0, g.symLen), p, g.symLen)
		}
	}
	for i, sym := range g.repairs {
		d.shards[k+i] = sym
	}
	if err := code.ReconstructData(d.shards); err != nil {
		return fmt.Errorf("%w: %v", ErrInconsistent, err)
	}
	start := len(d.out)
	for j, pn := range g.sources {
		if _, ok := d.src[pn]; ok {
			continue
		}
		payload, ok := symbolPayload(d.shards[j])
		if !ok {
			d.out = d.out[:start]
			return fmt.Errorf("%w: rebuilt source %d has a bad length or padding", ErrInconsistent, pn)
		}
		d.out = append(d.out, Recovered{PN: pn, Payload: payload})
	}
	for _, r := range d.out[start:] {
		d.markRecovered(r.PN)
	}
	return nil
}

// finish forgets group i and remembers its span as done.
func (d *Decoder) finish(i int) {
	g := d.groups[i]
	for j, sym := range g.repairs {
		if sym != nil {
			d.repairBytes -= cap(sym)
			d.spare = append(d.spare, sym[:0])
			g.repairs[j] = nil
		}
	}
	if d.done == nil {
		d.done = make([]span, doneRing)
		for i := range d.done {
			d.done[i] = span{first: packet.InvalidPacketNumber, last: packet.InvalidPacketNumber}
		}
	}
	d.done[d.doneNext] = span{g.sources[0], groupEnd(g.sources)}
	d.doneNext = (d.doneNext + 1) % doneRing
	d.groups = slices.Delete(d.groups, i, i+1)
}

// evictGroups gives up the oldest groups beyond the bounds.
func (d *Decoder) evictGroups() {
	for len(d.groups) > 0 && (len(d.groups) > d.cfg.MaxGroups || d.repairBytes > d.cfg.MaxRepairBytes) {
		d.finish(0)
	}
}

// evictSources forgets the oldest source payloads beyond the bounds.
func (d *Decoder) evictSources() {
	for len(d.src) > d.cfg.MaxSources || d.srcBytes > d.cfg.MaxSourceBytes {
		pn := d.srcOrder[d.srcHead]
		d.srcHead++
		if p, ok := d.src[pn]; ok {
			d.srcBytes -= cap(p)
			switch {
			case cap(p) >= MaxSymbolLen:
				d.spare = append(d.spare, p[:0])
			case cap(p) == smallSource && len(d.smallSpare) < maxSmallSpare:
				d.smallSpare = append(d.smallSpare, p[:0])
			}
			delete(d.src, pn)
		}
	}
	if d.srcHead > len(d.srcOrder)/2 {
		// Compact the FIFO so it does not grow without bound.
		n := copy(d.srcOrder, d.srcOrder[d.srcHead:])
		d.srcOrder = d.srcOrder[:n]
		d.srcHead = 0
	}
}

// smallSource is the largest source payload kept in a buffer of its own
// (of smallSource bytes) rather than a pooled one of MaxSymbolLen; at most
// maxSmallSpare of those wait for reuse.
const (
	smallSource   = 256
	maxSmallSpare = 64
)

// smallBuffer returns an empty buffer of capacity smallSource.
func (d *Decoder) smallBuffer() []byte { return takeSpare(&d.smallSpare, smallSource) }

// buffer returns an empty buffer of capacity MaxSymbolLen.
func (d *Decoder) buffer() []byte { return takeSpare(&d.spare, MaxSymbolLen) }

// takeSpare returns the last of spares, or a new empty buffer of capacity
// size when there is none.
func takeSpare(spares *[][]byte, size int) []byte {
	if n := len(*spares); n > 0 {
		b := (*spares)[n-1]
		(*spares)[n-1] = nil
		*spares = (*spares)[:n-1]
		return b
	}
	return make([]byte, 0, size)
}

func (d *Decoder) markRecovered(pn packet.PacketNumber) {
	if d.recoveredRing == nil {
		d.recoveredRing = make([]packet.PacketNumber, recoveredRing)
		for i := range d.recoveredRing {
			d.recoveredRing[i] = packet.InvalidPacketNumber
		}
	}
	if old := d.recoveredRing[d.recoveredNext]; old != packet.InvalidPacketNumber {
		delete(d.recovered, old)
	}
	d.recoveredRing[d.recoveredNext] = pn
	d.recoveredNext = (d.recoveredNext + 1) % recoveredRing
	d.recovered[pn] = true
}

// WasRecovered reports whether packet pn was rebuilt recently, so that its
// original, arriving late, is dropped without being counted as a duplicate
// the network made.
func (d *Decoder) WasRecovered(pn packet.PacketNumber) bool { return d.recovered[pn] }

// Usage reports the memory the Decoder holds: source payloads and their
// bytes, groups waiting and their repair bytes.
func (d *Decoder) Usage() (sources, sourceBytes, groups, repairBytes int) {
	return len(d.src), d.srcBytes, len(d.groups), d.repairBytes
}
