package crypto

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/cpu"
)

// Suite identifies the AEAD and header-protection algorithms that protect
// 1-RTT packets. Its values are the wire codes of the handshake payloads
// (docs/PROTOCOL.md section 4.5).
type Suite uint8

const (
	// AES128GCM is AEAD_AES_128_GCM with AES-ECB header protection. It is
	// the fastest suite on CPUs with AES and carry-less multiply instructions
	// and always protects Initial packets.
	AES128GCM Suite = 0x01
	// ChaCha20Poly1305 is AEAD_CHACHA20_POLY1305 with ChaCha20 header
	// protection: constant-time and fast in software, so it is preferred on
	// CPUs without AES instructions.
	ChaCha20Poly1305 Suite = 0x02
)

// String returns the suite's conventional name.
func (s Suite) String() string {
	switch s {
	case AES128GCM:
		return "AES-128-GCM"
	case ChaCha20Poly1305:
		return "ChaCha20-Poly1305"
	}
	return fmt.Sprintf("Suite(%#02x)", uint8(s))
}

// Known reports whether this implementation supports s.
func (s Suite) Known() bool { return s == AES128GCM || s == ChaCha20Poly1305 }

// keyLen is the AEAD and header-protection key length (docs/PROTOCOL.md
// section 4.1).
func (s Suite) keyLen() int {
	if s == AES128GCM {
		return 16
	}
	return 32
}

// Limits from RFC 9001 section 6.6. confidentialityLimit is the number of
// packets one key may seal; integrityLimit the number of forged packets a
// connection may try against its keys.
func (s Suite) confidentialityLimit() uint64 {
	if s == AES128GCM {
		return 1 << 23
	}
	// ChaCha20-Poly1305's confidentiality limit exceeds the packet number
	// space.
	return 1 << 62
}

func (s Suite) integrityLimit() uint64 {
	if s == AES128GCM {
		return 1 << 52
	}
	return 1 << 36
}

// PreferredSuites returns the suites this machine supports, fastest first:
// AES-128-GCM first when the CPU has AES instructions (and carry-less
// multiplication, which GCM needs to be fast and constant-time), otherwise
// ChaCha20-Poly1305 first. A client offers this list by default.
func PreferredSuites() []Suite {
	if hasAESHardware() {
		return []Suite{AES128GCM, ChaCha20Poly1305}
	}
	return []Suite{ChaCha20Poly1305, AES128GCM}
}

func hasAESHardware() bool {
	switch runtime.GOARCH {
	case "amd64":
		return cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ
	case "arm64":
		return cpu.ARM64.HasAES && cpu.ARM64.HasPMULL
	case "s390x":
		return cpu.S390X.HasAES && cpu.S390X.HasGHASH
	case "ppc64le", "ppc64":
		// Go's AES-GCM uses the POWER8 vector crypto instructions, which
		// every ppc64le machine Go supports has.
		return true
	}
	return false
}
