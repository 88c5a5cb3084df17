package qsend

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrBadSize matches (errors.Is) every size or rate ParseSize refuses.
var ErrBadSize = errors.New("bad size")

// sizeUnits maps a lower-case suffix to its multiplier: k, M, G, T are
// powers of 1000 (as disks and network rates are sold), Ki, Mi, Gi, Ti
// powers of 1024. A trailing "B" and, for rates, "/s" are optional.
var sizeUnits = map[string]float64{
	"":   1,
	"k":  1e3,
	"m":  1e6,
	"g":  1e9,
	"t":  1e12,
	"ki": 1 << 10,
	"mi": 1 << 20,
	"gi": 1 << 30,
	"ti": 1 << 40,
}

// ParseSize reads a byte count such as "50M" (50,000,000), "1.5GiB",
// "64Ki", "100MB/s" or "4096". It refuses negative, fractional-byte and
// overflowing values.
func ParseSize(s string) (int64, error) {
	text := strings.TrimSpace(s)
	text = strings.TrimSuffix(text, "/s")
	text = strings.TrimSuffix(strings.TrimSuffix(text, "B"), "b")
	i := strings.IndexFunc(text, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(text)
	}
	number, unit := text[:i], strings.ToLower(text[i:])
	mult, ok := sizeUnits[unit]
	if !ok || number == "" {
		return 0, fmt.Errorf("%w %q: want a number with an optional k, M, G, T (powers of 1000) or Ki, Mi, Gi, Ti (powers of 1024) suffix", ErrBadSize, s)
	}
	v, err := strconv.ParseFloat(number, 64)
	if err != nil {
		return 0, fmt.Errorf("%w %q: %v", ErrBadSize, s, err)
	}
	bytes := v * mult
	if bytes >= math.MaxInt64 {
		return 0, fmt.Errorf("%w %q: too large", ErrBadSize, s)
	}
	if bytes != math.Trunc(bytes) {
		return 0, fmt.Errorf("%w %q: not a whole number of bytes", ErrBadSize, s)
	}
	return int64(bytes), nil
}

// FormatSize writes n bytes in binary units with one decimal ("15.9 MiB"),
// the precision a person reading progress wants.
func FormatSize(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v /= unit
		if math.Abs(v) < unit {
			return fmt.Sprintf("%.1f %s", v, u)
		}
	}
	return fmt.Sprintf("%.1f PiB", v/unit)
}

// FormatRate writes a rate in MB/s (10^6 bytes per second), the unit of the
// project's benchmark tables.
func FormatRate(bytes int64, d time.Duration) string {
	if d <= 0 {
		return "- MB/s"
	}
	return fmt.Sprintf("%.1f MB/s", float64(bytes)/d.Seconds()/1e6)
}
