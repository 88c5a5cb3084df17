package fec

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/limpetnet/limpet/packet"
)

// testPayloads returns k payloads of varied lengths: some end in zero
// bytes, and some end in a STREAM frame without a Length field, whose data
// runs to the end of the packet, so zero padding alone would change them.
func testPayloads(r *rand.Rand, k int) [][]byte {
	out := make([][]byte, k)
	for i := range out {
		var p []byte
		switch i % 4 {
		case 0:
			p = packet.StreamFrame{StreamID: 4, Offset: int64(1000 * i), Data: randBytes(r, 1+r.IntN(1300))}.Append(nil)
		case 1:
			p = packet.StreamFrame{StreamID: 8, Offset: int64(i), Data: randBytes(r, 1+r.IntN(200)), OmitLength: true}.Append(nil)
			p = append(p, 0, 0, 0) // stream data that ends in zeros
		case 2:
			p = []byte{byte(packet.FramePing)}
		default:
			p = randBytes(r, 1+r.IntN(MaxPayload))
		}
		out[i] = p
	}
	return out
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// drainRepairs sends every pending repair frame in packets numbered from
// pn up and parses each back from the wire.
func drainRepairs(t *testing.T, e *Encoder, pn packet.PacketNumber) []packet.FECRepairFrame {
	t.Helper()
	var out []packet.FECRepairFrame
	for e.HasRepair() {
		want := e.RepairLen()
		b := e.AppendRepair(nil, pn)
		if len(b) != want {
			t.Fatalf("AppendRepair wrote %d bytes, RepairLen said %d", len(b), want)
		}
		f, n, err := packet.ParseFECRepairFrame(b, nil)
		if err != nil || n != len(b) {
			t.Fatalf("repair frame %x does not parse: %d, %v", b[:min(len(b), 16)], n, err)
		}
		f.Symbol = bytes.Clone(f.Symbol)
		out = append(out, f)
		pn++
	}
	return out
}

func TestEncoderGroupsAndRepairs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	e, err := NewEncoder(4, 2)
	if err != nil {
		t.Fatal(err)
	}
	payloads := testPayloads(r, 10)
	pns := []packet.PacketNumber{10, 11, 13, 14, 15, 16, 17, 18 + 64, 18 + 65, 18 + 66}
	var seqs []uint64
	for i := 0; i < 4; i++ {
		seqs = append(seqs, e.Add(pns[i], payloads[i]))
	}
	if e.Open() != 0 || !e.HasRepair() {
		t.Fatalf("after K=4 sources: open %d, repair waiting %v; want a closed group with repairs", e.Open(), e.HasRepair())
	}
	if st, ok := e.GroupState(1); !ok || st.Open || st.Unsent != 2 {
		t.Fatalf("GroupState(1) = %+v, %v; want closed with 2 repairs unsent", st, ok)
	}
	rep := drainRepairs(t, e, 100)
	if len(rep) != 2 {
		t.Fatalf("got %d repair frames, want R=2", len(rep))
	}
	for i, f := range rep {
		if f.Index != i || !slices.Equal(f.Sources, pns[:4]) {
			t.Errorf("repair %d: index %d sources %v; want index %d sources %v", i, f.Index, f.Sources, i, pns[:4])
		}
		wantLen := 0
		for _, p := range payloads[:4] {
			wantLen = max(wantLen, 2+len(p))
		}
		if len(f.Symbol) != wantLen {
			t.Errorf("repair %d: symbol of %d bytes, want the longest payload plus 2 = %d", i, len(f.Symbol), wantLen)
		}
	}
	if st, _ := e.GroupState(1); st.Unsent != 0 || st.LastRepair != 101 {
		t.Errorf("GroupState(1) after sending = %+v, want Unsent 0 and LastRepair 101", st)
	}
	for i := 4; i < 7; i++ {
		seqs = append(seqs, e.Add(pns[i], payloads[i]))
	}
	if st, ok := e.GroupState(2); !ok || !st.Open {
		t.Fatalf("GroupState(2) = %+v, %v; want open", st, ok)
	}
	// A gap of 64 numbers does not fit the frame's one-byte gap field: the
	// group closes with three sources, so min(R, 3) = 2 repairs.
	seqs = append(seqs, e.Add(pns[7], payloads[7]))
	rep = drainRepairs(t, e, 200)
	if len(rep) != 2 || !slices.Equal(rep[0].Sources, pns[4:7]) {
		t.Fatalf("after a 64-number gap: %d repairs for %v, want 2 for %v", len(rep), sourcesOf(rep), pns[4:7])
	}
	seqs = append(seqs, e.Add(pns[8], payloads[8]), e.Add(pns[9], payloads[9]))
	want := []uint64{1, 1, 1, 1, 2, 2, 2, 3, 3, 3}
	if !slices.Equal(seqs, want) {
		t.Errorf("group numbers %v, want %v", seqs, want)
	}
	// Flush closes a partial group: one repair for one source is allowed,
	// here min(R=2, 3 sources) = 2.
	e.Flush()
	rep = drainRepairs(t, e, 300)
	if len(rep) != 2 || !slices.Equal(rep[0].Sources, pns[7:10]) {
		t.Fatalf("Flush: %d repairs for %v, want 2 for %v", len(rep), sourcesOf(rep), pns[7:10])
	}
	e.Flush()
	if e.HasRepair() {
		t.Errorf("Flush of an empty group queued a repair")
	}
	if _, ok := e.GroupState(99); ok {
		t.Errorf("GroupState of a group never opened reports ok")
	}
}

func TestEncoderPartialGroupOfOne(t *testing.T) {
	e, _ := NewEncoder(8, 3)
	e.Add(5, []byte{1, 2, 3})
	e.Flush()
	rep := drainRepairs(t, e, 6)
	if len(rep) != 1 {
		t.Fatalf("one source, R=3: got %d repairs, want min(R, 1) = 1", len(rep))
	}
	// With one source every repair row is the source symbol times a
	// constant; the decoder must still get it back.
	d := NewDecoder(DecoderConfig{})
	got, err := d.AddRepair(6, rep[0])
	if err != nil || len(got) != 1 || got[0].PN != 5 || !bytes.Equal(got[0].Payload, []byte{1, 2, 3}) {
		t.Fatalf("AddRepair = %+v, %v; want packet 5 = 010203", got, err)
	}
}

func TestNewEncoderRejectsBadShapes(t *testing.T) {
	for _, tc := range []struct{ k, r int }{{0, 0}, {1, 0}, {4, 5}, {33, 1}, {-1, 1}} {
		if _, err := NewEncoder(tc.k, tc.r); err == nil {
			t.Errorf("NewEncoder(%d, %d) succeeded", tc.k, tc.r)
		}
	}
}

func TestEncoderReserveCoversRepairFrame(t *testing.T) {
	// The largest repair frame for a group whose longest payload leaves
	// exactly Reserve() bytes must fit where that payload's packet would
	// have, with three more packet-number bytes.
	for _, k := range []int{1, 8, 32} {
		e, _ := NewEncoder(k, 1)
		const limit = 1400 // payload room of a full packet
		payload := bytes.Repeat([]byte{7}, limit-e.Reserve())
		pn := packet.PacketNumber(1 << 40) // an 8-byte varint
		for i := 0; i < k; i++ {
			e.Add(pn, payload)
			pn += 64 // every gap at the one-byte maximum
		}
		e.Flush()
		if got := e.RepairLen(); got > limit-(packet.MaxPacketNumberLen-1) {
			t.Errorf("K=%d: repair frame of %d bytes, payload room %d", k, got, limit-(packet.MaxPacketNumberLen-1))
		}
	}
}

func sourcesOf(fs []packet.FECRepairFrame) []packet.PacketNumber {
	if len(fs) == 0 {
		return nil
	}
	return fs[0].Sources
}

// An adaptive encoder asks for each group's repair count when it closes,
// with the group's number of sources, and clamps the answer.
func TestAdaptiveEncoderRepairs(t *testing.T) {
	var asked []int
	answer := 0
	e, err := NewAdaptiveEncoder(4, func(n int) int { asked = append(asked, n); return answer })
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte("payload")
	pn := packet.PacketNumber(0)
	add := func(n int) uint64 {
		var g uint64
		for range n {
			g = e.Add(pn, payload)
			pn++
		}
		return g
	}
	answer = 0
	g := add(4) // full: closes with no repairs
	if e.HasRepair() {
		t.Fatal("a group given 0 repairs queued some")
	}
	if st, ok := e.GroupState(g); !ok || st.Open || st.Unsent != 0 {
		t.Fatalf("group state %+v, %v; want closed with nothing unsent", st, ok)
	}
	answer = 9 // clamped to the group's 2 sources
	add(2)
	e.Flush()
	var repairs int
	for e.HasRepair() {
		e.AppendRepair(nil, pn)
		pn++
		repairs++
	}
	if repairs != 2 {
		t.Fatalf("%d repairs for a 2-packet group asking 9, want 2", repairs)
	}
	if want := []int{4, 2}; !slices.Equal(asked, want) {
		t.Fatalf("asked for groups of %v, want %v", asked, want)
	}
}
