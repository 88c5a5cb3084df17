package qsend

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
)

// The key probe lets a sender learn a receiver's public key before the
// limpet handshake, which (being Noise IK) needs that key up front. It is
// what makes trust on first use possible, and it turns two failures that
// would otherwise both look like a handshake timeout into clear messages: a
// receiver that announces another key than the pinned one, and a host that
// does not answer at all.
//
// The answer is not authenticated (no more than ssh's first host key is);
// the handshake that follows proves the key. Probes share the receiver's UDP
// port: their first byte has the fixed bit clear, which no limpet packet
// ever has (docs/PROTOCOL.md section 2), so the receiver's Bind can take
// them out before the transport sees them.
//
//	Probe {0x00, "qsend key?", Nonce (128), Padding to 64 bytes}
//	Answer {0x00, "qsend key=", Nonce (128), Public Key (256)}
//
// The answer is shorter than the probe, so a spoofed probe cannot make a
// receiver amplify traffic towards a victim.
var (
	probeMagic  = []byte("\x00qsend key?")
	answerMagic = []byte("\x00qsend key=")
)

const (
	probeNonceLen = 16
	probeLen      = 64
	answerLen     = 11 + probeNonceLen + crypto.KeyLen
)

// probeAnswerRate bounds the answers a receiver sends per second.
const probeAnswerRate = 100

// probeBind wraps a receiver's Bind: it answers key probes with key and
// hands every other datagram to the transport.
type probeBind struct {
	transport.Bind
	key crypto.PublicKey

	mu      sync.Mutex
	allowed float64
	last    time.Time
}

func newProbeBind(b transport.Bind, key crypto.PublicKey) *probeBind {
	return &probeBind{Bind: b, key: key, allowed: probeAnswerRate}
}

// ReadBatch reads datagrams, answers and removes the probes among them, and
// returns the rest; it reads again if nothing else is left.
func (b *probeBind) ReadBatch(dgrams []transport.Datagram) (int, error) {
	for {
		n, err := b.Bind.ReadBatch(dgrams)
		if err != nil {
			return n, err
		}
		kept := 0
		for i := 0; i < n; i++ {
			if b.isProbe(&dgrams[i]) {
				b.answer(dgrams[i].Data(), dgrams[i].Addr)
				continue
			}
			if kept != i {
				// The caller owns each entry's buffer, so move bytes, not
				// buffers.
				dst, src := &dgrams[kept], &dgrams[i]
				dst.N = copy(dst.Buf, src.Data())
				dst.Addr = src.Addr
				dst.SegmentSize = src.SegmentSize
			}
			kept++
		}
		if kept > 0 {
			return kept, nil
		}
	}
}

func (b *probeBind) isProbe(d *transport.Datagram) bool {
	return d.SegmentSize == 0 && d.N == probeLen && bytes.HasPrefix(d.Data(), probeMagic)
}

func (b *probeBind) answer(probe []byte, to netip.AddrPort) {
	if !b.allow(time.Now()) {
		return
	}
	msg := make([]byte, 0, answerLen)
	msg = append(msg, answerMagic...)
	msg = append(msg, probe[len(probeMagic):len(probeMagic)+probeNonceLen]...)
	msg = append(msg, b.key[:]...)
	b.Bind.WriteBatch([]transport.Datagram{{Buf: msg, N: len(msg), Addr: to}})
}

func (b *probeBind) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.allowed = min(probeAnswerRate, b.allowed+now.Sub(b.last).Seconds()*probeAnswerRate)
	}
	b.last = now
	if b.allowed < 1 {
		return false
	}
	b.allowed--
	return true
}

// errNoAnswer and errRefused are why a probe failed.
var (
	errNoAnswer = errors.New("no answer")
	errRefused  = errors.New("connection refused")
)

// probeKey asks the receiver at addr for its public key, retrying with
// backoff until ctx ends. It returns the key and the address it answered
// from, which the caller dials so that both use one DNS answer.
func probeKey(ctx context.Context, addr string) (crypto.PublicKey, netip.AddrPort, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return crypto.PublicKey{}, netip.AddrPort{}, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()

	probe := make([]byte, probeLen)
	copy(probe, probeMagic)
	nonce := probe[len(probeMagic) : len(probeMagic)+probeNonceLen]
	rand.Read(nonce)
	buf := make([]byte, 256)
	wait := 100 * time.Millisecond
	for {
		if _, err := c.Write(probe); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			return crypto.PublicKey{}, netip.AddrPort{}, err
		}
		resend := time.Now().Add(wait)
		wait = min(2*wait, time.Second)
		if dl, ok := ctx.Deadline(); ok && dl.Before(resend) {
			resend = dl
		}
		c.SetReadDeadline(resend)
		for {
			n, err := c.Read(buf)
			if errors.Is(ctx.Err(), context.Canceled) {
				return crypto.PublicKey{}, netip.AddrPort{}, ctx.Err()
			}
			if dl, ok := ctx.Deadline(); ctx.Err() != nil || (ok && !time.Now().Before(dl)) {
				return crypto.PublicKey{}, netip.AddrPort{}, errNoAnswer
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				return crypto.PublicKey{}, netip.AddrPort{}, errRefused
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break // resend
			}
			if err != nil {
				return crypto.PublicKey{}, netip.AddrPort{}, err
			}
			msg := buf[:n]
			if n != answerLen || !bytes.HasPrefix(msg, answerMagic) || !bytes.Equal(msg[len(answerMagic):len(answerMagic)+probeNonceLen], nonce) {
				continue // not our answer
			}
			var key crypto.PublicKey
			copy(key[:], msg[len(answerMagic)+probeNonceLen:])
			if key.IsZero() {
				return crypto.PublicKey{}, netip.AddrPort{}, fmt.Errorf("receiver announced the all-zero key")
			}
			ap := c.RemoteAddr().(*net.UDPAddr).AddrPort()
			return key, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
		}
	}
}
