package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

// appKeyPair returns matching client and server AppKeys in phase 0.
func appKeyPair(t *testing.T, suite Suite) (client, server *AppKeys) {
	t.Helper()
	c, err := NewAppKeys(suite, testSecret(0xc1), testSecret(0x5e))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewAppKeys(suite, testSecret(0x5e), testSecret(0xc1))
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

// mustOpen opens packet and checks the payload and the key phase the sender
// wrote.
func mustOpen(t *testing.T, k *AppKeys, packet []byte, now time.Time, wantPayload string) {
	t.Helper()
	got, err := openShort(k, packet, now)
	if err != nil {
		t.Fatalf("open %q: %v", wantPayload, err)
	}
	if string(got) != wantPayload {
		t.Fatalf("opened %q, want %q", got, wantPayload)
	}
}

// keyPhaseOf returns the key phase bit of a protected packet, as the
// receiver sees it after removing header protection.
func keyPhaseOf(t *testing.T, k *AppKeys, packet []byte) bool {
	t.Helper()
	p := append([]byte(nil), packet...)
	_, _, byte0, err := k.UnprotectHeader(p, 1+shortHeaderDCIDLen)
	if err != nil {
		t.Fatal(err)
	}
	return byte0&0x04 != 0
}

func TestKeyUpdateBothDirections(t *testing.T) {
	for _, suite := range []Suite{AES128GCM, ChaCha20Poly1305} {
		t.Run(suite.String(), func(t *testing.T) {
			client, server := appKeyPair(t, suite)
			now := testNow
			expiry := 3 * testPTO

			// Phase 0 traffic both ways.
			c0 := buildShort(t, client, 0, []byte("c0"))
			c1 := buildShort(t, client, 1, []byte("c1 (delivered late)"))
			s0 := buildShort(t, server, 0, []byte("s0"))
			s1 := buildShort(t, server, 1, []byte("s1 (delivered late)"))
			mustOpen(t, server, c0, now, "c0")
			mustOpen(t, client, s0, now, "s0")

			if err := client.InitiateKeyUpdate(); !errors.Is(err, ErrKeyUpdateNotAllowed) {
				t.Fatalf("InitiateKeyUpdate before any ack: error = %v, want ErrKeyUpdateNotAllowed", err)
			}
			client.OnAcked(0)
			if err := client.InitiateKeyUpdate(); err != nil {
				t.Fatalf("InitiateKeyUpdate after an ack: %v", err)
			}
			if !client.KeyPhase() || client.Generation() != 1 {
				t.Fatalf("client phase %v generation %d, want true, 1", client.KeyPhase(), client.Generation())
			}
			if err := client.InitiateKeyUpdate(); !errors.Is(err, ErrKeyUpdateNotAllowed) {
				t.Fatalf("second InitiateKeyUpdate without a new ack: error = %v, want ErrKeyUpdateNotAllowed", err)
			}

			// The client initiated: its packets carry phase 1, the server
			// follows on the first one, and both directions switch.
			c2 := buildShort(t, client, 2, []byte("c2"))
			if !keyPhaseOf(t, server, c2) {
				t.Fatal("packet sealed after the update carries key phase 0")
			}
			mustOpen(t, server, c2, now, "c2")
			if !server.KeyPhase() || server.Generation() != 1 {
				t.Fatalf("server phase %v generation %d after the peer's update, want true, 1", server.KeyPhase(), server.Generation())
			}
			if got, want := server.PreviousKeysExpiry(), now.Add(expiry); !got.Equal(want) {
				t.Errorf("server PreviousKeysExpiry = %v, want %v", got, want)
			}

			// A reordered phase-0 packet still opens with the previous keys
			// on both sides. The client has not yet opened a phase-1
			// packet, so its previous keys have no expiry yet.
			mustOpen(t, server, c1, now.Add(expiry-time.Nanosecond), "c1 (delivered late)")
			if !client.PreviousKeysExpiry().IsZero() {
				t.Errorf("client PreviousKeysExpiry = %v before any phase-1 packet, want zero", client.PreviousKeysExpiry())
			}
			s2 := buildShort(t, server, 2, []byte("s2"))
			if !keyPhaseOf(t, client, s2) {
				t.Fatal("server's packet after following the update carries key phase 0")
			}
			mustOpen(t, client, s2, now, "s2")
			if got, want := client.PreviousKeysExpiry(), now.Add(expiry); !got.Equal(want) {
				t.Errorf("client PreviousKeysExpiry = %v, want %v", got, want)
			}

			// After three PTOs the previous keys are gone.
			late := now.Add(expiry)
			if _, err := openShort(client, s1, late); !errors.Is(err, ErrKeysDiscarded) {
				t.Errorf("phase-0 packet after the window: error = %v, want ErrKeysDiscarded", err)
			}
			if !client.PreviousKeysExpiry().IsZero() {
				t.Errorf("client PreviousKeysExpiry after discarding = %v, want zero", client.PreviousKeysExpiry())
			}
			server.DiscardExpiredKeys(late)
			if _, err := openShort(server, c1, late); !errors.Is(err, ErrKeysDiscarded) {
				t.Errorf("server: phase-0 packet after the window: error = %v, want ErrKeysDiscarded", err)
			}

			// Now the server initiates the next update (generation 2,
			// phase 0 again) once the client acknowledged one of its
			// phase-1 packets.
			server.OnAcked(1) // below its first phase-1 packet number: not enough
			if server.CanUpdate() {
				t.Fatal("server may update after an ack of an older-phase packet")
			}
			server.OnAcked(2)
			if err := server.InitiateKeyUpdate(); err != nil {
				t.Fatalf("server InitiateKeyUpdate: %v", err)
			}
			s3 := buildShort(t, server, 3, []byte("s3"))
			mustOpen(t, client, s3, late, "s3")
			if client.KeyPhase() || client.Generation() != 2 {
				t.Errorf("client phase %v generation %d after the server's update, want false, 2", client.KeyPhase(), client.Generation())
			}
			c3 := buildShort(t, client, 3, []byte("c3"))
			mustOpen(t, server, c3, late, "c3")
			if client.FailedOpens() != 0 || server.FailedOpens() != 0 {
				t.Errorf("FailedOpens = %d (client), %d (server); want 0", client.FailedOpens(), server.FailedOpens())
			}
		})
	}
}

// TestHeaderProtectionKeyNeverChanges: a key update replaces packet keys but
// not header-protection keys (RFC 9001 section 6).
func TestHeaderProtectionKeyNeverChanges(t *testing.T) {
	client, server := appKeyPair(t, AES128GCM)
	sample := bytes.Repeat([]byte{0x42}, SampleLen)
	client.sendHP.computeMask(sample)
	before := client.sendHP.mask
	buildShort(t, server, 0, []byte("the ack"))
	buildShort(t, client, 0, []byte("x"))
	client.OnAcked(0)
	if err := client.InitiateKeyUpdate(); err != nil {
		t.Fatal(err)
	}
	client.sendHP.computeMask(sample)
	if client.sendHP.mask != before {
		t.Errorf("header-protection mask changed across a key update: %x, then %x", before[:5], client.sendHP.mask[:5])
	}
	mustOpen(t, server, buildShort(t, client, 1, []byte("after")), testNow, "after")
}

func TestPeerUpdatingTooQuicklyIsAnError(t *testing.T) {
	client, server := appKeyPair(t, AES128GCM)
	mustOpen(t, client, buildShort(t, server, 0, []byte("s0")), testNow, "s0")
	mustOpen(t, server, buildShort(t, client, 0, []byte("c0")), testNow, "c0")
	server.OnAcked(0)
	if err := server.InitiateKeyUpdate(); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, client, buildShort(t, server, 1, []byte("s1")), testNow, "s1")
	// The client has sent nothing in phase 1, so it cannot have
	// acknowledged anything in phase 1; a misbehaving server updates again
	// anyway.
	server.OnAcked(1)
	if err := server.InitiateKeyUpdate(); err != nil {
		t.Fatal(err)
	}
	if _, err := openShort(client, buildShort(t, server, 2, []byte("s2")), testNow); !errors.Is(err, ErrKeyUpdate) {
		t.Errorf("second update before the client sent in the new phase: error = %v, want ErrKeyUpdate", err)
	}
	if client.Generation() != 1 {
		t.Errorf("client generation = %d, want 1 (the premature update is refused)", client.Generation())
	}
}

func TestShouldUpdate(t *testing.T) {
	client, _ := appKeyPair(t, ChaCha20Poly1305)
	client.SetUpdateThreshold(3)
	tests := []struct {
		desc string
		step func()
		want bool
	}{
		{"fresh keys", func() {}, false},
		{"two packets", func() { buildShort(t, client, 0, nil); buildShort(t, client, 1, nil) }, false},
		{"three packets, nothing acknowledged", func() { buildShort(t, client, 2, nil) }, false},
		{"acknowledged", func() { client.OnAcked(2) }, true},
		{"after the update", func() {
			if err := client.InitiateKeyUpdate(); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"three more packets and an ack", func() {
			for pn := uint64(3); pn < 6; pn++ {
				buildShort(t, client, pn, nil)
			}
			client.OnAcked(3)
		}, true},
	}
	for _, tt := range tests {
		tt.step()
		if got := client.ShouldUpdate(); got != tt.want {
			t.Errorf("%s: ShouldUpdate = %v, want %v", tt.desc, got, tt.want)
		}
	}
	if client.SetUpdateThreshold(0); client.updateThreshold != DefaultKeyUpdateThreshold {
		t.Errorf("SetUpdateThreshold(0) left %d, want %d", client.updateThreshold, DefaultKeyUpdateThreshold)
	}
}

func TestConfidentialityLimit(t *testing.T) {
	client, server := appKeyPair(t, AES128GCM)
	if client.confidentialityLimit != 1<<23 {
		t.Fatalf("AES-128-GCM confidentiality limit = %d, want 2^23", client.confidentialityLimit)
	}
	client.confidentialityLimit = 2
	buildShort(t, client, 0, nil)
	buildShort(t, client, 1, nil)
	p := make([]byte, 40, 64)
	p[0] = 0x41
	if _, err := client.Seal(p, 9, 2, 2); !errors.Is(err, ErrAEADLimitReached) {
		t.Fatalf("third Seal past a limit of 2: error = %v, want ErrAEADLimitReached", err)
	}
	// A key update resets the count.
	mustOpen(t, client, buildShort(t, server, 0, []byte("ack")), testNow, "ack")
	client.OnAcked(1)
	if err := client.InitiateKeyUpdate(); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, server, buildShort(t, client, 2, []byte("new key")), testNow, "new key")
}

func TestIntegrityLimit(t *testing.T) {
	for _, tt := range []struct {
		suite Suite
		limit uint64
	}{{AES128GCM, 1 << 52}, {ChaCha20Poly1305, 1 << 36}} {
		client, server := appKeyPair(t, tt.suite)
		if server.integrityLimit != tt.limit {
			t.Errorf("%v integrity limit = %d, want %d", tt.suite, server.integrityLimit, tt.limit)
		}
		server.integrityLimit = 2
		genuine := buildShort(t, client, 0, []byte("genuine"))
		for i := range 3 {
			forged := append([]byte(nil), genuine...)
			forged[len(forged)-1] ^= 1
			want := ErrDecrypt
			if i == 2 {
				want = ErrAEADLimitReached
			}
			if _, err := openShort(server, forged, testNow); !errors.Is(err, want) {
				t.Errorf("%v: forgery %d: error = %v, want %v", tt.suite, i+1, err, want)
			}
		}
		if _, err := openShort(server, genuine, testNow); !errors.Is(err, ErrAEADLimitReached) {
			t.Errorf("%v: genuine packet past the limit: error = %v, want ErrAEADLimitReached", tt.suite, err)
		}
		if got := server.FailedOpens(); got != 3 {
			t.Errorf("%v: FailedOpens = %d, want 3", tt.suite, got)
		}
	}
}

func TestOldPhaseWithoutPreviousKeys(t *testing.T) {
	client, server := appKeyPair(t, AES128GCM)
	// Nothing has been updated yet: a phase-1 packet numbered below one
	// already opened cannot be a key update, and there are no previous
	// keys, so it is tried as the next phase and fails authentication.
	mustOpen(t, server, buildShort(t, client, 5, []byte("c5")), testNow, "c5")
	forged := buildShort(t, client, 3, []byte("c3"))
	p := append([]byte(nil), forged...)
	_, _, _, err := server.UnprotectHeader(p, 1+shortHeaderDCIDLen)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Open(p, 1+shortHeaderDCIDLen, 2, 3, true, testNow, testPTO); !errors.Is(err, ErrDecrypt) {
		t.Errorf("phase-1 packet with a low number before any update: error = %v, want ErrDecrypt", err)
	}
	if server.Generation() != 0 {
		t.Errorf("generation = %d, want 0", server.Generation())
	}
}

func ExampleAppKeys_InitiateKeyUpdate() {
	client, _ := NewAppKeys(AES128GCM, bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	fmt.Println(client.InitiateKeyUpdate())
	// Output: crypto: key update not allowed before a packet of the current key phase is acknowledged
}
