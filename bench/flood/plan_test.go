package flood

import (
	"reflect"
	"testing"
)

func TestParseAttacks(t *testing.T) {
	tests := []struct {
		desc string
		in   string
		want []Attack
		ok   bool
	}{
		{desc: "all", in: "all", want: Attacks(), ok: true},
		{desc: "a list, spaces trimmed", in: "unknown-key, junk-initials", want: []Attack{UnknownKey, JunkInitials}, ok: true},
		{desc: "an unknown name", in: "unknown-key,syn-flood", ok: false},
		{desc: "nothing", in: " , ", ok: false},
	}
	for _, test := range tests {
		got, err := ParseAttacks(test.in)
		if test.ok && (err != nil || !reflect.DeepEqual(got, test.want)) {
			t.Errorf("%s: ParseAttacks(%q) = %v, %v; want %v", test.desc, test.in, got, err, test.want)
		}
		if !test.ok && err == nil {
			t.Errorf("%s: ParseAttacks(%q) = %v, want an error", test.desc, test.in, got)
		}
	}
}

func TestParseRates(t *testing.T) {
	rates := DefaultRates()
	if err := ParseRates("junk-initials=20000, unknown-key=1e3", rates); err != nil {
		t.Fatal(err)
	}
	if rates[JunkInitials] != 20000 || rates[UnknownKey] != 1000 || rates[StaleReplay] != 5500 {
		t.Errorf("rates after ParseRates = %v, want junk 20000, unknown-key 1000, the rest unchanged", rates)
	}
	for _, bad := range []string{"junk-initials", "junk-initials=0", "slowloris=5", "junk-initials=fast"} {
		if err := ParseRates(bad, DefaultRates()); err == nil {
			t.Errorf("ParseRates(%q): got no error", bad)
		}
	}
}
