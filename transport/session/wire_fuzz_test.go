package session

import (
	"bytes"
	"reflect"
	"testing"
)

// seedMessages are one valid message of every type.
func seedMessages() [][]byte {
	state := endState{opened: 3, seen: 2, streams: []streamState{
		{id: 0, readOff: 1 << 20, recvDone: true},
		{id: 1, readOff: 77},
		{id: 4, readOff: 0, recvDone: true, stop: 8},
	}}
	h := hello{version: protocolVersion, resume: true, maxStreams: 100, state: state}
	h.id[0], h.proof[31] = 1, 2
	w := welcome{maxStreams: 50, state: state}
	return [][]byte{
		appendMessage(nil, msgHello, (&hello{version: protocolVersion, maxStreams: 100}).append(nil)),
		appendMessage(nil, msgHello, h.append(nil)),
		appendMessage(nil, msgWelcome, w.append(nil)),
		appendMessage(nil, msgRecvDone, (&recvDone{id: 9, stop: 1, readOff: 1234}).append(nil)),
		appendMessage(nil, msgReset, (&reset{id: 1 << 40, code: 3}).append(nil)),
	}
}

// FuzzControlMessage: any bytes on a control stream give a message or an
// error, never a panic, and every message that parses encodes back to
// the same bytes.
func FuzzControlMessage(f *testing.F) {
	for _, m := range seedMessages() {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, payload, err := readMessage(bytes.NewReader(b), maxControlMessage)
		if err != nil {
			return
		}
		var again []byte
		switch typ {
		case msgHello:
			h, err := parseHello(payload)
			if err != nil {
				return
			}
			again = h.append(nil)
			h2, err := parseHello(again)
			if err != nil || !reflect.DeepEqual(h, h2) {
				t.Fatalf("hello %+v re-parsed as %+v, %v", h, h2, err)
			}
		case msgWelcome:
			w, err := parseWelcome(payload)
			if err != nil {
				return
			}
			again = w.append(nil)
		case msgRecvDone:
			d, err := parseRecvDone(payload)
			if err != nil {
				return
			}
			again = d.append(nil)
		case msgReset:
			m, err := parseReset(payload)
			if err != nil {
				return
			}
			again = m.append(nil)
		default:
			return
		}
		// Varints may have been sent longer than needed; the
		// re-encoding is minimal, so compare by parsing it.
		if _, p2, err := readMessage(bytes.NewReader(appendMessage(nil, typ, again)), maxControlMessage); err != nil || len(p2) > len(payload) {
			t.Fatalf("type %#x: re-encoded payload %x longer than %x or unreadable: %v", typ, p2, payload, err)
		}
	})
}

// FuzzPeerState: a resumption state of any shape, applied to a session
// with streams in every condition, is taken or refused as a protocol
// violation, never a panic, and leaves the buffer accounting whole.
func FuzzPeerState(f *testing.F) {
	for _, m := range seedMessages()[2:3] {
		f.Add(m[2:])
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		w, err := parseWelcome(payload)
		if err != nil {
			return
		}
		s := newSession((&Config{}).withDefaults(), true)
		for i, id := range []uint64{0, 1, 2, 3, 4} {
			st := newStream(s, id)
			st.buf.append(make([]byte, 100*i))
			s.buffered += st.buf.len()
			st.readOff = int64(10 * i)
			st.recvDone = i%2 == 1
			s.streams[id] = st
		}
		s.opened, s.seen, s.myOpen, s.peerReading = 3, 2, 3, 0
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.applyPeerStateLocked(w.state); err != nil {
			return
		}
		var held int64
		for _, st := range s.streams {
			held += st.buf.len()
		}
		if held != s.buffered || s.myOpen < 0 || s.peerReading < 0 {
			t.Fatalf("after the state: %d bytes held, %d counted; open %d/%d", held, s.buffered, s.myOpen, s.peerReading)
		}
	})
}
