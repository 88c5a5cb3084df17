package fec

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/limpetnet/limpet/packet"
)

// Fuzz input for FuzzDecoder is a sequence of operations. Each starts with
// a byte op: op&1 == 0 adds a source payload to packet number pn (which
// advances by op>>1&7 first) whose length is the next byte, op&1 == 1 adds
// the FEC_REPAIR frame whose fields follow (without the type byte), in a
// packet op>>1&7 numbers after its last source.
func appendSourceOp(b []byte, advance int, payload []byte) []byte {
	b = append(b, byte(advance<<1), byte(len(payload)))
	return append(b, payload...)
}

func appendRepairOp(b []byte, after int, f packet.FECRepairFrame) []byte {
	b = append(b, byte(after<<1|1))
	return append(b, f.Append(nil)[1:]...)
}

// FuzzDecoder feeds a Decoder arbitrary sources and repair frames. It must
// never panic, stay within its bounds, fail only with ErrInconsistent, and
// return only payloads of packets whose own payload it does not hold, each
// 1 to MaxPayload bytes long.
func FuzzDecoder(f *testing.F) {
	r := rand.New(rand.NewPCG(11, 12))
	e, _ := NewEncoder(4, 2)
	var seed []byte
	pn, last := packet.PacketNumber(0), packet.PacketNumber(0)
	for i := range 4 {
		p := randBytes(r, 1+r.IntN(40))
		e.Add(pn, p)
		if i != 2 { // lose source 2
			seed = appendSourceOp(seed, int(pn-last), p)
			last = pn
		}
		pn++
	}
	for i := 0; e.HasRepair(); i++ {
		b := e.AppendRepair(nil, pn)
		fr, _, _ := packet.ParseFECRepairFrame(b, nil)
		seed = appendRepairOp(seed, i, fr)
		pn++
	}
	f.Add(seed)
	f.Add([]byte{1, 0, 1, 0, 3, 1, 2, 3})
	f.Add([]byte{0, 3, 1, 2, 3, 3, 0, 2, 0, 0, 3, 1, 2, 3})
	cfg := DecoderConfig{MaxRepair: 4, MaxSources: 16, MaxSourceBytes: 2 << 10, MaxGroups: 2, MaxRepairBytes: 2 << 10}
	buf := make([]packet.PacketNumber, 0, packet.MaxFECSources)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(cfg)
		pn := packet.PacketNumber(0)
		for len(b) > 0 {
			op := b[0]
			b = b[1:]
			advance := packet.PacketNumber(op >> 1 & 7)
			var rec []Recovered
			var err error
			if op&1 == 0 {
				if len(b) == 0 {
					return
				}
				n := min(int(b[0]), len(b)-1)
				payload := b[1 : 1+n]
				b = b[1+n:]
				pn += advance
				rec, err = d.AddSource(pn, payload)
			} else {
				fr, n, perr := packet.ParseFECRepairFrame(append([]byte{byte(packet.FrameFECRepair)}, b...), buf)
				if perr != nil {
					return
				}
				b = b[n-1:]
				rec, err = d.AddRepair(groupEnd(fr.Sources)+1+advance, fr)
			}
			if err != nil && !errors.Is(err, ErrInconsistent) {
				t.Fatalf("error %v is not ErrInconsistent", err)
			}
			for _, x := range rec {
				if _, held := d.src[x.PN]; held {
					t.Fatalf("recovered packet %d, whose payload it holds", x.PN)
				}
				if len(x.Payload) == 0 || len(x.Payload) > MaxPayload {
					t.Fatalf("recovered a %d-byte payload", len(x.Payload))
				}
			}
			sources, sourceBytes, groups, repairBytes := d.Usage()
			if sources > cfg.MaxSources || sourceBytes > cfg.MaxSourceBytes || groups > cfg.MaxGroups || repairBytes > cfg.MaxRepairBytes {
				t.Fatalf("usage %d sources, %d bytes, %d groups, %d repair bytes exceeds %+v", sources, sourceBytes, groups, repairBytes, cfg)
			}
		}
	})
}
