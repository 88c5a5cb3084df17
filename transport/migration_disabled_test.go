package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// TestMigrationDisabledByServer: a server that sent disable_active_migration
// (RFC 9000 §18.2; limpet servers do not, other implementations may) gets
// no active migration from the client: Migrate fails with
// ErrMigrationDisabled, and a local address error, which would otherwise
// move the client to a new socket, leaves it where it is. The control
// half shows the same error does move a client the server allowed to.
func TestMigrationDisabledByServer(t *testing.T) {
	addrGone := &net.OpError{Op: "write", Net: "udp", Err: syscall.EADDRNOTAVAIL}
	for _, disabled := range []bool{true, false} {
		cli, srv := autoMigratingPair(t, func(pc net.PacketConn) net.PacketConn { return pc })
		ctx := context.Background()
		cli.run(ctx, func(time.Time) { cli.peerParams.DisableActiveMigration = disabled })
		if disabled {
			if err := cli.Migrate(ctx); !errors.Is(err, ErrMigrationDisabled) {
				t.Fatalf("Migrate = %v, want ErrMigrationDisabled", err)
			}
		}
		cli.run(ctx, func(now time.Time) { cli.maybeMigrate(now, addrGone) })
		want := uint64(1)
		if disabled {
			want = 0
		}
		if got := cli.Stats().Migrations; got != want {
			t.Errorf("disable_active_migration %v: %d migrations after a local address error, want %d", disabled, got, want)
		}
		// The connection still works, on whichever socket it has.
		transferDuring(t, cli, srv, 64<<10, func() {})
		wantAddr := netip.MustParseAddr("198.18.0.2")
		if !disabled {
			wantAddr = netip.MustParseAddr("198.18.0.3")
		}
		if got := srv.RemoteAddr().(*net.UDPAddr).AddrPort().Addr(); got != wantAddr {
			t.Errorf("disable_active_migration %v: the server's peer is %v, want %v", disabled, got, wantAddr)
		}
	}
}
