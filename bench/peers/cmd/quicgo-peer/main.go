// Command quicgo-peer moves a given number of bytes over one quic-go
// stream, so that package bench can measure quic-go beside TCP, TLS and
// limpet without the limpet module depending on quic-go.
//
// Usage:
//
//	quicgo-peer server -listen 127.0.0.1:0 -size N [-timeout D]
//	quicgo-peer client -addr HOST:PORT -size N [-timeout D]
//
// The server makes a self-signed ECDSA P-256 certificate, listens, and
// prints exactly one line "listening on ADDR" when a client may dial. It
// accepts one connection and one stream, reads into a 256 KiB buffer until
// the end of the stream, closes its side of the stream as a receipt,
// prints one JSON line (serverReport), waits for the client to close the
// connection and exits.
//
// The client dials, opens one stream, writes N bytes in 64 KiB chunks,
// closes the stream, waits for the server's receipt and prints one JSON
// line (clientReport) with what quic-go negotiated and its loss counters.
//
// Times in the reports are wall-clock Unix nanoseconds, comparable between
// the two processes because both run on one machine. Each report also
// gives the process's CPU time before its measured part began (set-up,
// certificate generation), which the harness subtracts from the process's
// total.
//
// quic-go raises its UDP socket buffers itself (SO_RCVBUF, or
// SO_RCVBUFFORCE as root); the reports give the sizes the kernel granted and
// any warning quic-go logged. Exit status is 0 on success, 1 if the transfer
// failed and 2 on a usage error; errors go to standard error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// options are the parsed command line of either mode.
type options struct {
	mode    string
	listen  string // server
	addr    string // client
	size    int64
	timeout time.Duration
}

// errUsage marks a command line the peer cannot run.
var errUsage = errors.New("usage")

func main() {
	o, err := parseArgs(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "quicgo-peer: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	warnings := captureLogWarnings(os.Stderr)
	switch o.mode {
	case "server":
		err = runServer(ctx, o, os.Stdout, warnings)
	case "client":
		err = runClient(ctx, o, os.Stdout, warnings)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "quicgo-peer: %s: %v\n", o.mode, err)
		os.Exit(1)
	}
}

// parseArgs reads "server|client -flags…".
func parseArgs(args []string, stderr io.Writer) (options, error) {
	if len(args) == 0 || (args[0] != "server" && args[0] != "client") {
		return options{}, fmt.Errorf("%w: quicgo-peer server|client [flags]", errUsage)
	}
	o := options{mode: args[0]}
	fs := flag.NewFlagSet("quicgo-peer "+o.mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Int64Var(&o.size, "size", 0, "bytes to move (required)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up after this long")
	if o.mode == "server" {
		fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "UDP address to listen on")
	} else {
		fs.StringVar(&o.addr, "addr", "", "server's UDP address (required)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return options{}, err
	}
	switch {
	case fs.NArg() > 0:
		return options{}, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	case o.size <= 0:
		return options{}, fmt.Errorf("%w: -size %d, want > 0", errUsage, o.size)
	case o.timeout <= 0:
		return options{}, fmt.Errorf("%w: -timeout %v, want > 0", errUsage, o.timeout)
	case o.mode == "client" && o.addr == "":
		return options{}, fmt.Errorf("%w: client needs -addr", errUsage)
	}
	return o, nil
}
