package crypto

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the checked-in fuzz seed corpus")

// The fuzz fixture is deterministic, so that a message 1 in the seed corpus
// decrypts at the fixture's server and a message 2 at the fixture's client,
// letting the fuzzer start from inputs that reach deep into the handshake.
func fuzzServer(t testing.TB) *Server {
	t.Helper()
	srv, err := NewServer(ServerConfig{StaticKey: testKey(t, 41), Rand: seededRand(43), ReplayCacheSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func fuzzClient(t testing.TB) (*ClientHandshake, []byte) {
	t.Helper()
	c, msg1, err := NewClientHandshake(ClientConfig{
		StaticKey:       testKey(t, 40),
		ServerKey:       testKey(t, 41).Public(),
		Suites:          []Suite{AES128GCM, ChaCha20Poly1305},
		TransportParams: []byte{0x01, 0x02, 0x75, 0x30},
		Rand:            seededRand(42),
	}, testDCID, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return c, msg1
}

func echoParams(p []byte) ([]byte, error) { return p, nil }

// fuzzSeeds returns the seed corpus by name.
func fuzzSeeds(t testing.TB) map[string][]byte {
	_, msg1 := fuzzClient(t)
	msg2, _, err := fuzzServer(t).Accept(msg1, testDCID, testNow, echoParams)
	if err != nil {
		t.Fatal(err)
	}
	zeroEphemeral := append(make([]byte, 32), msg1[32:]...)
	return map[string][]byte{
		"msg1_valid":           msg1,
		"msg2_valid":           msg2,
		"msg1_truncated":       msg1[:len(msg1)-1],
		"msg1_zero_ephemeral":  zeroEphemeral,
		"client_hello_payload": ClientHello{Timestamp: testNow, Suites: []Suite{AES128GCM, ChaCha20Poly1305}, TransportParams: []byte{0x01, 0x02, 0x75, 0x30}}.Append(nil),
		"server_hello_payload": ServerHello{Suite: AES128GCM, TransportParams: []byte{0x01, 0x02, 0x75, 0x30}}.Append(nil),
		"empty":                {},
	}
}

const corpusDir = "testdata/fuzz/FuzzHandshakeMessage"

// TestFuzzCorpus checks that the checked-in seeds are current: the valid
// message 1 completes at the fixture server and the valid message 2 at the
// fixture client. Run with -update-corpus to regenerate them.
func TestFuzzCorpus(t *testing.T) {
	seeds := fuzzSeeds(t)
	if *updateCorpus {
		if err := os.MkdirAll(corpusDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range seeds {
			text := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
			if err := os.WriteFile(filepath.Join(corpusDir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, want := range seeds {
		text, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err != nil {
			t.Fatalf("seed %s: %v (run go test -run TestFuzzCorpus -update-corpus)", name, err)
		}
		lines := strings.Split(strings.TrimSpace(string(text)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
			t.Fatalf("seed %s is not in go fuzz v1 format: %q", name, text)
		}
		got, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("seed %s: %v", name, err)
		}
		if got != string(want) {
			t.Errorf("seed %s is stale (run go test -run TestFuzzCorpus -update-corpus)", name)
		}
	}
	_, result, err := fuzzServer(t).Accept(seeds["msg1_valid"], testDCID, testNow, echoParams)
	if err != nil || result == nil {
		t.Errorf("fixture server rejects seed msg1_valid: %v", err)
	}
	client, _ := fuzzClient(t)
	if _, err := client.ReadServerHello(seeds["msg2_valid"]); err != nil {
		t.Errorf("fixture client rejects seed msg2_valid: %v", err)
	}
}

// FuzzHandshakeMessage feeds arbitrary bytes to every parser of untrusted
// handshake input: the server as message 1, a client as message 2, and the
// two payload decoders, whose successful parses must re-encode exactly.
func FuzzHandshakeMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		msg2, result, err := fuzzServer(t).Accept(data, testDCID, testNow, echoParams)
		if err == nil && (len(msg2) < minServerHelloMessageLen || result == nil || result.Keys == nil) {
			t.Fatalf("Accept succeeded with msg2 %x, result %v", msg2, result)
		}
		client, _ := fuzzClient(t)
		if result, err := client.ReadServerHello(data); err == nil && (result == nil || result.Keys == nil) {
			t.Fatal("ReadServerHello succeeded without keys")
		}
		if h, err := ParseClientHelloPayload(data); err == nil {
			if b := h.Append(nil); !bytes.Equal(b, data) {
				t.Fatalf("ClientHello re-encodes as %x, want %x", b, data)
			}
		}
		if h, err := ParseServerHelloPayload(data); err == nil {
			if b := h.Append(nil); !bytes.Equal(b, data) {
				t.Fatalf("ServerHello re-encodes as %x, want %x", b, data)
			}
		}
	})
}

// FuzzOpen feeds arbitrary packets to header-protection removal and
// decryption, for both an Initial Opener and 1-RTT AppKeys.
func FuzzOpen(f *testing.F) {
	k, _ := NewAppKeys(AES128GCM, testSecret(1), testSecret(1))
	f.Add(buildShort(f, k, 7, []byte("a 1-RTT packet")), 9)
	serverKey := testKey(f, 41)
	seal, _ := NewInitialKeys(serverKey.Public(), testDCID, true)
	initial := buildInitial(f, seal, testDCID, testDCID, nil, 0, cryptoFrame([]byte("hello")), 0)
	h, _ := parseLongHeader(initial)
	f.Add(initial, h.pnOffset)
	f.Add([]byte{}, 0)
	f.Add(make([]byte, 30), 9)
	f.Add(make([]byte, 64), int(^uint(0)>>1)-2)
	_, opener := NewInitialKeys(serverKey.Public(), testDCID, false)
	f.Fuzz(func(t *testing.T, packet []byte, pnOffset int) {
		p := append([]byte(nil), packet...)
		if pnLen, pn, _, err := opener.UnprotectHeader(p, pnOffset); err == nil {
			if pnLen < 1 || pnLen > 4 {
				t.Fatalf("pnLen = %d", pnLen)
			}
			opener.Open(p, pnOffset, pnLen, pn)
		}
		keys, _ := NewAppKeys(ChaCha20Poly1305, testSecret(1), testSecret(1))
		p = append(p[:0], packet...)
		if pnLen, pn, byte0, err := keys.UnprotectHeader(p, pnOffset); err == nil {
			keys.Open(p, pnOffset, pnLen, pn, byte0&0x04 != 0, testNow, testPTO)
		}
	})
}
