// Package flood is the flood harness of issue 17: it runs one attack at a
// time against a limpet echo listener while legitimate clients measure what
// the attack costs them, and renders the result as a markdown table, one
// row per attack after a baseline row with no attack. It is the library
// behind cmd/qflood, and uses only the public API of packages transport,
// crypto and packet.
//
// # Set-up
//
// The server is a child process: the calling program started again with
// the environment variable that IsServerProcess checks, which makes it run
// Serve (a limpet echo listener made with transport.Listen) instead of its
// main. It runs pinned to one core (Plan.ServerCPU): it inherits the
// affinity of the thread that starts it, so its Go runtime sees one
// processor from the start, as under taskset. This process, the attackers
// and the legitimate clients, is pinned to another core (Plan.ClientCPU)
// with GOMAXPROCS 1. Each row gets a fresh server, so no row inherits
// another's state (a full replay cache, held connections, buffered
// memory). What an attack sends is crafted before its server starts, on
// both cores. Everything runs over loopback: the server on 127.0.0.1, the
// legitimate clients from 127.0.0.1, each attacker from an address of its
// own in 127/8 (127.0.0.2 and up; the junk Initials from random spoofed
// sources), so that per-source limits on the server can tell them apart.
//
// # Measurements
//
// Before an attack starts, a legitimate client dials two connections: one
// for echo round trips, one for a bulk transfer. Once the attack is
// running (after its set-up, such as filling the replay cache, and a
// warm-up), the measurement window runs for two thirds of Plan.Duration:
// Plan.Dialers clients dial new connections in a loop (Dial latency,
// failed Dials, the first failure's error), and the echo connection sends
// a 64-byte message every Plan.EchoInterval and times its return. Server
// CPU is the child's user+sys time over this window (/proc/PID/stat), as a
// percentage of one core. In the last third, the bulk connection writes
// as fast as it can; its goodput is the bytes the server application read
// (delivery receipts, Stream.Consumed) per second. Server memory is the
// peak resident set (VmHWM in /proc/PID/status) and the peak heap
// (runtime/metrics, sampled every 250 ms by the server) over the row. The
// notes add what the attacker saw and the server's EndpointStats.
//
// # Attacks
//
// Each row is one Attack; see the constants for what each sends. The
// handshake floods craft client Initials with packages crypto and packet
// (docs/PROTOCOL.md sections 2.1, 4.3 and 4.5): message 1 for a chosen
// DCID, client key and timestamp, in a CRYPTO frame padded to 1200 bytes
// and sealed with the Initial keys of that DCID. The prologue binds
// message 1 to the DCID, so a message resent with a fresh DCID would fail
// after one Diffie-Hellman operation instead of two; the floods therefore
// craft a pool of messages (Plan.Pool), each bound to its own DCID, and
// send them round robin. They open a sample of the server's answers to
// say what they were (CONNECTION_CLOSE and its code, message 2), and they
// follow Retries as an attacker at its real address can: the latest token
// goes into every Initial after it.
//
// # Usage
//
//	func main() {
//		if flood.IsServerProcess() {
//			os.Exit(flood.Serve(os.Stdin, os.Stdout))
//		}
//		report := flood.Run(ctx, flood.DefaultPlan())
//		fmt.Print(report.Markdown())
//	}
//
// # Limitations
//
// Linux only. The junk Initials need CAP_NET_RAW for spoofed sources (a
// raw socket); without it they come from 64 bound loopback addresses. Two
// cores are assumed: with one, nothing is pinned and the figures mean
// little. The attackers and the legitimate clients share their core, so an
// attack that costs the attacker CPU also slows the clients' side; the
// notes give this process's CPU over the window. The message 1s cost
// several hundred microseconds each to craft (four X25519 operations), so
// the replay-cache fill spends tens of seconds crafting, and an attacker
// that crafts a fresh message for every Retry (RetryAbandon) manages about
// a thousand a second. ReplayFill relies on the server recording a message
// 1 before it checks the transport parameters (TestMismatchedSCID checks
// that crypto.Server does). Loopback has microsecond round trips, so a
// Retry costs nothing measurable and bulk goodput measures CPU, not a
// path.
package flood
