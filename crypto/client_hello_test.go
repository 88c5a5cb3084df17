package crypto

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestClientHelloRoundTrip(t *testing.T) {
	in := ClientHello{
		Timestamp:       time.Unix(1748779200, 123456789),
		Suites:          []Suite{ChaCha20Poly1305, AES128GCM, 0x7f},
		TransportParams: []byte{0x01, 0x02, 0x75, 0x30},
	}
	b := in.Append([]byte("prefix"))
	want := []byte("prefix")
	want = append(want, 0, 0, 0, 0, 0x68, 0x3c, 0x40, 0xc0) // 1748779200
	want = append(want, 0x07, 0x5b, 0xcd, 0x15)             // 123456789
	want = append(want, 3, 0x02, 0x01, 0x7f, 0x01, 0x02, 0x75, 0x30)
	if !bytes.Equal(b, want) {
		t.Fatalf("Append = %x, want %x", b, want)
	}
	out, err := ParseClientHelloPayload(b[len("prefix"):])
	if err != nil {
		t.Fatal(err)
	}
	if !out.Timestamp.Equal(in.Timestamp) || !slices.Equal(out.Suites, in.Suites) || !bytes.Equal(out.TransportParams, in.TransportParams) {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
}

func TestParseClientHelloPayloadErrors(t *testing.T) {
	valid := ClientHello{Timestamp: testNow, Suites: []Suite{AES128GCM}}.Append(nil)
	withSuites := func(n int) []byte {
		b := append([]byte(nil), valid[:12]...)
		b = append(b, byte(n))
		return append(b, make([]byte, n)...)
	}
	tests := []struct {
		desc string
		in   []byte
	}{
		{"empty", nil},
		{"no suite count", valid[:12]},
		{"zero suites", withSuites(0)},
		{"17 suites", withSuites(17)},
		{"suites truncated", valid[:13]},
		{"nanoseconds of a whole second", append(append(append([]byte(nil), valid[:8]...), 0x3b, 0x9a, 0xca, 0x00), valid[12:]...)},
		{"timestamp seconds out of range", append([]byte{0x80, 0, 0, 0, 0, 0, 0, 0}, valid[8:]...)},
		{"oversized transport parameters", append(append([]byte(nil), valid...), make([]byte, MaxTransportParamsLen+1)...)},
	}
	for _, tt := range tests {
		if _, err := ParseClientHelloPayload(tt.in); !errors.Is(err, ErrHandshakeMessage) {
			t.Errorf("%s: error = %v, want ErrHandshakeMessage", tt.desc, err)
		}
	}
	if _, err := ParseClientHelloPayload(withSuites(16)); err != nil {
		t.Errorf("16 suites: error = %v, want nil", err)
	}
	maxParams := append(append([]byte(nil), valid...), make([]byte, MaxTransportParamsLen)...)
	if _, err := ParseClientHelloPayload(maxParams); err != nil {
		t.Errorf("MaxTransportParamsLen bytes of parameters: error = %v, want nil", err)
	}
}

func TestServerHelloRoundTrip(t *testing.T) {
	tests := []struct {
		desc string
		in   []byte
		want ServerHello
		err  error
	}{
		{"suite only", []byte{0x02}, ServerHello{Suite: ChaCha20Poly1305, TransportParams: []byte{}}, nil},
		{"suite and parameters", []byte{0x01, 0xaa, 0xbb}, ServerHello{Suite: AES128GCM, TransportParams: []byte{0xaa, 0xbb}}, nil},
		{"empty", nil, ServerHello{}, ErrHandshakeMessage},
		{"oversized parameters", make([]byte, 1+MaxTransportParamsLen+1), ServerHello{}, ErrHandshakeMessage},
	}
	for _, tt := range tests {
		got, err := ParseServerHelloPayload(tt.in)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: error = %v, want %v", tt.desc, err, tt.err)
			continue
		}
		if err != nil {
			continue
		}
		if got.Suite != tt.want.Suite || !bytes.Equal(got.TransportParams, tt.want.TransportParams) {
			t.Errorf("%s: got %+v, want %+v", tt.desc, got, tt.want)
		}
		if b := got.Append(nil); !bytes.Equal(b, tt.in) {
			t.Errorf("%s: Append = %x, want %x", tt.desc, b, tt.in)
		}
	}
}
