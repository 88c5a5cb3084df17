package crypto

import (
	"testing"
)

const benchPacketLen = 1200

var benchSuites = []Suite{AES128GCM, ChaCha20Poly1305}

// benchPacket returns a buffer holding a 1-RTT packet of benchPacketLen
// bytes once sealed: short header, 8-byte DCID, 4-byte packet number.
func benchPacket() (buf []byte, pnOffset, pnLen int) {
	const dcidLen = 8
	pnOffset, pnLen = 1+dcidLen, 4
	buf = make([]byte, benchPacketLen-TagLen, benchPacketLen)
	buf[0] = 0x40 | byte(pnLen-1)
	return buf, pnOffset, pnLen
}

// BenchmarkSeal measures sealing a 1200-byte packet in place, header
// protection included. It must not allocate.
func BenchmarkSeal(b *testing.B) {
	for _, suite := range benchSuites {
		b.Run(suite.String(), func(b *testing.B) {
			sealer, err := NewSealer(suite, testSecret(1))
			if err != nil {
				b.Fatal(err)
			}
			buf, pnOffset, pnLen := benchPacket()
			b.SetBytes(benchPacketLen)
			b.ReportAllocs()
			for pn := uint64(0); b.Loop(); pn++ {
				buf[0] = 0x40 | byte(pnLen-1)
				buf[pnOffset], buf[pnOffset+1], buf[pnOffset+2], buf[pnOffset+3] = byte(pn>>24), byte(pn>>16), byte(pn>>8), byte(pn)
				sealer.Seal(buf[:benchPacketLen-TagLen], pnOffset, pnLen, pn)
			}
		})
	}
}

// BenchmarkOpen measures removing header protection from and opening a
// 1200-byte packet in place. The copy of the sealed packet into the working
// buffer (needed because opening is destructive) is included. It must not
// allocate.
func BenchmarkOpen(b *testing.B) {
	for _, suite := range benchSuites {
		b.Run(suite.String(), func(b *testing.B) {
			sealer, _ := NewSealer(suite, testSecret(1))
			opener, _ := NewOpener(suite, testSecret(1))
			buf, pnOffset, pnLen := benchPacket()
			const pn = 7
			buf[pnOffset+pnLen-1] = pn
			sealed := append([]byte(nil), sealer.Seal(buf, pnOffset, pnLen, pn)...)
			work := make([]byte, len(sealed))
			b.SetBytes(benchPacketLen)
			b.ReportAllocs()
			for b.Loop() {
				copy(work, sealed)
				pnLen, pn, _, err := opener.UnprotectHeader(work, pnOffset)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := opener.Open(work, pnOffset, pnLen, pn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppKeys measures the 1-RTT path the transport uses: AppKeys.Seal
// on one side, UnprotectHeader and Open on the other.
func BenchmarkAppKeys(b *testing.B) {
	for _, suite := range benchSuites {
		b.Run(suite.String(), func(b *testing.B) {
			sender, _ := NewAppKeys(suite, testSecret(1), testSecret(2))
			receiver, _ := NewAppKeys(suite, testSecret(2), testSecret(1))
			buf, pnOffset, pnLen := benchPacket()
			b.SetBytes(benchPacketLen)
			b.ReportAllocs()
			for pn := uint64(0); b.Loop(); pn++ {
				buf = buf[:benchPacketLen-TagLen]
				buf[0] = 0x40 | byte(pnLen-1)
				buf[pnOffset], buf[pnOffset+1], buf[pnOffset+2], buf[pnOffset+3] = byte(pn>>24), byte(pn>>16), byte(pn>>8), byte(pn)
				sealed, err := sender.Seal(buf, pnOffset, pnLen, pn)
				if err != nil {
					b.Fatal(err)
				}
				gotLen, truncated, byte0, err := receiver.UnprotectHeader(sealed, pnOffset)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := receiver.Open(sealed, pnOffset, gotLen, truncated, byte0&0x04 != 0, testNow, testPTO); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHandshake measures a complete handshake: both sides' Noise work
// and key derivation.
func BenchmarkHandshake(b *testing.B) {
	serverKey := testKey(b, 50)
	clientKey := testKey(b, 51)
	srv, err := NewServer(ServerConfig{StaticKey: serverKey, ReplayCacheSize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	cfg := ClientConfig{StaticKey: clientKey, ServerKey: serverKey.Public(), TransportParams: make([]byte, 64)}
	b.ReportAllocs()
	for b.Loop() {
		client, msg1, err := NewClientHandshake(cfg, testDCID, testNow)
		if err != nil {
			b.Fatal(err)
		}
		msg2, _, err := srv.Accept(msg1, testDCID, testNow, echoParams)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := client.ReadServerHello(msg2); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewInitialKeys(b *testing.B) {
	var pub PublicKey
	dcid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	b.ReportAllocs()
	for b.Loop() {
		NewInitialKeys(pub, dcid, false)
	}
}

func BenchmarkNewInitialOpener(b *testing.B) {
	var pub PublicKey
	dcid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	b.ReportAllocs()
	for b.Loop() {
		NewInitialOpener(pub, dcid)
	}
}
