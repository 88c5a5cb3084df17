package bench

import (
	"testing"
	"time"
)

func TestPathStatsString(t *testing.T) {
	for _, tc := range []struct {
		desc string
		p    PathStats
		want string
	}{
		{"limpet after discovery, with ECN", PathStats{MaxDatagramSize: 1452, MTUProbesSent: 4, MTUProbesLost: 1, ECN: "capable", CEMarks: 12, QueueDelay: 4300 * time.Microsecond},
			"datagrams 1452 B, MTU probes 4 sent, 1 lost, 0 black holes, ECN capable, 12 CE, queue 4.3 ms"},
		{"limpet before discovery", PathStats{MaxDatagramSize: 1200, ECN: "testing"}, "datagrams 1200 B, ECN testing, queue 0.0 ms"},
		{"TCP", PathStats{MSS: 1228, ECN: "off", QueueDelay: 45 * time.Millisecond}, "MSS 1228 B, ECN off, queue 45 ms"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.desc, got, tc.want)
		}
	}
}

func TestQueueDelay(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct{ srtt, min, want time.Duration }{
		{55 * ms, 50 * ms, 5 * ms},
		{50 * ms, 50 * ms, 0},
		{49 * ms, 50 * ms, 0}, // a smoothed RTT below the minimum is noise
		{10 * ms, 0, 0},       // no minimum yet
	} {
		if got := queueDelay(tc.srtt, tc.min); got != tc.want {
			t.Errorf("queueDelay(%v, %v) = %v, want %v", tc.srtt, tc.min, got, tc.want)
		}
	}
}

func TestSummaryKeepsPathStats(t *testing.T) {
	ms := time.Millisecond
	runs := []Result{
		{Protocol: ProtocolLimpet, Err: "boom", Path: &PathStats{MaxDatagramSize: 9}},
		{Protocol: ProtocolLimpet, Bytes: 1, MBps: 1, Path: &PathStats{MaxDatagramSize: 1452, QueueDelay: 3 * ms}},
		{Protocol: ProtocolLimpet, Bytes: 1, MBps: 1, Path: &PathStats{MaxDatagramSize: 1200, QueueDelay: 9 * ms}},
		{Protocol: ProtocolLimpet, Bytes: 1, MBps: 1, Path: &PathStats{MaxDatagramSize: 1200, QueueDelay: 5 * ms}},
		{Protocol: ProtocolQuicGo, Bytes: 1, MBps: 1},
	}
	sums := Summarize(runs)
	if s := sums[0]; s.Path == nil || s.Path.MaxDatagramSize != 1452 || s.QueueDelay != 5*ms {
		t.Errorf("limpet summary: path %+v, queue delay %v; want the first good run's (1452) and the median delay 5 ms", s.Path, s.QueueDelay)
	}
	if s := sums[1]; s.Path != nil || s.QueueDelay != 0 {
		t.Errorf("quic-go summary: path %+v, queue delay %v; want none", s.Path, s.QueueDelay)
	}
}
