package packet

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

func fullTransportParameters(t testing.TB) TransportParameters {
	t.Helper()
	p := DefaultTransportParameters()
	p.OriginalDstConnID, p.HasOriginalDstConnID = mustConnID(t, seqBytes(20)), true
	p.MaxIdleTimeout = 30 * time.Second
	copy(p.StatelessResetToken[:], seqBytes(16))
	p.HasStatelessResetToken = true
	p.MaxUDPPayloadSize = DefaultMaxUDPPayload
	p.InitialMaxData = 1 << 30
	p.InitialMaxStreamDataBidiLocal = 16384
	p.InitialMaxStreamDataBidiRemote = 16383
	p.InitialMaxStreamDataUni = MaxVarint
	p.InitialMaxStreamsBidi = MaxStreamCount
	p.InitialMaxStreamsUni = 64
	p.AckDelayExponent = MaxAckDelayExponent
	p.MaxAckDelay = MaxMaxAckDelay
	p.DisableActiveMigration = true
	p.ActiveConnIDLimit = 8
	p.InitialSrcConnID, p.HasInitialSrcConnID = ConnectionID{}, true // a zero-length CID is still present
	p.RetrySrcConnID, p.HasRetrySrcConnID = mustConnID(t, seqBytes(8)), true
	p.FECMaxRepairSymbols = 4
	p.MinAckDelay, p.HasMinAckDelay = 1234*time.Microsecond, true
	return p
}

func TestTransportParametersRoundTrip(t *testing.T) {
	client := DefaultTransportParameters()
	client.InitialMaxData = 1 << 20
	client.InitialSrcConnID, client.HasInitialSrcConnID = mustConnID(t, seqBytes(8)), true
	tests := []struct {
		desc       string
		p          TransportParameters
		fromServer bool
	}{
		{"defaults encode to nothing", DefaultTransportParameters(), false},
		{"client", client, false},
		{"server with everything", fullTransportParameters(t), true},
	}
	for _, tt := range tests {
		enc := tt.p.Append(nil)
		got, err := ParseTransportParameters(enc, tt.fromServer)
		if err != nil {
			t.Fatalf("%s: %v", tt.desc, err)
		}
		if !reflect.DeepEqual(got, tt.p) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", tt.desc, got, tt.p)
		}
	}
	if enc := DefaultTransportParameters().Append(nil); len(enc) != 0 {
		t.Errorf("defaults encode to %x, want nothing", enc)
	}
	if got, err := ParseTransportParameters(nil, true); err != nil || !reflect.DeepEqual(got, DefaultTransportParameters()) {
		t.Errorf("empty parameters = %+v, %v; want the defaults", got, err)
	}
}

func TestTransportParametersGolden(t *testing.T) {
	p := DefaultTransportParameters()
	p.MaxIdleTimeout = 30 * time.Second
	p.AckDelayExponent = 0
	p.FECMaxRepairSymbols = 1
	p.MinAckDelay, p.HasMinAckDelay = time.Millisecond, true
	want := []byte{
		0x01, 0x04, 0x80, 0x00, 0x75, 0x30, // max_idle_timeout 30000 ms (above 2^14: four bytes)
		0x0a, 0x01, 0x00, // ack_delay_exponent 0
		0x80, 0x00, 0x4c, 0x01, 0x01, 0x01, // fec 1
		0x80, 0x00, 0x4c, 0x03, 0x02, 0x43, 0xe8, // min_ack_delay 1000 µs
	}
	if got := p.Append(nil); string(got) != string(want) {
		t.Errorf("Append = %x, want %x", got, want)
	}
}

func TestParseTransportParametersSkipsUnknown(t *testing.T) {
	b := []byte{
		0x0d, 0x01, 0xff, // preferred_address: not a limpet parameter
		0x21, 0x00, // reserved-style identifier
		0x04, 0x02, 0x44, 0x00, // initial_max_data 1024
	}
	p, err := ParseTransportParameters(b, false)
	if err != nil || p.InitialMaxData != 1024 {
		t.Fatalf("ParseTransportParameters = %+v, %v; want initial_max_data 1024", p, err)
	}
	var many []byte
	for id := range uint64(maxUnknownTransportParameters) {
		many = AppendVarint(many, 0x1000+id)
		many = append(many, 0)
	}
	if _, err := ParseTransportParameters(many, false); err != nil {
		t.Errorf("%d unknown parameters: %v", maxUnknownTransportParameters, err)
	}
	many = append(AppendVarint(many, 0x2000), 0)
	if _, err := ParseTransportParameters(many, false); !errors.Is(err, ErrTransportParameter) {
		t.Errorf("%d unknown parameters: err = %v, want ErrTransportParameter", maxUnknownTransportParameters+1, err)
	}
}

func TestParseTransportParametersRejects(t *testing.T) {
	tests := []struct {
		desc       string
		b          []byte
		fromServer bool
	}{
		{"duplicate known parameter", []byte{0x04, 0x01, 0x01, 0x04, 0x01, 0x02}, true},
		{"duplicate unknown parameter", []byte{0x21, 0x00, 0x21, 0x00}, true},
		{"duplicate fec", []byte{0x80, 0x00, 0x4c, 0x01, 0x01, 0x00, 0x80, 0x00, 0x4c, 0x01, 0x01, 0x00}, true},
		{"ack_delay_exponent 21", []byte{0x0a, 0x01, 21}, true},
		{"min_ack_delay above the default max_ack_delay", []byte{0x80, 0x00, 0x4c, 0x03, 0x04, 0x80, 0x00, 0x61, 0xa9}, true},
		{"min_ack_delay above max_ack_delay", []byte{0x0b, 0x01, 0x01, 0x80, 0x00, 0x4c, 0x03, 0x02, 0x43, 0xe9}, true},
		{"min_ack_delay of 2^62-1 µs", append([]byte{0x80, 0x00, 0x4c, 0x03, 0x08}, AppendVarint(nil, MaxVarint)...), true},
		{"duplicate min_ack_delay", []byte{0x80, 0x00, 0x4c, 0x03, 0x01, 0x00, 0x80, 0x00, 0x4c, 0x03, 0x01, 0x00}, true},
		{"max_ack_delay 2^14", []byte{0x0b, 0x04, 0x80, 0x00, 0x40, 0x00}, true},
		{"active_connection_id_limit 1", []byte{0x0e, 0x01, 0x01}, true},
		{"active_connection_id_limit 0", []byte{0x0e, 0x01, 0x00}, true},
		{"max_udp_payload_size 1199", []byte{0x03, 0x02, 0x44, 0xaf}, true},
		{"initial_max_streams_bidi above 2^60", append([]byte{0x08, 0x08}, AppendVarint(nil, MaxStreamCount+1)...), true},
		{"initial_max_streams_uni above 2^60", append([]byte{0x09, 0x08}, AppendVarint(nil, MaxStreamCount+1)...), true},
		{"original_destination_connection_id from a client", []byte{0x00, 0x01, 0xaa}, false},
		{"stateless_reset_token from a client", append([]byte{0x02, 0x10}, make([]byte, 16)...), false},
		{"retry_source_connection_id from a client", []byte{0x10, 0x01, 0xaa}, false},
		{"stateless_reset_token of 15 bytes", append([]byte{0x02, 0x0f}, make([]byte, 15)...), true},
		{"21-byte connection ID", append([]byte{0x0f, 21}, make([]byte, 21)...), true},
		{"disable_active_migration with a value", []byte{0x0c, 0x01, 0x00}, true},
		{"varint shorter than its length", []byte{0x04, 0x02, 0x01, 0x00}, true},
		{"varint longer than its length", []byte{0x04, 0x01, 0x44}, true},
		{"empty varint value", []byte{0x04, 0x00}, true},
		{"value past the end", []byte{0x04, 0x04, 0x80}, true},
		{"truncated length", []byte{0x04}, true},
		{"truncated identifier", []byte{0x40}, true},
	}
	for _, tt := range tests {
		if _, err := ParseTransportParameters(tt.b, tt.fromServer); !errors.Is(err, ErrTransportParameter) {
			t.Errorf("%s: err = %v, want ErrTransportParameter", tt.desc, err)
		}
	}
}

func TestTransportParametersTruncation(t *testing.T) {
	enc := fullTransportParameters(t).Append(nil)
	// Cutting inside a parameter is an error; cutting between parameters
	// is a shorter, valid list.
	boundaries := map[int]bool{0: true}
	for b := enc; len(b) > 0; {
		_, n1, _ := ParseVarint(b)
		l, n2, _ := ParseVarint(b[n1:])
		b = b[n1+n2+int(l):]
		boundaries[len(enc)-len(b)] = true
	}
	for i := range enc {
		_, err := ParseTransportParameters(enc[:i], true)
		if boundaries[i] != (err == nil) {
			t.Errorf("%d-byte prefix (boundary %v): err = %v", i, boundaries[i], err)
		}
	}
}

func TestTransportParametersValidate(t *testing.T) {
	tests := []struct {
		desc   string
		modify func(*TransportParameters)
	}{
		{"negative idle timeout", func(p *TransportParameters) { p.MaxIdleTimeout = -1 }},
		{"small max_udp_payload_size", func(p *TransportParameters) { p.MaxUDPPayloadSize = 1199 }},
		{"negative credit", func(p *TransportParameters) { p.InitialMaxData = -1 }},
		{"too many streams", func(p *TransportParameters) { p.InitialMaxStreamsUni = MaxStreamCount + 1 }},
		{"ack_delay_exponent 21", func(p *TransportParameters) { p.AckDelayExponent = 21 }},
		{"max_ack_delay 2^14 ms", func(p *TransportParameters) { p.MaxAckDelay = 1 << 14 * time.Millisecond }},
		{"active_connection_id_limit 1", func(p *TransportParameters) { p.ActiveConnIDLimit = 1 }},
		{"fec above 2^62-1", func(p *TransportParameters) { p.FECMaxRepairSymbols = MaxVarint + 1 }},
		{"server-only from a client", func(p *TransportParameters) { p.HasRetrySrcConnID = true }},
	}
	for _, tt := range tests {
		p := DefaultTransportParameters()
		tt.modify(&p)
		if err := p.Validate(false); !errors.Is(err, ErrTransportParameter) {
			t.Errorf("%s: Validate = %v, want ErrTransportParameter", tt.desc, err)
		}
	}
	if err := fullTransportParameters(t).Validate(true); err != nil {
		t.Errorf("full server parameters: %v", err)
	}
}

func TestTransportParametersIdleTimeoutClamped(t *testing.T) {
	b := append([]byte{0x01, 0x08}, AppendVarint(nil, MaxVarint)...)
	p, err := ParseTransportParameters(b, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Duration(maxDurationMs) * time.Millisecond; p.MaxIdleTimeout != want {
		t.Errorf("MaxIdleTimeout = %v, want %v", p.MaxIdleTimeout, want)
	}
}

func TestApplicationProtocolsParameter(t *testing.T) {
	p := DefaultTransportParameters()
	p.ApplicationProtocols = []string{"h1", "limpet-echo/2"}
	b := p.Append(nil)
	want := []byte{0x80, 0x00, 0x4c, 0x02, 17, 2, 'h', '1', 13, 'l', 'i', 'm', 'p', 'e', 't', '-', 'e', 'c', 'h', 'o', '/', '2'}
	if !bytes.Equal(b, want) {
		t.Fatalf("Append = % x, want % x", b, want)
	}
	got, err := ParseTransportParameters(b, false)
	if err != nil || !reflect.DeepEqual(got.ApplicationProtocols, p.ApplicationProtocols) {
		t.Fatalf("Parse = %q, %v; want %q", got.ApplicationProtocols, err, p.ApplicationProtocols)
	}
	if _, err := ParseTransportParameters(b, true); !errors.Is(err, ErrTransportParameter) {
		t.Errorf("two names from a server: error %v, want ErrTransportParameter", err)
	}
	for _, bad := range [][]byte{
		{0x80, 0x00, 0x4c, 0x02, 0},         // no name
		{0x80, 0x00, 0x4c, 0x02, 1, 0},      // an empty name
		{0x80, 0x00, 0x4c, 0x02, 2, 5, 'a'}, // a name running past the value
		append(bytes.Clone(b), b...),        // repeated
	} {
		if _, err := ParseTransportParameters(bad, false); !errors.Is(err, ErrTransportParameter) {
			t.Errorf("Parse(% x): error %v, want ErrTransportParameter", bad, err)
		}
	}
	many := DefaultTransportParameters()
	for i := range MaxApplicationProtocols + 1 {
		many.ApplicationProtocols = append(many.ApplicationProtocols, string(rune('a'+i)))
	}
	if err := many.Validate(false); !errors.Is(err, ErrTransportParameter) {
		t.Errorf("Validate with %d names: %v, want ErrTransportParameter", len(many.ApplicationProtocols), err)
	}
}
