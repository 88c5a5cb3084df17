// Package wire is qsend's application protocol on top of limpet streams:
// the messages a sender and a receiver exchange, their byte encoding, and
// the validation of every path a sender names.
//
// Everything a receiver parses here comes from a peer it has only
// authenticated, not trusted, so every parser takes untrusted bytes, checks
// hard caps before it allocates, and returns an error value rather than
// panicking. Encoders append to a caller's buffer.
//
// # Connection
//
// The sender dials the receiver with limpet (the receiver is the server and
// holds the key the sender pins). Before that it may ask for the key with a
// probe datagram on the same UDP port (trust on first use; see key_probe.go
// in package qsend). The first bidirectional stream the sender opens is the
// control stream; every later one carries one file.
//
// # Framing
//
// Every message is a frame:
//
//	Frame {
//	  Type (8),
//	  Length (uv),          body length, at most the type's cap
//	  Body (..),
//	}
//
// where (uv) is an unsigned LEB128 varint (encoding/binary's Uvarint). A
// frame of an unexpected type, or one longer than its cap, ends the
// session.
//
// # Control stream
//
//	sender   → Manifest     {Version (8) = 2, Entry Count (uv), Entry...}
//	receiver → ManifestReply {Status (8), Message Length (uv), Message,
//	                          Offset Count (uv), Offset (uv)...}
//	   ... file streams ...
//	sender   → Done         {} once every file has a result
//	receiver → DoneReply    {Status (8), Message Length (uv), Message}
//
//	Entry {
//	  Kind (8),             1 = directory, 2 = regular file
//	  Mode (16),            permission bits (at most 0o777)
//	  Modified (64),        Unix time in nanoseconds, two's complement
//	  Size (uv),            bytes; 0 for a directory
//	  Path Length (uv),
//	  Path (..),            relative, slash-separated (see ValidatePath)
//	}
//
// The manifest lists every directory and file of the transfer. The reply
// gives, for each file entry in manifest order, the offset the receiver can
// resume from: the length of the part it has durably written (fsync'd) in an
// earlier session, the file's size if a file of that size is already in
// place, or 0. Directory modes and times are applied after Done, deepest
// first, so that a read-only directory does not block the files inside it.
//
// # File streams
//
//	sender   → FileHeader {Index (uv), Offset (uv), Prefix Hash (256)}
//	sender   → Size − Offset bytes of file data
//	sender   → Trailer    {Hash (256)}
//	sender   → FIN
//	receiver → Result     {Status (8), Message Length (uv), Message}
//
// Index names a file entry of the manifest. Offset is either 0 or the offset
// the receiver offered; Prefix Hash is BLAKE3 (256-bit output) of the file's
// first Offset bytes, which the receiver compares with a fresh hash of what
// it has on disk (the partial is re-read, never trusted blindly). Hash is
// BLAKE3 of the whole file. (Version 1 used SHA-256; a receiver refuses a
// manifest of another version, naming both.) The receiver writes the data to a partial file, verifies
// the whole-file hash, fsyncs, sets the mode and time, renames the file into
// place and fsyncs its directory; only then does it answer StatusOK. The
// sender counts a file delivered only on that answer.
//
// A receiver answers StatusRestart when the prefix hashes differ (the
// sender's file changed, or the partial is damaged) and the sender sends the
// file again from offset 0 on a new stream. StatusFailed fails one file
// (for example permission denied); StatusAbort fails the session (for
// example no space left on the device), and the receiver then closes the
// connection.
package wire
