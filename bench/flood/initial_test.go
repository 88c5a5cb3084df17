package flood

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// openInitial opens a crafted client Initial as a server would and
// returns its header and payload.
func openInitial(t *testing.T, server crypto.PublicKey, b []byte) (packet.LongHeader, []byte) {
	t.Helper()
	h, err := packet.ParseLongHeader(b)
	if err != nil {
		t.Fatalf("ParseLongHeader: %v", err)
	}
	_, open := crypto.NewInitialKeys(server, h.DstConnID.Bytes(), false)
	pnLen, trunc, _, err := open.UnprotectHeader(b, h.PNOffset)
	if err != nil {
		t.Fatalf("UnprotectHeader: %v", err)
	}
	payload, err := open.Open(b[:h.PacketLen], h.PNOffset, pnLen, trunc)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return h, payload
}

func TestCraftedInitial(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	token := []byte("a retry token")
	tests := []struct {
		desc  string
		spec  helloSpec
		token []byte
	}{
		{desc: "a valid message 1", spec: helloSpec{server: key.Public()}},
		{desc: "with a token", spec: helloSpec{server: key.Public()}, token: token},
		{desc: "stamped 3 min ago", spec: helloSpec{server: key.Public(), skew: -staleAge}},
		{desc: "stamped 115 s ahead", spec: helloSpec{server: key.Public(), skew: futureSkew}},
	}
	for _, test := range tests {
		h, err := newHello(test.spec)
		if err != nil {
			t.Fatalf("%s: %v", test.desc, err)
		}
		b := h.appendInitial([]byte("prefix"), test.token, 0)[len("prefix"):]
		if len(b) != packet.MinInitialDatagramSize {
			t.Errorf("%s: got a %d-byte datagram, want %d", test.desc, len(b), packet.MinInitialDatagramSize)
		}
		hdr, payload := openInitial(t, key.Public(), b)
		if hdr.Type != packet.LongTypeInitial || hdr.DstConnID != h.dcid || hdr.SrcConnID != h.scid || !bytes.Equal(hdr.Token, test.token) {
			t.Errorf("%s: got header %v %v→%v token %q, want Initial %v→%v token %q",
				test.desc, hdr.Type, hdr.SrcConnID, hdr.DstConnID, hdr.Token, h.scid, h.dcid, test.token)
		}
		f, _, err := packet.ParseFrame(payload)
		cf, ok := f.(packet.CryptoFrame)
		if err != nil || !ok || cf.Offset != 0 || !bytes.Equal(cf.Data, h.msg1) {
			t.Fatalf("%s: first frame %v (%v), want CRYPTO at 0 with message 1", test.desc, f, err)
		}
		// A server whose clock is the skewed one accepts the message, so
		// it is well formed and stamped as asked, whatever window the
		// server allows.
		srv, err := crypto.NewServer(crypto.ServerConfig{StaticKey: key})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := srv.Accept(cf.Data, hdr.DstConnID.Bytes(), time.Now().Add(test.spec.skew), nil); err != nil {
			t.Errorf("%s: the server's Accept at the skewed clock: %v", test.desc, err)
		}
	}
}

// TestStaleHello: a message stamped staleAge ago is outside the server's
// replay window.
func TestStaleHello(t *testing.T) {
	key, _ := crypto.GenerateKey()
	h, err := newHello(helloSpec{server: key.Public(), skew: -staleAge})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := crypto.NewServer(crypto.ServerConfig{StaticKey: key})
	if _, _, err := srv.Accept(h.msg1, h.dcid.Bytes(), time.Now(), nil); !errors.Is(err, crypto.ErrStaleTimestamp) {
		t.Errorf("Accept: %v, want %v", err, crypto.ErrStaleTimestamp)
	}
}

// TestMismatchedSCID: the replay-fill messages are recorded by the
// server before their transport parameters are refused. If a server
// checks the transport parameters first, the ReplayFill row no longer
// fills the cache and has to complete its handshakes instead.
func TestMismatchedSCID(t *testing.T) {
	key, _ := crypto.GenerateKey()
	h, err := newHello(helloSpec{server: key.Public(), mismatchSCID: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := crypto.NewServer(crypto.ServerConfig{StaticKey: key})
	var params packet.TransportParameters
	refuse := errors.New("refused")
	_, _, err = srv.Accept(h.msg1, h.dcid.Bytes(), time.Now(), func(raw []byte) ([]byte, error) {
		params, _ = packet.ParseTransportParameters(raw, false)
		return nil, refuse
	})
	if !errors.Is(err, refuse) {
		t.Fatalf("Accept: %v, want the transport parameters refused", err)
	}
	if !params.HasInitialSrcConnID || params.InitialSrcConnID == h.scid {
		t.Errorf("initial_source_connection_id = %v, want one other than the SCID %v", params.InitialSrcConnID, h.scid)
	}
	if got := srv.ReplayCacheLen(); got != 1 {
		t.Errorf("replay cache holds %d after the refusal, want 1", got)
	}
}

func TestJunkInitial(t *testing.T) {
	key, _ := crypto.GenerateKey()
	rng := newRNG()
	b := appendJunkInitial(nil, 1200, rng)
	if len(b) != 1200 {
		t.Fatalf("junk Initial is %d bytes, want 1200", len(b))
	}
	h, err := packet.ParseLongHeader(b)
	if err != nil || h.Type != packet.LongTypeInitial || h.DstConnID.Len() != packet.DefaultConnIDLen || h.PacketLen != len(b) {
		t.Fatalf("ParseLongHeader: %+v, %v; want an Initial with an 8-byte DCID spanning the datagram", h, err)
	}
	if got := b[junkDCIDOffset : junkDCIDOffset+packet.DefaultConnIDLen]; !bytes.Equal(got, h.DstConnID.Bytes()) {
		t.Errorf("junkDCIDOffset points at %x, the DCID is %v", got, h.DstConnID)
	}
	if len(b)-h.PNOffset != 1200-junkHeaderLen {
		t.Errorf("payload starts at %d, want %d", h.PNOffset, junkHeaderLen)
	}
	_, open := crypto.NewInitialKeys(key.Public(), h.DstConnID.Bytes(), false)
	pnLen, trunc, _, err := open.UnprotectHeader(b, h.PNOffset)
	if err == nil {
		_, err = open.Open(b, h.PNOffset, pnLen, trunc)
	}
	if err == nil {
		t.Error("a junk Initial opened")
	}
}

func TestOpenAnswer(t *testing.T) {
	key, _ := crypto.GenerateKey()
	dcid, scid := randomConnID(), randomConnID()
	// The server's answer: an Initial to the client's SCID, sealed with
	// the server Initial keys of the DCID the client used.
	seal, _ := crypto.NewInitialKeys(key.Public(), dcid.Bytes(), false)
	hdr := packet.LongHeader{Type: packet.LongTypeInitial, Version: packet.Version, DstConnID: scid, SrcConnID: randomConnID()}
	f := packet.ConnectionCloseFrame{ErrorCode: uint64(packet.UnknownClientKey), FrameType: packet.FrameCrypto, Reason: []byte("not allowed")}
	payloadLen := max(f.Len(), 32)
	b, pnOffset := packet.AppendLongHeader(nil, hdr, 1, payloadLen+crypto.TagLen)
	b = packet.AppendPacketNumber(b, 0, 1)
	b = f.Append(b)
	for len(b) < pnOffset+1+payloadLen {
		b = append(b, 0)
	}
	b = slices.Grow(b, crypto.TagLen)
	b = seal.Seal(b, pnOffset, 1, 0)

	var tally answerTally
	got, err := openAnswer(key.Public(), dcid, bytes.Clone(b))
	tally.add(got, err)
	if err != nil || got.close == nil || packet.TransportErrorCode(got.close.ErrorCode) != packet.UnknownClientKey || string(got.close.Reason) != "not allowed" {
		t.Fatalf("openAnswer = %+v, %v; want a CONNECTION_CLOSE UNKNOWN_CLIENT_KEY", got, err)
	}
	tally.add(openAnswer(key.Public(), randomConnID(), bytes.Clone(b))) // the wrong keys
	tally.add(answerContent{message2: true}, nil)
	tally.add(got, nil)
	want := `UNKNOWN_CLIENT_KEY ×2 ("not allowed"), unreadable ×1 ("crypto: ` // the error text follows
	if s := tally.String(); !strings.HasPrefix(s, want) || !strings.HasSuffix(s, ", message 2 ×1") {
		t.Errorf("tally = %s, want it to start %s and end with message 2 ×1", s, want)
	}
	if got := tally.count("UNKNOWN_CLIENT_KEY"); got != 2 {
		t.Errorf("tally.count = %d, want 2", got)
	}
}
