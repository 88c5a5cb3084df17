package session

import "testing"

// TestParseCarrierHeader: a carrier's preamble is 0x02 and 8 bytes of
// stream ID; any other first byte, or another length, is refused.
func TestParseCarrierHeader(t *testing.T) {
	good := appendCarrierHeader(nil, 1<<40+7)
	if id, err := parseCarrierHeader(good); err != nil || id != 1<<40+7 {
		t.Fatalf("parseCarrierHeader(% x) = %d, %v; want %d", good, id, err, uint64(1<<40+7))
	}
	for _, b := range [][]byte{
		append([]byte{preambleControl}, good[1:]...),
		append([]byte{0x05}, good[1:]...),
		good[:8],
		append(good, 0),
		nil,
	} {
		if id, err := parseCarrierHeader(b); err == nil {
			t.Errorf("parseCarrierHeader(% x) = %d, nil; want an error", b, id)
		}
	}
}
