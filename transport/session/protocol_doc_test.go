package session

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/limpetnet/limpet/transport/internal/testutil"
)

// TestProtocolDocSessionExamples decodes and re-encodes the session
// layer's byte examples in docs/PROTOCOL.md appendix A (A.10), so that
// section 13 cannot drift from what this package sends and accepts.
func TestProtocolDocSessionExamples(t *testing.T) {
	checks := map[string]testutil.DocExampleCheck{
		"session-hello":     checkDocHello,
		"session-welcome":   checkDocWelcome,
		"session-recv-done": checkDocRecvDone,
		"session-reset":     checkDocReset,
		"session-carrier":   checkDocCarrier,
	}
	mine := func(name string) bool { return strings.HasPrefix(name, "session-") }
	testutil.CheckDocExamples(t, "../../docs/PROTOCOL.md", checks, mine)
}

// docState is the state an example's opened, seen and stream lines give.
func docState(t *testing.T, e *testutil.DocExample) endState {
	s := endState{opened: e.Uint("opened"), seen: e.Uint("seen")}
	for _, line := range e.All("stream") {
		var f [4]uint64
		parts := strings.Fields(line)
		if len(parts) != len(f) {
			t.Fatalf("stream %q: want stream_id read_offset flags stop", line)
		}
		for i, p := range parts {
			n, err := strconv.ParseUint(p, 10, 64)
			if err != nil {
				t.Fatalf("stream %q: %v", line, err)
			}
			f[i] = n
		}
		s.streams = append(s.streams, streamState{id: f[0], readOff: f[1], recvDone: f[2] == 1, stop: f[3]})
	}
	return s
}

// docMessage splits a control message's bytes, checking the framing.
func docMessage(t *testing.T, b []byte, wantType byte) []byte {
	t.Helper()
	typ, payload, err := readMessage(bytes.NewReader(b), maxControlMessage)
	if err != nil || typ != wantType {
		t.Fatalf("readMessage = %#x, %v; want type %#x", typ, err, wantType)
	}
	if !bytes.Equal(appendMessage(nil, typ, payload), b) {
		t.Fatalf("the message's framing does not re-encode to the example's bytes")
	}
	return payload
}

func wantEncoding(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\ngot  % x\nwant % x (docs/PROTOCOL.md)", what, got, want)
	}
}

func checkDocHello(t *testing.T, e *testutil.DocExample, _ map[string]*testutil.DocExample) {
	wantEncoding(t, "proof", hmacSHA256(e.Bytes("resumption_secret"), e.Bytes("binding")), e.Bytes("proof"))
	b := e.Bytes("bytes")
	if b[0] != preambleControl {
		t.Fatalf("first byte %#x, want the control stream's preamble %#x", b[0], preambleControl)
	}
	h, err := parseHello(docMessage(t, b[1:], msgHello))
	if err != nil {
		t.Fatal(err)
	}
	want := hello{version: protocolVersion, resume: true, maxStreams: e.Uint("max_streams"), state: docState(t, e)}
	copy(want.id[:], e.Bytes("session_id"))
	copy(want.proof[:], e.Bytes("proof"))
	wantEncoding(t, "HELLO", append([]byte{preambleControl}, appendMessage(nil, msgHello, want.append(nil))...), b)
	if h.id != want.id || h.proof != want.proof || h.maxStreams != want.maxStreams || !sameState(h.state, want.state) {
		t.Errorf("parsed %+v, want %+v", h, want)
	}
}

func checkDocWelcome(t *testing.T, e *testutil.DocExample, _ map[string]*testutil.DocExample) {
	b := e.Bytes("bytes")
	w, err := parseWelcome(docMessage(t, b, msgWelcome))
	if err != nil {
		t.Fatal(err)
	}
	want := welcome{maxStreams: e.Uint("max_streams"), state: docState(t, e)}
	copy(want.id[:], e.Bytes("session_id"))
	wantEncoding(t, "WELCOME", appendMessage(nil, msgWelcome, want.append(nil)), b)
	if w.id != want.id || w.maxStreams != want.maxStreams || !sameState(w.state, want.state) {
		t.Errorf("parsed %+v, want %+v", w, want)
	}
}

func checkDocRecvDone(t *testing.T, e *testutil.DocExample, _ map[string]*testutil.DocExample) {
	b := e.Bytes("bytes")
	d, err := parseRecvDone(docMessage(t, b, msgRecvDone))
	if err != nil {
		t.Fatal(err)
	}
	want := recvDone{id: e.Uint("stream_id"), stop: e.Uint("stop"), readOff: e.Uint("read_offset")}
	if d != want {
		t.Errorf("parsed %+v, want %+v", d, want)
	}
	wantEncoding(t, "RECV_DONE", appendMessage(nil, msgRecvDone, want.append(nil)), b)
}

func checkDocReset(t *testing.T, e *testutil.DocExample, _ map[string]*testutil.DocExample) {
	b := e.Bytes("bytes")
	m, err := parseReset(docMessage(t, b, msgReset))
	if err != nil {
		t.Fatal(err)
	}
	want := reset{id: e.Uint("stream_id"), code: e.Uint("code")}
	if m != want {
		t.Errorf("parsed %+v, want %+v", m, want)
	}
	wantEncoding(t, "RESET", appendMessage(nil, msgReset, want.append(nil)), b)
}

func checkDocCarrier(t *testing.T, e *testutil.DocExample, _ map[string]*testutil.DocExample) {
	b := e.Bytes("bytes")
	id, err := parseCarrierHeader(b)
	if err != nil || id != e.Uint("stream_id") {
		t.Errorf("parseCarrierHeader = %d, %v; want %d", id, err, e.Uint("stream_id"))
	}
	wantEncoding(t, "carrier preamble", appendCarrierHeader(nil, e.Uint("stream_id")), b)
}

func sameState(a, b endState) bool {
	if a.opened != b.opened || a.seen != b.seen || len(a.streams) != len(b.streams) {
		return false
	}
	for i := range a.streams {
		if a.streams[i] != b.streams[i] {
			return false
		}
	}
	return true
}
