package linkem

import (
	"encoding/binary"
	"testing"
	"time"
)

// FuzzLink drives a link with an arbitrary configuration and an arbitrary
// sequence of arrivals and clock steps, and checks the invariants every
// configuration must keep: each packet is counted once, delivered at most
// once and never before its arrival plus the delay, and without reordering
// packets come out in the order they went in. Packets are IPv4 headers
// whose ECN field the fuzzer picks, so that CoDel both marks and drops.
func FuzzLink(f *testing.F) {
	f.Add(uint64(1), uint16(2500), uint32(100_000), uint8(10), uint16(10), uint16(0), uint16(0), uint8(0), uint16(0), []byte{10, 20, 0x85, 120, 127, 0xff, 0xff})
	f.Add(uint64(2), uint16(0), uint32(12), uint8(0), uint16(0), uint16(500), uint16(100), uint8(0), uint16(0), []byte{1, 1, 1, 1, 0x81, 1, 0xa0})
	f.Add(uint64(3), uint16(100), uint32(0), uint8(1), uint16(1000), uint16(0), uint16(0), uint8(0), uint16(600), []byte{0x80, 5, 0x80, 60})
	f.Add(uint64(4), uint16(100), uint32(1000), uint8(0), uint16(0), uint16(0), uint16(0), uint8(0x21), uint16(0), []byte{20, 21, 22, 23, 24, 25, 26, 27, 0x81, 28, 29, 30, 31, 0x82, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, seed uint64, delay10us uint16, rateKbps uint32, queue uint8, lossPermille, reorderPermille, geP uint16, codelMs uint8, mtu uint16, ops []byte) {
		cfg := Config{
			Delay:             time.Duration(delay10us) * 10 * time.Microsecond,
			RateBitsPerSecond: uint64(rateKbps) * 1000,
			QueueLimitPackets: int(queue),
			Loss:              float64(lossPermille) / 1000,
			Burst:             GilbertElliott{P: float64(geP) / 1000, R: 0.5, LossBad: 1},
			Reorder:           Reorder{Probability: float64(reorderPermille) / 1000, ExtraDelay: time.Millisecond},
			// The low nibble is the target in ms, the high one the
			// interval in tens of ms; both zero turn CoDel off.
			CoDel: CoDelConfig{Target: time.Duration(codelMs&0x0f) * time.Millisecond,
				Interval: time.Duration(codelMs>>4) * 10 * time.Millisecond, ECN: seed&1 == 0},
			MTU:  int(mtu),
			Seed: seed,
		}
		l, err := New(cfg)
		if err != nil {
			return // out of range, and Validate said so
		}
		// Long inputs find nothing short ones do not, only slower.
		ops = ops[:min(len(ops), 4096)]
		now := t0
		sentAt := map[uint32]time.Time{}
		delivered := map[uint32]bool{}
		var next, lastOut uint32 // ids are 1-based
		for _, op := range ops {
			if op&0x80 != 0 {
				now = now.Add(time.Duration(op&0x7f) * 100 * time.Microsecond)
				for {
					due, _ := l.NextDelivery()
					pkt, ok := l.Dequeue(now)
					if !ok {
						break
					}
					if due.After(now) {
						t.Fatalf("Dequeue(%v) returned a packet due at %v", now, due)
					}
					id := binary.BigEndian.Uint32(pkt[12:])
					if delivered[id] {
						t.Fatalf("packet %d delivered twice", id)
					}
					delivered[id] = true
					if min := sentAt[id].Add(cfg.Delay); due.Before(min) {
						t.Fatalf("packet %d due at %v, before its arrival plus delay %v", id, due, min)
					}
					if cfg.Reorder.Probability == 0 && id < lastOut {
						t.Fatalf("packet %d delivered after packet %d without reordering", id, lastOut)
					}
					lastOut = id
				}
				continue
			}
			next++
			size := max(20, int(op&0x7f)*12)
			pkt := make([]byte, size)
			pkt[0], pkt[1] = 0x45, op>>5&0b11 // the ECN field
			binary.BigEndian.PutUint32(pkt[12:], next)
			if l.Enqueue(pkt, now) == Accepted {
				sentAt[next] = now
			}
		}
		st := l.Stats()
		if st.Offered != uint64(next) || st.Offered != st.Accepted+st.Lost+st.BurstLost+st.QueueFull+st.Overflow+st.TooLarge+st.OverMTU {
			t.Errorf("stats %+v do not add up to %d offered packets", st, next)
		}
		if st.Accepted != st.Delivered+st.CoDelDropped+uint64(l.Len()) || st.Delivered != uint64(len(delivered)) {
			t.Errorf("stats %+v: accepted is not delivered (%d) plus dropped by CoDel plus held (%d)", st, len(delivered), l.Len())
		}
		if !cfg.CoDel.Enabled() && (st.CoDelDropped != 0 || st.CEMarked != 0) {
			t.Errorf("stats %+v: CoDel acted although off", st)
		}
	})
}
