// Command qsend copies files and directory trees over limpet, with
// end-to-end hashes, resume after interruption, and connections that
// survive NAT rebinding and address changes.
//
// Usage:
//
//	qsend keygen [-o FILE]
//	qsend recv [--listen ADDR] [--dir DIR] [--key FILE] [--once] [--allow KEY]... [--json]
//	qsend send [--pin KEY] [--key FILE] [--rate LIMIT] [--fec MODE] [--json] FILE|DIR... HOST:PORT
//
// A receiver prints one line on standard output, "listening on HOST:PORT
// key PUBKEY"; the sender pins that key with --pin, or trusts it on first
// use and records it in ~/.config/qsend/known_hosts. A file counts as sent
// only when the receiver has checked its BLAKE3 hash, fsync'd it and renamed it
// into place. If a transfer is interrupted, running the same send command
// again continues from what the receiver holds on disk, after both sides
// hash that prefix.
//
// The protocol is described in package
// github.com/limpetnet/limpet/cmd/qsend/internal/wire and the program in
// package github.com/limpetnet/limpet/cmd/qsend/internal/qsend. Run
// "qsend --help" and "qsend COMMAND --help" for every option and the exit
// statuses.
package main
