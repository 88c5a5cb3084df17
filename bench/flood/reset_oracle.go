package flood

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport"
)

// The reset-oracle check (issue 17, item 6; docs/PROTOCOL.md sections 2.4
// and 4.7). Listeners A and B hold the same key. A client connects to A
// through a relay that plays the network between them, on which an
// attacker sees the connection's DCID. The attacker sends a short-header
// datagram with that DCID to B; B knows no such connection, and answers
// with a stateless reset if the datagram is long enough. The relay then
// delivers the reset to the client as if it came from A: if B's token is
// the one A gave the client, the client's connection dies.

// oracleTriggerLen is the size of the attacker's short-header datagram:
// longer than 43 bytes, so a reset may answer it (section 2.4).
const oracleTriggerLen = 200

// oracleWait bounds each wait of the check: for B's answer, for the
// client's connection to end.
const oracleWait = 2 * time.Second

func runResetOracle(ctx context.Context, env *attackEnv, ready func()) attackResult {
	r := attackResult{offered: "1 dgram"}
	ready()
	relay, err := newRelay(env.addr)
	if err != nil {
		r.err = err
		return r
	}
	defer relay.close()
	conn, err := transport.Dial(ctx, relay.front.LocalAddr().String(), &transport.Config{
		ServerKey: env.serverPub, PrivateKey: env.legitKey, HandshakeTimeout: 5 * time.Second,
	})
	if err != nil {
		r.err = fmt.Errorf("dialing listener A through the relay: %w", err)
		return r
	}
	defer conn.Close()
	s, err := conn.OpenStream(ctx)
	if err != nil {
		r.err = err
		return r
	}
	if err := echoCheck(s, true); err != nil {
		r.err = fmt.Errorf("echo before the check: %w", err)
		return r
	}
	if !waitFor(ctx, oracleWait, func() bool { return relay.dcid.Load() != nil }) {
		r.err = fmt.Errorf("the relay saw no short-header packet from the client")
		return r
	}
	dcid := *relay.dcid.Load()

	attacker, err := listenFrom(oracleAddr)
	if err != nil {
		r.err = err
		return r
	}
	defer attacker.Close()
	trigger := make([]byte, oracleTriggerLen)
	newRNG().Read(trigger)
	trigger[0] = 0x40 | trigger[0]&0x3f // short header, fixed bit
	copy(trigger[1:], dcid)
	attacker.WriteToUDPAddrPort(trigger, env.addrB)
	attacker.SetReadDeadline(time.Now().Add(oracleWait))
	buf := make([]byte, 2048)
	n, _, err := attacker.ReadFromUDPAddrPort(buf)
	if err != nil {
		r.note("not an oracle: listener B sent nothing in %v for a %d-byte short header carrying the DCID of a connection to A", oracleWait, oracleTriggerLen)
		return r
	}
	answer := buf[:n]
	derived := "does not end"
	if crypto.IsStatelessReset(answer, derivedResetToken(env.serverKey, dcid)) {
		derived = "ends"
	}

	relay.toClient(answer)
	select {
	case <-conn.Done():
		r.note("ORACLE: listener B answered a %d-byte short header carrying the DCID of a connection to A with %d bytes; relayed to the client as if from A, it ended the connection: %q",
			oracleTriggerLen, n, conn.Err().Error())
	case <-time.After(oracleWait):
		state := "still echoes"
		if err := echoCheck(s, false); err != nil {
			state = fmt.Sprintf("no longer echoes (%v)", err)
		}
		r.note("not an oracle: listener B answered a %d-byte short header carrying the DCID of a connection to A with %d bytes; relayed to the client as if from A, the connection survived and %s",
			oracleTriggerLen, n, state)
	}
	r.note("the answer %s with the token both listeners derive from their shared key for that DCID (docs/PROTOCOL.md section 9)", derived)
	return r
}

// echoCheck echoes 4 bytes on s, opening the echo mode first if open.
func echoCheck(s *transport.Stream, open bool) error {
	msg := []byte("ping")
	if open {
		msg = append([]byte{modeEcho}, msg...)
	}
	s.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Write(msg); err != nil {
		return err
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(s, got); err != nil {
		return err
	}
	if !bytes.Equal(got, []byte("ping")) {
		return fmt.Errorf("echo %q, want %q", got, "ping")
	}
	return nil
}

// derivedResetToken is the stateless reset token a limpet listener with
// key derives for cid (docs/PROTOCOL.md sections 4.7 and 9).
func derivedResetToken(key crypto.PrivateKey, cid []byte) [packet.StatelessResetTokenLen]byte {
	var secret [32]byte
	copy(secret[:], crypto.ExpandLabel(key[:], "stateless reset key", 32))
	return crypto.NewTokenProtector(secret).StatelessResetToken(cid)
}

// relay forwards datagrams between one client and a server, as the
// network between them would, and notes the DCID of the client's latest
// short-header packet, which anyone on the path can read.
type relay struct {
	front  *net.UDPConn // the client's side: the client dials its address
	back   *net.UDPConn // the server's side
	server netip.AddrPort
	client atomic.Pointer[netip.AddrPort]
	dcid   atomic.Pointer[[]byte]
}

func newRelay(server netip.AddrPort) (*relay, error) {
	front, err := listenFrom(oracleProxyAddr)
	if err != nil {
		return nil, err
	}
	back, err := listenFrom(oracleProxyAddr)
	if err != nil {
		front.Close()
		return nil, err
	}
	r := &relay{front: front, back: back, server: server}
	go r.fromClient()
	go r.fromServer()
	return r, nil
}

func (r *relay) fromClient() {
	buf := make([]byte, 65536)
	for {
		n, from, err := r.front.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		r.client.Store(&from)
		if n > packet.DefaultConnIDLen && buf[0]&0x80 == 0 {
			id := bytes.Clone(buf[1 : 1+packet.DefaultConnIDLen])
			r.dcid.Store(&id)
		}
		r.back.WriteToUDPAddrPort(buf[:n], r.server)
	}
}

func (r *relay) fromServer() {
	buf := make([]byte, 65536)
	for {
		n, _, err := r.back.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		r.toClient(buf[:n])
	}
}

// toClient sends b to the client from the server's side of the relay.
func (r *relay) toClient(b []byte) {
	if c := r.client.Load(); c != nil {
		r.front.WriteToUDPAddrPort(b, *c)
	}
}

func (r *relay) close() {
	r.front.Close()
	r.back.Close()
}
