package netlab

import (
	"fmt"
	"os"
)

// createEmulatedLink opens the client's and the router's TUN devices, in
// place of the veth pair, and starts the forwarder between them in a
// process of its own (emulator_process_linux.go). It does
// nothing without Options.Link. The devices get their addresses and routes
// in configureAddresses, like the veth ends they replace.
func (l *Lab) createEmulatedLink() error {
	if l.opts.Link == nil {
		return nil
	}
	var client, router *os.File
	err := l.In(Client, func() (err error) {
		client, err = openTUN(clientLink)
		return err
	})
	if err == nil {
		err = l.In(Router, func() (err error) {
			router, err = openTUN(routerClientLink)
			return err
		})
	}
	if err != nil {
		closeFiles(client, router)
		return err
	}
	emu, err := startEmulatorProcess(client, router, *l.opts.Link, l.MTU())
	if err != nil {
		return err
	}
	l.emu = emu
	for _, side := range []struct {
		side Side
		dev  string
	}{{Client, clientLink}, {Router, routerClientLink}} {
		batch := fmt.Sprintf("link set dev %s mtu %d txqueuelen %d\n", side.dev, l.MTU(), tunTxQueueLen)
		if err := l.run(side.side, batch, l.tools.ip, "-batch", "-"); err != nil {
			return err
		}
	}
	return nil
}

// SetLink changes the emulated link's parameters while traffic flows, so
// that a benchmark can run one path after another in the same lab. Packets
// already in the link keep the delivery time they were given; the rest
// meet the new parameters, and each direction's random sequence starts
// again from its seed, so two runs after the same SetLink see the same
// losses for the same packets.
//
// It returns ErrNoLink on a lab built without Options.Link and an error
// matching ErrInvalidArgument (and linkem.ErrInvalidConfig) for a
// parameter out of range, which changes nothing.
func (l *Lab) SetLink(cfg LinkConfig) error {
	if err := l.emulatorOpen(); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	l.opMu.Lock()
	defer l.opMu.Unlock()
	if err := l.emulatorOpen(); err != nil {
		return err
	}
	return l.emu.setConfig(cfg)
}

// LinkStats returns the emulated link's counters: what each direction
// delivered and dropped, and why. It returns ErrNoLink on a lab built
// without Options.Link.
func (l *Lab) LinkStats() (LinkStats, error) {
	if err := l.emulatorOpen(); err != nil {
		return LinkStats{}, err
	}
	return l.emu.stats(), nil
}

// emulatorOpen returns ErrNoLink without an emulated link and ErrClosed
// after Close.
func (l *Lab) emulatorOpen() error {
	if l.emu == nil {
		return ErrNoLink
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	return nil
}
