//go:build !linux

package transport

import "net"

// newUDPBind wraps conn in the portable one-datagram-per-call Bind: other
// systems' batching and offload interfaces differ too much to share the
// Linux code. The options have nothing to turn off.
func newUDPBind(conn *net.UDPConn, _ bindOptions) (Bind, error) {
	return NewPacketConnBind(conn), nil
}
