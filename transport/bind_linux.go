//go:build linux

package transport

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// linuxBatchSize is how many messages one recvmmsg or sendmmsg carries.
// With GRO and GSO each message is itself up to 64 KiB of datagrams, so a
// larger batch would only hold more buffers.
const linuxBatchSize = 64

// maxSendIovecs caps the iovecs one sendmmsg carries: coalescing a run of
// separate datagrams into one GSO send takes one iovec per datagram.
const maxSendIovecs = 1024

// socketBufferSize is what the bind asks for SO_RCVBUF and SO_SNDBUF: the
// kernel defaults (about 200 KiB) drop bursts at GSO speeds.
const socketBufferSize = 8 << 20

// sockaddrSize is a sockaddr_in6, the larger of the two families.
const sockaddrSize = unix.SizeofSockaddrInet6

// linuxBind is a Bind over one UDP socket that moves batches with
// recvmmsg/sendmmsg and trains with UDP GSO and GRO.
//
// Its message buffers are allocated once, so reading and writing allocate
// nothing. It calls recvmmsg and sendmmsg itself, through the socket's
// syscall.RawConn, rather than through golang.org/x/net/ipv4's
// ReadBatch/WriteBatch: those allocate a net.UDPAddr for every datagram
// read and know nothing of GSO trains built from several iovecs.
type linuxBind struct {
	conn  *net.UDPConn
	raw   syscall.RawConn
	local netip.AddrPort
	v6    bool // AF_INET6 socket: IPv4 peers are addressed as IPv4-mapped IPv6

	// groCapable says the kernel has UDP_GRO and the options allow it;
	// gro says it is on, so reads may return trains. ReadBatch turns it
	// off while the caller's buffers are too short for a train, and on
	// again when they are long enough (both guarded by readMu after
	// creation).
	groCapable, gro bool

	// gso is set while the kernel accepts UDP_SEGMENT. The first send
	// that fails with EIO (no checksum offload on the route's device) or
	// EINVAL clears it for good, and everything is sent plainly from then
	// on.
	gso atomic.Bool

	readMu sync.Mutex
	rd     mmsgReader // guarded by readMu

	// rxqOverflow is the kernel's count of datagrams this socket dropped
	// for want of receive buffer (SO_RXQ_OVFL), as of the latest datagram
	// read; rxqLast is the 32-bit counter it was last read from.
	rxqOverflow atomic.Uint64
	rxqLast     uint32 // guarded by readMu

	// localErrors is set when a send drew EMSGSIZE: with IP_RECVERR the
	// kernel also queued a report of it (origin local) in the socket's
	// error queue, which only an ICMP error would otherwise drain, and
	// which holds receive buffer until read.
	localErrors atomic.Bool

	writeMu sync.Mutex
	wr      mmsgWriter // guarded by writeMu
}

func newUDPBind(conn *net.UDPConn, opts bindOptions) (Bind, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &linuxBind{conn: conn, raw: raw}
	if la, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		b.local = unmapAddrPort(la.AddrPort())
	}
	var sockErr error
	err = raw.Control(func(fd uintptr) {
		s := int(fd)
		sa, err := unix.Getsockname(s)
		if err != nil {
			sockErr = os.NewSyscallError("getsockname", err)
			return
		}
		_, b.v6 = sa.(*unix.SockaddrInet6)
		raiseBuffer(s, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF)
		raiseBuffer(s, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF)
		// Each datagram read carries the socket's count of drops for a
		// full receive buffer, for the bottleneck report.
		_ = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
		// Set don't-fragment and ignore the kernel's path-MTU cache
		// (RFC 9000 §14): datagrams are never fragmented, and their size
		// is the transport's business, not an ICMP message's that anyone
		// could forge: the transport finds the path's MTU with probes it
		// sees acknowledged (docs/PROTOCOL.md section 11). A datagram
		// larger than the interface allows fails at once with EMSGSIZE,
		// which tells the search too. The IPv4 option also governs IPv4
		// peers of a dual-stack socket.
		_ = unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
		if b.v6 {
			_ = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE)
		}
		// Report ICMP errors for this unconnected socket in its error
		// queue, with the destination that drew them (ReadBatch returns
		// them as *UnreachableError), so that a Dial to a port where
		// nothing listens fails at once, as TCP's connect does.
		_ = unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_RECVERR, 1)
		if b.v6 {
			_ = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1)
		}
		// Each datagram read carries its ECN codepoint and the address
		// it was sent to (Datagram.ECN and Local).
		enableRecvControl(s, b.v6)
		// Kernels before 4.18 have no UDP_SEGMENT and say ENOPROTOOPT.
		if !opts.noGSO {
			_, err := unix.GetsockoptInt(s, unix.IPPROTO_UDP, unix.UDP_SEGMENT)
			b.gso.Store(err == nil)
		}
		if !opts.noGRO {
			b.groCapable = unix.SetsockoptInt(s, unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil
			b.gro = b.groCapable
		}
	})
	if err != nil {
		return nil, err
	}
	if sockErr != nil {
		return nil, sockErr
	}
	b.rd.recv = b.rd.recvmmsg
	b.wr.send = b.wr.sendmmsg
	return b, nil
}

// raiseBuffer raises a socket buffer to socketBufferSize, first with the
// FORCE option that root may use past net.core.{r,w}mem_max, then with the
// plain one that the kernel clamps. It never shrinks a larger buffer.
func raiseBuffer(fd, force, plain int) {
	// The kernel reports double the size it was asked for (the other
	// half is its bookkeeping allowance).
	if cur, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, plain); err == nil && cur >= 2*socketBufferSize {
		return
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, socketBufferSize) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, plain, socketBufferSize)
	}
}

func (b *linuxBind) LocalAddr() netip.AddrPort { return b.local }

// DontFragment reports that datagrams leave with the don't-fragment bit
// (IP_PMTUDISC_PROBE): path MTU discovery can trust a probe that arrives.
func (b *linuxBind) DontFragment() bool { return true }
func (b *linuxBind) BatchSize() int     { return linuxBatchSize }
func (b *linuxBind) Close() error       { return b.conn.Close() }

func (b *linuxBind) MaxSegments() int {
	if b.gso.Load() {
		return maxGSOSegments
	}
	return 1
}

// mmsgReader holds recvmmsg's arguments, allocated once with the bind.
type mmsgReader struct {
	hdrs  [linuxBatchSize]unix.Mmsghdr
	iovs  [linuxBatchSize]unix.Iovec
	names [linuxBatchSize][sockaddrSize]byte
	oob   [linuxBatchSize][recvOOBWords]uint64

	count int           // messages offered to recvmmsg
	n     int           // messages it filled
	errno syscall.Errno // its error, if any

	// recv is r.recvmmsg bound once, so that RawConn.Read allocates no
	// closure per call.
	recv func(fd uintptr) bool
}

// recvmmsg is RawConn.Read's callback: false asks the runtime poller to
// wait until the socket is readable and call again.
func (r *mmsgReader) recvmmsg(fd uintptr) bool {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd,
			uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(r.count), 0, 0, 0)
		switch errno {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		case 0:
			r.n, r.errno = int(n), 0
		default:
			r.n, r.errno = 0, errno
		}
		return true
	}
}

func (b *linuxBind) ReadBatch(dgrams []Datagram) (int, error) {
	count := min(len(dgrams), linuxBatchSize)
	if count == 0 {
		return 0, nil
	}
	b.readMu.Lock()
	defer b.readMu.Unlock()
	r := &b.rd
	shortest := BindReadBufferSize
	for i := range count {
		shortest = min(shortest, len(dgrams[i].Buf))
		setIovec(&r.iovs[i], dgrams[i].Buf)
		r.hdrs[i] = unix.Mmsghdr{Hdr: unix.Msghdr{
			Name:    &r.names[i][0],
			Namelen: sockaddrSize,
			Iov:     &r.iovs[i],
			Control: (*byte)(unsafe.Pointer(&r.oob[i][0])),
		}}
		r.hdrs[i].Hdr.SetIovlen(1)
		r.hdrs[i].Hdr.SetControllen(recvOOBWords * 8)
	}
	if want := shortest >= BindReadBufferSize; b.groCapable && b.gro != want {
		if err := b.setGRO(want); err != nil {
			return 0, err
		}
	}
	if b.localErrors.Swap(false) {
		if ue := b.readErrQueue(); ue != nil {
			return 0, ue // an ICMP error queued among them
		}
	}
	r.count = count
	for {
		if err := b.raw.Read(r.recv); err != nil {
			return 0, err
		}
		if r.errno == 0 {
			break
		}
		// The error queue made recvmmsg fail: an ICMP error to report,
		// or only path-MTU news, which is drained and ignored.
		if ue := b.readErrQueue(); ue != nil {
			return 0, ue
		}
		if r.errno != unix.EMSGSIZE {
			return 0, os.NewSyscallError("recvmmsg", r.errno)
		}
	}
	for i := range r.n {
		d, h := &dgrams[i], &r.hdrs[i]
		d.N = int(h.Len)
		d.Addr = decodeSockaddr(&r.names[i])
		d.SegmentSize = 0
		oob := unsafe.Slice((*byte)(unsafe.Pointer(&r.oob[i][0])), recvOOBWords*8)
		rc := parseRecvControl(oob[:min(int(h.Hdr.Controllen), len(oob))])
		if b.groCapable && rc.segSize > 0 && d.N > rc.segSize {
			d.SegmentSize = rc.segSize
		}
		d.ECN, d.Local = rc.ecn, rc.dst
		if rc.hasDrops {
			// A 32-bit counter that wraps: add what it moved since.
			b.rxqOverflow.Add(uint64(rc.drops - b.rxqLast))
			b.rxqLast = rc.drops
		}
	}
	return r.n, nil
}

// SendBlocked is how long WriteBatch calls have waited, in all, for room
// in the socket's send buffer or for another caller's batch.
func (b *linuxBind) SendBlocked() time.Duration { return time.Duration(b.wr.blocked.Load()) }

// ReceiveDrops is the number of datagrams the kernel dropped because the
// socket's receive buffer was full, as of the latest datagram read (the
// kernel reports the count with each datagram, SO_RXQ_OVFL).
func (b *linuxBind) ReceiveDrops() uint64 { return b.rxqOverflow.Load() }

// readErrQueue drains the socket's error queue (IP_RECVERR) and returns
// the first ICMP error in it, with the destination of the datagram that
// drew it. recvmmsg fails with that error's errno when one is queued.
func (b *linuxBind) readErrQueue() *UnreachableError {
	var first *UnreachableError
	var buf [64]byte
	var oob [256]byte // IP_RECVERR, and the PKTINFO and TOS messages of the datagram that drew it
	b.raw.Control(func(fd uintptr) {
		for range 64 {
			_, oobn, _, from, err := unix.Recvmsg(int(fd), buf[:], oob[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
			if err != nil {
				return // EAGAIN: drained
			}
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil || first != nil {
				continue
			}
			for _, m := range msgs {
				ip4 := m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR
				ip6 := m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR
				if (!ip4 && !ip6) || len(m.Data) < int(unsafe.Sizeof(unix.SockExtendedErr{})) {
					continue
				}
				ee := (*unix.SockExtendedErr)(unsafe.Pointer(&m.Data[0]))
				if ee.Origin != unix.SO_EE_ORIGIN_ICMP && ee.Origin != unix.SO_EE_ORIGIN_ICMP6 {
					continue
				}
				if syscall.Errno(ee.Errno) == unix.EMSGSIZE {
					// Fragmentation needed, or Packet Too Big: path-MTU
					// news that anyone can forge. Path MTU discovery
					// learns the size from acknowledgements instead
					// (docs/PROTOCOL.md section 11).
					continue
				}
				if to, ok := sockaddrAddrPort(from); ok {
					first = &UnreachableError{Addr: to, Err: syscall.Errno(ee.Errno)}
				}
			}
		}
	})
	return first
}

// sockaddrAddrPort converts a sockaddr from the error queue.
func sockaddrAddrPort(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port)), true
	}
	return netip.AddrPort{}, false
}

// setGRO turns UDP_GRO on or off. The kernel joins datagrams into trains
// as they are queued but reports the segment size only while GRO is on, so
// a train still queued when GRO goes off reads as one long datagram. That
// costs those datagrams once, if the caller shrinks its buffers while a
// peer is sending trains; the endpoint reads with one buffer size for the
// Bind's life, and the first ReadBatch settles the setting.
// coalescesReceives reports whether reads may return GRO trains: with the
// full-size buffers readers use, UDP_GRO is on whenever the kernel has it.
func (b *linuxBind) coalescesReceives() bool { return b.groCapable }

func (b *linuxBind) setGRO(on bool) error {
	v := 0
	if on {
		v = 1
	}
	var optErr error
	if err := b.raw.Control(func(fd uintptr) {
		optErr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, v)
	}); err != nil {
		return err
	}
	if optErr != nil {
		return os.NewSyscallError("setsockopt UDP_GRO", optErr)
	}
	b.gro = on
	return nil
}

// batchPos is a place in a WriteBatch argument: datagram index and byte
// offset into its train.
type batchPos struct{ dgram, off int }

// mmsgWriter holds sendmmsg's arguments, allocated once with the bind.
type mmsgWriter struct {
	hdrs  [linuxBatchSize]unix.Mmsghdr
	iovs  [maxSendIovecs]unix.Iovec
	names [linuxBatchSize][sockaddrSize]byte
	oob   [linuxBatchSize][sendOOBWords]uint64

	// starts[m] is where message m begins in the caller's batch and
	// usesGSO[m] whether it carries UDP_SEGMENT: after a GSO failure the
	// batch is rebuilt without GSO from the failed message on.
	starts  [linuxBatchSize]batchPos
	usesGSO [linuxBatchSize]bool

	nmsg, niov int

	from  int           // first message of the pending sendmmsg
	n     int           // messages it sent
	errno syscall.Errno // its error, if any

	// send is w.sendmmsg bound once, so that RawConn.Write allocates no
	// closure per call.
	send func(fd uintptr) bool

	// fullSince is when sendmmsg last found the send buffer full (zero
	// when it did not); blocked sums the time writers waited for room or
	// for another writer (SendBlocked).
	fullSince time.Time
	blocked   atomic.Int64
}

// sendmmsg is RawConn.Write's callback: false asks the runtime poller to
// wait until the socket is writable and call again.
func (w *mmsgWriter) sendmmsg(fd uintptr) bool {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, fd,
			uintptr(unsafe.Pointer(&w.hdrs[w.from])), uintptr(w.nmsg-w.from), 0, 0, 0)
		switch errno {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			// The send buffer is full: the poller waits for room.
			if w.fullSince.IsZero() {
				w.fullSince = time.Now()
			}
			return false
		case 0:
			w.n, w.errno = int(n), 0
		default:
			w.n, w.errno = 0, errno
		}
		if !w.fullSince.IsZero() {
			w.blocked.Add(int64(time.Since(w.fullSince)))
			w.fullSince = time.Time{}
		}
		return true
	}
}

func (b *linuxBind) WriteBatch(dgrams []Datagram) error {
	if !b.writeMu.TryLock() {
		// Another connection on this socket is sending: waiting for it
		// is waiting for the socket.
		t := time.Now()
		b.writeMu.Lock()
		b.wr.blocked.Add(int64(time.Since(t)))
	}
	defer b.writeMu.Unlock()
	w := &b.wr
	defer w.dropReferences()
	var first error
	gso := b.gso.Load()
	// verifying is set while a plain resend tests whether GSO or the
	// datagram itself made the kernel say EINVAL (see below).
	verifying := false
	pos := batchPos{}
	// retried is the message sent a second time after a refusal that a
	// pending socket error may have caused (see below).
	retried := -1
	for pos.dgram < len(dgrams) {
		w.nmsg, w.niov = 0, 0
		for pos.dgram < len(dgrams) && w.nmsg < len(w.hdrs) && w.niov < len(w.iovs) {
			if d := &dgrams[pos.dgram]; d.N < 0 || d.N > len(d.Buf) || !b.reachable(d.Addr) {
				first = firstError(first, errBadDatagram)
				pos = batchPos{pos.dgram + 1, 0}
				continue
			}
			pos = w.add(dgrams, pos, gso, b.v6)
		}
		retried = -1
		for w.from = 0; w.from < w.nmsg; {
			if err := b.raw.Write(w.send); err != nil {
				return err // the socket is closed
			}
			if verifying {
				// The first plain message has its verdict. If it
				// went out, GSO was at fault: never use it on this
				// socket again. If it failed too (EMSGSIZE from a
				// datagram over the MTU, say), GSO was not.
				verifying = false
				if w.n > 0 {
					b.gso.Store(false)
				}
			}
			w.from += w.n
			if w.errno == 0 {
				continue
			}
			if pendingErrorErrno(w.errno) && retried != w.from {
				// An ICMP error that reached the socket (IP_RECVERR)
				// stays pending and fails the next send, to whatever
				// peer, with its errno; the failure clears it. So one
				// peer's "port unreachable" or a router's "packet too
				// big" would cost another datagram: send it once more
				// before blaming it.
				retried = w.from
				continue
			}
			gsoErr := w.errno == unix.EIO || w.errno == unix.EINVAL || w.errno == unix.EMSGSIZE
			if gso && w.usesGSO[w.from] && gsoErr {
				// EIO: the route's device cannot offload
				// segmentation (no checksum offload, or an xfrm
				// route), so give GSO up for good. EINVAL may mean
				// the same, or, like EMSGSIZE, blame a segment over
				// the MTU (older kernels say EINVAL, newer
				// EMSGSIZE), which takes the message's other
				// datagrams down with it; a plain resend tells,
				// and sends those. Either way the rest of this
				// batch goes without GSO, from the refused message
				// on.
				if w.errno == unix.EIO {
					b.gso.Store(false)
				} else {
					verifying = true
				}
				gso = false
				pos = w.starts[w.from]
				break
			}
			if w.errno == unix.EMSGSIZE {
				b.localErrors.Store(true)
			}
			first = firstError(first, os.NewSyscallError("sendmmsg", w.errno))
			w.from++ // skip the message the kernel refused
		}
	}
	return first
}

// pendingErrorErrno reports whether a send may have failed with errno only
// because an ICMP error was pending on the socket.
func pendingErrorErrno(errno syscall.Errno) bool {
	switch errno {
	case unix.EMSGSIZE, unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EHOSTDOWN:
		return true
	}
	return false
}

// reachable reports whether the socket can send to ap: an IPv4 socket
// reaches only IPv4 peers.
func (b *linuxBind) reachable(ap netip.AddrPort) bool {
	return ap.IsValid() && (b.v6 || ap.Addr().Unmap().Is4())
}

// add appends the message that starts at pos and returns where the next
// one starts. It sends a train in GSO-sized chunks (or segment by segment
// without GSO) and, with GSO, gathers a run of separate datagrams to the
// same peer, from the same Local with the same ECN, all of one size but
// the last, into one message whose iovecs the kernel concatenates and
// splits again at the segment size.
func (w *mmsgWriter) add(dgrams []Datagram, pos batchPos, gso, v6 bool) batchPos {
	m := w.nmsg
	w.nmsg++
	d := &dgrams[pos.dgram]
	w.starts[m] = pos
	h := &w.hdrs[m].Hdr
	*h = unix.Msghdr{
		Name:    &w.names[m][0],
		Namelen: uint32(encodeSockaddr(&w.names[m], d.Addr, v6)),
		Iov:     &w.iovs[w.niov],
	}
	firstIov := w.niov
	next := batchPos{pos.dgram + 1, 0}
	data := d.Buf[pos.off:d.N]
	gsoSize := 0 // UDP_SEGMENT's, if the message carries several datagrams
	switch seg := d.SegmentSize; {
	case seg > 0 && seg < len(data):
		chunk := seg
		if gso {
			chunk = min(len(data), max(1, min(maxGSOSegments, maxGSOPayload/seg))*seg)
		}
		w.addIovec(data[:chunk])
		if chunk > seg {
			gsoSize = seg
		}
		if chunk < len(data) {
			next = batchPos{pos.dgram, pos.off + chunk}
		}
	case gso && len(data) > 0:
		size, total := len(data), len(data)
		w.addIovec(data)
		j := next.dgram
		for ; j < len(dgrams) && j-pos.dgram < maxGSOSegments && w.niov < len(w.iovs); j++ {
			e := &dgrams[j]
			if e.Addr != d.Addr || e.ECN != d.ECN || e.Local != d.Local ||
				e.N <= 0 || e.N > size || e.N > len(e.Buf) || total+e.N > maxGSOPayload ||
				(e.SegmentSize > 0 && e.SegmentSize < e.N) {
				break
			}
			w.addIovec(e.Buf[:e.N])
			total += e.N
			if e.N < size {
				j++ // a shorter datagram ends the train
				break
			}
		}
		if w.niov-firstIov > 1 {
			gsoSize = size
		}
		next = batchPos{j, 0}
	default:
		w.addIovec(data)
	}
	h.SetIovlen(w.niov - firstIov)
	oob := unsafe.Slice((*byte)(unsafe.Pointer(&w.oob[m][0])), sendOOBWords*8)
	if n := putSendControl(oob, gsoSize, d.ECN, d.Local, d.Addr.Addr()); n > 0 {
		h.Control = &oob[0]
		h.SetControllen(n)
	}
	w.usesGSO[m] = gsoSize > 0
	return next
}

func (w *mmsgWriter) addIovec(p []byte) {
	setIovec(&w.iovs[w.niov], p)
	w.niov++
}

// dropReferences forgets the caller's buffers, so that the writer does not
// keep them alive after WriteBatch returns.
func (w *mmsgWriter) dropReferences() {
	clear(w.iovs[:w.niov])
}

// setIovec points iov at p.
func setIovec(iov *unix.Iovec, p []byte) {
	iov.Base = nil
	if len(p) > 0 {
		iov.Base = &p[0]
	}
	iov.SetLen(len(p))
}
