// Package bench measures limpet against TCP (CUBIC and BBR), TLS 1.3 over
// TCP and quic-go: goodput, completion and first-byte times, CPU cost,
// retransmissions, and what path changes do to a connection. It is the
// harness behind cmd/qbench.
//
// Every runner moves a given number of bytes from a client to a server over
// a Network: loopback inside this one process, or a path of the network lab
// (bench/netlab), where the client and server sockets live in namespaces
// joined by an emulated link with delay, a rate limit, a drop-tail queue,
// loss and reordering. The server reads and discards, counting. The clock
// starts just before the client dials, so connection set-up is included,
// and stops when the server has read the last byte. CPU time is the whole
// process's user+sys time over the same interval (getrusage with
// RUSAGE_SELF), so it counts client and server together, as the anchors in
// /work/shared/anchors.md do. quic-go runs as a client and a server child
// process built from the nested module bench/peers (so this module does not
// depend on it); its CPU time is theirs.
//
// RunMatrix runs a list of PathSpecs (FullMatrix: loopback; 100 Mbit/s at
// RTT 10, 50 and 200 ms with 0–3 % loss; bursty loss; reordering; one
// limpet and one TCP flow sharing the link; NAT rebinding, a client address
// change and a blackout, which RunDisruption drives with the same code for
// TCP and limpet; 1280- and 1420-byte path MTUs and jumbo frames; a path
// MTU that drops mid-transfer and rises again, with ICMP or as a black
// hole, also through RunDisruption; and a CoDel bottleneck that marks ECN,
// where TCP CUBIC runs with and without ECN), and FormatMatrixMarkdown
// renders the result. Each result carries what the sender knew about the
// path at the end (PathStats): limpet's datagram size and ECN state, TCP's
// segment size and ECN, and the queueing delay.
//
// # Usage
//
//	runners, _ := bench.ParseProtocols("tcp-cubic,tls,limpet")
//	results := bench.Compare(ctx, bench.Plan{Runners: runners, Size: 1 << 30, Reps: 3})
//	fmt.Print(bench.FormatMarkdown(bench.Summarize(results)))
//
// Compare alternates the protocols (tcp-cubic, tcp-bbr, tls, limpet, then
// again) so that slow drifts of a shared machine spread over all of them,
// and Summarize reports the median with its min–max spread, and ratios
// against TCP CUBIC and TLS measured in the same run. MB means 10^6 bytes.
//
// # Limitations
//
// Client and server share the machine's cores, so a protocol that burns CPU
// on one side slows the other. Loopback has no loss and microsecond round
// trips: these figures bound per-byte cost, not behaviour on real paths.
// TCP_CONGESTION needs Linux; on other systems the TCP rows report an error.
//
// The limpet runner lives in limpet.go. Building with the nolimpet tag
// replaces it with a stub (limpet_stub.go) that reports an error row, so the
// rest of the package builds and tests without package transport.
package bench
