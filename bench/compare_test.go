package bench

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func runnerNames(rs []Runner) []string {
	var names []string
	for _, r := range rs {
		names = append(names, r.Protocol)
	}
	return names
}

func TestParseProtocols(t *testing.T) {
	tests := []struct {
		desc string
		in   string
		want []string
	}{
		{desc: "all, canonical order", in: "tcp-cubic,tcp-bbr,tls,limpet", want: []string{"tcp-cubic", "tcp-bbr", "tls", "limpet"}},
		{desc: "any order becomes the alternation order", in: "limpet,tls,tcp-cubic", want: []string{"tcp-cubic", "tls", "limpet"}},
		{desc: "spaces around names", in: " tls , tcp-bbr", want: []string{"tcp-bbr", "tls"}},
		{desc: "one protocol", in: "limpet", want: []string{"limpet"}},
		{desc: "TCP CUBIC with ECN comes after CUBIC", in: "limpet,tcp-cubic-ecn,tcp-bbr,tcp-cubic", want: []string{"tcp-cubic", "tcp-cubic-ecn", "tcp-bbr", "limpet"}},
	}
	for _, tt := range tests {
		got, err := ParseProtocols(tt.in)
		if err != nil {
			t.Errorf("%s: ParseProtocols(%q): %v", tt.desc, tt.in, err)
			continue
		}
		if names := runnerNames(got); !reflect.DeepEqual(names, tt.want) {
			t.Errorf("%s: ParseProtocols(%q) = %v, want %v", tt.desc, tt.in, names, tt.want)
		}
		for _, r := range got {
			if r.Run == nil {
				t.Errorf("%s: runner %s has no Run function", tt.desc, r.Protocol)
			}
		}
	}
}

// TestTCPECNNeedsTheLab: tcp-cubic-ecn is not a default protocol, and on a
// network that cannot turn TCP's ECN on (loopback) it is an error row
// rather than a silent run without ECN.
func TestTCPECNNeedsTheLab(t *testing.T) {
	for _, p := range Protocols() {
		if p == ProtocolTCPCubicECN {
			t.Errorf("Protocols() lists %s: it would run on every row", p)
		}
	}
	r := RunTCPECN(context.Background(), Loopback, 1<<20, "cubic")
	if r.OK() || !errors.Is(r.cause, errNoTCPECN) || r.Protocol != ProtocolTCPCubicECN {
		t.Errorf("tcp-cubic-ecn on loopback: %+v, want a %s error row", r, ProtocolTCPCubicECN)
	}
}

func TestParseProtocolsErrors(t *testing.T) {
	tests := []struct {
		desc        string
		in          string
		wantUnknown bool
	}{
		{desc: "unknown name", in: "tcp-cubic,quic", wantUnknown: true},
		{desc: "names are case-sensitive", in: "TLS", wantUnknown: true},
		{desc: "empty list", in: ""},
		{desc: "empty element", in: "tls,,limpet"},
		{desc: "trailing comma", in: "tls,"},
		{desc: "duplicate", in: "tls,limpet,tls"},
	}
	for _, tt := range tests {
		got, err := ParseProtocols(tt.in)
		if err == nil {
			t.Errorf("%s: ParseProtocols(%q) = %v, want an error", tt.desc, tt.in, runnerNames(got))
			continue
		}
		if gotUnknown := errors.Is(err, ErrUnknownProtocol); gotUnknown != tt.wantUnknown {
			t.Errorf("%s: ParseProtocols(%q) error %q: errors.Is(ErrUnknownProtocol) = %v, want %v", tt.desc, tt.in, err, gotUnknown, tt.wantUnknown)
		}
	}
}

// fakeRunner records the runs it is asked for into calls.
func fakeRunner(protocol string, calls *[]string) Runner {
	return Runner{Protocol: protocol, Run: func(ctx context.Context, _ Network, size int64) Result {
		*calls = append(*calls, fmt.Sprintf("%s/%d", protocol, size))
		// A runner that leaves Protocol blank still gets its row.
		return Result{Bytes: size, MBps: float64(len(*calls))}
	}}
}

func TestCompareAlternates(t *testing.T) {
	var calls, events []string
	plan := Plan{
		Runners: []Runner{fakeRunner("a", &calls), fakeRunner("b", &calls), fakeRunner("c", &calls)},
		Size:    42,
		Reps:    2,
		OnStart: func(rep int, protocol string) { events = append(events, fmt.Sprintf("start %d %s", rep, protocol)) },
		OnResult: func(rep int, r Result) {
			events = append(events, fmt.Sprintf("result %d %s %v", rep, r.Protocol, r.MBps))
		},
	}
	results := Compare(context.Background(), plan)

	if want := []string{"a/42", "b/42", "c/42", "a/42", "b/42", "c/42"}; !reflect.DeepEqual(calls, want) {
		t.Errorf("runs: got %v, want %v", calls, want)
	}
	wantEvents := []string{
		"start 0 a", "result 0 a 1", "start 0 b", "result 0 b 2", "start 0 c", "result 0 c 3",
		"start 1 a", "result 1 a 4", "start 1 b", "result 1 b 5", "start 1 c", "result 1 c 6",
	}
	if !reflect.DeepEqual(events, wantEvents) {
		t.Errorf("progress: got %v, want %v", events, wantEvents)
	}
	var got []string
	for _, r := range results {
		got = append(got, fmt.Sprintf("%s %v", r.Protocol, r.MBps))
	}
	if want := []string{"a 1", "b 2", "c 3", "a 4", "b 5", "c 6"}; !reflect.DeepEqual(got, want) {
		t.Errorf("results: got %v, want %v", got, want)
	}
}

func TestCompareRunTimeout(t *testing.T) {
	var deadlines []time.Duration
	start := time.Now()
	runner := Runner{Protocol: "a", Run: func(ctx context.Context, _ Network, size int64) Result {
		d, ok := ctx.Deadline()
		if !ok {
			deadlines = append(deadlines, -1)
		} else {
			deadlines = append(deadlines, d.Sub(start).Round(time.Hour))
		}
		return Result{}
	}}
	Compare(context.Background(), Plan{Runners: []Runner{runner}, Size: 1, Reps: 1, RunTimeout: 5 * time.Hour})
	Compare(context.Background(), Plan{Runners: []Runner{runner}, Size: 1, Reps: 1})
	if want := []time.Duration{5 * time.Hour, -1}; !reflect.DeepEqual(deadlines, want) {
		t.Errorf("run deadlines (hours from start, -1 for none): got %v, want %v", deadlines, want)
	}
}

func TestCompareStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls []string
	cancelling := Runner{Protocol: "a", Run: func(ctx context.Context, _ Network, size int64) Result {
		calls = append(calls, "a")
		cancel()
		return Result{Err: "interrupted"}
	}}
	results := Compare(ctx, Plan{Runners: []Runner{cancelling, fakeRunner("b", &calls)}, Size: 1, Reps: 3})
	if want := []string{"a"}; !reflect.DeepEqual(calls, want) {
		t.Errorf("runs: got %v, want %v", calls, want)
	}
	if len(results) != 1 || results[0].Protocol != "a" || results[0].Err != "interrupted" {
		t.Errorf("results: got %+v, want the one interrupted run of a", results)
	}
}
