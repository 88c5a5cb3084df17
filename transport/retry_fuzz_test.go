package transport

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// fuzzRetryClient is a client Conn waiting for message 2, built without its
// goroutines so a fuzz target can feed it datagrams directly. Its keys and
// connection IDs are fixed, so seeds built for it stay valid.
func fuzzRetryClient(t testing.TB) *Conn {
	t.Helper()
	var serverKey crypto.PrivateKey
	for i := range serverKey {
		serverKey[i] = byte(i + 1)
	}
	cfg := (&Config{ServerKey: serverKey.Public()}).withDefaults()
	now := time.Unix(1_700_000_000, 0)
	ep := newEndpoint(newFakeBind(testConnAddr))
	ep.resetKey = newResetKey()
	c := newConn(ep, false, cfg, testPeerAddr, now)
	c.ids.localCID = fuzzCID(0xc0)
	c.hs.origDCID = fuzzCID(0x0d)
	if err := c.startClientHandshake(c.hs.origDCID, now); err != nil {
		t.Fatal(err)
	}
	return c
}

func fuzzCID(b byte) packet.ConnectionID {
	cid, _ := packet.NewConnectionID(bytes.Repeat([]byte{b}, packet.DefaultConnIDLen))
	return cid
}

// fuzzRetry builds a Retry to the fuzz client with a valid integrity tag.
func fuzzRetry(c *Conn, scid packet.ConnectionID, token []byte) []byte {
	b := packet.AppendRetry(nil, packet.Version, c.ids.localCID, scid, token)
	tag := crypto.RetryTag(c.hs.origDCID.Bytes(), b, c.cfg.ServerKey)
	return append(b, tag[:]...)
}

// FuzzClientRetry feeds a client that is waiting for message 2 one datagram
// from the server's address. Whatever it holds, the client must not panic,
// and it may follow it as a Retry only if it is one: addressed to the
// client, with a token, a new SCID and an integrity tag that verifies for
// the original DCID. Then it must have restarted its handshake towards the
// Retry's SCID with that token; otherwise nothing may have changed.
func FuzzClientRetry(f *testing.F) {
	c := fuzzRetryClient(f)
	valid := fuzzRetry(c, fuzzCID(0x5c), []byte("token"))
	f.Add(valid)
	f.Add(fuzzRetry(c, fuzzCID(0x5c), make([]byte, maxRetryTokenLen+1)))
	f.Add(fuzzRetry(c, c.hs.origDCID, []byte("token")))
	f.Add(valid[:len(valid)-1])
	bad := bytes.Clone(valid)
	bad[len(bad)-1] ^= 1
	f.Add(bad)
	h := packet.LongHeader{Type: packet.LongTypeInitial, Version: packet.Version, DstConnID: c.ids.localCID, SrcConnID: fuzzCID(0x5e), Token: []byte("t")}
	initial, _ := packet.AppendLongHeader(nil, h, 4, 40)
	f.Add(append(initial, make([]byte, 44)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxRxDatagram {
			return
		}
		c := fuzzRetryClient(t)
		firstHello := c.hs.out
		c.handleDatagram(newRxDatagram(b, testPeerAddr, rxMeta{}, time.Unix(1_700_000_001, 0)))

		if c.state != stateHandshake {
			t.Fatalf("state %v after one datagram from the server, want still waiting for message 2", c.state)
		}
		if !c.hs.retried {
			if c.ids.remoteCID != c.hs.origDCID || c.hs.retryToken != nil || !bytes.Equal(c.hs.out, firstHello) || c.stats.retries.Load() != 0 {
				t.Fatalf("a datagram the client did not follow changed its handshake")
			}
			return
		}
		r, err := packet.ParseRetry(b)
		if err != nil {
			t.Fatalf("followed a datagram that is not a Retry: %v", err)
		}
		if r.DstConnID != c.ids.localCID || r.SrcConnID == c.hs.origDCID || len(r.Token) > maxRetryTokenLen ||
			!crypto.VerifyRetryTag(c.hs.origDCID.Bytes(), b, c.cfg.ServerKey) {
			t.Fatalf("followed a Retry it must drop")
		}
		if c.ids.remoteCID != r.SrcConnID || c.hs.retrySrcCID != r.SrcConnID || !bytes.Equal(c.hs.retryToken, r.Token) ||
			bytes.Equal(c.hs.out, firstHello) || c.stats.retries.Load() != 1 {
			t.Fatalf("followed the Retry but did not restart the handshake towards its SCID with its token")
		}
	})
}

// FuzzServerRetryToken feeds the Listener's token check arbitrary tokens. It
// must not panic, and it may accept only a token sealed with its secret
// (each fuzzing process issues its own, with a random nonce; only odcid is
// ever sealed) from the address it was issued to, giving back that DCID.
func FuzzServerRetryToken(f *testing.F) {
	var secret [32]byte
	secret[0] = 7
	l := &Endpoint{retryKey: crypto.NewTokenProtector(secret)}
	addr := netip.MustParseAddrPort("198.51.100.7:5000")
	issuedAt := time.Unix(1_700_000_000, 0)
	odcid := fuzzCID(0x0d)
	issued := l.retryKey.NewRetryToken(addr, odcid.Bytes(), issuedAt)
	f.Add(issued)
	f.Add(issued[:len(issued)-1])
	f.Add(append(bytes.Clone(issued), 0))
	f.Add([]byte{})
	f.Add(make([]byte, crypto.MaxRetryTokenLen))
	f.Fuzz(func(t *testing.T, token []byte) {
		_, got, ok := l.checkRetryToken(token, addr, issuedAt.Add(time.Second))
		if !ok {
			return
		}
		if len(token) != len(issued) || got != odcid {
			t.Fatalf("accepted a token it did not issue (%x), giving DCID %v", token, got)
		}
		if _, _, ok := l.checkRetryToken(token, netip.MustParseAddrPort("198.51.100.7:5001"), issuedAt); ok {
			t.Fatalf("accepted the token from another port")
		}
	})
}
