package crypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flynn/noise"
)

var testDCID = []byte{1, 2, 3, 4, 5, 6, 7, 8}

// exchange seals one 1-RTT packet each way and checks that the other side
// opens it byte-exact.
func exchange(t *testing.T, client, server *AppKeys) {
	t.Helper()
	for _, dir := range []struct {
		desc     string
		from, to *AppKeys
	}{{"client to server", client, server}, {"server to client", server, client}} {
		msg := []byte("payload " + dir.desc)
		p := buildShort(t, dir.from, 0, msg)
		got, err := openShort(dir.to, p, testNow)
		if err != nil {
			t.Fatalf("%s: open: %v", dir.desc, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("%s: opened %q, want %q", dir.desc, got, msg)
		}
	}
}

func TestHandshakeKeysAgree(t *testing.T) {
	serverKey := testKey(t, 20)
	clientKey := testKey(t, 21)
	tests := []struct {
		desc         string
		clientSuites []Suite
		serverSuites []Suite
		preferServer bool
		wantSuite    Suite
	}{
		{"AES only", []Suite{AES128GCM}, []Suite{AES128GCM, ChaCha20Poly1305}, false, AES128GCM},
		{"ChaCha20 only", []Suite{ChaCha20Poly1305}, []Suite{AES128GCM, ChaCha20Poly1305}, false, ChaCha20Poly1305},
		{"client order wins", []Suite{ChaCha20Poly1305, AES128GCM}, []Suite{AES128GCM, ChaCha20Poly1305}, false, ChaCha20Poly1305},
		{"server order wins when preferred", []Suite{ChaCha20Poly1305, AES128GCM}, []Suite{AES128GCM, ChaCha20Poly1305}, true, AES128GCM},
		{"server supports only the client's second", []Suite{AES128GCM, ChaCha20Poly1305}, []Suite{ChaCha20Poly1305}, false, ChaCha20Poly1305},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			client, server := handshake(t,
				ClientConfig{StaticKey: clientKey, ServerKey: serverKey.Public(), Suites: tt.clientSuites, TransportParams: []byte("client params"), Rand: seededRand(1)},
				ServerConfig{StaticKey: serverKey, Suites: tt.serverSuites, PreferServerSuiteOrder: tt.preferServer, Rand: seededRand(2)})
			if client.Suite != tt.wantSuite || server.Suite != tt.wantSuite {
				t.Errorf("suites = %v (client), %v (server); want %v", client.Suite, server.Suite, tt.wantSuite)
			}
			if client.Keys.Suite() != tt.wantSuite {
				t.Errorf("client AppKeys suite = %v, want %v", client.Keys.Suite(), tt.wantSuite)
			}
			if client.PeerStatic != serverKey.Public() || server.PeerStatic != clientKey.Public() {
				t.Errorf("PeerStatic = %v (client), %v (server); want %v, %v", client.PeerStatic, server.PeerStatic, serverKey.Public(), clientKey.Public())
			}
			if got, want := string(server.PeerTransportParams), "client params"; got != want {
				t.Errorf("server got params %q, want %q", got, want)
			}
			if got, want := string(client.PeerTransportParams), "server params for client params"; got != want {
				t.Errorf("client got params %q, want %q", got, want)
			}
			if client.HandshakeHash != server.HandshakeHash || client.HandshakeHash == ([32]byte{}) {
				t.Errorf("handshake hashes differ or are zero: %x, %x", client.HandshakeHash, server.HandshakeHash)
			}
			exchange(t, client.Keys, server.Keys)
		})
	}
}

func TestHandshakeMessageLengths(t *testing.T) {
	serverKey := testKey(t, 20)
	params := []byte("0123456789")
	ch, msg1, err := NewClientHandshake(ClientConfig{ServerKey: serverKey.Public(), Suites: []Suite{AES128GCM, ChaCha20Poly1305}, TransportParams: params}, testDCID, testNow)
	if err != nil {
		t.Fatal(err)
	}
	p1Len := 12 + 1 + 2 + len(params)
	if want := 32 + 48 + p1Len + 16; len(msg1) != want {
		t.Errorf("len(msg1) = %d, want %d", len(msg1), want)
	}
	srv, _ := NewServer(ServerConfig{StaticKey: serverKey})
	msg2, _, err := srv.Accept(msg1, testDCID, testNow, func([]byte) ([]byte, error) { return []byte("abc"), nil })
	if err != nil {
		t.Fatal(err)
	}
	if want := 32 + 1 + 3 + 16; len(msg2) != want {
		t.Errorf("len(msg2) = %d, want %d", len(msg2), want)
	}
	if _, err := ch.ReadServerHello(msg2); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.ReadServerHello(msg2); !errors.Is(err, ErrHandshakeDone) {
		t.Errorf("second ReadServerHello error = %v, want ErrHandshakeDone", err)
	}
}

func TestAnonymousClientGetsFreshKey(t *testing.T) {
	serverKey := testKey(t, 20)
	var seen []PublicKey
	for i := range 2 {
		_, server := handshake(t, ClientConfig{ServerKey: serverKey.Public(), Rand: seededRand(uint64(100 + i))}, ServerConfig{StaticKey: serverKey})
		if server.PeerStatic.IsZero() {
			t.Fatal("anonymous client presented the zero key")
		}
		seen = append(seen, server.PeerStatic)
	}
	if seen[0] == seen[1] {
		t.Error("two anonymous handshakes presented the same client key")
	}
}

func TestWrongPinnedServerKey(t *testing.T) {
	realServer := testKey(t, 20)
	impostorKey := testKey(t, 22).Public()
	srv, _ := NewServer(ServerConfig{StaticKey: realServer})

	// The server cannot decrypt a message 1 encrypted to another key.
	_, msg1, err := NewClientHandshake(ClientConfig{ServerKey: impostorKey}, testDCID, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.Accept(msg1, testDCID, testNow, nil); !errors.Is(err, ErrServerKeyMismatch) {
		t.Errorf("Accept of msg1 for another key: error = %v, want ErrServerKeyMismatch", err)
	}
	if n := srv.ReplayCacheLen(); n != 0 {
		t.Errorf("replay cache holds %d entries after a rejected msg1, want 0", n)
	}

	// A message 2 that does not come from the holder of the pinned key
	// fails on the client with a clear error.
	client, _, err := NewClientHandshake(ClientConfig{ServerKey: realServer.Public()}, testDCID, testNow)
	if err != nil {
		t.Fatal(err)
	}
	_, otherMsg1, _ := NewClientHandshake(ClientConfig{ServerKey: realServer.Public()}, testDCID, testNow)
	foreignMsg2, _, err := srv.Accept(otherMsg1, testDCID, testNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.ReadServerHello(foreignMsg2)
	if !errors.Is(err, ErrServerKeyMismatch) {
		t.Fatalf("ReadServerHello of another handshake's msg2: error = %v, want ErrServerKeyMismatch", err)
	}
	if !strings.Contains(err.Error(), "did not prove") || !strings.Contains(err.Error(), realServer.Public().String()) {
		t.Errorf("error %q should say the server did not prove the pinned key and name it", err)
	}
}

// TestForgedServerHelloDoesNotBreakHandshake: anyone who knows the server's
// public key can forge Initial packets, so a message 2 that fails to decrypt
// must not stop the genuine one from completing the handshake.
func TestForgedServerHelloDoesNotBreakHandshake(t *testing.T) {
	serverKey := testKey(t, 20)
	client, msg1, err := NewClientHandshake(ClientConfig{ServerKey: serverKey.Public()}, testDCID, testNow)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := NewServer(ServerConfig{StaticKey: serverKey})
	msg2, server, err := srv.Accept(msg1, testDCID, testNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	forgeries := [][]byte{
		append(bytes.Repeat([]byte{0}, 32), make([]byte, 17)...), // low-order ephemeral key
		append([]byte{msg2[0] ^ 1}, msg2[1:]...),
		append(append([]byte(nil), msg2[:len(msg2)-1]...), msg2[len(msg2)-1]^0x80),
	}
	for i, f := range forgeries {
		if _, err := client.ReadServerHello(f); !errors.Is(err, ErrServerKeyMismatch) {
			t.Errorf("forgery %d: error = %v, want ErrServerKeyMismatch", i, err)
		}
	}
	result, err := client.ReadServerHello(msg2)
	if err != nil {
		t.Fatalf("genuine msg2 after forgeries: %v", err)
	}
	exchange(t, result.Keys, server.Keys)
}

func TestReplayedClientHello(t *testing.T) {
	serverKey := testKey(t, 20)
	_, msg1, err := NewClientHandshake(ClientConfig{ServerKey: serverKey.Public()}, testDCID, testNow)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := NewServer(ServerConfig{StaticKey: serverKey})
	calls := 0
	params := func([]byte) ([]byte, error) { calls++; return nil, nil }
	if _, _, err := srv.Accept(msg1, testDCID, testNow, params); err != nil {
		t.Fatal(err)
	}
	// The ephemeral key is looked up before any decryption: a message
	// reusing it is refused as a replay even if the rest is garbage.
	garbage := append(append([]byte(nil), msg1[:32]...), make([]byte, len(msg1)-32)...)
	if _, _, err := srv.Accept(garbage, testDCID, testNow, params); !errors.Is(err, ErrReplay) {
		t.Errorf("garbage with a seen ephemeral key: error = %v, want ErrReplay", err)
	}
	tests := []struct {
		desc string
		now  time.Time
		want error
	}{
		{"immediate replay", testNow, ErrReplay},
		{"replay a minute later", testNow.Add(time.Minute), ErrReplay},
		{"replay just inside the window", testNow.Add(DefaultReplayWindow - time.Nanosecond), ErrReplay},
		{"replay once the window has passed", testNow.Add(DefaultReplayWindow), ErrStaleTimestamp},
	}
	for _, tt := range tests {
		msg2, result, err := srv.Accept(msg1, testDCID, tt.now, params)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: error = %v, want %v", tt.desc, err, tt.want)
		}
		if msg2 != nil || result != nil {
			t.Errorf("%s: got msg2 %x and result %v, want none", tt.desc, msg2, result)
		}
	}
	if calls != 1 {
		t.Errorf("transport parameter callback ran %d times, want 1", calls)
	}
}

func TestStaleTimestamp(t *testing.T) {
	serverKey := testKey(t, 20)
	const window = 30 * time.Second
	tests := []struct {
		desc       string
		clientTime time.Time
		want       error
	}{
		{"on time", testNow, nil},
		{"just inside, behind", testNow.Add(-window + time.Nanosecond), nil},
		{"just inside, ahead", testNow.Add(window - time.Nanosecond), nil},
		{"at the edge, behind", testNow.Add(-window), ErrStaleTimestamp},
		{"at the edge, ahead", testNow.Add(window), ErrStaleTimestamp},
		{"an hour old", testNow.Add(-time.Hour), ErrStaleTimestamp},
		{"a day ahead", testNow.Add(24 * time.Hour), ErrStaleTimestamp},
	}
	for _, tt := range tests {
		srv, _ := NewServer(ServerConfig{StaticKey: serverKey, ReplayWindow: window})
		_, msg1, err := NewClientHandshake(ClientConfig{ServerKey: serverKey.Public()}, testDCID, tt.clientTime)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = srv.Accept(msg1, testDCID, testNow, nil)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Accept error = %v, want %v", tt.desc, err, tt.want)
		}
		wantCached := 0
		if tt.want == nil {
			wantCached = 1
		}
		if n := srv.ReplayCacheLen(); n != wantCached {
			t.Errorf("%s: replay cache holds %d, want %d", tt.desc, n, wantCached)
		}
	}
}

func TestReplayCacheFullForgetsSoonestExpiry(t *testing.T) {
	serverKey := testKey(t, 20)
	const window = 10 * time.Second
	srv, _ := NewServer(ServerConfig{StaticKey: serverKey, ReplayWindow: window, ReplayCacheSize: 2})
	hello := func(at time.Time) []byte {
		_, msg1, err := NewClientHandshake(ClientConfig{ServerKey: serverKey.Public()}, testDCID, at)
		if err != nil {
			t.Fatal(err)
		}
		return msg1
	}
	first, second := hello(testNow), hello(testNow.Add(5*time.Second))
	for _, m := range [][]byte{first, second, hello(testNow)} {
		if _, _, err := srv.Accept(m, testDCID, testNow.Add(5*time.Second), nil); err != nil {
			t.Fatalf("a full cache refused a fresh handshake: %v", err)
		}
	}
	if n, ev := srv.ReplayCacheLen(), srv.ReplayCacheEvictions(); n != 2 || ev != 1 {
		t.Fatalf("cache holds %d with %d evictions, want 2 and 1", n, ev)
	}
	// The first expired soonest, so it was forgotten: its replay is
	// answered again; the second's is still caught.
	if _, _, err := srv.Accept(first, testDCID, testNow.Add(6*time.Second), nil); err != nil {
		t.Errorf("replay of the forgotten entry: %v, want it accepted", err)
	}
	if _, _, err := srv.Accept(second, testDCID, testNow.Add(6*time.Second), nil); !errors.Is(err, ErrReplay) {
		t.Errorf("replay of a remembered entry: %v, want ErrReplay", err)
	}
}

func TestTimestampAheadBound(t *testing.T) {
	serverKey := testKey(t, 20)
	srv, _ := NewServer(ServerConfig{StaticKey: serverKey})
	tests := []struct {
		desc  string
		ahead time.Duration
		want  error
	}{
		{"just inside", DefaultMaxClockAhead - time.Millisecond, nil},
		{"at the bound", DefaultMaxClockAhead, ErrStaleTimestamp},
		{"far future, to fill the cache", 115 * time.Second, ErrStaleTimestamp},
		{"behind by most of the window", -(DefaultReplayWindow - time.Second), nil},
	}
	for _, tt := range tests {
		_, msg1, err := NewClientHandshake(ClientConfig{ServerKey: serverKey.Public()}, testDCID, testNow.Add(tt.ahead))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := srv.Accept(msg1, testDCID, testNow, nil); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.desc, err, tt.want)
		}
	}
}

func TestClientKeyNotAllowed(t *testing.T) {
	serverKey := testKey(t, 20)
	allowed := testKey(t, 23)
	srv, _ := NewServer(ServerConfig{StaticKey: serverKey, Authorize: func(k PublicKey) bool { return k == allowed.Public() }})
	tests := []struct {
		desc string
		key  PrivateKey
		want error
	}{
		{"allowed key", allowed, nil},
		{"other key", testKey(t, 24), ErrClientKeyNotAllowed},
		{"anonymous", PrivateKey{}, ErrClientKeyNotAllowed},
	}
	for _, tt := range tests {
		_, msg1, err := NewClientHandshake(ClientConfig{StaticKey: tt.key, ServerKey: serverKey.Public()}, testDCID, testNow)
		if err != nil {
			t.Fatal(err)
		}
		msg2, result, err := srv.Accept(msg1, testDCID, testNow, nil)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: error = %v, want %v", tt.desc, err, tt.want)
		}
		if (err == nil) != (msg2 != nil && result != nil) {
			t.Errorf("%s: got msg2 %v, result %v with error %v", tt.desc, msg2 != nil, result != nil, err)
		}
	}
	// Rejected clients leave no trace, so they cannot fill the replay cache.
	if n := srv.ReplayCacheLen(); n != 1 {
		t.Errorf("replay cache holds %d entries, want 1 (the allowed client)", n)
	}
}

func TestNoCommonSuite(t *testing.T) {
	serverKey := testKey(t, 20)
	srv, _ := NewServer(ServerConfig{StaticKey: serverKey, Suites: []Suite{AES128GCM}})
	_, msg1, err := NewClientHandshake(ClientConfig{ServerKey: serverKey.Public(), Suites: []Suite{ChaCha20Poly1305}}, testDCID, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.Accept(msg1, testDCID, testNow, nil); !errors.Is(err, ErrNoCommonSuite) {
		t.Errorf("Accept error = %v, want ErrNoCommonSuite", err)
	}
}

// noiseResponder plays a misbehaving server with the flynn/noise API
// directly, to send a ServerHello payload our Server would never send.
func noiseResponder(t *testing.T, key PrivateKey, msg1 []byte, payload []byte) []byte {
	t.Helper()
	pub := key.Public()
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite: noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s), Pattern: noise.HandshakeIK, Prologue: prologue(testDCID),
		StaticKeypair: noise.DHKey{Private: key[:], Public: pub[:]},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := hs.ReadMessage(nil, msg1); err != nil {
		t.Fatal(err)
	}
	msg2, _, _, err := hs.WriteMessage(nil, payload)
	if err != nil {
		t.Fatal(err)
	}
	return msg2
}

func TestClientRejectsBadServerHello(t *testing.T) {
	serverKey := testKey(t, 20)
	tests := []struct {
		desc    string
		payload []byte
		want    error
		// wantDone: the message was authenticated, so its error is final.
		wantDone bool
	}{
		{"suite not offered", []byte{byte(ChaCha20Poly1305)}, ErrNoCommonSuite, true},
		{"unknown suite", []byte{0x7f}, ErrNoCommonSuite, true},
		{"oversized transport parameters", make([]byte, 1+MaxTransportParamsLen+1), ErrHandshakeMessage, true},
		{"empty payload (too short to read)", nil, ErrHandshakeMessage, false},
	}
	for _, tt := range tests {
		client, msg1, err := NewClientHandshake(ClientConfig{ServerKey: serverKey.Public(), Suites: []Suite{AES128GCM}}, testDCID, testNow)
		if err != nil {
			t.Fatal(err)
		}
		msg2 := noiseResponder(t, serverKey, msg1, tt.payload)
		if _, err := client.ReadServerHello(msg2); !errors.Is(err, tt.want) {
			t.Errorf("%s: error = %v, want %v", tt.desc, err, tt.want)
		}
		if _, err := client.ReadServerHello(msg2); errors.Is(err, ErrHandshakeDone) != tt.wantDone {
			t.Errorf("%s: second ReadServerHello error = %v, want ErrHandshakeDone: %v", tt.desc, err, tt.wantDone)
		}
	}
}

func TestAcceptErrors(t *testing.T) {
	serverKey := testKey(t, 20)
	_, msg1, err := NewClientHandshake(ClientConfig{ServerKey: serverKey.Public()}, testDCID, testNow)
	if err != nil {
		t.Fatal(err)
	}
	errParams := errors.New("bad transport parameters")
	tests := []struct {
		desc   string
		msg1   []byte
		dcid   []byte
		params func([]byte) ([]byte, error)
		want   error
	}{
		{"empty", nil, testDCID, nil, ErrHandshakeMessage},
		{"truncated", msg1[:len(msg1)-1], testDCID, nil, ErrServerKeyMismatch},
		{"too short to hold a payload", msg1[:minClientHelloMessageLen-1], testDCID, nil, ErrHandshakeMessage},
		{"oversized", make([]byte, MaxHandshakeMessageLen+1), testDCID, nil, ErrHandshakeMessage},
		{"other DCID (prologue mismatch)", msg1, []byte{1, 2, 3, 4, 5, 6, 7, 9}, nil, ErrServerKeyMismatch},
		{"DCID too long", msg1, make([]byte, 21), nil, ErrHandshakeMessage},
		{"transport parameter callback fails", msg1, testDCID, func([]byte) ([]byte, error) { return nil, errParams }, errParams},
		{"server parameters too long", msg1, testDCID, func([]byte) ([]byte, error) { return make([]byte, MaxTransportParamsLen+1), nil }, nil},
	}
	for _, tt := range tests {
		srv, _ := NewServer(ServerConfig{StaticKey: serverKey})
		_, _, err := srv.Accept(tt.msg1, tt.dcid, testNow, tt.params)
		if tt.want == nil {
			if err == nil {
				t.Errorf("%s: Accept succeeded, want an error", tt.desc)
			}
			continue
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: error = %v, want %v", tt.desc, err, tt.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	serverKey := testKey(t, 20)
	clientTests := []struct {
		desc string
		cfg  ClientConfig
		dcid []byte
	}{
		{"no server key", ClientConfig{}, testDCID},
		{"DCID too long", ClientConfig{ServerKey: serverKey.Public()}, make([]byte, 21)},
		{"no suites", ClientConfig{ServerKey: serverKey.Public(), Suites: []Suite{}}, testDCID},
		{"unknown suite", ClientConfig{ServerKey: serverKey.Public(), Suites: []Suite{3}}, testDCID},
		{"repeated suite", ClientConfig{ServerKey: serverKey.Public(), Suites: []Suite{AES128GCM, AES128GCM}}, testDCID},
		{"transport params too long", ClientConfig{ServerKey: serverKey.Public(), TransportParams: make([]byte, MaxTransportParamsLen+1)}, testDCID},
		{"low-order server key", ClientConfig{ServerKey: PublicKey{1}}, testDCID},
	}
	for _, tt := range clientTests {
		if _, _, err := NewClientHandshake(tt.cfg, tt.dcid, testNow); err == nil {
			t.Errorf("NewClientHandshake with %s succeeded, want an error", tt.desc)
		}
	}
	serverTests := []struct {
		desc string
		cfg  ServerConfig
	}{
		{"no static key", ServerConfig{}},
		{"unknown suite", ServerConfig{StaticKey: serverKey, Suites: []Suite{AES128GCM, 9}}},
		{"negative window", ServerConfig{StaticKey: serverKey, ReplayWindow: -time.Second}},
		{"negative cache size", ServerConfig{StaticKey: serverKey, ReplayCacheSize: -1}},
	}
	for _, tt := range serverTests {
		if _, err := NewServer(tt.cfg); err == nil {
			t.Errorf("NewServer with %s succeeded, want an error", tt.desc)
		}
	}
}

// TestExporterSecret: the exporter secret is docs/PROTOCOL.md appendix
// A.9's for its Split keys and handshake hash.
func TestExporterSecret(t *testing.T) {
	var h, c1, c2 [32]byte
	for i := range 32 {
		h[i], c1[i], c2[i] = byte(i), byte(0x40+i), byte(0x80+i)
	}
	got := newExporterSecret(h[:], c1, c2)
	want, _ := hex.DecodeString("1a2c7fae320023295360f71841f65f91f53f4bbbc883cfd7cc6fd8b9fa60c582")
	if !bytes.Equal(got[:], want) {
		t.Errorf("exporter secret %x, want %x", got, want)
	}
}
