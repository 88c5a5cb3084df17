// Package transport is limpet's connection layer and public API: the only
// package that owns sockets, goroutines and timers.
//
// A Listener accepts connections on one UDP socket; Dial opens one. Each Conn
// carries any number of streams, each of which is a net.Conn:
//
//	ln, _ := transport.Listen("198.18.0.1:4433", &transport.Config{PrivateKey: serverKey})
//	conn, _ := ln.Accept(ctx)
//	s, _ := conn.AcceptStream(ctx)
//	io.Copy(dst, s)
//
//	conn, _ := transport.Dial(ctx, "198.18.0.1:4433", &transport.Config{ServerKey: serverPub})
//	s, _ := conn.OpenStream(ctx)
//	s.Write(data)
//	s.Close()                     // half-close: FIN after the data
//	s.WaitConsumed(ctx, len(data)) // the peer application has read it all
//
// Concurrency: one goroutine owns each connection's protocol state (its
// "loop"). Public methods post closures to the loop or touch only a stream's
// buffer under that stream's lock. The endpoint's reader goroutine
// demultiplexes datagrams to connections by destination connection ID.
//
// Forward error correction is opt-in (Config.FEC; docs/PROTOCOL.md section
// 10): on a path with random loss, the receiver rebuilds lost packets from
// Reed-Solomon repair packets instead of waiting a round trip for their
// retransmission.
//
// Limitations: no 0-RTT; no version negotiation.
package transport
