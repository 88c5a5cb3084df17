package netlab

import (
	"errors"
	"fmt"

	"github.com/limpetnet/limpet/bench/netlab/linkem"
)

// ErrNoLink is returned by SetLink and LinkStats on a lab built without
// Options.Link, whose client and router are joined by a plain veth pair.
var ErrNoLink = errors.New("netlab: lab has no emulated link")

// LinkConfig describes the emulated link between the client and the router,
// one linkem.Config per direction, so that a path can be asymmetric like an
// ADSL line. See package linkem for what each parameter does.
type LinkConfig struct {
	// Up is the client-to-router direction, which carries the client's
	// uploads and the ACKs of its downloads.
	Up linkem.Config
	// Down is the router-to-client direction.
	Down linkem.Config
}

// downSeedMask turns a symmetric link's seed into the down direction's, so
// that the two directions draw unrelated random sequences from one seed.
const downSeedMask = 0x9e3779b97f4a7c15

// SymmetricLink returns a LinkConfig with cfg in both directions, except
// that Down's seed is cfg.Seed XOR a fixed constant: the two directions
// then lose different packets, yet a given seed still names one path.
func SymmetricLink(cfg linkem.Config) LinkConfig {
	down := cfg
	down.Seed ^= downSeedMask
	return LinkConfig{Up: cfg, Down: down}
}

// validate checks both directions, wrapping the first problem in
// ErrInvalidArgument as well as linkem.ErrInvalidConfig.
func (c LinkConfig) validate() error {
	for _, d := range []struct {
		name string
		cfg  linkem.Config
	}{{"up", c.Up}, {"down", c.Down}} {
		if err := d.cfg.Validate(); err != nil {
			return fmt.Errorf("%w: %s link: %w", ErrInvalidArgument, d.name, err)
		}
	}
	return nil
}

// LinkStats counts what the emulated link did to the packets it carried,
// per direction, since the lab was built.
type LinkStats struct {
	// Up and Down are the model's counters for each direction.
	Up, Down linkem.Stats
	// LargestPacket is the longest IP packet read from either TUN device,
	// in bytes. The devices have no segmentation offload, so it never
	// exceeds the lab's MTU (Options.MTU): the model sees wire-sized
	// packets, as a real link would, and TCP cannot hide 64 KB aggregates
	// from it.
	LargestPacket int
	// WriteErrors counts packets the kernel refused when the emulator
	// handed them on; it stays 0 on a working lab.
	WriteErrors uint64
}
