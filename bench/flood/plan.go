package flood

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/limpetnet/limpet/crypto"
)

// Attack names one row of the table: an attack, the baseline, or the
// reset-oracle check. The rates are issue 17's.
type Attack string

const (
	// Baseline runs the measurements with no attack.
	Baseline Attack = "baseline"
	// UnknownKey sends message 1s from a client key the server's
	// allow-list (Config.AllowedClientKeys) does not hold, ~5,500
	// datagrams/s: each costs the server its Diffie-Hellman work before
	// the refusal, and the replay cache records only accepted handshakes,
	// so the same messages can be sent again and again.
	UnknownKey Attack = "unknown-key"
	// StaleReplay sends message 1s whose timestamp is 3 minutes old, as
	// if recorded and replayed, ~5,500 datagrams/s.
	StaleReplay Attack = "stale-replay"
	// StaleToken sends the same stale message 1s, each with a Retry token
	// the attacker obtained at its real address and reuses (a fresh one
	// every 5 s, within the token's 10 s lifetime), ~3,000 datagrams/s,
	// against a server with RequireAddressValidation.
	StaleToken Attack = "stale-token"
	// RetryAbandon starts ~1,000 handshakes/s against a server with
	// RequireAddressValidation, follows each Retry with a valid message 1
	// carrying the token, and never answers message 2: the half-open
	// handshakes hold the server's handshake slots.
	RetryAbandon Attack = "retry-abandon"
	// ReplayFill sends valid message 1s with timestamps 115 s in the
	// future, each with a fresh ephemeral key, as fast as the server
	// answers them, until the server stops answering (its replay cache is
	// full) or Plan.FillCount have been recorded; the legitimate Dials
	// start after that.
	ReplayFill Attack = "replay-fill"
	// ConnExhaust opens connections from one address (64 ports) until
	// the server, configured with Plan.MaxConns, takes no more, and keeps
	// them alive; the legitimate Dials start after that.
	ConnExhaust Attack = "conn-exhaust"
	// Slowloris opens Plan.SlowlorisStreams streams on one connection,
	// writes Plan.SlowlorisBytes on each for the server to echo, and never
	// reads, granting 1 KiB of credit per stream: the server buffers what
	// it cannot send. The measurements run while the server takes the
	// data in; the row then lasts until the writes end or stall, so that
	// it sees the server's memory at its peak.
	Slowloris Attack = "slowloris"
	// JunkInitials sends ~50,000 datagrams/s of 1200 random bytes behind a
	// valid-looking Initial header, from random spoofed loopback sources.
	JunkInitials Attack = "junk-initials"
	// ResetOracle is a check, not a flood: with two listeners holding the
	// same key, a connection to the first, and that connection's DCID sent
	// in a short header to the second: does the second answer with a
	// stateless reset, and does the client's connection die when the reset
	// is forwarded to it?
	ResetOracle Attack = "reset-oracle"
)

// Attacks lists every row in the order Run measures them.
func Attacks() []Attack {
	return []Attack{Baseline, UnknownKey, StaleReplay, StaleToken, RetryAbandon, ReplayFill, ConnExhaust, Slowloris, JunkInitials, ResetOracle}
}

// DefaultRates are issue 17's rates, per second: datagrams for the
// floods, handshakes for RetryAbandon.
func DefaultRates() map[Attack]float64 {
	return map[Attack]float64{
		UnknownKey:   5500,
		StaleReplay:  5500,
		StaleToken:   3000,
		RetryAbandon: 1000,
		JunkInitials: 50000,
	}
}

// Plan configures Run.
type Plan struct {
	// Attacks are the rows, in order; Run puts Baseline first if missing.
	Attacks []Attack
	// Duration is each row's measured time: two thirds for the Dials and
	// echoes, one third for the bulk transfer.
	Duration time.Duration
	// Warmup runs the attack before the measurements start.
	Warmup time.Duration
	// Rates are per-second rates by attack (DefaultRates).
	Rates map[Attack]float64
	// Pool is how many distinct message 1s the handshake floods cycle
	// through, each bound to its own DCID.
	Pool int
	// FillCount bounds the message 1s ReplayFill sends: a little more
	// than the server's replay cache holds.
	FillCount int
	// MaxConns is the server's Config.MaxConns in the ConnExhaust row
	// (reduced from the default 10,000 to keep the row short).
	MaxConns int
	// SlowlorisStreams and SlowlorisBytes: streams opened and bytes
	// written on each by the Slowloris attacker. The default 4 MiB makes
	// 400 MiB in all, which takes the unbounded server at 707ebc1 about
	// 25 s to take in; issue 17's figure (1.64 GiB of heap) needed 16 MiB
	// per stream, about a minute longer.
	SlowlorisStreams int
	SlowlorisBytes   int64
	// Dialers is how many legitimate clients dial in a loop, each pausing
	// DialInterval between Dials, each Dial bounded by DialTimeout (the
	// transport's default handshake timeout is 10 s). The default, 2
	// clients pausing 250 ms, dials under 8 times a second from
	// 127.0.0.1: what a server with per-source rate limits should let
	// one address do.
	Dialers      int
	DialInterval time.Duration
	DialTimeout  time.Duration
	// EchoInterval is the pause between echoes on the echo connection.
	EchoInterval time.Duration
	// SetupTimeout bounds an attack's set-up (crafting its messages,
	// filling the replay cache, opening its connections).
	SetupTimeout time.Duration
	// ServerCPU and ClientCPU are the cores the server and this process
	// are pinned to.
	ServerCPU, ClientCPU int
	// Progress, if not nil, receives a line about each step.
	Progress func(format string, args ...any)
}

// DefaultPlan is every row at issue 17's rates, 12 s each: about five
// minutes in all, of which a minute or so crafts and fills the replay
// cache.
func DefaultPlan() Plan {
	return Plan{
		Attacks:          Attacks(),
		Duration:         12 * time.Second,
		Warmup:           time.Second,
		Rates:            DefaultRates(),
		Pool:             4096,
		FillCount:        crypto.DefaultReplayCacheSize + 2000,
		MaxConns:         1000,
		SlowlorisStreams: 100,
		SlowlorisBytes:   4 << 20,
		Dialers:          2,
		DialInterval:     250 * time.Millisecond,
		DialTimeout:      10 * time.Second,
		EchoInterval:     10 * time.Millisecond,
		SetupTimeout:     2 * time.Minute,
		ServerCPU:        0,
		ClientCPU:        1,
	}
}

// ParseAttacks reads a comma-separated list of attack names; "all" is
// every row.
func ParseAttacks(s string) ([]Attack, error) {
	if strings.TrimSpace(s) == "all" {
		return Attacks(), nil
	}
	var out []Attack
	for name := range strings.SplitSeq(s, ",") {
		a := Attack(strings.TrimSpace(name))
		if a == "" {
			continue
		}
		if !slices.Contains(Attacks(), a) {
			return nil, fmt.Errorf("unknown attack %q (want one of %s)", a, attackNames())
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no attack in %q", s)
	}
	return out, nil
}

// ParseRates reads "name=rate,name=rate" into rates, overriding what is
// there.
func ParseRates(s string, rates map[Attack]float64) error {
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, ok := strings.Cut(item, "=")
		if !ok {
			return fmt.Errorf("rate %q: want name=rate", item)
		}
		a := Attack(strings.TrimSpace(name))
		if _, known := DefaultRates()[a]; !known {
			return fmt.Errorf("rate %q: %q has no rate (those that do: %s)", item, a, strings.Join(ratedNames(), ", "))
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("rate %q: want a positive number per second", item)
		}
		rates[a] = v
	}
	return nil
}

func attackNames() string {
	var names []string
	for _, a := range Attacks() {
		names = append(names, string(a))
	}
	return strings.Join(names, ", ")
}

func ratedNames() []string {
	var names []string
	for _, a := range Attacks() {
		if _, ok := DefaultRates()[a]; ok {
			names = append(names, string(a))
		}
	}
	return names
}

func (p *Plan) progress(format string, args ...any) {
	if p.Progress != nil {
		p.Progress(format, args...)
	}
}
