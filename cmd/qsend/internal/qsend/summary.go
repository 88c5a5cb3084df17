package qsend

import (
	"encoding/json"
	"io"
	"math"
	"time"
)

// Summary is the object --json prints at the end of a transfer (the sender)
// or of each completed session (the receiver). Byte counts are file data
// only, not protocol overhead; MB is 10^6 bytes.
type Summary struct {
	// Sender is the sending peer's public key (receiver only).
	Sender string `json:"sender,omitempty"`
	// Files is the number of files in the transfer; FilesFailed how many of
	// them the receiver did not confirm.
	Files       int `json:"files"`
	FilesFailed int `json:"files_failed"`
	// Bytes is the total size of the files.
	Bytes int64 `json:"bytes"`
	// BytesSentThisRun is the file data this run put on the wire (the
	// sender) or received (the receiver), including any data sent again
	// after a prefix mismatch.
	BytesSentThisRun int64 `json:"bytes_sent_this_run"`
	// ResumedBytes is the data not sent again because the receiver already
	// had it, verified by hash: resumed partials and files already in place.
	ResumedBytes int64 `json:"resumed_bytes"`
	// DeliveredBytes is how much of the transfer the receiver holds:
	// confirmed files in full and, for files in flight, what its application
	// had read (delivery receipts). It equals Bytes on success.
	DeliveredBytes int64 `json:"delivered_bytes"`
	// Seconds is the wall time from start (before connecting) to the end.
	Seconds float64 `json:"seconds"`
	// GoodputMBps is the new data confirmed this run per second, in MB/s.
	GoodputMBps float64 `json:"goodput_mbytes_per_s"`
	// RetransmittedBytes counts stream bytes the transport sent again after
	// a loss; Migrations counts path changes this side saw (on the
	// receiver: the sender's NAT rebinding or new address).
	RetransmittedBytes uint64 `json:"retransmitted_bytes"`
	Migrations         uint64 `json:"migrations"`
	// FECRepairPackets counts the repair packets the sender sent (--fec),
	// and FECRebuiltPackets the lost packets the receiver rebuilt
	// from them instead of waiting for a retransmission (only the receiver
	// knows: most are rebuilt before the sender would call them lost).
	FECRepairPackets  uint64 `json:"fec_repair_packets,omitempty"`
	FECRebuiltPackets uint64 `json:"fec_rebuilt_packets,omitempty"`
	// Reconnections counts the times the transfer went on over a new
	// connection after losing one (an outage, a new address), and
	// ResentBytes the data it sent again for that: sent before, not read
	// by the receiver when the connection died. The transport figures
	// above are the last connection's.
	Reconnections int   `json:"reconnections,omitempty"`
	ResentBytes   int64 `json:"resent_bytes,omitempty"`
	// Bottleneck is the connection's bottleneck report, with --stats.
	Bottleneck *BottleneckSummary `json:"bottleneck,omitempty"`
	// Error is why the transfer failed; empty on success.
	Error string `json:"error,omitempty"`
}

func (s *Summary) setGoodput(newBytes int64, elapsed time.Duration) {
	s.Seconds = round3(elapsed.Seconds())
	if elapsed > 0 {
		s.GoodputMBps = round3(float64(newBytes) / elapsed.Seconds() / 1e6)
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// writeJSON prints s as one line.
func (s *Summary) writeJSON(w io.Writer) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
