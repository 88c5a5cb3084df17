package netsim

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/limpetnet/limpet/transport/internal/testutil"
)

// allCodepoints are the ECN codepoints in order: Not-ECT, ECT(1), ECT(0), CE.
var allCodepoints = []uint8{0b00, 0b01, 0b10, 0b11}

func TestNetworkCarriesECN(t *testing.T) {
	tests := []struct {
		desc  string
		write func(s *Socket, p []byte, to net.Addr) error
		want  uint8
	}{
		{desc: "WriteTo sends Not-ECT", want: 0, write: func(s *Socket, p []byte, to net.Addr) error {
			_, err := s.WriteTo(p, to)
			return err
		}},
		{desc: "ECT(1)", want: 1, write: ecnWriter(1)},
		{desc: "ECT(0)", want: 2, write: ecnWriter(2)},
		{desc: "CE", want: 3, write: ecnWriter(3)},
		{desc: "bits above the codepoint are ignored", want: 2, write: ecnWriter(0xfe)},
	}
	n := NewNetwork()
	a := mustListen(t, n, "198.18.0.1:1000")
	b := mustListen(t, n, "198.18.0.2:2000")
	for _, tt := range tests {
		if err := tt.write(a, []byte(tt.desc), b.LocalAddr()); err != nil {
			t.Fatalf("%s: write: %v", tt.desc, err)
		}
		buf := make([]byte, 100)
		got, _, ecn, err := b.ReadFromECN(buf)
		if err != nil || string(buf[:got]) != tt.desc || ecn != tt.want {
			t.Errorf("%s: ReadFromECN: got (%q, ECN %d, %v), want (%q, ECN %d, nil)", tt.desc, buf[:got], ecn, err, tt.desc, tt.want)
		}
	}
	// ReadFrom reads a marked datagram, dropping the mark.
	if _, err := a.WriteToECN([]byte("x"), b.LocalAddr(), 3); err != nil {
		t.Fatal(err)
	}
	if got, _ := readWithin(t, b, 5*time.Second); string(got) != "x" {
		t.Errorf("ReadFrom of a CE datagram: got %q, want \"x\"", got)
	}
}

func ecnWriter(ecn uint8) func(s *Socket, p []byte, to net.Addr) error {
	return func(s *Socket, p []byte, to net.Addr) error {
		_, err := s.WriteToECN(p, to, ecn)
		return err
	}
}

func TestImpairRewritesECN(t *testing.T) {
	tests := []struct {
		desc string
		cfg  Config
		want []uint8 // what each of allCodepoints arrives as
	}{
		{desc: "untouched by default", cfg: Config{}, want: []uint8{0, 1, 2, 3}},
		{desc: "delayed datagrams keep their codepoint", cfg: Config{Delay: time.Millisecond}, want: []uint8{0, 1, 2, 3}},
		{desc: "ECNBleach clears every codepoint", cfg: Config{ECNBleach: true}, want: []uint8{0, 0, 0, 0}},
		{desc: "ECNMarkAllCE marks ECT datagrams only", cfg: Config{ECNMarkAllCE: true}, want: []uint8{0, 3, 3, 3}},
		{desc: "ECNBleach wins over ECNMarkAllCE", cfg: Config{ECNBleach: true, ECNMarkAllCE: true}, want: []uint8{0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			testutil.CheckGoroutines(t)
			rec := newRecorder()
			c := Impair(rec, tt.cfg)
			defer c.Close()
			for i, ecn := range allCodepoints {
				if _, err := c.WriteToECN(indexed(i, 4), peerAddr, ecn); err != nil {
					t.Fatal(err)
				}
			}
			rec.waitFor(t, len(allCodepoints), 5*time.Second)
			if got := rec.codepoints(); !slices.Equal(got, tt.want) {
				t.Errorf("codepoints: got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestImpairCarriesECNEndToEnd(t *testing.T) {
	n := NewNetwork()
	server := Impair(mustListen(t, n, "198.18.0.1:443"), Config{})
	client := Impair(mustListen(t, n, "198.18.0.2:5000"), Config{Seed: 3, Duplicate: 0.5})
	defer client.Close()
	defer server.Close()
	for _, ecn := range allCodepoints {
		if _, err := client.WriteToECN([]byte{ecn}, server.LocalAddr(), ecn); err != nil {
			t.Fatal(err)
		}
	}
	want := client.Stats().Sent
	buf := make([]byte, 10)
	for range want {
		server.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, _, ecn, err := server.ReadFromECN(buf)
		if err != nil || got != 1 || buf[0] != ecn {
			t.Fatalf("ReadFromECN: got (%v, ECN %d, %v), want a datagram carrying its own ECN", buf[:got], ecn, err)
		}
	}
}

func TestImpairWithoutECNUnderneathDropsCodepoint(t *testing.T) {
	// A PacketConn without the ECN methods: the interface hides them.
	n := NewNetwork()
	rx := Impair(struct{ net.PacketConn }{mustListen(t, n, "198.18.0.1:443")}, Config{})
	tx := Impair(struct{ net.PacketConn }{mustListen(t, n, "198.18.0.2:5000")}, Config{})
	defer rx.Close()
	defer tx.Close()
	if _, err := tx.WriteToECN([]byte("ce"), rx.LocalAddr(), ecnCE); err != nil {
		t.Fatal(err)
	}
	rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 10)
	got, _, ecn, err := rx.ReadFromECN(buf)
	if err != nil || string(buf[:got]) != "ce" || ecn != ecnNotECT {
		t.Errorf("ReadFromECN: got (%q, ECN %d, %v), want (\"ce\", ECN 0, nil)", buf[:got], ecn, err)
	}
}
