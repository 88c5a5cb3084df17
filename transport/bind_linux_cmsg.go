//go:build linux

package transport

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/limpetnet/limpet/packet"
)

// The batch bind reads and writes control messages in place, in
// per-message buffers allocated with the bind, so that no datagram costs
// an allocation.

// recvOOBWords sizes each received message's control buffer in 8-byte
// words (so that a cmsghdr at its start is aligned). The most a datagram
// brings is 144 bytes, on a dual-stack socket from an IPv4 peer: UDP_GRO
// and SO_RXQ_OVFL (24 bytes each), IPV6_PKTINFO (40; the kernel reports
// IPv4 destinations IPv4-mapped to AF_INET6 sockets), IP_PKTINFO (32) and
// IP_TOS (24). An IPv6 datagram brings IPV6_TCLASS (24) instead of the
// last two. A buffer too short loses the later ones (MSG_CTRUNC).
const recvOOBWords = 24

// sendOOBWords sizes each sent message's control buffer: UDP_SEGMENT and
// IP_TOS or IPV6_TCLASS (24 bytes each), and IPV6_PKTINFO (40) or
// IP_PKTINFO (32).
const sendOOBWords = 12

// enableRecvControl asks the kernel to report each datagram's traffic
// class and destination address. An AF_INET6 socket needs the IPv4 options
// too: for its IPv4 peers the kernel reports the IPv4 header's TOS only as
// IP_TOS. Errors are ignored: without them datagrams read Not-ECT, with no
// Local.
func enableRecvControl(s int, v6 bool) {
	_ = unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_RECVTOS, 1)
	_ = unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
	if v6 {
		_ = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, 1)
		_ = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
	}
}

// recvControl is what a received datagram's control messages say.
type recvControl struct {
	segSize  int    // of a UDP_GRO train; 0 if the datagram arrived alone
	drops    uint32 // the socket's SO_RXQ_OVFL drop counter, if hasDrops
	hasDrops bool
	ecn      ECN        // the traffic class's low bits
	dst      netip.Addr // the header's destination address, IPv4 unmapped
}

// parseRecvControl reads a received datagram's control messages.
func parseRecvControl(oob []byte) recvControl {
	var rc recvControl
	for len(oob) >= unix.SizeofCmsghdr {
		cm := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(cm.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			break
		}
		data := oob[unix.CmsgLen(0):l]
		switch {
		case cm.Level == unix.IPPROTO_UDP && cm.Type == unix.UDP_GRO && len(data) >= 4:
			rc.segSize = int(int32(binary.NativeEndian.Uint32(data)))
		case cm.Level == unix.SOL_SOCKET && cm.Type == unix.SO_RXQ_OVFL && len(data) >= 4:
			rc.drops, rc.hasDrops = binary.NativeEndian.Uint32(data), true
		case cm.Level == unix.IPPROTO_IP && cm.Type == unix.IP_TOS && len(data) >= 1:
			// Linux sends one byte; other paths (and systems) an int.
			tos := data[0]
			if len(data) >= 4 {
				tos = byte(binary.NativeEndian.Uint32(data))
			}
			rc.ecn = ECN(tos & 0b11)
		case cm.Level == unix.IPPROTO_IPV6 && cm.Type == unix.IPV6_TCLASS && len(data) >= 4:
			rc.ecn = ECN(binary.NativeEndian.Uint32(data) & 0b11)
		case cm.Level == unix.IPPROTO_IP && cm.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo: ifindex, spec_dst (the local address
			// routing would pick), addr (the header's destination).
			rc.dst = netip.AddrFrom4([4]byte(data[8:12]))
		case cm.Level == unix.IPPROTO_IPV6 && cm.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			// struct in6_pktinfo: addr, ifindex.
			a := netip.AddrFrom16([16]byte(data[0:16])).Unmap()
			if ifindex := binary.NativeEndian.Uint32(data[16:20]); a.IsLinkLocalUnicast() && ifindex != 0 {
				// Answering from a link-local address needs its
				// interface; rare enough that naming it by number
				// may allocate.
				a = a.WithZone(strconv.FormatUint(uint64(ifindex), 10))
			}
			rc.dst = a
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return rc
}

// putSendControl writes a sent message's control messages into oob and
// returns their length: UDP_SEGMENT when seg is positive, the traffic
// class when ecn is not Not-ECT, and the source address when local is
// valid and of to's family (another is ignored). IPv4 destinations take
// the IPPROTO_IP messages even on an AF_INET6 socket, where the kernel
// sends to them with its IPv4 code and ignores IPV6_TCLASS.
func putSendControl(oob []byte, seg int, ecn ECN, local netip.Addr, to netip.Addr) int {
	to4 := to.Unmap().Is4()
	n := 0
	if seg > 0 {
		var data []byte
		data, n = putCmsg(oob, n, unix.IPPROTO_UDP, unix.UDP_SEGMENT, 2)
		binary.NativeEndian.PutUint16(data, uint16(seg))
	}
	if ecn != packet.ECNNotECT {
		// An int: IPv6 takes nothing else, and IPv4 a byte or an int.
		// The DSCP bits stay zero, as the socket's default TOS.
		level, typ := unix.IPPROTO_IPV6, unix.IPV6_TCLASS
		if to4 {
			level, typ = unix.IPPROTO_IP, unix.IP_TOS
		}
		var data []byte
		data, n = putCmsg(oob, n, level, typ, 4)
		binary.NativeEndian.PutUint32(data, uint32(ecn))
	}
	switch local = local.Unmap(); {
	case !local.IsValid():
	case to4 && local.Is4():
		// struct in_pktinfo: any interface, spec_dst = the source.
		var data []byte
		data, n = putCmsg(oob, n, unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo)
		clear(data)
		a := local.As4()
		copy(data[4:8], a[:])
	case !to4 && local.Is6():
		var data []byte
		data, n = putCmsg(oob, n, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
		a := local.As16()
		copy(data[0:16], a[:])
		binary.NativeEndian.PutUint32(data[16:20], zoneIndex(local.Zone()))
	}
	return n
}

// putCmsg writes the header of a control message with size bytes of data
// at oob[off:], zeroes its padding, and returns its data and the offset of
// the next message.
func putCmsg(oob []byte, off, level, typ, size int) (data []byte, next int) {
	cm := (*unix.Cmsghdr)(unsafe.Pointer(&oob[off]))
	cm.Level, cm.Type = int32(level), int32(typ)
	cm.SetLen(unix.CmsgLen(size))
	start, next := off+unix.CmsgLen(0), off+unix.CmsgSpace(size)
	clear(oob[start+size : next])
	return oob[start : start+size], next
}
