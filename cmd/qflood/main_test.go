package main

import (
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/limpetnet/limpet/bench/flood"
)

func TestParseFlags(t *testing.T) {
	def := flood.DefaultPlan()
	tests := []struct {
		desc        string
		args        []string
		wantAttacks []flood.Attack
		wantDur     time.Duration
		wantRates   map[flood.Attack]float64
		wantConns   int
		wantBytes   int64
	}{
		{
			desc: "defaults: every attack at the issue's rates", args: nil,
			wantAttacks: flood.Attacks(), wantDur: 12 * time.Second, wantRates: flood.DefaultRates(),
			wantConns: 1000, wantBytes: 4 << 20,
		},
		{
			desc:        "a few attacks, shorter, other rates and sizes",
			args:        []string{"-attacks", "junk-initials,slowloris", "-duration", "3s", "-rates", "junk-initials=20000", "-max-conns", "500", "-slowloris-bytes", "1MiB"},
			wantAttacks: []flood.Attack{flood.JunkInitials, flood.Slowloris}, wantDur: 3 * time.Second,
			wantRates: func() map[flood.Attack]float64 {
				r := flood.DefaultRates()
				r[flood.JunkInitials] = 20000
				return r
			}(),
			wantConns: 500, wantBytes: 1 << 20,
		},
	}
	for _, test := range tests {
		o, err := parseFlags(test.args, io.Discard)
		if err != nil {
			t.Errorf("%s: parseFlags: %v", test.desc, err)
			continue
		}
		p := o.plan
		if !reflect.DeepEqual(p.Attacks, test.wantAttacks) || p.Duration != test.wantDur || !reflect.DeepEqual(p.Rates, test.wantRates) ||
			p.MaxConns != test.wantConns || p.SlowlorisBytes != test.wantBytes {
			t.Errorf("%s: got attacks %v, duration %v, rates %v, MaxConns %d, slowloris bytes %d; want %v, %v, %v, %d, %d",
				test.desc, p.Attacks, p.Duration, p.Rates, p.MaxConns, p.SlowlorisBytes,
				test.wantAttacks, test.wantDur, test.wantRates, test.wantConns, test.wantBytes)
		}
		if p.Dialers != def.Dialers || p.FillCount != def.FillCount {
			t.Errorf("%s: got dialers %d, fill %d; want the defaults %d, %d", test.desc, p.Dialers, p.FillCount, def.Dialers, def.FillCount)
		}
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-attacks", "syn-flood"},
		{"-rates", "slowloris=3"},
		{"-duration", "0s"},
		{"-max-conns", "2"},
		{"-server-cpu", "1", "-client-cpu", "1"},
		{"-slowloris-bytes", "lots"},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q): got no error", args)
		}
	}
}

func TestCommandLine(t *testing.T) {
	got := commandLine([]string{"-attacks", "unknown-key,junk-initials", "-label", "before (707ebc1)"})
	want := `qflood -attacks unknown-key,junk-initials -label 'before (707ebc1)'`
	if got != want {
		t.Errorf("commandLine = %s, want %s", got, want)
	}
}
