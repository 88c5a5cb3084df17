package streams

import (
	"errors"
	"testing"

	"github.com/limpetnet/limpet/packet"
)

func TestLocalStreamIDs(t *testing.T) {
	tests := []struct {
		desc          string
		isServer      bool
		bidirectional bool
		want          []packet.StreamID
	}{
		{"client bidirectional", false, true, []packet.StreamID{0, 4, 8}},
		{"server bidirectional", true, true, []packet.StreamID{1, 5, 9}},
		{"client unidirectional", false, false, []packet.StreamID{2, 6, 10}},
		{"server unidirectional", true, false, []packet.StreamID{3, 7, 11}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			l := NewLocalStreamIDs(tt.isServer, tt.bidirectional, 2)
			for i, want := range tt.want[:2] {
				id, err := l.OpenNext()
				if err != nil || id != want {
					t.Fatalf("open %d: got (%d, %v), want (%d, nil)", i, id, err, want)
				}
			}
			if _, err := l.OpenNext(); !errors.Is(err, ErrStreamLimit) {
				t.Fatalf("open beyond MAX_STREAMS 2: got %v, want ErrStreamLimit", err)
			}
			if limit, ok := l.Blocked(); !ok || limit != 2 {
				t.Fatalf("got Blocked (%d, %v), want (2, true)", limit, ok)
			}
			if _, ok := l.Blocked(); ok {
				t.Fatalf("STREAMS_BLOCKED requested twice for one limit")
			}
			l.OnBlockedLost(2)
			if limit, ok := l.Blocked(); !ok || limit != 2 {
				t.Fatalf("after loss got Blocked (%d, %v), want (2, true)", limit, ok)
			}
			if grew, err := l.SetPeerMax(1); grew || err != nil {
				t.Fatalf("SetPeerMax(1) after 2 = (%v, %v), want (false, nil)", grew, err)
			}
			if grew, err := l.SetPeerMax(3); !grew || err != nil {
				t.Fatalf("SetPeerMax(3) = (%v, %v), want (true, nil)", grew, err)
			}
			if _, ok := l.Blocked(); ok {
				t.Fatalf("still blocked after MAX_STREAMS grew")
			}
			if id, err := l.OpenNext(); err != nil || id != tt.want[2] {
				t.Fatalf("open after MAX_STREAMS: got (%d, %v), want (%d, nil)", id, err, tt.want[2])
			}
			if err := l.CheckOpened(tt.want[2]); err != nil {
				t.Errorf("CheckOpened(%d) of an open stream: %v", tt.want[2], err)
			}
			if err := l.CheckOpened(tt.want[2] + 4); !errors.Is(err, ErrStreamState) {
				t.Errorf("CheckOpened of an unopened stream: got %v, want ErrStreamState", err)
			}
		})
	}
}

func TestLocalStreamIDsLimitValue(t *testing.T) {
	l := NewLocalStreamIDs(false, true, 0)
	if _, err := l.SetPeerMax(1<<60 + 1); !errors.Is(err, ErrStreamsValue) {
		t.Errorf("MAX_STREAMS 2^60+1: got %v, want ErrStreamsValue", err)
	}
	if _, err := l.SetPeerMax(1 << 60); err != nil {
		t.Errorf("MAX_STREAMS 2^60: %v", err)
	}
}

func TestRemoteStreamIDsOpen(t *testing.T) {
	tests := []struct {
		desc          string
		isServer      bool // our role
		bidirectional bool
		id            packet.StreamID
		wantFirst     packet.StreamID
		wantCount     int
	}{
		{"server accepts client bidi 0", true, true, 0, 0, 1},
		{"server implicitly opens client bidi 0..8", true, true, 8, 0, 3},
		{"client implicitly opens server bidi 1..9", false, true, 9, 1, 3},
		{"server implicitly opens client uni 2..10", true, false, 10, 2, 3},
		{"client implicitly opens server uni 3..11", false, false, 11, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := NewRemoteStreamIDs(tt.isServer, tt.bidirectional, 10)
			first, count, err := r.Open(tt.id)
			if err != nil || first != tt.wantFirst || count != tt.wantCount {
				t.Fatalf("got (%d, %d, %v), want (%d, %d, nil)", first, count, err, tt.wantFirst, tt.wantCount)
			}
			if _, count, err := r.Open(tt.id); count != 0 || err != nil {
				t.Fatalf("reopening got (%d, %v), want (0, nil)", count, err)
			}
			if _, count, err := r.Open(tt.wantFirst); count != 0 || err != nil {
				t.Fatalf("lower stream got (%d, %v), want (0, nil)", count, err)
			}
		})
	}
}

func TestRemoteStreamIDsErrors(t *testing.T) {
	r := NewRemoteStreamIDs(true, true, 4) // server; client bidi IDs 0, 4, 8, 12 allowed
	if _, _, err := r.Open(16); !errors.Is(err, ErrStreamLimitExceeded) {
		t.Errorf("stream 16 with limit 4: got %v, want ErrStreamLimitExceeded", err)
	}
	if r.Opened() != 0 {
		t.Errorf("rejected stream opened %d streams", r.Opened())
	}
	if _, _, err := r.Open(1); !errors.Is(err, ErrStreamState) {
		t.Errorf("server-initiated ID from the peer: got %v, want ErrStreamState", err)
	}
	if _, _, err := r.Open(2); !errors.Is(err, ErrStreamState) {
		t.Errorf("unidirectional ID to a bidirectional tracker: got %v, want ErrStreamState", err)
	}
	if _, count, err := r.Open(12); err != nil || count != 4 {
		t.Errorf("stream 12 with limit 4: got (%d, %v), want (4, nil)", count, err)
	}
}

func TestRemoteStreamIDsMaxStreams(t *testing.T) {
	r := NewRemoteStreamIDs(true, true, 4)
	if _, _, err := r.Open(12); err != nil { // all four open
		t.Fatal(err)
	}
	if _, ok := r.MaxStreamsToSend(); ok {
		t.Fatalf("MAX_STREAMS offered before any stream closed")
	}
	r.StreamClosed()
	limit, ok := r.MaxStreamsToSend()
	if !ok || limit != 5 {
		t.Fatalf("after one close got (%d, %v), want (5, true)", limit, ok)
	}
	if _, _, err := r.Open(16); err != nil {
		t.Fatalf("stream 16 within the new limit: %v", err)
	}
	if _, _, err := r.Open(20); !errors.Is(err, ErrStreamLimitExceeded) {
		t.Fatalf("stream 20: got %v, want ErrStreamLimitExceeded (at most 4 concurrent)", err)
	}
	if r.Active() != 4 {
		t.Fatalf("got Active %d, want 4", r.Active())
	}
	r.OnMaxStreamsLost(4) // superseded
	if _, ok := r.MaxStreamsToSend(); ok {
		t.Fatalf("loss of a superseded MAX_STREAMS re-armed it")
	}
	r.OnMaxStreamsLost(5)
	if limit, ok := r.MaxStreamsToSend(); !ok || limit != 5 {
		t.Fatalf("after loss got (%d, %v), want (5, true)", limit, ok)
	}
}

func TestRemoteStreamIDsBatchesUpdates(t *testing.T) {
	r := NewRemoteStreamIDs(false, false, 100) // client; server uni streams
	if _, _, err := r.Open(packet.NewStreamID(9, true, false)); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		r.StreamClosed()
	}
	// The peer has 90 of 100 streams left: no update is due yet.
	if _, ok := r.MaxStreamsToSend(); ok {
		t.Fatalf("MAX_STREAMS offered with most of the credit unused")
	}
	if _, _, err := r.Open(packet.NewStreamID(59, true, false)); err != nil {
		t.Fatal(err)
	}
	// 40 left, under half of 100: the limit moves to closed+100.
	if limit, ok := r.MaxStreamsToSend(); !ok || limit != 110 {
		t.Fatalf("got (%d, %v), want (110, true)", limit, ok)
	}
}
