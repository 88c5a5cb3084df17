package transport

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/hkdf"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// docExample is one "```example NAME" block of docs/PROTOCOL.md appendix A:
// name = value lines in order, a key possibly repeated.
type docExample struct {
	t      *testing.T
	name   string
	keys   []string
	values []string
}

// readDocExamples parses every example block of docs/PROTOCOL.md.
func readDocExamples(t *testing.T) map[string]*docExample {
	t.Helper()
	f, err := os.Open("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	examples := make(map[string]*docExample)
	var cur *docExample
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```example "):
			cur = &docExample{t: t, name: strings.TrimPrefix(line, "```example ")}
			if examples[cur.name] != nil {
				t.Fatalf("example %q appears twice", cur.name)
			}
			examples[cur.name] = cur
		case cur == nil:
		case line == "```":
			cur = nil
		case strings.HasPrefix(line, " ") && len(cur.values) > 0:
			cur.values[len(cur.values)-1] += " " + strings.TrimSpace(line)
		default:
			k, v, ok := strings.Cut(line, " = ")
			if !ok {
				t.Fatalf("example %s: line %q is not name = value", cur.name, line)
			}
			cur.keys = append(cur.keys, strings.TrimSpace(k))
			cur.values = append(cur.values, strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return examples
}

// all returns every value of key, in order.
func (e *docExample) all(key string) []string {
	var out []string
	for i, k := range e.keys {
		if k == key {
			out = append(out, e.values[i])
		}
	}
	return out
}

func (e *docExample) str(key string) string {
	e.t.Helper()
	v := e.all(key)
	if len(v) != 1 {
		e.t.Fatalf("example %s: %d values of %q, want 1", e.name, len(v), key)
	}
	return v[0]
}

func (e *docExample) bytes(key string) []byte {
	e.t.Helper()
	return docHex(e.t, e.name, e.str(key))
}

func (e *docExample) uint(key string) uint64 {
	e.t.Helper()
	n, err := strconv.ParseUint(e.str(key), 0, 64)
	if err != nil {
		e.t.Fatalf("example %s: %s: %v", e.name, key, err)
	}
	return n
}

func docHex(t *testing.T, name, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("example %s: %q: %v", name, s, err)
	}
	return b
}

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
	ex := readDocExamples(t)
	checks := map[string]func(t *testing.T, e *docExample, all map[string]*docExample){
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
	for name, check := range checks {
		t.Run(name, func(t *testing.T) {
			e := ex[name]
			if e == nil {
				t.Fatalf("docs/PROTOCOL.md has no example %q", name)
			}
			e.t = t
			check(t, e, ex)
		})
	}
	for name := range ex {
		if checks[name] == nil {
			t.Errorf("docs/PROTOCOL.md example %q is not checked by this test", name)
		}
	}
}

func checkDocVarint(t *testing.T, e *docExample, _ map[string]*docExample) {
	encs, vals := e.all("bytes"), e.all("value")
	if len(encs) == 0 || len(encs) != len(vals) {
		t.Fatalf("%d encodings, %d values", len(encs), len(vals))
	}
	for i := range encs {
		b := docHex(t, e.name, encs[i])
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
	b := e.bytes("frame")
	f, n, err := packet.ParseStreamFrame(b)
	if err != nil || n != len(b) {
		t.Fatalf("ParseStreamFrame: %v (consumed %d of %d)", err, n, len(b))
	}
	want := packet.StreamFrame{StreamID: packet.StreamID(e.uint("stream_id")), Offset: int64(e.uint("offset")), Fin: e.uint("fin") == 1, Data: e.bytes("data")}
	if f.StreamID != want.StreamID || f.Offset != want.Offset || f.Fin != want.Fin || !bytes.Equal(f.Data, want.Data) {
		t.Errorf("parsed %+v, want %+v", f, want)
	}
	wantBytes(t, "Append", want.Append(nil), b)
}

func checkDocAckFrame(t *testing.T, e *docExample, _ map[string]*docExample) {
	b := e.bytes("frame")
	f, n, err := packet.ParseAckFrame(b, nil)
	if err != nil || n != len(b) {
		t.Fatalf("ParseAckFrame: %v (consumed %d of %d)", err, n, len(b))
	}
	want := packet.AckFrame{Delay: e.uint("ack_delay")}
	for _, r := range strings.Fields(e.str("ranges")) {
		lo, hi, _ := strings.Cut(r, "-")
		l, _ := strconv.ParseInt(lo, 10, 64)
		h, _ := strconv.ParseInt(hi, 10, 64)
		want.Ranges = append(want.Ranges, packet.AckRange{Smallest: packet.PacketNumber(l), Largest: packet.PacketNumber(h)})
	}
	if uint64(f.LargestAcked()) != e.uint("largest") || f.Delay != want.Delay || len(f.Ranges) != len(want.Ranges) {
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
	b := e.bytes("frame")
	f, n, err := packet.ParseConsumedFrame(b)
	if err != nil || n != len(b) {
		t.Fatalf("ParseConsumedFrame: %v", err)
	}
	want := packet.ConsumedFrame{StreamID: packet.StreamID(e.uint("stream_id")), Offset: int64(e.uint("offset"))}
	if f != want {
		t.Errorf("parsed %+v, want %+v", f, want)
	}
	wantBytes(t, "Append", want.Append(nil), b)
}

func checkDocTransportParameters(t *testing.T, e *docExample, _ map[string]*docExample) {
	b := e.bytes("encoded")
	p, err := packet.ParseTransportParameters(b, false)
	if err != nil {
		t.Fatal(err)
	}
	want := packet.DefaultTransportParameters()
	want.MaxIdleTimeout = time.Duration(e.uint("max_idle_timeout_ms")) * time.Millisecond
	want.InitialMaxData = int64(e.uint("initial_max_data"))
	want.InitialMaxStreamsBidi = e.uint("initial_max_streams_bidi")
	want.ActiveConnIDLimit = e.uint("active_connection_id_limit")
	want.InitialSrcConnID, _ = packet.NewConnectionID(e.bytes("initial_source_connection_id"))
	want.HasInitialSrcConnID = true
	want.FECMaxRepairSymbols = e.uint("fec")
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
	copy(priv[:], e.bytes("server_private_key"))
	pub := priv.Public()
	wantBytes(t, "server public key", pub[:], e.bytes("server_public_key"))
	salt := sha256.Sum256([]byte("limpet v1 initial salt"))
	wantBytes(t, "initial_salt", salt[:], e.bytes("initial_salt"))
	dcid := e.bytes("original_dcid")
	secret := hkdf.Extract(sha256.New, append(pub[:], dcid...), salt[:])
	wantBytes(t, "initial_secret", secret, e.bytes("initial_secret"))
	for _, side := range []string{"client", "server"} {
		s := crypto.ExpandLabel(secret, side+" in", 32)
		wantBytes(t, side+"_initial", s, e.bytes(side+"_initial"))
		wantBytes(t, side+" key", crypto.ExpandLabel(s, "key", 16), e.bytes(side+"_key"))
		wantBytes(t, side+" iv", crypto.ExpandLabel(s, "iv", 12), e.bytes(side+"_iv"))
		wantBytes(t, side+" hp", crypto.ExpandLabel(s, "hp", 16), e.bytes(side+"_hp"))
	}
}

func checkDocInitialPacket(t *testing.T, e *docExample, all map[string]*docExample) {
	keys := all["initial-keys"]
	keys.t = t
	header, payload, protected := e.bytes("header"), e.bytes("payload"), e.bytes("protected")
	// Seal with the secret the document names, as an implementation would.
	seal, err := crypto.NewSealer(crypto.AES128GCM, keys.bytes(e.str("keys")))
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
	copy(priv[:], keys.bytes("server_private_key"))
	_, open := crypto.NewInitialKeys(priv.Public(), keys.bytes("original_dcid"), true)
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
	}, mustSealer(t, keys.bytes("server_initial")), 0, *frames.close)
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
	secret := e.bytes("secret")
	wantBytes(t, "key", crypto.ExpandLabel(secret, "key", 32), e.bytes("key"))
	wantBytes(t, "iv", crypto.ExpandLabel(secret, "iv", 12), e.bytes("iv"))
	wantBytes(t, "hp", crypto.ExpandLabel(secret, "hp", 32), e.bytes("hp"))
	header, payload, protected := e.bytes("header"), e.bytes("payload"), e.bytes("protected")
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
	keys.t = t
	var priv crypto.PrivateKey
	copy(priv[:], keys.bytes("server_private_key"))
	odcid, pkt, tag := e.bytes("original_dcid"), e.bytes("packet"), e.bytes("tag")
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
	keys.t = t
	var priv crypto.PrivateKey
	copy(priv[:], keys.bytes("server_private_key"))
	secret := crypto.ExpandLabel(priv[:], "stateless reset key", 32)
	wantBytes(t, "token secret", secret, e.bytes("secret"))
	// The instance secret with HMAC alone, as section 4.7 says.
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("limpet instance " + e.str("instance")))
	wantBytes(t, "instance secret", mac.Sum(nil), e.bytes("instance_secret"))
	// The token a limpet server on that key and instance derives for the
	// CID.
	ln, err := ListenBind(newFakeBind(testConnAddr), &Config{PrivateKey: priv, InstanceID: e.str("instance")})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tok := ln.resetKey.StatelessResetToken(e.bytes("cid"))
	wantBytes(t, "stateless reset token", tok[:], e.bytes("token"))
}

// checkDocExporter derives the exporter secret as section 4.6 says, with
// HKDF alone, and the exported value with crypto.ExportKeyingMaterial.
func checkDocExporter(t *testing.T, e *docExample, _ map[string]*docExample) {
	ikm := append(e.bytes("c1_key"), e.bytes("c2_key")...)
	prk := hkdf.Extract(sha256.New, ikm, e.bytes("h"))
	wantBytes(t, "exporter secret", crypto.ExpandLabel(prk, "exp", 32), e.bytes("exporter_secret"))
	var secret [32]byte
	copy(secret[:], e.bytes("exporter_secret"))
	out, err := crypto.ExportKeyingMaterial(secret, e.str("label"), e.bytes("context"), len(e.bytes("output")))
	if err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "exported value", out, e.bytes("output"))
}
