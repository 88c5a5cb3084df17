package bench

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// ErrBadSize reports a size ParseSize cannot read.
var ErrBadSize = errors.New("bench: bad size")

// sizeUnits maps unit suffixes (matched without regard to case) to bytes.
// MB is 10^6 bytes and MiB 2^20, as in anchors.md; a bare number is bytes.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseSize reads a byte count such as "1GiB", "256MiB", "100MB", "1.5GiB"
// or "4096". The result must be a whole, positive number of bytes; anything
// else is an error wrapping ErrBadSize.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(t)
	}
	number, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	// Exact rational arithmetic, so "1.5GiB" is exactly 1610612736.
	v, ok := new(big.Rat).SetString(number)
	if number == "" || strings.Count(number, ".") > 1 || !ok {
		return 0, fmt.Errorf("%w %q: want a number and a unit, such as 256MiB", ErrBadSize, s)
	}
	scale, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("%w %q: unknown unit %q (want B, KB, MB, GB, KiB, MiB or GiB)", ErrBadSize, s, t[i:])
	}
	v.Mul(v, new(big.Rat).SetInt64(scale))
	switch {
	case !v.IsInt():
		return 0, fmt.Errorf("%w %q: not a whole number of bytes", ErrBadSize, s)
	case v.Sign() <= 0:
		return 0, fmt.Errorf("%w %q: want more than 0 bytes", ErrBadSize, s)
	case !v.Num().IsInt64():
		return 0, fmt.Errorf("%w %q: too large", ErrBadSize, s)
	}
	return v.Num().Int64(), nil
}

// FormatSize writes n in the largest unit that divides it exactly, binary
// units first: 1 GiB, 128 MiB, 100 MB, 1500 B.
func FormatSize(n int64) string {
	for _, u := range []struct {
		name  string
		bytes int64
	}{
		{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20},
		{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6},
		{"KiB", 1 << 10}, {"KB", 1e3},
	} {
		if n != 0 && n%u.bytes == 0 {
			return fmt.Sprintf("%d %s", n/u.bytes, u.name)
		}
	}
	return fmt.Sprintf("%d B", n)
}

// Size is a byte count usable as a flag.Value: it parses with ParseSize and
// prints with FormatSize.
type Size int64

// String implements flag.Value.
func (s *Size) String() string { return FormatSize(int64(*s)) }

// Set implements flag.Value.
func (s *Size) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s = Size(n)
	return nil
}
