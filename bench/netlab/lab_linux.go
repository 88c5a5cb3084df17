package netlab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ErrClosed is matched by errors.Is in the error of every operation on a
// Lab after Close.
var ErrClosed = errors.New("netlab: lab closed")

// Options configures a Lab. The zero value is a NATed lab whose client
// changes address without a gap.
type Options struct {
	// AddressGap is how long ChangeClientIP leaves the client with no
	// address between removing the old one and adding the new one, like a
	// DHCP lease that lapses before renewal. Sends during the gap fail
	// with "network is unreachable".
	AddressGap time.Duration

	// NoNAT makes the router forward without address translation, so the
	// server sees the client's own addresses. RebindNAT then returns
	// ErrNoNAT.
	NoNAT bool

	// Link, when set, replaces the veth pair between the client and the
	// router with an emulated link: a TUN device on each side (named c0
	// and rc like the veth ends, with the same addresses and routes) and a
	// userspace forwarder between them that applies Link's delay, rate,
	// queue, loss and reordering to every IP packet, TCP and UDP alike.
	// Nil keeps the plain veth pair. SetLink changes the parameters later.
	Link *LinkConfig

	// MTU is the MTU of every link in the lab: both ends of each veth
	// pair, or the emulated link's TUN devices and the forwarder's
	// buffers. Zero means 1500; otherwise it must be between 1280 (IPv6's
	// minimum) and 65535. Offloads are off, so packets of up to MTU bytes
	// cross the lab whole, jumbo frames (9000) included, and the rate
	// limits count them as they are. SetPathMTU lowers the MTU of the
	// path through the router while traffic flows.
	MTU int

	// failAt makes setup fail at the named step; tests use it to check
	// that a half-built lab is torn down.
	failAt string
}

// Lab is a client, router and server namespace triple; see the package
// documentation for the topology. Its methods are safe for concurrent use
// and may be called while traffic flows.
type Lab struct {
	opts   Options
	tools  tools
	prefix string
	names  [sideCount]string

	// emu forwards between the client's and the router's TUN devices when
	// Options.Link is set; it is nil otherwise. It is set while the lab
	// is built and never changes after New returns.
	emu *emulatorProcess

	// mu guards the fields below; it is held only for short, non-blocking
	// sections so that In never waits behind a reconfiguration.
	mu         sync.Mutex
	closed     bool
	closeErr   error
	nsFDs      [sideCount]int
	clientHost byte // last byte of the client's current addresses

	// opMu serialises reconfigurations (and Close) so that each sees the
	// state the previous one left. The fields below belong to its holder.
	opMu      sync.Mutex
	natRange  int  // index of the external port range in use
	rateLimit bool // whether tbf qdiscs are installed
}

// MTU returns the MTU of the lab's links, Options.MTU or its default.
func (l *Lab) MTU() int {
	if l.opts.MTU == 0 {
		return defaultMTU
	}
	return l.opts.MTU
}

// labCount numbers the labs of this process so that parallel tests get
// distinct namespace names.
var labCount atomic.Uint64

// The lab's fixed addresses. The client's addresses change (see
// ChangeClientIP) and are built from clientHost.
var (
	clientNet4     = netip.MustParsePrefix("198.18.1.0/24")
	clientNet6     = netip.MustParsePrefix("2001:2:0:1::/64")
	routerClient4  = netip.MustParseAddr("198.18.1.1")
	routerClient6  = netip.MustParseAddr("2001:2:0:1::1")
	routerServer4  = netip.MustParseAddr("198.19.1.1")
	routerServer6  = netip.MustParseAddr("2001:2:0:2::1")
	server4        = netip.MustParseAddr("198.19.1.2")
	server6        = netip.MustParseAddr("2001:2:0:2::2")
	serverNetBits4 = 24
	serverNetBits6 = 64
)

// firstClientHost and lastClientHost bound the client's last address byte;
// .1 is the router.
const (
	firstClientHost = 2
	lastClientHost  = 254
)

// Interface names. They live inside the lab's namespaces, so every lab can
// use the same ones.
const (
	clientLink       = "c0"
	routerClientLink = "rc"
	routerServerLink = "rs"
	serverLink       = "s0"
)

// Link MTU bounds: IPv6 needs at least 1280 bytes on a link, and neither
// veth nor TUN devices take more than 65535.
const (
	defaultMTU = 1500
	minMTU     = 1280
	maxMTU     = 65535
)

// New builds a lab. On failure everything created so far is removed again.
// It needs root and the programs named by MissingToolError.
func New(opts Options) (*Lab, error) {
	if opts.MTU != 0 && (opts.MTU < minMTU || opts.MTU > maxMTU) {
		return nil, fmt.Errorf("%w: MTU %d not in [%d, %d]", ErrInvalidArgument, opts.MTU, minMTU, maxMTU)
	}
	if opts.Link != nil {
		if err := opts.Link.validate(); err != nil {
			return nil, err
		}
	}
	found, err := findTools()
	if err != nil {
		return nil, err
	}
	sweepStaleLabs(found)
	prefix := fmt.Sprintf("lp%dn%d-", os.Getpid(), labCount.Add(1))
	l := &Lab{
		opts:       opts,
		tools:      found,
		prefix:     prefix,
		nsFDs:      [sideCount]int{-1, -1, -1},
		clientHost: firstClientHost,
	}
	for s := range Side(sideCount) {
		l.names[s] = prefix + s.String()
	}
	if err := l.build(); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	return l, nil
}

// build runs the setup steps in order.
func (l *Lab) build() error {
	steps := []struct {
		name string
		do   func() error
	}{
		{"namespaces", l.createNamespaces},
		{"sysctls", l.setSysctls},
		{"links", l.createLinks},
		{"tun", l.createEmulatedLink},
		{"addresses", l.configureAddresses},
		{"offloads", l.disableOffloads},
		{"nftables", l.installRuleset},
	}
	for _, step := range steps {
		if l.opts.failAt == step.name {
			return fmt.Errorf("netlab: injected failure at step %q", step.name)
		}
		if err := step.do(); err != nil {
			return err
		}
	}
	return nil
}

// createNamespaces adds the three namespaces and opens a descriptor on each,
// which In uses with setns(2).
func (l *Lab) createNamespaces() error {
	var batch strings.Builder
	for _, name := range l.names {
		fmt.Fprintf(&batch, "netns add %s\n", name)
	}
	if err := l.run(hostSide, batch.String(), l.tools.ip, "-batch", "-"); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for s, name := range l.names {
		fd, err := unix.Open(nsPath(name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("netlab: open namespace %s: %w", name, err)
		}
		l.nsFDs[s] = fd
	}
	return nil
}

// setSysctls prepares each namespace before its links exist, so that the
// "default" values apply to the veth ends created next. Every new namespace
// starts with forwarding off; IPv6 duplicate address detection would keep
// addresses tentative (unusable) for about a second, and reverse-path
// filtering would drop the client's packets after ChangeClientIP.
func (l *Lab) setSysctls() error {
	common := map[string]string{
		"net/ipv4/conf/all/rp_filter":                "0",
		"net/ipv4/conf/default/rp_filter":            "0",
		"net/ipv6/conf/all/accept_dad":               "0",
		"net/ipv6/conf/default/accept_dad":           "0",
		"net/ipv6/conf/default/dad_transmits":        "0",
		"net/ipv6/conf/default/router_solicitations": "0",
	}
	router := map[string]string{
		"net/ipv4/ip_forward":              "1",
		"net/ipv6/conf/all/forwarding":     "1",
		"net/ipv6/conf/default/forwarding": "1",
	}
	for s := range Side(sideCount) {
		err := l.In(s, func() error {
			if err := writeSysctls(common); err != nil {
				return err
			}
			if s == Router {
				return writeSysctls(router)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("netlab: sysctls in %v namespace: %w", s, err)
		}
	}
	return nil
}

// writeSysctls writes each value under /proc/sys. /proc/sys/net resolves
// against the calling thread's network namespace, so this must run inside
// In.
func writeSysctls(values map[string]string) error {
	for key, value := range values {
		if err := os.WriteFile("/proc/sys/"+key, []byte(value), 0); err != nil {
			return err
		}
	}
	return nil
}

// createLinks adds the two veth pairs with both ends created directly in
// their namespaces, so no interface ever appears in the host namespace.
// With an emulated link only the router–server pair is a veth; see
// createEmulatedLink.
func (l *Lab) createLinks() error {
	batch := fmt.Sprintf("link add %s netns %s type veth peer name %s netns %s\n",
		routerServerLink, l.names[Router], serverLink, l.names[Server])
	if l.opts.Link == nil {
		batch = fmt.Sprintf("link add %s netns %s type veth peer name %s netns %s\n",
			clientLink, l.names[Client], routerClientLink, l.names[Router]) + batch
	}
	return l.run(hostSide, batch, l.tools.ip, "-batch", "-")
}

// configureAddresses sets every link's MTU, brings the links up and gives
// every end its addresses and the client and server their default routes
// through the router.
func (l *Lab) configureAddresses() error {
	c4, c6 := l.clientAddrs(firstClientHost)
	mtu := func(devs ...string) string {
		var b strings.Builder
		for _, dev := range devs {
			fmt.Fprintf(&b, "link set dev %s mtu %d\n", dev, l.MTU())
		}
		return b.String()
	}
	batches := [sideCount]string{
		Client: fmt.Sprintf("link set lo up\nlink set %[1]s up\n"+
			"addr add %[2]s/%[3]d dev %[1]s\naddr add %[4]s/%[5]d dev %[1]s nodad\n"+
			"route add default via %[6]s dev %[1]s\nroute add default via %[7]s dev %[1]s\n",
			clientLink, c4, clientNet4.Bits(), c6, clientNet6.Bits(), routerClient4, routerClient6),
		Router: fmt.Sprintf("link set lo up\nlink set %[1]s up\nlink set %[2]s up\n"+
			"addr add %[3]s/%[4]d dev %[1]s\naddr add %[5]s/%[6]d dev %[1]s nodad\n"+
			"addr add %[7]s/%[8]d dev %[2]s\naddr add %[9]s/%[10]d dev %[2]s nodad\n",
			routerClientLink, routerServerLink,
			routerClient4, clientNet4.Bits(), routerClient6, clientNet6.Bits(),
			routerServer4, serverNetBits4, routerServer6, serverNetBits6),
		Server: fmt.Sprintf("link set lo up\nlink set %[1]s up\n"+
			"addr add %[2]s/%[3]d dev %[1]s\naddr add %[4]s/%[5]d dev %[1]s nodad\n"+
			"route add default via %[6]s dev %[1]s\nroute add default via %[7]s dev %[1]s\n",
			serverLink, server4, serverNetBits4, server6, serverNetBits6, routerServer4, routerServer6),
	}
	batches[Client] = mtu(clientLink) + batches[Client]
	batches[Router] = mtu(routerClientLink, routerServerLink) + batches[Router]
	batches[Server] = mtu(serverLink) + batches[Server]
	for s, batch := range batches {
		if err := l.run(Side(s), batch, l.tools.ip, "-batch", "-"); err != nil {
			return err
		}
	}
	return nil
}

// disableOffloads turns segmentation and receive offloads off on all four
// link ends (veth, or TUN for an emulated link), so that loss and rate
// limits see wire-sized packets rather than 64 KB aggregates that would be
// dropped or delayed as one.
func (l *Lab) disableOffloads() error {
	links := []struct {
		side Side
		dev  string
	}{
		{Client, clientLink}, {Router, routerClientLink}, {Router, routerServerLink}, {Server, serverLink},
	}
	for _, link := range links {
		if err := l.run(link.side, "", l.tools.ethtool, "-K", link.dev,
			"tso", "off", "gso", "off", "gro", "off", "tx-udp-segmentation", "off"); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the emulated link's forwarder, if any, and deletes the lab's
// namespaces, which removes the links, the nftables ruleset, the conntrack
// table and the qdiscs with them. Sockets created in the lab keep their
// namespace alive (but unreachable) until they are closed. Close is
// idempotent and always tries every namespace.
func (l *Lab) Close() error {
	l.opMu.Lock()
	defer l.opMu.Unlock()
	l.mu.Lock()
	if l.closed {
		err := l.closeErr
		l.mu.Unlock()
		return err
	}
	l.closed = true
	var errs []error
	if l.emu != nil {
		// The forwarder's files keep the TUN devices, and with them the
		// namespaces, alive: stop it first.
		errs = append(errs, l.emu.close())
	}
	for s, fd := range l.nsFDs {
		if fd >= 0 {
			errs = append(errs, unix.Close(fd))
			l.nsFDs[s] = -1
		}
	}
	l.mu.Unlock()

	errs = append(errs, deleteNamespaces(l.tools.ip, l.names[:]))
	err := errors.Join(errs...)
	l.mu.Lock()
	l.closeErr = err
	l.mu.Unlock()
	return err
}

// deleteNamespaces removes those of names that exist, in one ip batch that
// carries on past failures.
func deleteNamespaces(ipPath string, names []string) error {
	var batch strings.Builder
	for _, name := range names {
		if _, err := os.Stat(nsPath(name)); err == nil {
			fmt.Fprintf(&batch, "netns del %s\n", name)
		}
	}
	if batch.Len() == 0 {
		return nil
	}
	return runProgram(batch.String(), ipPath, "-force", "-batch", "-")
}

// nsPath is where `ip netns` bind-mounts a named namespace.
func nsPath(name string) string {
	return "/run/netns/" + name
}

// Prefix returns the prefix shared by the lab's namespace names; it is
// unique among the labs of all live processes.
func (l *Lab) Prefix() string { return l.prefix }

// Namespace returns the name of side's namespace, for use with
// `ip netns exec` or `ip -n`.
func (l *Lab) Namespace(side Side) string {
	if !side.valid() {
		return ""
	}
	return l.names[side]
}

// ServerAddr returns the server's IPv4 address.
func (l *Lab) ServerAddr() netip.Addr { return server4 }

// ServerAddr6 returns the server's IPv6 address.
func (l *Lab) ServerAddr6() netip.Addr { return server6 }

// NATAddr returns the router's server-side IPv4 address, which the server
// sees as the client's source address when NAT is on.
func (l *Lab) NATAddr() netip.Addr { return routerServer4 }

// NATAddr6 returns the router's server-side IPv6 address, which the server
// sees as the client's source address when NAT66 is on.
func (l *Lab) NATAddr6() netip.Addr { return routerServer6 }

// ClientAddr returns the client's current IPv4 address, which
// ChangeClientIP moves.
func (l *Lab) ClientAddr() netip.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, _ := l.clientAddrs(l.clientHost)
	return a
}

// ClientAddr6 returns the client's current IPv6 address, which
// ChangeClientIP moves.
func (l *Lab) ClientAddr6() netip.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, a := l.clientAddrs(l.clientHost)
	return a
}

// clientAddrs returns the client's addresses for the given host byte.
func (l *Lab) clientAddrs(host byte) (v4, v6 netip.Addr) {
	a4 := clientNet4.Addr().As4()
	a4[3] = host
	a6 := clientNet6.Addr().As16()
	a6[15] = host
	return netip.AddrFrom4(a4), netip.AddrFrom16(a6)
}
