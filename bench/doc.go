// Package bench measures bulk-transfer throughput and CPU cost of limpet
// against TCP (CUBIC and BBR) and TLS 1.3 over TCP, the comparison behind
// cmd/qbench and the anchor figures in /work/shared/anchors.md.
//
// Every runner moves a given number of bytes from a client to a server over
// loopback inside this one process. The server reads and discards, counting.
// The clock starts just before the client dials, so connection set-up is
// included, and stops when the server has read the last byte. CPU time is
// the whole process's user+sys time over the same interval (getrusage with
// RUSAGE_SELF), so it counts client and server together, as the anchors do.
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
