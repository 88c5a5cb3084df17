//go:build linux

package transport

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"
)

// The batch bind writes and reads raw sockaddr_in / sockaddr_in6 bytes
// itself, so that no net.UDPAddr is allocated per datagram. Layouts: family
// (host order) at 0, port (network order) at 2; IPv4 address at 4; IPv6
// flow info at 4, address at 8, scope ID (host order) at 24.

// encodeSockaddr writes ap into b in the socket's family and returns the
// sockaddr's length. On an AF_INET6 socket IPv4 peers become IPv4-mapped
// addresses, which is how a dual-stack socket reaches them. The caller has
// checked that the family can reach ap.
func encodeSockaddr(b *[sockaddrSize]byte, ap netip.AddrPort, v6 bool) int {
	a := ap.Addr()
	binary.BigEndian.PutUint16(b[2:4], ap.Port())
	if !v6 {
		binary.NativeEndian.PutUint16(b[0:2], unix.AF_INET)
		a4 := a.Unmap().As4()
		copy(b[4:8], a4[:])
		clear(b[8:16])
		return unix.SizeofSockaddrInet4
	}
	binary.NativeEndian.PutUint16(b[0:2], unix.AF_INET6)
	clear(b[4:8])
	a16 := a.As16()
	copy(b[8:24], a16[:])
	binary.NativeEndian.PutUint32(b[24:28], zoneIndex(a.Zone()))
	return unix.SizeofSockaddrInet6
}

// decodeSockaddr reads the peer address recvmmsg wrote into b, with IPv4
// (plain or IPv4-mapped) as plain IPv4.
func decodeSockaddr(b *[sockaddrSize]byte) netip.AddrPort {
	port := binary.BigEndian.Uint16(b[2:4])
	switch binary.NativeEndian.Uint16(b[0:2]) {
	case unix.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port)
	case unix.AF_INET6:
		a := netip.AddrFrom16([16]byte(b[8:24]))
		if a.Is4In6() {
			return netip.AddrPortFrom(a.Unmap(), port)
		}
		if scope := binary.NativeEndian.Uint32(b[24:28]); scope != 0 {
			// Only link-local peers carry a scope; they are rare
			// enough that naming it by number may allocate.
			a = a.WithZone(strconv.FormatUint(uint64(scope), 10))
		}
		return netip.AddrPortFrom(a, port)
	}
	return netip.AddrPort{}
}

// zoneIndex returns the interface index an IPv6 zone names: a number, as
// decodeSockaddr writes it, or an interface name.
func zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n)
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}
