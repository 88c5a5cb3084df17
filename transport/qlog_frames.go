package transport

import (
	"encoding/hex"

	"github.com/limpetnet/limpet/packet"
)

// qlogFrames describes the frames of a plaintext payload as qlog frame
// objects; limpet's own frames are named limpet:consumed and
// limpet:fec_repair, ACK_FREQUENCY and IMMEDIATE_ACK as in the qlog draft
// for the ACK frequency extension. It runs only while frames are traced.
func qlogFrames(p []byte) []map[string]any {
	var out []map[string]any
	for len(p) > 0 {
		f, n, err := packet.ParseFrame(p)
		if err != nil {
			return append(out, map[string]any{"frame_type": "unknown", "error": err.Error()})
		}
		p = p[n:]
		out = append(out, qlogFrame(f))
	}
	return out
}

func qlogFrame(f packet.Frame) map[string]any {
	switch f := f.(type) {
	case packet.PaddingFrame:
		return map[string]any{"frame_type": "padding", "raw": map[string]any{"payload_length": f.Size}}
	case packet.PingFrame:
		return map[string]any{"frame_type": "ping"}
	case packet.AckFrame:
		ranges := make([][]int64, 0, len(f.Ranges))
		for _, r := range f.Ranges {
			if r.Smallest == r.Largest {
				ranges = append(ranges, []int64{int64(r.Smallest)})
			} else {
				ranges = append(ranges, []int64{int64(r.Smallest), int64(r.Largest)})
			}
		}
		m := map[string]any{"frame_type": "ack", "acked_ranges": ranges, "limpet:ack_delay_encoded": f.Delay}
		if f.HasECN {
			m["ect0"], m["ect1"], m["ce"] = f.ECN.ECT0, f.ECN.ECT1, f.ECN.CE
		}
		return m
	case packet.StreamFrame:
		return map[string]any{"frame_type": "stream", "stream_id": uint64(f.StreamID), "offset": f.Offset,
			"length": len(f.Data), "fin": f.Fin, "raw": map[string]any{"length": len(f.Data)}}
	case packet.CryptoFrame:
		return map[string]any{"frame_type": "crypto", "offset": f.Offset, "length": len(f.Data)}
	case packet.ResetStreamFrame:
		return map[string]any{"frame_type": "reset_stream", "stream_id": uint64(f.StreamID), "error_code": f.ErrorCode, "final_size": f.FinalSize}
	case packet.StopSendingFrame:
		return map[string]any{"frame_type": "stop_sending", "stream_id": uint64(f.StreamID), "error_code": f.ErrorCode}
	case packet.MaxDataFrame:
		return map[string]any{"frame_type": "max_data", "maximum": f.Max}
	case packet.MaxStreamDataFrame:
		return map[string]any{"frame_type": "max_stream_data", "stream_id": uint64(f.StreamID), "maximum": f.Max}
	case packet.MaxStreamsFrame:
		return map[string]any{"frame_type": "max_streams", "stream_type": streamType(f.Bidirectional), "maximum": f.Max}
	case packet.DataBlockedFrame:
		return map[string]any{"frame_type": "data_blocked", "limit": f.Limit}
	case packet.StreamDataBlockedFrame:
		return map[string]any{"frame_type": "stream_data_blocked", "stream_id": uint64(f.StreamID), "limit": f.Limit}
	case packet.StreamsBlockedFrame:
		return map[string]any{"frame_type": "streams_blocked", "stream_type": streamType(f.Bidirectional), "limit": f.Limit}
	case packet.NewConnectionIDFrame:
		return map[string]any{"frame_type": "new_connection_id", "sequence_number": f.SequenceNumber, "retire_prior_to": f.RetirePriorTo,
			"connection_id": hex.EncodeToString(f.ConnID.Bytes())}
	case packet.RetireConnectionIDFrame:
		return map[string]any{"frame_type": "retire_connection_id", "sequence_number": f.SequenceNumber}
	case packet.PathChallengeFrame:
		return map[string]any{"frame_type": "path_challenge", "data": hex.EncodeToString(f.Data[:])}
	case packet.PathResponseFrame:
		return map[string]any{"frame_type": "path_response", "data": hex.EncodeToString(f.Data[:])}
	case packet.ConnectionCloseFrame:
		space := "transport"
		if f.Application {
			space = "application"
		}
		return map[string]any{"frame_type": "connection_close", "error_space": space, "error_code": f.ErrorCode,
			"reason": string(f.Reason), "trigger_frame_type": uint64(f.FrameType)}
	case packet.HandshakeDoneFrame:
		return map[string]any{"frame_type": "handshake_done"}
	case packet.NewTokenFrame:
		return map[string]any{"frame_type": "new_token", "token": map[string]any{"raw": map[string]any{"length": len(f.Token)}}}
	case packet.ConsumedFrame:
		return map[string]any{"frame_type": "limpet:consumed", "stream_id": uint64(f.StreamID), "offset": f.Offset}
	case packet.AckFrequencyFrame:
		return map[string]any{"frame_type": "ack_frequency", "sequence_number": f.Sequence, "ack_eliciting_threshold": f.AckElicitingThreshold,
			"request_max_ack_delay": float64(f.RequestedMaxAckDelay) / 1e6, "reordering_threshold": f.ReorderingThreshold}
	case packet.ImmediateAckFrame:
		return map[string]any{"frame_type": "immediate_ack"}
	case packet.FECRepairFrame:
		sources := make([]int64, len(f.Sources))
		for i, pn := range f.Sources {
			sources[i] = int64(pn)
		}
		return map[string]any{"frame_type": "limpet:fec_repair", "sources": sources, "repair_index": f.Index, "symbol_length": len(f.Symbol)}
	}
	return map[string]any{"frame_type": "unknown", "raw_frame_type": uint64(f.Type())}
}

func streamType(bidi bool) string {
	if bidi {
		return "bidirectional"
	}
	return "unidirectional"
}
