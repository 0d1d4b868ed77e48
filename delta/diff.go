package delta

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

const (
	lsbs = 0x0101010101010101
	msbs = 0x8080808080808080
	// maxDiffLen is the longest image Diff accepts: every differing byte's
	// offset must fit a run's uint32 Offset.
	maxDiffLen = 1 << 32
)

// Diff returns the minimal FormRuns delta that turns old into cur: exactly
// the differing bytes, as maximal runs in ascending order. It returns an
// empty delta (nil Runs) when old == cur. old and cur must have the same
// length, at most 2^32 bytes (run offsets are uint32); otherwise the error
// wraps ErrLengthMismatch. The run data is copied into one fresh buffer, so
// cur may be reused afterwards; use AppendDiff to alias cur and avoid
// allocating.
func Diff(page PageID, old, cur []byte) (Delta, error) {
	var d Delta
	if err := AppendDiff(&d, old, cur); err != nil {
		return Delta{}, err
	}
	d.Page = page
	if len(d.Runs) == 0 {
		return d, nil
	}
	total := 0
	for i := range d.Runs {
		total += len(d.Runs[i].Data)
	}
	buf := make([]byte, 0, total)
	for i := range d.Runs {
		start := len(buf)
		buf = append(buf, d.Runs[i].Data...)
		d.Runs[i].Data = buf[start:len(buf):len(buf)]
	}
	return d, nil
}

// AppendDiff is Diff that appends runs to dst.Runs (reusing its capacity) and
// slices run data from cur; it allocates nothing when dst has capacity.
// It sets dst.Form to FormRuns and leaves every other field alone; reset
// dst.Runs to dst.Runs[:0] first to reuse a delta. The run data aliases cur
// (capacity-limited, so appending to it cannot clobber cur).
//
// Equal stretches are skipped eight bytes at a time, and differing stretches
// are also measured eight bytes at a time, so the cost is about one word
// compare per eight bytes either way.
//
// Inputs Diff refuses (unequal lengths, or longer than a uint32 offset can
// address) return an error wrapping ErrLengthMismatch and leave dst alone.
func AppendDiff(dst *Delta, old, cur []byte) error {
	if len(old) != len(cur) {
		return fmt.Errorf("%w: old is %d bytes, cur is %d", ErrLengthMismatch, len(old), len(cur))
	}
	if uint64(len(old)) > maxDiffLen {
		// Offsets past 2^32 would wrap to small ones and write the wrong bytes.
		return fmt.Errorf("%w: %d bytes, over the %d a run offset can address", ErrLengthMismatch, len(old), uint64(maxDiffLen))
	}
	dst.Form = FormRuns
	n := len(old)
	i := 0
	for i < n {
		// Skip bytes that are equal.
		for i+8 <= n {
			x := binary.LittleEndian.Uint64(old[i:]) ^ binary.LittleEndian.Uint64(cur[i:])
			if x != 0 {
				i += bits.TrailingZeros64(x) / 8
				break
			}
			i += 8
		}
		if i+8 > n {
			for i < n && old[i] == cur[i] {
				i++
			}
		}
		if i == n {
			return nil
		}
		// old[i] != cur[i]: measure the differing stretch.
		start := i
		for i+8 <= n {
			x := binary.LittleEndian.Uint64(old[i:]) ^ binary.LittleEndian.Uint64(cur[i:])
			// z flags the zero bytes of x (equal bytes); its lowest set bit
			// is exact, which is all we need.
			z := (x - lsbs) &^ x & msbs
			if z != 0 {
				i += bits.TrailingZeros64(z) / 8
				goto emit
			}
			i += 8
		}
		for i < n && old[i] != cur[i] {
			i++
		}
	emit:
		dst.Runs = append(dst.Runs, Run{Offset: uint32(start), Data: cur[start:i:i]})
	}
	return nil
}
