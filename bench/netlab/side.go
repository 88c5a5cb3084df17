package netlab

import "fmt"

// Side names one of a lab's three namespaces.
type Side int

// The namespaces of a lab, in path order from client to server.
const (
	// Client is the namespace behind the NAT, where the endpoint that
	// migrates lives.
	Client Side = iota
	// Router forwards between the two links and holds the NAT, loss,
	// blackout and rate state.
	Router
	// Server is the namespace on the "Internet" side of the router.
	Server

	sideCount = iota
)

// String returns the side's name as used in namespace names and errors.
func (s Side) String() string {
	switch s {
	case Client:
		return "client"
	case Router:
		return "router"
	case Server:
		return "server"
	default:
		return fmt.Sprintf("Side(%d)", int(s))
	}
}

// valid reports whether s names one of the three namespaces.
func (s Side) valid() bool {
	return s >= Client && s <= Server
}
