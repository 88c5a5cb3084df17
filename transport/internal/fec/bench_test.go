package fec

import (
	"math/rand/v2"
	"testing"

	"github.com/limpetnet/limpet/packet"
)

// BenchmarkEncoder protects full-size packets in groups of 8 with 2 repair
// symbols: the sender's cost per source packet, repairs included.
func BenchmarkEncoder(b *testing.B) {
	e, _ := NewEncoder(8, 2)
	payload := randBytes(rand.New(rand.NewPCG(1, 1)), 1400)
	buf := make([]byte, 0, 1500)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	pn := packet.PacketNumber(0)
	for b.Loop() {
		e.Add(pn, payload)
		pn++
		for e.HasRepair() {
			buf = e.AppendRepair(buf[:0], pn)
			pn++
		}
	}
}

// BenchmarkDecoderNoLoss is the receiver's cost per source packet when
// nothing is lost: keeping the payload, and checking the group when its
// repair frames arrive.
func BenchmarkDecoderNoLoss(b *testing.B) {
	benchmarkDecoder(b, -1)
}

// BenchmarkDecoderOneLoss rebuilds one packet of every group of 8.
func BenchmarkDecoderOneLoss(b *testing.B) {
	benchmarkDecoder(b, 3)
}

func benchmarkDecoder(b *testing.B, lose int) {
	e, _ := NewEncoder(8, 2)
	payload := randBytes(rand.New(rand.NewPCG(2, 2)), 1400)
	for i := range 8 {
		e.Add(packet.PacketNumber(i), payload)
	}
	var repairs []packet.FECRepairFrame
	for i := 0; e.HasRepair(); i++ {
		f, _, _ := packet.ParseFECRepairFrame(e.AppendRepair(nil, packet.PacketNumber(8+i)), nil)
		repairs = append(repairs, f)
	}
	// The symbols do not depend on packet numbers, so every group of the
	// run reuses them with the next ten numbers.
	d := NewDecoder(DecoderConfig{})
	b.SetBytes(8 * int64(len(payload)))
	b.ReportAllocs()
	base := packet.PacketNumber(0)
	for b.Loop() {
		for i := range 8 {
			if i != lose {
				d.AddSource(base+packet.PacketNumber(i), payload)
			}
		}
		for i, f := range repairs {
			for j := range f.Sources {
				f.Sources[j] = base + packet.PacketNumber(j)
			}
			d.AddRepair(base+8+packet.PacketNumber(i), f)
		}
		base += 10
	}
}
