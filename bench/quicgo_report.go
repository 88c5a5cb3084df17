package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// The quicgo-peer reports, as bench/peers/cmd/quicgo-peer prints them (its
// serverReport and clientReport). The two modules share no code, so these
// mirror its JSON names; TestRunQuicGoLoopback checks they still agree.
type (
	quicGoServerReport struct {
		Bytes             int64 `json:"bytes"`
		FirstByteUnixNano int64 `json:"first_byte_unix_ns"`
		DoneUnixNano      int64 `json:"done_unix_ns"`
		CPUBeforeNanos    int64 `json:"cpu_before_ns"`
		quicGoSharedReport
	}
	quicGoClientReport struct {
		Bytes                 int64  `json:"bytes"`
		DialStartUnixNano     int64  `json:"dial_start_unix_ns"`
		HandshakeDoneUnixNano int64  `json:"handshake_done_unix_ns"`
		CPUBeforeNanos        int64  `json:"cpu_before_ns"`
		QUICVersion           string `json:"quic_version"`
		GSO                   bool   `json:"gso"`
		BytesSent             uint64 `json:"bytes_sent"`
		PacketsSent           uint64 `json:"packets_sent"`
		BytesLost             uint64 `json:"bytes_lost"`
		PacketsLost           uint64 `json:"packets_lost"`
		CongestionWindow      uint64 `json:"congestion_window"`
		SmoothedRTTNanos      int64  `json:"smoothed_rtt_ns"`
		MinRTTNanos           int64  `json:"min_rtt_ns"`
		quicGoSharedReport
	}
	quicGoSharedReport struct {
		CipherSuite      string   `json:"cipher_suite"`
		QuicGoVersion    string   `json:"quic_go_version"`
		GOMAXPROCS       int      `json:"gomaxprocs"`
		UDPReceiveBuffer int      `json:"udp_rcvbuf"`
		UDPSendBuffer    int      `json:"udp_sndbuf"`
		Warnings         []string `json:"warnings,omitempty"`
		Error            string   `json:"error,omitempty"`
	}
)

// errBadPeerOutput marks peer output the harness cannot use.
var errBadPeerOutput = errors.New("bad quicgo-peer output")

const listeningPrefix = "listening on "

// parseListening reads the server's "listening on ADDR" line.
func parseListening(line string) (netip.AddrPort, error) {
	rest, ok := strings.CutPrefix(line, listeningPrefix)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%w: first server line %q, want %q", errBadPeerOutput, clip(line), listeningPrefix+"ADDR")
	}
	addr, err := netip.ParseAddrPort(rest)
	if err != nil || addr.Port() == 0 || addr.Addr().Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("%w: server listens on %q, want IP:port", errBadPeerOutput, clip(rest))
	}
	return addr, nil
}

// decodeQuicGoServerOutput reads the server's two lines: where it listened
// and its report, complete or not.
func decodeQuicGoServerOutput(lines []string) (quicGoServerReport, error) {
	var r quicGoServerReport
	if len(lines) != 2 {
		return r, fmt.Errorf("%w: server printed %d lines, want 2", errBadPeerOutput, len(lines))
	}
	if _, err := parseListening(lines[0]); err != nil {
		return r, err
	}
	return r, decodeReport(lines[1], &r)
}

// decodeQuicGoClientOutput reads the client's one line, its report.
func decodeQuicGoClientOutput(lines []string) (quicGoClientReport, error) {
	var r quicGoClientReport
	if len(lines) != 1 {
		return r, fmt.Errorf("%w: client printed %d lines, want 1", errBadPeerOutput, len(lines))
	}
	return r, decodeReport(lines[0], &r)
}

// parseQuicGoServerOutput reads the output of a server that says it read
// the whole stream.
func parseQuicGoServerOutput(lines []string) (quicGoServerReport, error) {
	r, err := decodeQuicGoServerOutput(lines)
	if err != nil {
		return r, err
	}
	if r.Error != "" {
		return r, fmt.Errorf("%w: server reports %q", errBadPeerOutput, clip(r.Error))
	}
	if err := checkServerTimes(r); err != nil {
		return r, err
	}
	return r, checkShared("server", r.CPUBeforeNanos, r.quicGoSharedReport)
}

// parseQuicGoClientOutput reads the output of a client that says it sent
// the whole stream.
func parseQuicGoClientOutput(lines []string) (quicGoClientReport, error) {
	r, err := decodeQuicGoClientOutput(lines)
	if err != nil {
		return r, err
	}
	if r.Error != "" {
		return r, fmt.Errorf("%w: client reports %q", errBadPeerOutput, clip(r.Error))
	}
	if err := checkClientFigures(r); err != nil {
		return r, err
	}
	return r, checkShared("client", r.CPUBeforeNanos, r.quicGoSharedReport)
}

func checkServerTimes(r quicGoServerReport) error {
	switch {
	case r.Bytes <= 0:
		return fmt.Errorf("%w: server read %d bytes", errBadPeerOutput, r.Bytes)
	case r.FirstByteUnixNano <= 0 || r.DoneUnixNano < r.FirstByteUnixNano:
		return fmt.Errorf("%w: server's first byte at %d ns, last at %d ns", errBadPeerOutput, r.FirstByteUnixNano, r.DoneUnixNano)
	}
	return nil
}

func checkClientFigures(r quicGoClientReport) error {
	switch {
	case r.Bytes <= 0:
		return fmt.Errorf("%w: client wrote %d bytes", errBadPeerOutput, r.Bytes)
	case r.DialStartUnixNano <= 0 || r.HandshakeDoneUnixNano < r.DialStartUnixNano:
		return fmt.Errorf("%w: client dialled at %d ns, handshake done at %d ns", errBadPeerOutput, r.DialStartUnixNano, r.HandshakeDoneUnixNano)
	case r.BytesLost > r.BytesSent || r.PacketsLost > r.PacketsSent:
		return fmt.Errorf("%w: client lost %d of %d bytes, %d of %d packets", errBadPeerOutput, r.BytesLost, r.BytesSent, r.PacketsLost, r.PacketsSent)
	case r.SmoothedRTTNanos < 0 || r.MinRTTNanos < 0:
		return fmt.Errorf("%w: client RTT %d ns, minimum %d ns", errBadPeerOutput, r.SmoothedRTTNanos, r.MinRTTNanos)
	}
	return nil
}

func checkShared(side string, cpuBefore int64, r quicGoSharedReport) error {
	switch {
	case cpuBefore < 0:
		return fmt.Errorf("%w: %s's CPU time before the transfer %d ns", errBadPeerOutput, side, cpuBefore)
	case r.CipherSuite == "":
		return fmt.Errorf("%w: %s reports no cipher suite", errBadPeerOutput, side)
	}
	return nil
}

// decodeReport parses one JSON object, and nothing after it.
func decodeReport(line string, v any) error {
	if !strings.HasPrefix(strings.TrimSpace(line), "{") {
		return fmt.Errorf("%w: report %q is not a JSON object", errBadPeerOutput, clip(line))
	}
	if err := json.Unmarshal([]byte(line), v); err != nil {
		return fmt.Errorf("%w: report %q: %v", errBadPeerOutput, clip(line), err)
	}
	return nil
}

// clip shortens peer output quoted in an error.
func clip(s string) string {
	const limit = 120
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}

// quicGoCPU is the CPU time a run spent: each peer's total from its exit
// status, and the harness process's own over the run. The harness's share
// is small on loopback; on an emulated path it is the link emulator's
// forwarding, which the in-process protocols' figures include too.
type quicGoCPU struct {
	server, client, harness time.Duration
}

// combineQuicGoReports makes the row of a run of size bytes from the two
// reports and the CPU time the run spent.
func combineQuicGoReports(size int64, sr quicGoServerReport, cr quicGoClientReport, spent quicGoCPU) (Result, error) {
	if sr.Bytes != size || cr.Bytes != size {
		return Result{}, fmt.Errorf("client wrote %d bytes and server read %d, want %d", cr.Bytes, sr.Bytes, size)
	}
	if sr.CipherSuite != cr.CipherSuite {
		return Result{}, fmt.Errorf("server negotiated %s, client %s", sr.CipherSuite, cr.CipherSuite)
	}
	r, elapsed, cpu, err := quicGoFigures(sr, cr, spent)
	if err != nil {
		return Result{}, err
	}
	r.complete(elapsed, cpu)
	return r, nil
}

// partialQuicGoReports makes the figures of a run the peers did not finish
// from what they printed when told to stop: the bytes that had arrived,
// when, and at what cost. The row's Err stays the caller's business.
func partialQuicGoReports(size int64, serverLines, clientLines []string, spent quicGoCPU) (Result, error) {
	sr, err := decodeQuicGoServerOutput(serverLines)
	if err != nil {
		return Result{}, fmt.Errorf("server: %w", err)
	}
	cr, err := decodeQuicGoClientOutput(clientLines)
	if err != nil {
		return Result{}, fmt.Errorf("client: %w", err)
	}
	if err := checkServerTimes(sr); err != nil {
		return Result{}, err
	}
	if sr.Bytes > size {
		return Result{}, fmt.Errorf("%w: server read %d bytes of %d", errBadPeerOutput, sr.Bytes, size)
	}
	if cr.DialStartUnixNano <= 0 {
		return Result{}, fmt.Errorf("%w: client dialled at %d ns", errBadPeerOutput, cr.DialStartUnixNano)
	}
	r, elapsed, cpu, err := quicGoFigures(sr, cr, spent)
	if err != nil {
		return Result{}, err
	}
	// A failed row has no rates; it keeps its CPU time aside for a run
	// the time cap turns into a measurement (see Plan.TimeCap).
	r.Seconds, r.partialCPU = elapsed.Seconds(), cpu
	return r, nil
}

// quicGoFigures computes a row's figures from two reports whose own
// figures have been checked: the row without its rates, the time from the
// dial to the server's last byte, and the CPU time of the transfer.
func quicGoFigures(sr quicGoServerReport, cr quicGoClientReport, spent quicGoCPU) (r Result, elapsed, cpu time.Duration, err error) {
	if sr.FirstByteUnixNano < cr.DialStartUnixNano {
		return Result{}, 0, 0, fmt.Errorf("server's first byte came %v before the client dialled: the peers' clocks disagree",
			time.Duration(cr.DialStartUnixNano-sr.FirstByteUnixNano))
	}
	elapsed = time.Duration(sr.DoneUnixNano - cr.DialStartUnixNano)
	if elapsed <= 0 {
		return Result{}, 0, 0, fmt.Errorf("server's last byte came as the client dialled: the peers' clocks disagree")
	}
	serverBefore, clientBefore := time.Duration(sr.CPUBeforeNanos), time.Duration(cr.CPUBeforeNanos)
	switch {
	case serverBefore > spent.server:
		return Result{}, 0, 0, fmt.Errorf("server reports %v of CPU time before the transfer, more than its total %v", serverBefore, spent.server)
	case clientBefore > spent.client:
		return Result{}, 0, 0, fmt.Errorf("client reports %v of CPU time before the transfer, more than its total %v", clientBefore, spent.client)
	}
	cpu = spent.server - serverBefore + spent.client - clientBefore + spent.harness
	r = Result{
		Protocol:      ProtocolQuicGo,
		Bytes:         sr.Bytes,
		TTFB:          time.Duration(sr.FirstByteUnixNano - cr.DialStartUnixNano),
		Retransmitted: cr.BytesLost,
		Detail:        describeQuicGo(sr, cr),
	}
	return r, elapsed, cpu, nil
}

// describeQuicGo is the Detail of a quic-go row: what was negotiated, how
// the peers ran, and what the sender's congestion controller and loss
// recovery did.
func describeQuicGo(sr quicGoServerReport, cr quicGoClientReport) string {
	gso := "off"
	if cr.GSO {
		gso = "on"
	}
	procs := fmt.Sprintf("GOMAXPROCS %d per peer", cr.GOMAXPROCS)
	if sr.GOMAXPROCS != cr.GOMAXPROCS {
		procs = fmt.Sprintf("GOMAXPROCS %d server, %d client", sr.GOMAXPROCS, cr.GOMAXPROCS)
	}
	s := fmt.Sprintf("%s, quic-go %s, QUIC %s, GSO %s, %s, srtt %v, cwnd %d B, %d packets sent, %d lost",
		cr.CipherSuite, cr.QuicGoVersion, cr.QUICVersion, gso, procs,
		time.Duration(cr.SmoothedRTTNanos).Round(time.Microsecond), cr.CongestionWindow, cr.PacketsSent, cr.PacketsLost)
	if warnings := slices.Concat(cr.Warnings, sr.Warnings); len(warnings) > 0 {
		s += "; quic-go warned: " + strings.Join(warnings, "; ")
	}
	return s
}
