package transport

import (
	"bytes"
	"testing"
	"testing/synctest"

	"github.com/limpetnet/limpet/packet"
)

// TestPeerNoHeadOfLineBlocking: a gap in one stream holds back only that
// stream. Stream A's first 1000 bytes are missing (their packet was lost),
// stream B's data is complete: B's reader gets its bytes at once, A's
// reader waits, and gets A's 2000 bytes in order once the gap is filled.
func TestPeerNoHeadOfLineBlocking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestConn(t, serverSide)
		tc.ignoreFrame(packet.FrameAck)
		aData := bytes.Repeat([]byte("A-0123456789"), 2000/12+1)[:2000]
		bData := bytes.Repeat([]byte("B"), 1000)
		aID, bID := tc.peerStreamID(0, true), tc.peerStreamID(1, true)

		// The packet with A's offsets 0–999 is lost; later ones arrive.
		tc.writeFrames(packet.StreamFrame{StreamID: aID, Offset: 1000, Data: aData[1000:]})
		tc.writeFrames(packet.StreamFrame{StreamID: bID, Data: bData})
		a, b := tc.acceptStream(true), tc.acceptStream(true)
		if a.StreamID() != aID || b.StreamID() != bID {
			t.Fatalf("accepted streams %v, %v; want %v, %v", a.StreamID(), b.StreamID(), aID, bID)
		}

		type read struct {
			data []byte
			err  error
		}
		aRead := make(chan read, 1)
		go func() {
			buf := make([]byte, 4096)
			n, err := a.Read(buf)
			aRead <- read{buf[:n], err}
		}()
		buf := make([]byte, 4096)
		n, err := b.Read(buf)
		if err != nil || !bytes.Equal(buf[:n], bData) {
			t.Fatalf("stream B: Read = %d bytes, %v; want its 1000 bytes while A has a gap", n, err)
		}
		tc.wait()
		select {
		case r := <-aRead:
			t.Fatalf("stream A: Read returned %d bytes, %v across the gap at offset 0", len(r.data), r.err)
		default:
		}

		// The lost packet's data is retransmitted: A delivers everything in order.
		tc.writeFrames(packet.StreamFrame{StreamID: aID, Data: aData[:1000]})
		tc.wait()
		select {
		case r := <-aRead:
			if r.err != nil || !bytes.Equal(r.data, aData) {
				t.Fatalf("stream A after the gap filled: Read = %d bytes, %v; want the 2000 bytes in order", len(r.data), r.err)
			}
		default:
			t.Fatal("stream A: Read still blocked after the gap was filled")
		}
	})
}
