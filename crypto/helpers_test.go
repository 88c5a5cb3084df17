package crypto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// testNow is the fixed clock of handshake tests.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 500, time.UTC)

const testPTO = 100 * time.Millisecond

// seededRand returns a deterministic byte source, so that keys, ephemeral
// keys and therefore whole handshakes are reproducible.
func seededRand(seed uint64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

func testKey(t testing.TB, seed uint64) PrivateKey {
	t.Helper()
	k, err := generateKey(seededRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func appendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return binary.BigEndian.AppendUint16(b, uint16(v)|0x4000)
	case v < 1<<30:
		return binary.BigEndian.AppendUint32(b, uint32(v)|0x80000000)
	}
	return binary.BigEndian.AppendUint64(b, v|0xc000000000000000)
}

func readVarint(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, errors.New("varint: empty")
	}
	n := 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0, errors.New("varint: truncated")
	}
	v := uint64(b[0] & 0x3f)
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	return v, n, nil
}

// cryptoFrame returns a CRYPTO frame at offset 0 carrying data.
func cryptoFrame(data []byte) []byte {
	b := []byte{0x06, 0x00}
	b = appendVarint(b, uint64(len(data)))
	return append(b, data...)
}

// readCryptoFrame skips PADDING and returns the data of the CRYPTO frame at
// offset 0 that a test Initial packet carries.
func readCryptoFrame(payload []byte) ([]byte, error) {
	for len(payload) > 0 && payload[0] == 0x00 {
		payload = payload[1:]
	}
	if len(payload) < 3 || payload[0] != 0x06 || payload[1] != 0x00 {
		return nil, errors.New("no CRYPTO frame at offset 0")
	}
	n, k, err := readVarint(payload[2:])
	if err != nil {
		return nil, err
	}
	data := payload[2+k:]
	if uint64(len(data)) < n {
		return nil, errors.New("CRYPTO frame truncated")
	}
	return data[:n], nil
}

// buildInitial builds and seals an Initial packet by hand (crypto cannot
// import package packet): a long header with a 2-byte packet number and a
// 2-byte Length, carrying payload, padded with PADDING frames so that the
// packet is at least padTo bytes long.
func buildInitial(t testing.TB, s *Sealer, dcid, scid, token []byte, pn uint64, payload []byte, padTo int) []byte {
	t.Helper()
	const pnLen = 2
	b := []byte{0xc0 | (pnLen - 1)}
	b = binary.BigEndian.AppendUint32(b, protocolVersion)
	b = append(b, byte(len(dcid)))
	b = append(b, dcid...)
	b = append(b, byte(len(scid)))
	b = append(b, scid...)
	b = appendVarint(b, uint64(len(token)))
	b = append(b, token...)
	lengthOffset := len(b)
	b = append(b, 0x40, 0x00) // 2-byte varint Length, filled in below
	pnOffset := len(b)
	b = binary.BigEndian.AppendUint16(b, uint16(pn))
	b = append(b, payload...)
	minLen := max(padTo, MinProtectedLen(pnOffset)) - TagLen
	for len(b) < minLen {
		b = append(b, 0x00)
	}
	length := len(b) - pnOffset + TagLen
	if length >= 1<<14 {
		t.Fatalf("Initial payload too long: %d", length)
	}
	binary.BigEndian.PutUint16(b[lengthOffset:], uint16(length)|0x4000)
	buf := make([]byte, len(b), len(b)+TagLen)
	copy(buf, b)
	return s.Seal(buf, pnOffset, pnLen, pn)
}

// longHeader is what the test receiver learns from an Initial's header.
type longHeader struct {
	dcid, scid []byte
	pnOffset   int
	packet     []byte // the packet, delimited by Length
}

// parseLongHeader is the test receiver's minimal long-header parser. It
// checks only structure (form bit, lengths), leaving the version, fixed bit,
// type and every other header byte to packet protection, so that the tamper
// tests show the AEAD, not this parser, catching changes.
func parseLongHeader(datagram []byte) (longHeader, error) {
	var h longHeader
	if len(datagram) < 6 || datagram[0]&0x80 == 0 {
		return h, errors.New("not a long header")
	}
	b := datagram[5:]
	if int(b[0]) > maxConnIDLen || len(b) < 1+int(b[0]) {
		return h, errors.New("bad DCID")
	}
	h.dcid, b = b[1:1+b[0]], b[1+b[0]:]
	if len(b) < 1 || int(b[0]) > maxConnIDLen || len(b) < 1+int(b[0]) {
		return h, errors.New("bad SCID")
	}
	h.scid, b = b[1:1+b[0]], b[1+b[0]:]
	tokenLen, n, err := readVarint(b)
	if err != nil || uint64(len(b)-n) < tokenLen {
		return h, errors.New("bad token")
	}
	b = b[n+int(tokenLen):]
	length, n, err := readVarint(b)
	if err != nil || uint64(len(b)-n) < length {
		return h, errors.New("bad length")
	}
	h.pnOffset = len(datagram) - len(b) + n
	h.packet = datagram[:h.pnOffset+int(length)]
	return h, nil
}

// openInitial removes protection from an Initial the way a receiver would
// and returns the handshake message in its CRYPTO frame. Packet numbers in
// these tests are small, so the truncated number is the full one.
func openInitial(o *Opener, h longHeader) ([]byte, error) {
	pnLen, pn, byte0, err := o.UnprotectHeader(h.packet, h.pnOffset)
	if err != nil {
		return nil, err
	}
	payload, err := o.Open(h.packet, h.pnOffset, pnLen, pn)
	if err != nil {
		return nil, err
	}
	if byte0&0x0c != 0 {
		return nil, fmt.Errorf("reserved bits %#x set", byte0&0x0c)
	}
	return readCryptoFrame(payload)
}

// shortHeaderDCIDLen is the DCID length of test short-header packets.
const shortHeaderDCIDLen = 8

// buildShort builds and seals a 1-RTT packet with a 2-byte packet number.
func buildShort(t testing.TB, k *AppKeys, pn uint64, payload []byte) []byte {
	t.Helper()
	const pnLen = 2
	b := make([]byte, 0, 1+shortHeaderDCIDLen+pnLen+len(payload)+TagLen+SampleLen)
	b = append(b, 0x40|(pnLen-1))
	for i := range shortHeaderDCIDLen {
		b = append(b, byte(0xd0+i))
	}
	pnOffset := len(b)
	b = binary.BigEndian.AppendUint16(b, uint16(pn))
	b = append(b, payload...)
	for len(b)+TagLen < MinProtectedLen(pnOffset) {
		b = append(b, 0x00)
	}
	sealed, err := k.Seal(b, pnOffset, pnLen, pn)
	if err != nil {
		t.Fatalf("Seal(pn %d): %v", pn, err)
	}
	return sealed
}

// openShort opens a copy of a 1-RTT packet built by buildShort.
func openShort(k *AppKeys, packet []byte, now time.Time) ([]byte, error) {
	p := append([]byte(nil), packet...)
	const pnOffset = 1 + shortHeaderDCIDLen
	pnLen, pn, byte0, err := k.UnprotectHeader(p, pnOffset)
	if err != nil {
		return nil, err
	}
	payload, err := k.Open(p, pnOffset, pnLen, pn, byte0&0x04 != 0, now, testPTO)
	if err != nil {
		return nil, err
	}
	if byte0&0x18 != 0 {
		return nil, fmt.Errorf("reserved bits %#x set", byte0&0x18)
	}
	return payload, nil
}

// handshake runs a complete handshake in memory and returns both results.
func handshake(t testing.TB, ccfg ClientConfig, scfg ServerConfig) (client, server *HandshakeResult) {
	t.Helper()
	dcid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	ch, msg1, err := NewClientHandshake(ccfg, dcid, testNow)
	if err != nil {
		t.Fatalf("NewClientHandshake: %v", err)
	}
	srv, err := NewServer(scfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	msg2, server, err := srv.Accept(msg1, dcid, testNow, func(p []byte) ([]byte, error) {
		return append([]byte("server params for "), p...), nil
	})
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	client, err = ch.ReadServerHello(msg2)
	if err != nil {
		t.Fatalf("ReadServerHello: %v", err)
	}
	return client, server
}
