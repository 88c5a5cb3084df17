// Package pmtud is datagram packetization layer path MTU discovery
// (DPLPMTUD, RFC 8899, as RFC 9000 §14.3 applies it): for one path, the
// largest datagram that is known to arrive, probes that search for a larger
// one, and detection of a black hole that swallows datagrams of the size in
// use.
//
// A Searcher is sans-IO and owned by the connection's goroutine: the
// transport asks it whether a probe is due and of what size, tells it what
// became of probes (acknowledged, lost, refused by the local interface), and
// feeds it the fate of ordinary packets for black-hole detection. Sizes are
// UDP payload bytes. docs/PROTOCOL.md section 11 describes the search.
package pmtud
