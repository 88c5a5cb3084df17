package transport

import (
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// handshakeState is the Noise IK handshake carried in Initial packets
// (docs/PROTOCOL.md section 4.5), and the Retry that may precede it
// (section 2.2). It is owned by the loop, except that a server's is filled
// in by acceptConn before the loop starts.
type handshakeState struct {
	initSeal *crypto.Sealer
	initOpen *crypto.Opener
	client   *crypto.ClientHandshake // client, until message 2 is read
	out      []byte                  // our handshake message (1 or 2), resent as needed

	resendAt  time.Time     // client: when message 1 goes out again
	backoff   time.Duration // client: the current retransmission interval
	resend    bool          // server: a copy of message 1 arrived; send message 2 again
	nextPN    packet.PacketNumber
	largestRx packet.PacketNumber // largest Initial packet number opened

	confirmed bool      // handshake confirmed (docs/PROTOCOL.md section 4.6)
	sendDone  bool      // server: HANDSHAKE_DONE due
	deadline  time.Time // the handshake must be confirmed by then

	// origDCID is the DCID of the client's first Initial. It seeds the
	// Initial keys and the handshake prologue unless a Retry intervened;
	// a Retry's integrity tag covers it, and a server that sent a Retry
	// echoes it in original_destination_connection_id.
	origDCID packet.ConnectionID
	// retried says the client followed a Retry, or the server accepted the
	// token of one; then retrySrcCID is that Retry's SCID, which the server
	// announces in retry_source_connection_id, and the client repeats
	// retryToken in every Initial.
	retried     bool
	retrySrcCID packet.ConnectionID
	retryToken  []byte

	// peerKey is the peer's authenticated static key, written once before
	// established is closed.
	peerKey crypto.PublicKey
}
