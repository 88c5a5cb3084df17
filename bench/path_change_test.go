package bench

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestChangeOutcomes(t *testing.T) {
	samples := func(at ...float64) []ProgressSample {
		var s []ProgressSample
		for i, a := range at {
			s = append(s, ProgressSample{At: ms(a), Bytes: int64(i+1) * 1000})
		}
		return s
	}
	tests := []struct {
		desc      string
		samples   []ProgressSample
		changesAt []time.Duration
		end       time.Duration
		want      []ChangeOutcome
	}{{
		desc:      "steady flow: the stall is the gap from the change to the next read",
		samples:   samples(1, 2, 3, 4, 5),
		changesAt: []time.Duration{ms(2.5)},
		end:       ms(5),
		want:      []ChangeOutcome{{At: ms(2.5), Stall: ms(1), FirstData: ms(0.5), Resumed: true}},
	}, {
		desc:      "a later gap in the window is longer than the first",
		samples:   samples(1, 2, 3, 10, 11),
		changesAt: []time.Duration{ms(2.5)},
		end:       ms(11),
		want:      []ChangeOutcome{{At: ms(2.5), Stall: ms(7), FirstData: ms(0.5), Resumed: true}},
	}, {
		desc:      "each change only sees its own window",
		samples:   samples(1, 2, 9, 10, 30),
		changesAt: []time.Duration{ms(1.5), ms(20)},
		end:       ms(30),
		want: []ChangeOutcome{
			{At: ms(1.5), Stall: ms(7), FirstData: ms(0.5), Resumed: true},
			{At: ms(20), Stall: ms(10), FirstData: ms(10), Resumed: true},
		},
	}, {
		desc:      "no data after the change: never resumed",
		samples:   samples(1, 2),
		changesAt: []time.Duration{ms(3)},
		end:       ms(100),
		want:      []ChangeOutcome{{At: ms(3)}},
	}, {
		desc:      "no data until after the next change: the stall runs to the first data",
		samples:   samples(1, 50),
		changesAt: []time.Duration{ms(10), ms(20)},
		end:       ms(50),
		want: []ChangeOutcome{
			{At: ms(10), Stall: ms(40), FirstData: ms(40), Resumed: true},
			{At: ms(20), Stall: ms(30), FirstData: ms(30), Resumed: true},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := changeOutcomes(tt.samples, tt.changesAt, tt.end)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDisruptionResultSummaries(t *testing.T) {
	ok := DisruptionResult{Scenario: "rebind", Protocol: "limpet", Survived: true, Bytes: 256 << 20, Seconds: 1.25,
		Changes: []ChangeOutcome{{Stall: ms(12), FirstData: ms(2), Resumed: true}, {Stall: ms(5), FirstData: ms(3), Resumed: true}}}
	reset := DisruptionResult{Scenario: "rebind", Protocol: "tcp", Bytes: 50 << 20, Seconds: 0.2,
		Err:     "client: write tcp4 198.18.1.2:1->198.19.1.2:2: write: connection reset by peer",
		Changes: []ChangeOutcome{{}}}
	hung := DisruptionResult{Scenario: "ip", Protocol: "tcp", Bytes: 1 << 20, Seconds: 10.2, Err: "hung: no data for 10s", Changes: []ChangeOutcome{{}}}

	if s, ok := ok.LongestStall(); !ok || s != ms(12) {
		t.Errorf("LongestStall = %v, %v; want 12ms, true", s, ok)
	}
	if d, ok := ok.SlowestResume(); !ok || d != ms(3) {
		t.Errorf("SlowestResume = %v, %v; want 3ms, true", d, ok)
	}
	if _, ok := reset.LongestStall(); ok {
		t.Error("LongestStall of a run that never resumed reports ok")
	}
	for _, tt := range []struct {
		r    DisruptionResult
		want string
	}{{ok, "completed byte-exact"}, {reset, "connection reset"}, {hung, "hung: no data for 10s"}} {
		if got := tt.r.Outcome(); got != tt.want {
			t.Errorf("Outcome = %q, want %q", got, tt.want)
		}
	}

	table := FormatDisruptionTable([]DisruptionResult{ok, reset, hung})
	want := []string{
		"| scenario | protocol | outcome | delivered | first data after a change | longest stall | time |",
		"|---|---|---|--:|--:|--:|--:|",
		"| rebind | limpet | completed byte-exact | 256.0 MiB | 3.0 ms | 12 ms | 1.2 s |",
		"| rebind | tcp | connection reset | 50.0 MiB | never | never resumed | 0.2 s |",
		"| ip | tcp | hung: no data for 10s | 1.0 MiB | never | never resumed | 10.2 s |",
	}
	if got := strings.Split(strings.TrimSpace(table), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("table:\n%s\nwant:\n%s", table, strings.Join(want, "\n"))
	}
}

// TestThinTimeline: thinning keeps the first and last samples and both ends
// of a stall, so the gap a plot shows is exactly the one measured.
func TestThinTimeline(t *testing.T) {
	var d DisruptionResult
	for ms := 0; ms < 10000; ms++ {
		if ms > 3000 && ms < 3700 {
			continue // a 700 ms stall
		}
		d.Timeline = append(d.Timeline, ProgressSample{At: time.Duration(ms) * time.Millisecond, Bytes: int64(ms) * 1000})
	}
	first, last := d.Timeline[0], d.Timeline[len(d.Timeline)-1]
	d.ThinTimeline(400)
	if n := len(d.Timeline); n > 400 || n < 100 {
		t.Fatalf("%d samples after thinning to 400", n)
	}
	if d.Timeline[0] != first || d.Timeline[len(d.Timeline)-1] != last {
		t.Errorf("ends %v … %v, want %v … %v", d.Timeline[0], d.Timeline[len(d.Timeline)-1], first, last)
	}
	var gap time.Duration
	for i := 1; i < len(d.Timeline); i++ {
		gap = max(gap, d.Timeline[i].At-d.Timeline[i-1].At)
	}
	if gap != 700*time.Millisecond {
		t.Errorf("longest gap %v after thinning, want the 700 ms stall", gap)
	}
	thinned := len(d.Timeline)
	d.ThinTimeline(400)
	if len(d.Timeline) != thinned {
		t.Errorf("thinning again changed %d samples to %d", thinned, len(d.Timeline))
	}
}

func TestDatagramSizeAbove(t *testing.T) {
	s := time.Second
	rise := 10 * s
	samples := []DatagramSizeSample{{At: s, Size: 1200}, {At: 2 * s, Size: 1452}, {At: 3 * s, Size: 1232}, {At: 12 * s, Size: 1350}, {At: 14 * s, Size: 1452}}
	for _, tc := range []struct {
		desc    string
		samples []DatagramSizeSample
		after   time.Duration
		want    time.Duration
		wantOK  bool
	}{
		{"back above 1400 4 s after the rise", samples, rise, 4 * s, true},
		{"a size above 1400 before the rise does not count", samples[:4], rise, 0, false},
		{"already above at the moment", samples, 2*s + s/2, 0, true},
		{"a sample at the moment itself counts as the size then", samples, 2 * s, 0, true},
		{"never sampled", nil, rise, 0, false},
		{"the only sample comes later", []DatagramSizeSample{{At: 11 * s, Size: 1452}}, rise, s, true},
	} {
		r := DisruptionResult{DatagramSizes: tc.samples}
		got, ok := r.DatagramSizeAbove(1400, tc.after)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: DatagramSizeAbove = %v, %v; want %v, %v", tc.desc, got, ok, tc.want, tc.wantOK)
		}
	}
}
