package packet

// PathChallengeFrame asks the peer to prove it receives packets at an
// address by echoing Data in a PATH_RESPONSE (type 0x1a, RFC 9000 §19.17;
// docs/PROTOCOL.md section 9).
type PathChallengeFrame struct {
	Data [8]byte
}

// Type returns FramePathChallenge.
func (f PathChallengeFrame) Type() FrameType { return FramePathChallenge }

// Len is 9.
func (f PathChallengeFrame) Len() int { return 1 + len(f.Data) }

// Append appends the frame.
func (f PathChallengeFrame) Append(b []byte) []byte {
	return append(append(b, byte(FramePathChallenge)), f.Data[:]...)
}

// ParsePathChallengeFrame parses a PATH_CHALLENGE frame.
func ParsePathChallengeFrame(b []byte) (PathChallengeFrame, int, error) {
	d, n, err := parsePathFrame(b, FramePathChallenge)
	return PathChallengeFrame{Data: d}, n, err
}

// PathResponseFrame echoes a PATH_CHALLENGE's data (type 0x1b, RFC 9000
// §19.18).
type PathResponseFrame struct {
	Data [8]byte
}

// Type returns FramePathResponse.
func (f PathResponseFrame) Type() FrameType { return FramePathResponse }

// Len is 9.
func (f PathResponseFrame) Len() int { return 1 + len(f.Data) }

// Append appends the frame.
func (f PathResponseFrame) Append(b []byte) []byte {
	return append(append(b, byte(FramePathResponse)), f.Data[:]...)
}

// ParsePathResponseFrame parses a PATH_RESPONSE frame.
func ParsePathResponseFrame(b []byte) (PathResponseFrame, int, error) {
	d, n, err := parsePathFrame(b, FramePathResponse)
	return PathResponseFrame{Data: d}, n, err
}

func parsePathFrame(b []byte, t FrameType) ([8]byte, int, error) {
	var d [8]byte
	if err := checkFrameType(b, t); err != nil {
		return d, 0, err
	}
	if len(b) < 1+len(d) {
		return d, 0, frameErr(t, ErrTruncated)
	}
	copy(d[:], b[1:])
	return d, 1 + len(d), nil
}
