//go:build !linux

package flood

import (
	"errors"
	"net/netip"
)

func newRawJunkSender(to netip.AddrPort) (junkSender, error) {
	return nil, errors.New("spoofed sources need Linux")
}
