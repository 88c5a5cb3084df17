package transport

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/hkdf"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/internal/testutil"
)

// docExample is one example block of docs/PROTOCOL.md appendix A.
type docExample = testutil.DocExample

func wantBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\ngot  % x\nwant % x (docs/PROTOCOL.md)", what, got, want)
	}
}

// TestProtocolDocExamples decodes and re-encodes every byte example of
// docs/PROTOCOL.md appendix A with limpet's own code, so the document cannot
// drift from what the code does.
func TestProtocolDocExamples(t *testing.T) {
	checks := map[string]testutil.DocExampleCheck{
		"varint":               checkDocVarint,
		"stream-frame":         checkDocStreamFrame,
		"ack-frame":            checkDocAckFrame,
		"consumed-frame":       checkDocConsumedFrame,
		"transport-parameters": checkDocTransportParameters,
		"initial-keys":         checkDocInitialKeys,
		"initial-packet":       checkDocInitialPacket,
		"short-packet":         checkDocShortPacket,
		"retry":                checkDocRetry,
		"reset-token":          checkDocResetToken,
		"exporter":             checkDocExporter,
	}
	// The session layer's examples are transport/session's to check.
	mine := func(name string) bool { return !strings.HasPrefix(name, "session-") }
	testutil.CheckDocExamples(t, "../docs/PROTOCOL.md", checks, mine)
}

func checkDocVarint(t *testing.T, e *docExample, _ map[string]*docExample) {
	encs, vals := e.All("bytes"), e.All("value")
	if len(encs) == 0 || len(encs) != len(vals) {
		t.Fatalf("%d encodings, %d values", len(encs), len(vals))
	}
	for i := range encs {
		b := testutil.DocHex(t, e.Name, encs[i])
		want, err := strconv.ParseUint(vals[i], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		got, n, err := packet.ParseVarint(b)
		if err != nil || got != want || n != len(b) {
			t.Errorf("ParseVarint(% x) = %d, %d, %v; want %d, %d", b, got, n, err, want, len(b))
		}
		if packet.VarintLen(want) == len(b) {
			wantBytes(t, "AppendVarint("+vals[i]+")", packet.AppendVarint(nil, want), b)
		}
	}
}

func checkDocStreamFrame(t *testing.T, e *docExample, _ map[string]*docExample) {
	b := e.Bytes("frame")
	f, n, err := packet.ParseStreamFrame(b)
	if err != nil || n != len(b) {
		t.Fatalf("ParseStreamFrame: %v (consumed %d of %d)", err, n, len(b))
	}
	want := packet.StreamFrame{StreamID: packet.StreamID(e.Uint("stream_id")), Offset: int64(e.Uint("offset")), Fin: e.Uint("fin") == 1, Data: e.Bytes("data")}
	if f.StreamID != want.StreamID || f.Offset != want.Offset || f.Fin != want.Fin || !bytes.Equal(f.Data, want.Data) {
		t.Errorf("parsed %+v, want %+v", f, want)
	}
	wantBytes(t, "Append", want.Append(nil), b)
}

func checkDocAckFrame(t *testing.T, e *docExample, _ map[string]*docExample) {
	b := e.Bytes("frame")
	f, n, err := packet.ParseAckFrame(b, nil)
	if err != nil || n != len(b) {
		t.Fatalf("ParseAckFrame: %v (consumed %d of %d)", err, n, len(b))
	}
	want := packet.AckFrame{Delay: e.Uint("ack_delay")}
	for _, r := range strings.Fields(e.Str("ranges")) {
		lo, hi, _ := strings.Cut(r, "-")
		l, _ := strconv.ParseInt(lo, 10, 64)
		h, _ := strconv.ParseInt(hi, 10, 64)
		want.Ranges = append(want.Ranges, packet.AckRange{Smallest: packet.PacketNumber(l), Largest: packet.PacketNumber(h)})
	}
	if uint64(f.LargestAcked()) != e.Uint("largest") || f.Delay != want.Delay || len(f.Ranges) != len(want.Ranges) {
		t.Fatalf("parsed %+v, want %+v", f, want)
	}
	for i := range want.Ranges {
		if f.Ranges[i] != want.Ranges[i] {
			t.Errorf("range %d: %+v, want %+v", i, f.Ranges[i], want.Ranges[i])
		}
	}
	wantBytes(t, "Append", want.Append(nil), b)
}

func checkDocConsumedFrame(t *testing.T, e *docExample, _ map[string]*docExample) {
	b := e.Bytes("frame")
	f, n, err := packet.ParseConsumedFrame(b)
	if err != nil || n != len(b) {
		t.Fatalf("ParseConsumedFrame: %v", err)
	}
	want := packet.ConsumedFrame{StreamID: packet.StreamID(e.Uint("stream_id")), Offset: int64(e.Uint("offset"))}
	if f != want {
		t.Errorf("parsed %+v, want %+v", f, want)
	}
	wantBytes(t, "Append", want.Append(nil), b)
}

func checkDocTransportParameters(t *testing.T, e *docExample, _ map[string]*docExample) {
	b := e.Bytes("encoded")
	p, err := packet.ParseTransportParameters(b, false)
	if err != nil {
		t.Fatal(err)
	}
	want := packet.DefaultTransportParameters()
	want.MaxIdleTimeout = time.Duration(e.Uint("max_idle_timeout_ms")) * time.Millisecond
	want.InitialMaxData = int64(e.Uint("initial_max_data"))
	want.InitialMaxStreamsBidi = e.Uint("initial_max_streams_bidi")
	want.ActiveConnIDLimit = e.Uint("active_connection_id_limit")
	want.InitialSrcConnID, _ = packet.NewConnectionID(e.Bytes("initial_source_connection_id"))
	want.HasInitialSrcConnID = true
	want.FECMaxRepairSymbols = e.Uint("fec")
	if p.MaxIdleTimeout != want.MaxIdleTimeout || p.InitialMaxData != want.InitialMaxData ||
		p.InitialMaxStreamsBidi != want.InitialMaxStreamsBidi || p.ActiveConnIDLimit != want.ActiveConnIDLimit ||
		p.InitialSrcConnID != want.InitialSrcConnID || !p.HasInitialSrcConnID || p.FECMaxRepairSymbols != want.FECMaxRepairSymbols {
		t.Errorf("parsed %+v, want %+v", p, want)
	}
	wantBytes(t, "Append", want.Append(nil), b)
	if _, err := checkClientParams(b, want.InitialSrcConnID); err != nil {
		t.Errorf("a server would refuse these client parameters: %v", err)
	}
}

func checkDocInitialKeys(t *testing.T, e *docExample, _ map[string]*docExample) {
	var priv crypto.PrivateKey
	copy(priv[:], e.Bytes("server_private_key"))
	pub := priv.Public()
	wantBytes(t, "server public key", pub[:], e.Bytes("server_public_key"))
	salt := sha256.Sum256([]byte("limpet v1 initial salt"))
	wantBytes(t, "initial_salt", salt[:], e.Bytes("initial_salt"))
	dcid := e.Bytes("original_dcid")
	secret := hkdf.Extract(sha256.New, append(pub[:], dcid...), salt[:])
	wantBytes(t, "initial_secret", secret, e.Bytes("initial_secret"))
	for _, side := range []string{"client", "server"} {
		s := crypto.ExpandLabel(secret, side+" in", 32)
		wantBytes(t, side+"_initial", s, e.Bytes(side+"_initial"))
		wantBytes(t, side+" key", crypto.ExpandLabel(s, "key", 16), e.Bytes(side+"_key"))
		wantBytes(t, side+" iv", crypto.ExpandLabel(s, "iv", 12), e.Bytes(side+"_iv"))
		wantBytes(t, side+" hp", crypto.ExpandLabel(s, "hp", 16), e.Bytes(side+"_hp"))
	}
}

func checkDocInitialPacket(t *testing.T, e *docExample, all map[string]*docExample) {
	keys := all["initial-keys"]
	keys.T = t
	header, payload, protected := e.Bytes("header"), e.Bytes("payload"), e.Bytes("protected")
	// Seal with the secret the document names, as an implementation would.
	seal, err := crypto.NewSealer(crypto.AES128GCM, keys.Bytes(e.Str("keys")))
	if err != nil {
		t.Fatal(err)
	}
	h, err := packet.ParseLongHeader(append(append([]byte(nil), header...), make([]byte, len(payload)+crypto.TagLen)...))
	if err != nil {
		t.Fatal(err)
	}
	pnLen := packet.PacketNumberLenFromByte0(header[0])
	b := append(append(make([]byte, 0, len(protected)), header...), payload...)
	wantBytes(t, "sealed packet", seal.Seal(b, h.PNOffset, pnLen, 0), protected)

	// The client of A.4 opens it with the Initial keys limpet derives.
	var priv crypto.PrivateKey
	copy(priv[:], keys.Bytes("server_private_key"))
	_, open := crypto.NewInitialKeys(priv.Public(), keys.Bytes("original_dcid"), true)
	pkt := bytes.Clone(protected)
	h, err = packet.ParseLongHeader(pkt)
	if err != nil {
		t.Fatal(err)
	}
	gotPNLen, trunc, _, err := open.UnprotectHeader(pkt, h.PNOffset)
	if err != nil || gotPNLen != pnLen || trunc != 0 {
		t.Fatalf("UnprotectHeader: pn length %d, pn %d, %v", gotPNLen, trunc, err)
	}
	got, err := open.Open(pkt, h.PNOffset, pnLen, 0)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	wantBytes(t, "opened payload", got, payload)
	frames, err := parseInitialFrames(got)
	if err != nil || frames.close == nil || packet.TransportErrorCode(frames.close.ErrorCode) != packet.TransportParameterError {
		t.Errorf("payload frames: %+v, %v; want CONNECTION_CLOSE TRANSPORT_PARAMETER_ERROR", frames, err)
	}
	// And limpet's server builds exactly these bytes for that refusal.
	built := appendInitialClose(make([]byte, 0, 128), packet.LongHeader{
		Type: packet.LongTypeInitial, Version: packet.Version, DstConnID: h.DstConnID, SrcConnID: h.SrcConnID,
	}, mustSealer(t, keys.Bytes("server_initial")), 0, *frames.close)
	wantBytes(t, "appendInitialClose", built, protected)
}

func mustSealer(t *testing.T, secret []byte) *crypto.Sealer {
	t.Helper()
	s, err := crypto.NewSealer(crypto.AES128GCM, secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func checkDocShortPacket(t *testing.T, e *docExample, _ map[string]*docExample) {
	secret := e.Bytes("secret")
	wantBytes(t, "key", crypto.ExpandLabel(secret, "key", 32), e.Bytes("key"))
	wantBytes(t, "iv", crypto.ExpandLabel(secret, "iv", 12), e.Bytes("iv"))
	wantBytes(t, "hp", crypto.ExpandLabel(secret, "hp", 32), e.Bytes("hp"))
	header, payload, protected := e.Bytes("header"), e.Bytes("payload"), e.Bytes("protected")
	seal, err := crypto.NewSealer(crypto.ChaCha20Poly1305, secret)
	if err != nil {
		t.Fatal(err)
	}
	h, err := packet.ParseShortHeader(append(bytes.Clone(header), make([]byte, 32)...), packet.DefaultConnIDLen)
	if err != nil {
		t.Fatal(err)
	}
	pnLen := packet.PacketNumberLenFromByte0(header[0])
	pn := uint64(0)
	for _, v := range header[h.PNOffset : h.PNOffset+pnLen] {
		pn = pn<<8 | uint64(v)
	}
	b := append(append(make([]byte, 0, len(protected)), header...), payload...)
	wantBytes(t, "sealed packet", seal.Seal(b, h.PNOffset, pnLen, pn), protected)
	open, err := crypto.NewOpener(crypto.ChaCha20Poly1305, secret)
	if err != nil {
		t.Fatal(err)
	}
	pkt := bytes.Clone(protected)
	gotPNLen, trunc, byte0, err := open.UnprotectHeader(pkt, h.PNOffset)
	if err != nil || gotPNLen != pnLen || trunc != pn || byte0 != header[0] {
		t.Fatalf("UnprotectHeader: byte 0 %#x, pn length %d, pn %#x, %v", byte0, gotPNLen, trunc, err)
	}
	got, err := open.Open(pkt, h.PNOffset, pnLen, pn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	wantBytes(t, "opened payload", got, payload)
}

func checkDocRetry(t *testing.T, e *docExample, all map[string]*docExample) {
	keys := all["initial-keys"]
	keys.T = t
	var priv crypto.PrivateKey
	copy(priv[:], keys.Bytes("server_private_key"))
	odcid, pkt, tag := e.Bytes("original_dcid"), e.Bytes("packet"), e.Bytes("tag")
	got := crypto.RetryTag(odcid, pkt, priv.Public())
	wantBytes(t, "RetryTag", got[:], tag)
	full := append(bytes.Clone(pkt), tag...)
	if !crypto.VerifyRetryTag(odcid, full, priv.Public()) {
		t.Error("VerifyRetryTag rejects the example")
	}
	r, err := packet.ParseRetry(full)
	if err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "AppendRetry", packet.AppendRetry(nil, packet.Version, r.DstConnID, r.SrcConnID, r.Token), pkt)
	if string(r.Token) != "opaque token" {
		t.Errorf("token %q", r.Token)
	}
}

func checkDocResetToken(t *testing.T, e *docExample, all map[string]*docExample) {
	keys := all["initial-keys"]
	keys.T = t
	var priv crypto.PrivateKey
	copy(priv[:], keys.Bytes("server_private_key"))
	secret := crypto.ExpandLabel(priv[:], "stateless reset key", 32)
	wantBytes(t, "token secret", secret, e.Bytes("secret"))
	// The instance secret with HMAC alone, as section 4.7 says.
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("limpet instance " + e.Str("instance")))
	wantBytes(t, "instance secret", mac.Sum(nil), e.Bytes("instance_secret"))
	// The token a limpet server on that key and instance derives for the
	// CID.
	ln, err := ListenBind(newFakeBind(testConnAddr), &Config{PrivateKey: priv, InstanceID: e.Str("instance")})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tok := ln.resetKey.StatelessResetToken(e.Bytes("cid"))
	wantBytes(t, "stateless reset token", tok[:], e.Bytes("token"))
}

// checkDocExporter derives the exporter secret as section 4.6 says, with
// HKDF alone, and the exported value with crypto.ExportKeyingMaterial.
func checkDocExporter(t *testing.T, e *docExample, _ map[string]*docExample) {
	ikm := append(e.Bytes("c1_key"), e.Bytes("c2_key")...)
	prk := hkdf.Extract(sha256.New, ikm, e.Bytes("h"))
	wantBytes(t, "exporter secret", crypto.ExpandLabel(prk, "exp", 32), e.Bytes("exporter_secret"))
	var secret [32]byte
	copy(secret[:], e.Bytes("exporter_secret"))
	out, err := crypto.ExportKeyingMaterial(secret, e.Str("label"), e.Bytes("context"), len(e.Bytes("output")))
	if err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "exported value", out, e.Bytes("output"))
}
