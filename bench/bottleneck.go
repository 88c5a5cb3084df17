package bench

import (
	"fmt"
	"math"
	"strings"

	"github.com/limpetnet/limpet/transport"
)

// Bottleneck is a limpet sender's bottleneck report in a Result: the
// share of the connection's time each limit held it back, the loss rate,
// and the report's advice.
type Bottleneck struct {
	// Limited holds each limit's share (transport.Limit names), largest
	// first, those under 1% left out.
	Limited  []LimitShare `json:"limited"`
	LossRate float64      `json:"loss_rate"`
	Advice   string       `json:"advice,omitempty"`
}

// LimitShare is one limit's share of the time.
type LimitShare struct {
	Limit string  `json:"limit"`
	Share float64 `json:"share"`
}

func newBottleneck(r transport.BottleneckReport) *Bottleneck {
	b := &Bottleneck{LossRate: r.LossRate, Advice: r.Advice}
	for _, s := range r.Shares {
		if s.Share >= 0.01 {
			b.Limited = append(b.Limited, LimitShare{Limit: string(s.Limit), Share: math.Round(s.Share*1000) / 1000})
		}
	}
	return b
}

// String is the shares on one line: "congestion_window 62%, pacing 30%".
func (b *Bottleneck) String() string {
	parts := make([]string, 0, len(b.Limited))
	for _, s := range b.Limited {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", s.Limit, 100*s.Share))
	}
	s := strings.Join(parts, ", ")
	if b.LossRate > 0 {
		s += fmt.Sprintf(", loss %.2f%%", 100*b.LossRate)
	}
	return s
}
