// Package session carries streams across connections: a Session is a set
// of streams that outlives the connection under it. When the connection
// dies (the idle timeout after a long outage, a stateless reset, an
// address change, either end closing it), the client dials again by itself
// and every stream carries on at exactly the byte the peer application
// had read: nothing lost, nothing delivered twice. The program sees reads
// that wait and writes that buffer, not errors.
//
//	ln, _ := session.Listen("198.18.0.1:4433", &transport.Config{PrivateKey: serverKey}, nil)
//	s, _ := ln.Accept(ctx)
//	st, _ := s.AcceptStream(ctx)
//	io.Copy(dst, st)
//
//	s, _ := session.Dial(ctx, "198.18.0.1:4433", &transport.Config{ServerKey: serverPub}, nil)
//	st, _ := s.OpenStream(ctx)
//	st.Write(data)
//	st.CloseWrite()
//	st.WaitConsumed(ctx, int64(len(data))) // read by the peer application, whatever happened
//
// A session is resumed only by the client key that opened it, with a
// proof bound to the new connection (docs/PROTOCOL.md section 13). The
// server keeps a session whose connection ended for Config.Lifetime,
// within Config.MaxSuspended and MaxSuspendedBytes. When a session cannot
// be resumed (the server restarted or forgot it, or the lifetime passed),
// it ends with a *LostError listing how far every stream got, so that the
// program can carry on by itself.
//
// Each end keeps the data written until the peer application reads it,
// up to Config.MaxBuffered per session. Close on a session drops what the
// peer has not read, so wait for it with WaitConsumed first.
//
// Limitations: session streams are bidirectional only; a session closed
// while no connection carries it ends only at this end (the server
// forgets it when its lifetime passes); a Listener's suspended-session
// limits are shared by all client keys, so one key can fill them
// (admit known keys with transport.Config.AllowedClientKeys).
package session
