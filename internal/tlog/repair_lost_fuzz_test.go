package tlog

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeRepairLost: no input panics, what does not decode is
// ErrBadRepairLost, and what decodes is a range (first not 0, last not
// before it) that encodes back to the same bytes (one spelling per range).
func FuzzDecodeRepairLost(f *testing.F) {
	f.Add(encodeRepairLost(5, 9))
	f.Add(encodeRepairLost(1, LostUnknown))
	f.Add(encodeRepairLost(9, 5))
	f.Add([]byte(repairLostMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		first, last, err := decodeRepairLost(b)
		if err != nil {
			if !errors.Is(err, ErrBadRepairLost) {
				t.Fatalf("error %v is not ErrBadRepairLost", err)
			}
			return
		}
		if first == 0 || last < first {
			t.Fatalf("%x decodes to %d..%d", b, first, last)
		}
		if !bytes.Equal(encodeRepairLost(first, last), b) {
			t.Fatalf("%x decodes to %d..%d, which encodes to %x", b, first, last, encodeRepairLost(first, last))
		}
	})
}
