package transport

import (
	"context"
	"log/slog"
)

// diag logs one of the connection's own diagnostics through
// Config.Logger (silent when nil), with the connection's side, peer and
// original destination connection ID.
func (c *Conn) diag(level slog.Level, msg string, attrs ...slog.Attr) {
	l := c.cfg.Logger
	if l == nil || !l.Enabled(context.Background(), level) {
		return
	}
	side := "client"
	if c.isServer {
		side = "server"
	}
	attrs = append(attrs, slog.String("side", side), slog.String("peer", c.path.peer.String()), slog.String("odcid", c.hs.origDCID.String()))
	l.LogAttrs(context.Background(), level, "limpet: "+msg, attrs...)
}
