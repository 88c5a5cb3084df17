package flood

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// This file crafts client Initials the way a limpet client builds them
// (docs/PROTOCOL.md sections 2.1, 4.3 and 4.5): message 1 in one CRYPTO
// frame at offset 0, PADDING to a 1200-byte datagram, sealed with the
// client Initial keys derived from the server's key and the DCID. The
// transport's own builder is unexported, so the few lines are repeated
// here, as transport/peer_retry_test.go's testClient does.

// initialPNLen is the packet-number length of crafted Initials.
const initialPNLen = 4

// hello is one crafted message 1 and what sending it needs: the DCID its
// prologue is bound to, the SCID named in its transport parameters (unless
// crafted otherwise), and the server's key, from which appendInitial
// derives the DCID's Initial keys on first use.
type hello struct {
	dcid, scid packet.ConnectionID
	server     crypto.PublicKey
	seal       *crypto.Sealer
	msg1       []byte
}

// helloSpec says how to craft a message 1.
type helloSpec struct {
	server crypto.PublicKey
	// client is the client's static key; the zero key makes a fresh one
	// for each message, as an anonymous limpet client does.
	client crypto.PrivateKey
	// skew sets the ClientHello's clock against ours when the message is
	// crafted: 0, or −3 min for a stale replay, or +115 s to fill the
	// replay cache.
	skew time.Duration
	// mismatchSCID names another connection ID than the Initial's SCID in
	// initial_source_connection_id: the server refuses the handshake with
	// TRANSPORT_PARAMETER_ERROR only after it has recorded the message in
	// its replay cache (crypto.Server.Accept's order of checks), and so
	// keeps no connection for it.
	mismatchSCID bool
}

// newHello crafts a message 1 for a fresh random DCID and SCID.
func newHello(spec helloSpec) (hello, error) {
	return newHelloFor(spec, randomConnID(), randomConnID())
}

// newHelloFor crafts a message 1 bound to dcid, from scid.
func newHelloFor(spec helloSpec, dcid, scid packet.ConnectionID) (hello, error) {
	params := packet.DefaultTransportParameters()
	params.InitialSrcConnID, params.HasInitialSrcConnID = scid, true
	if spec.mismatchSCID {
		params.InitialSrcConnID = randomConnID()
	}
	// What a limpet client announces, so the message is as long as a
	// real one.
	params.MaxIdleTimeout = 60 * time.Second
	params.InitialMaxData = 768 << 10
	params.InitialMaxStreamDataBidiLocal = 512 << 10
	params.InitialMaxStreamDataBidiRemote = 512 << 10
	params.InitialMaxStreamDataUni = 512 << 10
	params.InitialMaxStreamsBidi = 100
	params.InitialMaxStreamsUni = 100
	params.ActiveConnIDLimit = 4
	_, msg1, err := crypto.NewClientHandshake(crypto.ClientConfig{
		StaticKey:       spec.client,
		ServerKey:       spec.server,
		TransportParams: params.Append(nil),
	}, dcid.Bytes(), time.Now().Add(spec.skew))
	if err != nil {
		return hello{}, fmt.Errorf("crafting message 1: %w", err)
	}
	return hello{dcid: dcid, scid: scid, server: spec.server, msg1: msg1}, nil
}

// newHelloPool crafts n messages 1, each bound to its own DCID, on as
// many goroutines as there are processors: at several hundred
// microseconds each (four X25519 operations), a pool for the replay cache
// takes a while.
func newHelloPool(ctx context.Context, n int, spec helloSpec) ([]hello, error) {
	pool := make([]hello, n)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				h, err := newHello(spec)
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				pool[i] = h
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return pool, nil
}

// appendInitial appends a client Initial datagram carrying h's message 1
// and token (nil for none), with packet number pn, padded to 1200 bytes.
func (h *hello) appendInitial(b []byte, token []byte, pn uint64) []byte {
	if h.seal == nil {
		h.seal, _ = crypto.NewInitialKeys(h.server, h.dcid.Bytes(), true)
	}
	start := len(b)
	hdr := packet.LongHeader{
		Type: packet.LongTypeInitial, Version: packet.Version,
		DstConnID: h.dcid, SrcConnID: h.scid, Token: token,
	}
	f := packet.CryptoFrame{Data: h.msg1}
	payloadLen := max(f.Len(), packet.MinInitialDatagramSize-packet.LongHeaderLen(hdr, initialPNLen, packet.MinInitialDatagramSize)-crypto.TagLen)
	b, pnOffset := packet.AppendLongHeader(b, hdr, initialPNLen, payloadLen+crypto.TagLen)
	b = packet.AppendPacketNumber(b, packet.PacketNumber(pn), initialPNLen)
	b = f.Append(b)
	for len(b) < pnOffset+initialPNLen+payloadLen {
		b = append(b, 0) // PADDING frames
	}
	b = slices.Grow(b, crypto.TagLen) // Seal appends the tag in place
	sealed := h.seal.Seal(b[start:], pnOffset-start, initialPNLen, pn)
	return b[:start+len(sealed)]
}

// randomConnID returns a fresh 8-byte connection ID. It need not be
// unpredictable, only distinct.
func randomConnID() packet.ConnectionID {
	var b [packet.DefaultConnIDLen]byte
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	id, _ := packet.NewConnectionID(b[:])
	return id
}

// serverAnswer is what an attacker learns from a datagram the server sent
// it: a long-header packet's type and connection IDs, and a Retry's token.
type serverAnswer struct {
	typ        packet.LongType
	dcid, scid packet.ConnectionID
	token      []byte // a Retry's; aliases the datagram
}

// parseAnswer reads the header of a datagram from the server; ok is false
// for anything but a long-header packet.
func parseAnswer(b []byte) (a serverAnswer, ok bool) {
	h, err := packet.ParseLongHeader(b)
	if err != nil {
		return a, false
	}
	return serverAnswer{typ: h.Type, dcid: h.DstConnID, scid: h.SrcConnID, token: h.Token}, true
}

// junkHeaderLen is the length of a junk Initial's header up to its
// payload: first byte, version, two 8-byte connection IDs with their
// lengths, an empty token and a two-byte Length.
const junkHeaderLen = 1 + 4 + 1 + packet.DefaultConnIDLen + 1 + packet.DefaultConnIDLen + 1 + 2

// junkDCIDOffset is where a junk Initial's DCID starts.
const junkDCIDOffset = 6

// appendJunkInitial appends a datagram of size bytes (at least 1200) that
// parses as a client Initial (docs/PROTOCOL.md section 2.1) but is random
// after its header, so it fails the server's AEAD check only after the
// server has derived Initial keys from its DCID (section 4.3). rng fills
// the random parts.
func appendJunkInitial(b []byte, size int, rng *rand.ChaCha8) []byte {
	size = max(size, packet.MinInitialDatagramSize)
	var cids [2 * packet.DefaultConnIDLen]byte
	rng.Read(cids[:])
	var r [1]byte
	rng.Read(r[:])
	// Long form, fixed bit, type Initial (0), random protected bits.
	b = append(b, 0xc0|r[0]&0x0f)
	b = binary.BigEndian.AppendUint32(b, packet.Version)
	b = append(b, packet.DefaultConnIDLen)
	b = append(b, cids[:packet.DefaultConnIDLen]...)
	b = append(b, packet.DefaultConnIDLen)
	b = append(b, cids[packet.DefaultConnIDLen:]...)
	b = append(b, 0) // no token
	b = packet.AppendVarintWithLen(b, uint64(size-junkHeaderLen), 2)
	body := make([]byte, size-junkHeaderLen)
	rng.Read(body)
	return append(b, body...)
}

// answerContent is what a server's Initial to an attacker carried.
type answerContent struct {
	close    *packet.ConnectionCloseFrame // nil if none
	message2 bool                         // a CRYPTO frame: message 2
}

// openAnswer opens a server Initial that answers a client Initial sent
// to dcid (sealed with the server Initial keys of that DCID, section 4.3)
// and reads its frames. It works on b in place.
func openAnswer(server crypto.PublicKey, dcid packet.ConnectionID, b []byte) (answerContent, error) {
	var out answerContent
	h, err := packet.ParseLongHeader(b)
	if err != nil {
		return out, err
	}
	if h.Type != packet.LongTypeInitial {
		return out, fmt.Errorf("a %v packet, not an Initial", h.Type)
	}
	_, open := crypto.NewInitialKeys(server, dcid.Bytes(), true)
	pkt := b[:h.PacketLen]
	pnLen, trunc, _, err := open.UnprotectHeader(pkt, h.PNOffset)
	if err != nil {
		return out, err
	}
	pn := packet.DecodePacketNumber(packet.InvalidPacketNumber, trunc, pnLen)
	payload, err := open.Open(pkt, h.PNOffset, pnLen, uint64(pn))
	if err != nil {
		return out, err
	}
	for len(payload) > 0 {
		f, n, err := packet.ParseFrame(payload)
		if err != nil {
			return out, err
		}
		switch f := f.(type) {
		case packet.ConnectionCloseFrame:
			f.Reason = slices.Clone(f.Reason)
			out.close = &f
		case packet.CryptoFrame:
			out.message2 = true
		}
		payload = payload[n:]
	}
	return out, nil
}

// answerTally counts the kinds of answers an attacker opened.
type answerTally struct {
	mu      sync.Mutex
	counts  map[string]int64
	reasons map[string]string // the first reason given with each code
	order   []string
}

func (t *answerTally) add(a answerContent, err error) {
	kind, reason := "unreadable", ""
	switch {
	case err != nil:
		reason = err.Error()
	case a.close != nil:
		kind = packet.TransportErrorCode(a.close.ErrorCode).String()
		if a.close.Application {
			kind = fmt.Sprintf("application close 0x%x", a.close.ErrorCode)
		}
		reason = string(a.close.Reason)
	case a.message2:
		kind = "message 2"
	default:
		kind = "other"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts == nil {
		t.counts, t.reasons = map[string]int64{}, map[string]string{}
	}
	if _, seen := t.counts[kind]; !seen {
		t.order = append(t.order, kind)
		t.reasons[kind] = reason
	}
	t.counts[kind]++
}

func (t *answerTally) count(kind string) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[kind]
}

// String lists each kind with its count and first reason, such as
// `UNKNOWN_CLIENT_KEY ×12 ("client key not allowed")`.
func (t *answerTally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.order) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range t.order {
		s := fmt.Sprintf("%s ×%s", k, formatCount(float64(t.counts[k])))
		if r := t.reasons[k]; r != "" {
			if len(r) > 80 {
				r = r[:77] + "..."
			}
			s += fmt.Sprintf(" (%q)", r)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
