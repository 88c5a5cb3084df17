package crypto

import (
	"errors"
	"fmt"
	"time"
)

// DefaultKeyUpdateThreshold is the number of packets an endpoint seals with
// one 1-RTT key before ShouldUpdate asks for a key update: 2^20, an eighth of
// AES-128-GCM's confidentiality limit of 2^23 packets (RFC 9001 section
// 6.6), which leaves room for the update to wait for an acknowledgement. At
// 100,000 packets per second that is an update every ten seconds or so.
const DefaultKeyUpdateThreshold = 1 << 20

// prevKeysLifetimePTOs is how many probe timeouts an endpoint keeps the
// previous receive keys after it first opens a packet with new keys (RFC 9001
// section 6.5).
const prevKeysLifetimePTOs = 3

var (
	// ErrAEADLimitReached reports that a key has sealed as many packets as
	// its AEAD's confidentiality limit allows, or that the connection has
	// seen more forged packets than the integrity limit allows (RFC 9001
	// section 6.6). The connection must be closed with AEAD_LIMIT_REACHED.
	ErrAEADLimitReached = errors.New("crypto: AEAD usage limit reached")
	// ErrKeyUpdateNotAllowed reports an attempt to start a key update before
	// the peer acknowledged a packet sealed with the current keys (RFC 9001
	// section 6.1).
	ErrKeyUpdateNotAllowed = errors.New("crypto: key update not allowed before a packet of the current key phase is acknowledged")
	// ErrKeyUpdate reports a peer that updated its keys again before it
	// could have seen an acknowledgement for the current key phase. The
	// connection must be closed with KEY_UPDATE_ERROR.
	ErrKeyUpdate = errors.New("crypto: peer updated keys too quickly")
	// ErrKeysDiscarded reports a packet from the previous key phase that
	// arrived after the previous keys were discarded (or before there were
	// any). No decryption was attempted; the packet is dropped.
	ErrKeysDiscarded = errors.New("crypto: keys for this key phase were discarded")
)

// AppKeys protects 1-RTT packets and runs the key schedule of
// docs/PROTOCOL.md section 4.6: the current send and receive keys, the next
// receive keys (precomputed so that a key update costs the receiver no more
// time than any other packet, RFC 9001 section 9.5), and the previous receive
// keys, kept for three probe timeouts after an update to open reordered
// packets. Header-protection keys never change.
//
// Both directions always share one key phase: an endpoint that initiates an
// update moves its receive keys too, and an endpoint that sees its peer
// update moves its send keys.
//
// The caller must not initiate a key update before the handshake is
// confirmed. AppKeys is not safe for concurrent use; it belongs to the
// goroutine that owns the connection.
type AppKeys struct {
	suite Suite
	// gen is the current key generation of both directions; the key phase
	// bit is its low bit.
	gen uint64

	// Sending.
	sendSecret []byte
	send       *packetAEAD
	sendHP     headerProtector
	// sealed counts packets sealed with the current send key.
	sealed uint64
	// firstSent is the first packet number sealed in the current phase,
	// valid when sentInPhase.
	firstSent   uint64
	sentInPhase bool
	// ackedInPhase records that the peer acknowledged a packet sealed in the
	// current phase, which allows the next key update.
	ackedInPhase         bool
	updateThreshold      uint64
	confidentialityLimit uint64

	// Receiving.
	recvNextSecret []byte // secret of recvNext
	recvHP         headerProtector
	recvCurrent    *packetAEAD
	recvNext       *packetAEAD
	recvPrev       *packetAEAD // nil when discarded
	// prevExpiry is when recvPrev is discarded; zero until the first packet
	// of the current phase opens.
	prevExpiry time.Time
	// largestOpened is the largest packet number opened in the current
	// phase, valid when openedInPhase.
	largestOpened  uint64
	openedInPhase  bool
	failedOpens    uint64
	integrityLimit uint64
}

// NewAppKeys returns 1-RTT keys in key phase 0 from the two application
// traffic secrets of a handshake. HandshakeResult carries ready-made
// AppKeys; NewAppKeys exists for tests that play a peer.
func NewAppKeys(suite Suite, sendSecret, recvSecret []byte) (*AppKeys, error) {
	if !suite.Known() {
		return nil, fmt.Errorf("%w: %v", ErrUnknownSuite, suite)
	}
	k := &AppKeys{
		suite:                suite,
		sendSecret:           clone(sendSecret),
		sendHP:               newHeaderProtector(suite, ExpandLabel(sendSecret, "hp", suite.keyLen())),
		recvHP:               newHeaderProtector(suite, ExpandLabel(recvSecret, "hp", suite.keyLen())),
		updateThreshold:      DefaultKeyUpdateThreshold,
		confidentialityLimit: suite.confidentialityLimit(),
		integrityLimit:       suite.integrityLimit(),
	}
	var err error
	if k.send, err = newPacketAEAD(suite, sendSecret); err != nil {
		return nil, err
	}
	if k.recvCurrent, err = newPacketAEAD(suite, recvSecret); err != nil {
		return nil, err
	}
	k.recvNextSecret = nextSecret(recvSecret)
	if k.recvNext, err = newPacketAEAD(suite, k.recvNextSecret); err != nil {
		return nil, err
	}
	return k, nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// nextSecret is secret_{n+1} = Expand-Label(secret_n, "ku", 32).
func nextSecret(secret []byte) []byte { return ExpandLabel(secret, "ku", 32) }

// Suite returns the negotiated suite.
func (k *AppKeys) Suite() Suite { return k.suite }

// KeyPhase returns the key phase bit that Seal writes into packets now.
func (k *AppKeys) KeyPhase() bool { return k.gen&1 == 1 }

// Generation returns how many key updates the connection has gone through.
func (k *AppKeys) Generation() uint64 { return k.gen }

// SetUpdateThreshold sets how many packets may be sealed with one key before
// ShouldUpdate reports true. Zero restores DefaultKeyUpdateThreshold. A
// threshold at or above the suite's confidentiality limit makes Seal fail
// with ErrAEADLimitReached before any update is requested, so keep it lower.
func (k *AppKeys) SetUpdateThreshold(packets uint64) {
	if packets == 0 {
		packets = DefaultKeyUpdateThreshold
	}
	k.updateThreshold = packets
}

// Seal protects a short-header packet in place, like Sealer.Seal, after
// setting the Key Phase bit of packet[0] to the current phase (so the caller
// need not). It fails with ErrAEADLimitReached once the current key has
// sealed the suite's confidentiality limit of packets; the caller avoids that
// by updating keys when ShouldUpdate says so. It does not allocate.
func (k *AppKeys) Seal(packet []byte, pnOffset, pnLen int, pn uint64) ([]byte, error) {
	checkSealArgs(packet, pnOffset, pnLen)
	if k.sealed >= k.confidentialityLimit {
		return nil, ErrAEADLimitReached
	}
	if packet[0]&longHeaderFormBit == 0 {
		if k.KeyPhase() {
			packet[0] |= shortHeaderKeyPhaseBit
		} else {
			packet[0] &^= shortHeaderKeyPhaseBit
		}
	}
	packet = k.send.seal(packet, pnOffset, pnLen, pn)
	k.sendHP.protect(packet, pnOffset, pnLen)
	k.sealed++
	if !k.sentInPhase {
		k.sentInPhase = true
		k.firstSent = pn
	}
	return packet, nil
}

// OnAcked tells AppKeys that the peer acknowledged packet number pn. Once a
// packet sealed in the current key phase is acknowledged, the peer has the
// current keys and the next key update is allowed.
func (k *AppKeys) OnAcked(pn uint64) {
	if k.sentInPhase && pn >= k.firstSent {
		k.ackedInPhase = true
	}
}

// CanUpdate reports whether InitiateKeyUpdate would succeed.
func (k *AppKeys) CanUpdate() bool { return k.ackedInPhase }

// ShouldUpdate reports whether the current send key has sealed at least the
// update threshold of packets and an update is allowed. The transport checks
// it before sealing and calls InitiateKeyUpdate.
func (k *AppKeys) ShouldUpdate() bool {
	return k.ackedInPhase && k.sealed >= k.updateThreshold
}

// InitiateKeyUpdate moves both directions to the next key generation and
// flips the key phase (RFC 9001 section 6.1). The previous receive keys stay
// until three PTOs after the first packet opens with the new keys. It fails
// with ErrKeyUpdateNotAllowed until a packet sealed in the current phase has
// been acknowledged (see OnAcked).
func (k *AppKeys) InitiateKeyUpdate() error {
	if !k.ackedInPhase {
		return ErrKeyUpdateNotAllowed
	}
	k.rollKeys()
	return nil
}

// rollKeys moves both directions to the next generation.
func (k *AppKeys) rollKeys() {
	k.gen++

	k.sendSecret = nextSecret(k.sendSecret)
	send, err := newPacketAEAD(k.suite, k.sendSecret)
	if err != nil {
		panic("crypto: key update: " + err.Error())
	}
	k.send = send
	k.sealed = 0
	k.sentInPhase = false
	k.ackedInPhase = false

	k.recvPrev = k.recvCurrent
	k.prevExpiry = time.Time{}
	k.recvCurrent = k.recvNext
	k.recvNextSecret = nextSecret(k.recvNextSecret)
	if k.recvNext, err = newPacketAEAD(k.suite, k.recvNextSecret); err != nil {
		panic("crypto: key update: " + err.Error())
	}
	k.openedInPhase = false
}

// UnprotectHeader removes header protection from a short-header packet, as
// Opener.UnprotectHeader does; the caller reads the key phase from byte0 and
// passes it to Open.
func (k *AppKeys) UnprotectHeader(packet []byte, pnOffset int) (pnLen int, truncatedPN uint64, byte0 byte, err error) {
	return k.recvHP.unprotect(packet, pnOffset)
}

// Open authenticates and decrypts, in place, a packet whose header
// protection UnprotectHeader removed; pn is the reconstructed full packet
// number and keyPhase the Key Phase bit of the clear first byte.
//
// A packet in the current phase opens with the current keys. A packet in the
// other phase is either a reordered packet from before the last update (its
// packet number is below the largest opened in the current phase, or no
// packet of the current phase has opened yet after an update we initiated)
// and opens with the previous keys, or the start of a key update by the peer
// (RFC 9001 section 6.2): it opens with the next keys, and on success both
// directions move to them. now and pto set when the previous keys are
// discarded: three PTOs after the first packet of a new phase opens.
//
// Errors: ErrDecrypt for a packet that fails authentication (counted toward
// the integrity limit), ErrAEADLimitReached once that limit is exceeded,
// ErrKeysDiscarded for an old-phase packet without previous keys,
// ErrKeyUpdate for a peer that updated again too soon, ErrPacketTooShort.
// Open does not allocate except when the peer starts a key update.
func (k *AppKeys) Open(packet []byte, pnOffset, pnLen int, pn uint64, keyPhase bool, now time.Time, pto time.Duration) ([]byte, error) {
	if k.failedOpens > k.integrityLimit {
		return nil, ErrAEADLimitReached
	}
	k.DiscardExpiredKeys(now)
	if keyPhase == k.KeyPhase() {
		payload, err := k.recvCurrent.open(packet, pnOffset, pnLen, pn)
		if err != nil {
			return nil, k.openFailed(err)
		}
		k.noteOpened(pn, now, pto)
		return payload, nil
	}
	if k.gen > 0 && (!k.openedInPhase || pn < k.largestOpened) {
		if k.recvPrev == nil {
			return nil, ErrKeysDiscarded
		}
		payload, err := k.recvPrev.open(packet, pnOffset, pnLen, pn)
		if err != nil {
			return nil, k.openFailed(err)
		}
		return payload, nil
	}
	payload, err := k.recvNext.open(packet, pnOffset, pnLen, pn)
	if err != nil {
		return nil, k.openFailed(err)
	}
	// The peer updated. It may do so only after we acknowledged one of its
	// packets of the current phase, and such an acknowledgement travels in
	// a packet we sealed in the current phase.
	if !k.sentInPhase {
		return nil, ErrKeyUpdate
	}
	k.rollKeys()
	k.noteOpened(pn, now, pto)
	return payload, nil
}

func (k *AppKeys) openFailed(err error) error {
	if !errors.Is(err, ErrDecrypt) {
		return err
	}
	k.failedOpens++
	if k.failedOpens > k.integrityLimit {
		return ErrAEADLimitReached
	}
	return err
}

// noteOpened records a packet opened with the current keys and, for the
// first one of a phase, starts the previous keys' countdown.
func (k *AppKeys) noteOpened(pn uint64, now time.Time, pto time.Duration) {
	if !k.openedInPhase {
		k.openedInPhase = true
		k.largestOpened = pn
		if k.recvPrev != nil && k.prevExpiry.IsZero() {
			k.prevExpiry = now.Add(prevKeysLifetimePTOs * pto)
		}
		return
	}
	k.largestOpened = max(k.largestOpened, pn)
}

// PreviousKeysExpiry returns when the previous receive keys will be
// discarded, or the zero time if there are none or their countdown has not
// started. The transport may arm a timer for it, though Open also discards
// expired keys itself.
func (k *AppKeys) PreviousKeysExpiry() time.Time {
	if k.recvPrev == nil {
		return time.Time{}
	}
	return k.prevExpiry
}

// DiscardExpiredKeys drops the previous receive keys if their time is up.
func (k *AppKeys) DiscardExpiredKeys(now time.Time) {
	if k.recvPrev != nil && !k.prevExpiry.IsZero() && !now.Before(k.prevExpiry) {
		k.recvPrev = nil
		k.prevExpiry = time.Time{}
	}
}

// FailedOpens returns how many packets failed authentication so far, the
// count the integrity limit applies to.
func (k *AppKeys) FailedOpens() uint64 { return k.failedOpens }
