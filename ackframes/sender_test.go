package ackframes

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/limpetnet/limpet/packet"
)

// popN pops n numbers, failing the test on an error.
func popN(t *testing.T, g *PacketNumberGenerator, n int) []pn {
	t.Helper()
	out := make([]pn, 0, n)
	for i := 0; i < n; i++ {
		if peek := g.Peek(); peek != g.next {
			t.Fatalf("Peek() = %d, want %d", peek, g.next)
		}
		want := g.Peek()
		got, err := g.Pop()
		if err != nil {
			t.Fatalf("Pop() error: %v", err)
		}
		if got != want {
			t.Fatalf("Pop() = %d, but Peek() said %d", got, want)
		}
		if g.LargestSent() != got {
			t.Fatalf("LargestSent() = %d after popping %d", g.LargestSent(), got)
		}
		out = append(out, got)
	}
	return out
}

func TestPacketNumberGeneratorSkips(t *testing.T) {
	const n = 100000
	g := NewPacketNumberGenerator(rand.NewPCG(1, 2), DefaultSkipPeriod)
	if got := g.LargestSent(); got != packet.InvalidPacketNumber {
		t.Fatalf("LargestSent() before Pop = %d, want %d", got, packet.InvalidPacketNumber)
	}
	nums := popN(t, g, n)
	if nums[0] != 0 {
		t.Fatalf("first number = %d, want 0", nums[0])
	}
	skips := 0
	var lastSkip pn
	for i := 1; i < n; i++ {
		switch d := nums[i] - nums[i-1]; d {
		case 1:
		case 2:
			skips++
			lastSkip = nums[i] - 1
		default:
			t.Fatalf("numbers %d then %d: jump of %d, want 1 or 2", nums[i-1], nums[i], d)
		}
	}
	// The mean distance between skips is DefaultSkipPeriod+1 issued
	// numbers; 100000 numbers give about 389 skips.
	if skips < 300 || skips > 480 {
		t.Errorf("%d skips in %d numbers, want about %d", skips, n, n/(DefaultSkipPeriod+1))
	}
	if !g.IsSkipped(lastSkip) {
		t.Errorf("IsSkipped(%d) = false for the latest skip", lastSkip)
	}
	if g.IsSkipped(nums[n-1]) {
		t.Errorf("IsSkipped(%d) = true for a sent number", nums[n-1])
	}

	// The same seed gives the same numbers: tests can rely on it.
	again := popN(t, NewPacketNumberGenerator(rand.NewPCG(1, 2), DefaultSkipPeriod), n)
	for i := range nums {
		if nums[i] != again[i] {
			t.Fatalf("same seed, number %d: %d then %d", i, nums[i], again[i])
		}
	}
}

func TestPacketNumberGeneratorWithoutSkipping(t *testing.T) {
	for _, g := range []*PacketNumberGenerator{
		NewPacketNumberGenerator(nil, DefaultSkipPeriod),
		NewPacketNumberGenerator(rand.NewPCG(1, 2), 0),
	} {
		for i, got := range popN(t, g, 5000) {
			if got != pn(i) {
				t.Fatalf("number %d = %d, want %d", i, got, i)
			}
		}
	}
}

func TestPacketNumberGeneratorRemembersRecentSkips(t *testing.T) {
	g := NewPacketNumberGenerator(rand.NewPCG(3, 4), 4)
	var skipped []pn
	prev := packet.InvalidPacketNumber
	for len(skipped) < skippedMemory+10 {
		n := popN(t, g, 1)[0]
		for m := prev + 1; m < n; m++ {
			skipped = append(skipped, m)
		}
		prev = n
	}
	for i, s := range skipped {
		want := i >= len(skipped)-skippedMemory
		if got := g.IsSkipped(s); got != want {
			t.Errorf("IsSkipped(%d) (skip %d of %d) = %v, want %v", s, i, len(skipped), got, want)
		}
	}
}

func TestPacketNumberGeneratorExhausted(t *testing.T) {
	g := NewPacketNumberGenerator(nil, 0)
	g.next = packet.MaxPacketNumber
	if got, err := g.Pop(); err != nil || got != packet.MaxPacketNumber {
		t.Fatalf("Pop() = %d, %v, want %d, nil", got, err, packet.MaxPacketNumber)
	}
	if _, err := g.Pop(); !errors.Is(err, ErrPacketNumbersExhausted) {
		t.Fatalf("Pop() after the last number: error %v, want ErrPacketNumbersExhausted", err)
	}
}

func TestValidateAck(t *testing.T) {
	// Pop until exactly one number has been skipped, at least 2 numbers
	// after the start and 3 before the largest sent.
	g := NewPacketNumberGenerator(rand.NewPCG(5, 6), 16)
	var skips []pn
	prev := packet.InvalidPacketNumber
	for len(skips) == 0 || g.LargestSent() < skips[0]+3 {
		n := popN(t, g, 1)[0]
		for m := prev + 1; m < n; m++ {
			skips = append(skips, m)
		}
		prev = n
	}
	if len(skips) != 1 || skips[0] < 2 {
		t.Fatalf("test setup: skipped %v, want one number of at least 2; change the seed", skips)
	}
	skip, largest := skips[0], g.LargestSent()
	rg := func(lo, hi pn) packet.AckRange { return packet.AckRange{Smallest: lo, Largest: hi} }
	tests := []struct {
		desc    string
		ranges  []packet.AckRange
		wantErr bool
	}{
		{desc: "no ranges", ranges: nil},
		{desc: "up to the largest sent", ranges: []packet.AckRange{rg(skip+1, largest), rg(0, skip-1)}},
		{desc: "one above the largest sent", ranges: []packet.AckRange{rg(largest+1, largest+1)}, wantErr: true},
		{desc: "far above the largest sent", ranges: []packet.AckRange{rg(largest+1000, largest+2000)}, wantErr: true},
		{desc: "the skipped number alone", ranges: []packet.AckRange{rg(skip, skip)}, wantErr: true},
		{desc: "a range across the skipped number", ranges: []packet.AckRange{rg(0, largest)}, wantErr: true},
		{desc: "the skipped number in a lower range", ranges: []packet.AckRange{rg(largest, largest), rg(skip-1, skip+1)}, wantErr: true},
		{desc: "ranges just around the skipped number", ranges: []packet.AckRange{rg(skip+1, skip+2), rg(skip-2, skip-1)}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := g.ValidateAck(packet.AckFrame{Ranges: tt.ranges})
			if tt.wantErr {
				if !errors.Is(err, ErrAckUnsentPacket) {
					t.Errorf("ValidateAck(%v) = %v, want ErrAckUnsentPacket", tt.ranges, err)
				}
				return
			}
			if err != nil {
				t.Errorf("ValidateAck(%v) = %v, want nil", tt.ranges, err)
			}
		})
	}
}

func TestValidateAckBeforeAnythingSent(t *testing.T) {
	g := NewPacketNumberGenerator(nil, 0)
	err := g.ValidateAck(packet.AckFrame{Ranges: []packet.AckRange{{Smallest: 0, Largest: 0}}})
	if !errors.Is(err, ErrAckUnsentPacket) {
		t.Errorf("ValidateAck of 0 before any packet = %v, want ErrAckUnsentPacket", err)
	}
}
