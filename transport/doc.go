// Package transport is limpet's connection layer and public API: the only
// package that owns sockets, goroutines and timers.
//
// An Endpoint is one UDP socket that dials and, given a configuration with
// a PrivateKey, accepts any number of connections; Listen makes one that
// accepts, and Dial opens a connection on a socket of its own. Each Conn
// carries any number of streams, each of which is a net.Conn (see Example
// for the whole program):
//
//	ln, _ := transport.Listen("198.18.0.1:4433", &transport.Config{PrivateKey: serverKey})
//	conn, _ := ln.Accept(ctx)
//	s, _ := conn.AcceptStream(ctx)
//	io.Copy(dst, s)
//
//	conn, _ := transport.Dial(ctx, "198.18.0.1:4433", &transport.Config{ServerKey: serverPub})
//	s, _ := conn.OpenStream(ctx)
//	s.Write(data)
//	s.CloseWrite()                        // FIN after the data; Close also stops reading
//	s.WaitConsumed(ctx, int64(len(data))) // the peer application has read it all
//
// A stream reaches the peer's AcceptStream with its first data, its FIN,
// or a Flush. Close, on a stream or a connection, returns at once and
// releases every call blocked on it; what the protocol still owes the peer
// (the FIN of written data, a closing period that answers late packets)
// runs on in the background.
//
// Errors: errors.go lists every error and how to match it (errors.Is and
// errors.As). Timeouts are net.Errors with Timeout true, use after a local
// close matches net.ErrClosed, and a stream's Write, Close and WaitConsumed
// report a *DeliveryError saying how far the data got.
//
// Concurrency: one goroutine owns each connection's protocol state (its
// "loop"). Public methods post closures to the loop or touch only a stream's
// buffer under that stream's lock. The endpoint's reader goroutine routes
// datagrams to connections by destination connection ID; new clients'
// handshakes run on a small pool of workers.
//
// Forward error correction is adaptive by default (Config.FEC;
// docs/PROTOCOL.md section 10): on a path with random loss, the receiver
// rebuilds lost packets from Reed-Solomon repair packets instead of waiting
// a round trip for their retransmission.
//
// A Conn ends when its path is gone for longer than the idle timeout;
// package transport/session carries streams across connections, resuming
// each at the byte the peer application had read.
//
// Limitations: no 0-RTT; no version negotiation; a connection dialled from
// a shared Endpoint cannot move to another socket (Conn.Migrate).
package transport
