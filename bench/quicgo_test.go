package bench

import (
	"reflect"
	"testing"
)

func TestQuicGoIsRegistered(t *testing.T) {
	runners, err := ParseProtocols("limpet,quic-go,tcp-cubic,tls")
	if err != nil {
		t.Fatal(err)
	}
	// quic-go alternates between TLS and limpet, the two it is compared with.
	if got, want := runnerNames(runners), []string{ProtocolTCPCubic, ProtocolTLS, ProtocolQuicGo, ProtocolLimpet}; !reflect.DeepEqual(got, want) {
		t.Errorf("ParseProtocols order: got %v, want %v", got, want)
	}
	r, err := NewRunner(ProtocolQuicGo)
	if err != nil || r.Protocol != "quic-go" || r.Run == nil {
		t.Errorf("NewRunner(%q) = %+v, %v; want the quic-go runner", ProtocolQuicGo, r, err)
	}
}
