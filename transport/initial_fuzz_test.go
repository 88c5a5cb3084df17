package transport

import (
	"bytes"
	"errors"
	"testing"

	"github.com/limpetnet/limpet/packet"
)

// FuzzInitialFrames feeds the parser of Initial payloads (docs/PROTOCOL.md
// sections 2.1 and 4.5) arbitrary bytes, as a first Initial that opened
// with the server's keys can carry anything. It must not panic, must fail
// only with a transport error, and a message it assembles must agree with
// every CRYPTO frame of the payload.
func FuzzInitialFrames(f *testing.F) {
	msg := bytes.Repeat([]byte("message 1 "), 20)
	frames := func(fs ...packet.Frame) []byte {
		var b []byte
		for _, fr := range fs {
			b = fr.Append(b)
		}
		return b
	}
	f.Add(frames(packet.CryptoFrame{Data: msg}, packet.PaddingFrame{Size: 100}))
	f.Add(frames(packet.CryptoFrame{Offset: 60, Data: msg[60:]}, packet.PingFrame{}, packet.CryptoFrame{Data: msg[:80]}))
	f.Add(frames(packet.CryptoFrame{Data: msg[:50]}, packet.CryptoFrame{Offset: 70, Data: msg[70:]}))
	f.Add(frames(packet.AckFrame{Ranges: []packet.AckRange{{Smallest: 0, Largest: 3}}}, packet.ConnectionCloseFrame{ErrorCode: 8, Reason: []byte("x")}))
	f.Add(frames(packet.CryptoFrame{Data: msg}, packet.StreamFrame{StreamID: 0, Data: []byte("early")}))
	f.Add([]byte{0x31, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := parseInitialFrames(bytes.Clone(b))
		if err != nil {
			var te *transportError
			if !errors.As(err, &te) {
				t.Fatalf("error %v is not a transport error", err)
			}
			return
		}
		if out.message == nil {
			return
		}
		if len(out.message) > maxHandshakeMessage {
			t.Fatalf("a message of %d bytes", len(out.message))
		}
		for p := b; len(p) > 0; {
			ft, _, _ := packet.PeekFrameType(p)
			fr, n, err := packet.ParseFrame(p)
			if err != nil {
				t.Fatalf("the payload parsed once but not twice: %v", err)
			}
			p = p[n:]
			if ft != packet.FrameCrypto {
				continue
			}
			c := fr.(packet.CryptoFrame)
			if end := c.Offset + int64(len(c.Data)); end > int64(len(out.message)) || !bytes.Equal(out.message[c.Offset:end], c.Data) {
				t.Fatalf("CRYPTO frame at %d of %d bytes disagrees with the %d-byte message", c.Offset, len(c.Data), len(out.message))
			}
		}
	})
}
