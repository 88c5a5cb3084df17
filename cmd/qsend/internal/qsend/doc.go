// Package qsend is the qsend command: key generation, the receiver, the
// sender, and the pieces they share (trust on first use, resume records,
// progress display, size parsing). The protocol itself is in package wire;
// cmd/qsend's main only calls Main.
//
// # Receiver
//
// Receive listens with limpet on one UDP port and answers key probes on the
// same port (see key_probe.go). Each accepted limpet session is a session,
// keyed by the sender's proven static key: a new session from the same key
// replaces a live one (the sender was restarted), and at most maxSessions
// run at once. A session reads the manifest, creates the directories,
// offers resume offsets from DIR/.qsend (partial.go), then receives each
// file on its own stream and goroutine: data to a partial file, fsync and
// a resume record every 16 MiB or second, whole-file hash check, mode and
// time, rename into place, directory fsync, and only then an OK. All file
// system access goes through an os.Root on DIR.
//
// # Sender
//
// Send walks its arguments into a manifest, learns or checks the
// receiver's key (pin, known_hosts, or first use), opens a limpet session
// (package transport/session), and sends files with a few workers, each
// file on its own stream. It hashes the prefix the receiver offers so the
// receiver can compare, then streams the rest and the whole-file hash, and
// counts a file only on the receiver's OK. When the connection is lost the
// session reconnects by itself and every stream carries on at the byte the
// receiver had read, for up to --outage; if the session itself is lost
// (the receiver restarted), delivery receipts (Stream.Consumed) say how
// much each file in flight had reached the receiver's application, and
// running the command again resumes.
//
// # Limitations
//
// Symbolic links, hard links, owners, extended attributes and ACLs are not
// transferred; setuid, setgid and sticky bits are dropped.
package qsend
