package transport

import (
	"context"
	"net"
	"sync"
)

// StreamListener adapts a Listener to net.Listener: Accept returns the
// streams peers open, on any of their connections, so servers written for
// net.Listener (http.Serve, for one) run over limpet unchanged.
type StreamListener struct {
	ln      *Listener
	streams chan net.Conn
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

// NewStreamListener starts accepting connections on ln and their streams.
func NewStreamListener(ln *Listener) *StreamListener {
	ctx, cancel := context.WithCancel(context.Background())
	sl := &StreamListener{ln: ln, streams: make(chan net.Conn), ctx: ctx, cancel: cancel}
	sl.wg.Add(1)
	go sl.acceptConns()
	return sl
}

func (sl *StreamListener) acceptConns() {
	defer sl.wg.Done()
	for {
		c, err := sl.ln.Accept(sl.ctx)
		if err != nil {
			return
		}
		sl.wg.Add(1)
		go sl.acceptStreams(c)
	}
}

func (sl *StreamListener) acceptStreams(c *Conn) {
	defer sl.wg.Done()
	for {
		s, err := c.AcceptStream(sl.ctx)
		if err != nil {
			return
		}
		select {
		case sl.streams <- s:
		case <-sl.ctx.Done():
			return
		}
	}
}

// Accept returns the next stream a peer opened.
func (sl *StreamListener) Accept() (net.Conn, error) {
	select {
	case s := <-sl.streams:
		return s, nil
	case <-sl.ctx.Done():
		return nil, ErrListenerClosed
	}
}

// Close stops accepting and closes the underlying Listener.
func (sl *StreamListener) Close() error {
	var err error
	sl.once.Do(func() {
		sl.cancel()
		err = sl.ln.Close()
		sl.wg.Wait()
	})
	return err
}

// Addr is the listening address.
func (sl *StreamListener) Addr() net.Addr { return sl.ln.Addr() }

var _ net.Listener = (*StreamListener)(nil)
