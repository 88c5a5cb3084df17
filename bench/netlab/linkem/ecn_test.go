package linkem

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// ipv4Packet returns an IPv4/UDP packet of size bytes with the given TOS
// byte and IP ID, and a correct header checksum.
func ipv4Packet(id uint16, size int, tos byte) []byte {
	p := make([]byte, max(size, 28))
	p[0] = 0x45
	p[1] = tos
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[4:], id)
	p[6] = 0x40 // DF
	p[8] = 64
	p[9] = 17
	copy(p[12:16], []byte{198, 18, 1, 2})
	copy(p[16:20], []byte{198, 19, 1, 2})
	binary.BigEndian.PutUint16(p[10:], headerChecksum(p[:20]))
	return p
}

// ipv6Packet returns an IPv6/UDP packet of size bytes with the given
// traffic class; the flow label's first bits are set so that a mark that
// spilled into them would show.
func ipv6Packet(id uint16, size int, trafficClass byte) []byte {
	p := make([]byte, max(size, 48))
	p[0] = 0x60 | trafficClass>>4
	p[1] = trafficClass<<4 | 0x0a
	binary.BigEndian.PutUint16(p[4:], uint16(len(p)-40))
	p[6] = 17
	p[7] = 64
	binary.BigEndian.PutUint16(p[40:], id) // UDP source port: the test's id
	return p
}

// headerChecksum computes the IPv4 header checksum from scratch, with the
// checksum field counted as zero.
func headerChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		if i == 10 {
			continue
		}
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func TestPacketECN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc   string
		pkt    []byte
		want   byte
		wantOK bool
	}{
		{"IPv4 Not-ECT", ipv4Packet(1, 100, 0xb8), ecnNotECT, true},
		{"IPv4 ECT(0) with DSCP EF", ipv4Packet(1, 100, 0xb8|ecnECT0), ecnECT0, true},
		{"IPv4 ECT(1)", ipv4Packet(1, 100, ecnECT1), ecnECT1, true},
		{"IPv4 CE", ipv4Packet(1, 100, ecnCE), ecnCE, true},
		{"IPv6 ECT(0)", ipv6Packet(1, 100, ecnECT0), ecnECT0, true},
		{"IPv6 CE with a DSCP", ipv6Packet(1, 100, 0x28|ecnCE), ecnCE, true},
		{"IPv6 Not-ECT", ipv6Packet(1, 100, 0xfc), ecnNotECT, true},
		{"empty", nil, 0, false},
		{"IPv4 header cut short", ipv4Packet(1, 100, ecnECT0)[:19], 0, false},
		{"IPv4 header length below 20", func() []byte { p := ipv4Packet(1, 100, ecnECT0); p[0] = 0x44; return p }(), 0, false},
		{"IPv6 header cut short", ipv6Packet(1, 100, ecnECT0)[:39], 0, false},
		{"not IP", []byte{0, 0, 0, 1, 2, 3}, 0, false},
	} {
		got, ok := packetECN(tc.pkt)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: packetECN = %02b, %v; want %02b, %v", tc.desc, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestMarkCE(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc   string
		pkt    []byte
		marked bool
	}{
		{"IPv4 ECT(0)", ipv4Packet(7, 1500, 0xb8|ecnECT0), true},
		{"IPv4 ECT(1)", ipv4Packet(7, 1500, ecnECT1), true},
		{"IPv4 CE stays CE", ipv4Packet(7, 1500, ecnCE), true},
		{"IPv4 Not-ECT is left alone", ipv4Packet(7, 1500, 0xb8), false},
		{"IPv6 ECT(0)", ipv6Packet(7, 1500, 0xb8|ecnECT0), true},
		{"IPv6 ECT(1)", ipv6Packet(7, 1500, ecnECT1), true},
		{"IPv6 Not-ECT is left alone", ipv6Packet(7, 1500, 0xb8), false},
		{"not IP", []byte{1, 2, 3, 4}, false},
	} {
		before := append([]byte(nil), tc.pkt...)
		if got := markCE(tc.pkt); got != tc.marked {
			t.Errorf("%s: markCE = %v, want %v", tc.desc, got, tc.marked)
			continue
		}
		if !tc.marked {
			if string(before) != string(tc.pkt) {
				t.Errorf("%s: packet changed although not marked", tc.desc)
			}
			continue
		}
		if ecn, _ := packetECN(tc.pkt); ecn != ecnCE {
			t.Errorf("%s: ECN %02b after markCE, want CE", tc.desc, ecn)
		}
		// Only the ECN bits (and an IPv4 checksum) may change.
		for i := range before {
			changed := before[i] != tc.pkt[i]
			allowed := i == 1 || (tc.pkt[0]>>4 == 4 && (i == 10 || i == 11))
			if changed && !allowed {
				t.Errorf("%s: byte %d changed from %#02x to %#02x", tc.desc, i, before[i], tc.pkt[i])
			}
		}
		if tc.pkt[0]>>4 == 6 && (tc.pkt[0] != before[0] || tc.pkt[1]&0xcf != before[1]&0xcf) {
			t.Errorf("%s: bits outside the ECN field changed: % x → % x", tc.desc, before[:2], tc.pkt[:2])
		}
		if tc.pkt[0]>>4 == 4 && !checksumValid(tc.pkt[:20]) {
			t.Errorf("%s: header checksum does not verify after markCE", tc.desc)
		}
	}
}

// checksumValid reports whether an IPv4 header verifies as a receiver
// checks it: all its 16-bit words, checksum included, add up to 0xffff in
// one's complement arithmetic.
func checksumValid(h []byte) bool {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return sum == 0xffff
}

// TestMarkCEChecksumStaysValid checks the incremental checksum update over
// many random IPv4 headers, with and without options: every marked header
// verifies, and its checksum is the one a full recomputation gives.
func TestMarkCEChecksumStaysValid(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		words := 5 + rng.IntN(11)
		h := make([]byte, words*4)
		for j := range h {
			h[j] = byte(rng.Uint32())
		}
		h[0] = 0x40 | byte(words)
		h[1] = h[1]&^0b11 | byte(1+rng.IntN(2)) // ECT(1) or ECT(0)
		binary.BigEndian.PutUint16(h[10:], headerChecksum(h))
		if !markCE(h) {
			t.Fatalf("header % x: ECN-capable header not marked", h)
		}
		if !checksumValid(h) {
			t.Fatalf("header % x does not verify after markCE", h)
		}
		if got, want := binary.BigEndian.Uint16(h[10:]), headerChecksum(h); got != want {
			t.Fatalf("header % x: checksum %#04x after markCE, want %#04x", h, got, want)
		}
	}
}
