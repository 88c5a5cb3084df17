package crypto

import (
	"bytes"
	"testing"
)

// The tamper tests flip every bit of every byte of a protected packet, one
// at a time, and require the receiver to reject each altered copy somewhere
// on its path: header parsing, header protection, the AEAD, or the Noise
// handshake. The test receiver's header parser checks only structure, so
// the version, fixed bit, packet type and connection IDs are left to the
// cryptography.

// flips calls try with every single-bit alteration of packet.
func flips(t *testing.T, packet []byte, try func(altered []byte) error) {
	t.Helper()
	for i := range packet {
		for bit := range 8 {
			altered := append([]byte(nil), packet...)
			altered[i] ^= 1 << bit
			if err := try(altered); err == nil {
				t.Fatalf("packet with byte %d bit %d flipped was accepted", i, bit)
			}
		}
	}
}

// serverReceive runs a datagram through the server's receive path for a new
// connection: parse the long header, derive Initial keys from its DCID,
// remove protection, and hand the CRYPTO data to a fresh Server (so that a
// wrongly accepted alteration cannot hide behind ErrReplay).
func serverReceive(t *testing.T, key PrivateKey, datagram []byte) ([]byte, *HandshakeResult, error) {
	t.Helper()
	h, err := parseLongHeader(datagram)
	if err != nil {
		return nil, nil, err
	}
	pub := key.Public()
	cacheKey := string(pub[:]) + string(h.dcid)
	opener := initialOpeners[cacheKey]
	if opener == nil {
		_, opener = NewInitialKeys(pub, h.dcid, false)
		initialOpeners[cacheKey] = opener
	}
	msg1, err := openInitial(opener, h)
	if err != nil {
		return nil, nil, err
	}
	srv, err := NewServer(ServerConfig{StaticKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return srv.Accept(msg1, h.dcid, testNow, func(p []byte) ([]byte, error) { return p, nil })
}

// initialOpeners caches server Initial openers by DCID across the thousands
// of altered packets, most of which share the genuine DCID. It is keyed by
// server public key and DCID.
var initialOpeners = map[string]*Opener{}

func TestTamperedHandshakePacketsRejected(t *testing.T) {
	serverKey := testKey(t, 30)
	clientDCID := []byte{0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7}
	clientSCID := []byte{0x5c, 0x5c, 0x5c, 0x5c, 0x5c, 0x5c, 0x5c, 0x5c}
	client, msg1, err := NewClientHandshake(ClientConfig{ServerKey: serverKey.Public(), TransportParams: []byte("client tp")}, clientDCID, testNow)
	if err != nil {
		t.Fatal(err)
	}
	clientSeal, clientOpen := NewInitialKeys(serverKey.Public(), clientDCID, true)
	initial1 := buildInitial(t, clientSeal, clientDCID, clientSCID, []byte("tok"), 0, cryptoFrame(msg1), 1200)

	t.Run("Initial carrying msg1", func(t *testing.T) {
		flips(t, initial1, func(altered []byte) error {
			_, _, err := serverReceive(t, serverKey, altered)
			return err
		})
	})

	msg2, server, err := serverReceive(t, serverKey, initial1)
	if err != nil {
		t.Fatalf("genuine Initial: %v", err)
	}
	serverSeal, _ := NewInitialKeys(serverKey.Public(), clientDCID, false)
	initial2 := buildInitial(t, serverSeal, clientSCID, []byte{0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e}, nil, 0, cryptoFrame(msg2), 0)

	// The client's receive path for the server's Initial. A failed
	// ReadServerHello leaves the client usable, so one client serves every
	// altered copy and must still complete with the genuine one afterwards.
	clientReceive := func(datagram []byte) (*HandshakeResult, error) {
		h, err := parseLongHeader(datagram)
		if err != nil {
			return nil, err
		}
		m, err := openInitial(clientOpen, h)
		if err != nil {
			return nil, err
		}
		return client.ReadServerHello(m)
	}
	t.Run("Initial carrying msg2", func(t *testing.T) {
		flips(t, initial2, func(altered []byte) error {
			_, err := clientReceive(altered)
			return err
		})
	})

	// Someone who knows the server's public key can derive Initial keys and
	// re-protect an altered handshake message, so the Noise messages must
	// resist alteration on their own.
	t.Run("msg1 re-protected by an attacker", func(t *testing.T) {
		flips(t, msg1, func(altered []byte) error {
			srv, _ := NewServer(ServerConfig{StaticKey: serverKey})
			_, _, err := srv.Accept(altered, clientDCID, testNow, nil)
			return err
		})
	})
	t.Run("msg2 re-protected by an attacker", func(t *testing.T) {
		flips(t, msg2, func(altered []byte) error {
			_, err := client.ReadServerHello(altered)
			return err
		})
	})

	result, err := clientReceive(initial2)
	if err != nil {
		t.Fatalf("genuine server Initial after the tampered ones: %v", err)
	}
	exchange(t, result.Keys, server.Keys)

	t.Run("1-RTT packet", func(t *testing.T) {
		for _, suite := range []Suite{AES128GCM, ChaCha20Poly1305} {
			sender, _ := NewAppKeys(suite, testSecret(1), testSecret(2))
			receiver, _ := NewAppKeys(suite, testSecret(2), testSecret(1))
			// The receiver must have sent in this phase, or a flipped key
			// phase bit would read as a premature key update
			// (ErrKeyUpdate) rather than a failed open; both reject.
			buildShort(t, receiver, 0, []byte("x"))
			payload := bytes.Repeat([]byte("1-RTT data "), 100)
			packet := buildShort(t, sender, 3, payload)
			flips(t, packet, func(altered []byte) error {
				_, err := openShort(receiver, altered, testNow)
				return err
			})
			if got, err := openShort(receiver, packet, testNow); err != nil || !bytes.Equal(got, payload) {
				t.Errorf("%v: genuine packet after tampering: %v", suite, err)
			}
			if want := uint64(8 * len(packet)); receiver.FailedOpens() > want || receiver.FailedOpens() == 0 {
				t.Errorf("%v: FailedOpens = %d, want between 1 and %d", suite, receiver.FailedOpens(), want)
			}
		}
	})
}
