package netlab

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// emulator is the userspace link between the client's and the router's TUN
// devices: one direction forwards what the client sends into the router,
// the other the reverse, each through its own linkem model. It runs four
// goroutines, a reader and a sender per direction, until close.
type emulator struct {
	client, router *os.File
	up, down       *direction
	stop           chan struct{}
	wg             sync.WaitGroup
	closeOnce      sync.Once
}

// startEmulator takes ownership of the two TUN files, whose MTU is mtu, and
// starts forwarding between them. cfg must be valid.
func startEmulator(client, router *os.File, cfg LinkConfig, mtu int) (*emulator, error) {
	up, err := newDirection("up", client, router, cfg.Up, mtu)
	if err != nil {
		return nil, err
	}
	down, err := newDirection("down", router, client, cfg.Down, mtu)
	if err != nil {
		return nil, err
	}
	e := &emulator{client: client, router: router, up: up, down: down, stop: make(chan struct{})}
	for _, d := range []*direction{up, down} {
		e.wg.Add(2)
		go func() {
			defer e.wg.Done()
			d.readLoop()
		}()
		go func() {
			defer e.wg.Done()
			d.sendLoop(e.stop)
		}()
	}
	return e, nil
}

// setConfig changes both directions' parameters; cfg must be valid.
func (e *emulator) setConfig(cfg LinkConfig) error {
	return errors.Join(e.up.setConfig(cfg.Up), e.down.setConfig(cfg.Down))
}

// stats collects both directions' counters.
func (e *emulator) stats() LinkStats {
	up, down := e.up.snapshot(), e.down.snapshot()
	return LinkStats{
		Up:            up.link,
		Down:          down.link,
		LargestPacket: max(up.largest, down.largest),
		WriteErrors:   up.writeErrors + down.writeErrors,
	}
}

// close stops the goroutines and closes the TUN files, which deletes the
// devices, and returns the error that stopped a reader early, if any.
// Closing a file wakes the reader blocked on it; the senders see stop.
func (e *emulator) close() error {
	var err error
	e.closeOnce.Do(func() {
		close(e.stop)
		err = errors.Join(e.client.Close(), e.router.Close())
		e.wg.Wait()
		for _, d := range []*direction{e.up, e.down} {
			if rerr := d.snapshot().readErr; rerr != nil {
				err = errors.Join(err, fmt.Errorf("netlab: emulated link %s: %w", d.name, rerr))
			}
		}
	})
	return err
}

// closeFiles closes TUN files that never reached an emulator.
func closeFiles(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}
