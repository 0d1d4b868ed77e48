package tick

import (
	"bytes"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// FuzzIntakeCopy checks that a delta copied into an intake slot is equal to
// the original and shares no memory with it, for arbitrary run layouts and
// forms, with the slot's buffers reused from a previous, different delta.
func FuzzIntakeCopy(f *testing.F) {
	f.Add([]byte("abcdef"), uint8(2), []byte{0xFF}, []byte("intent"), false)
	f.Add([]byte{}, uint8(0), []byte(nil), []byte(nil), true)
	f.Add(bytes.Repeat([]byte{7}, 300), uint8(9), []byte{1, 2, 3}, []byte{}, true)
	f.Fuzz(func(t *testing.T, data []byte, split uint8, mask, intent []byte, masked bool) {
		var d delta.Delta
		d.Page, d.Source, d.Intent = 9, "fuzz", intent
		if masked {
			d.Form, d.Mask, d.MaskLen, d.Payload = delta.FormMaskedDense, mask, uint32(len(data)), data
		} else {
			k := 0
			if len(data) > 0 {
				k = int(split) % (len(data) + 1)
			}
			d.Runs = []delta.Run{{Offset: 0, Data: data[:k]}, {Offset: uint32(k), Data: data[k:]}}
		}
		var s intakeSlot
		prev := delta.Delta{Page: 1, Runs: []delta.Run{{Data: bytes.Repeat([]byte{0xEE}, 50)}}, Intent: []byte("old")}
		s.fillCopy(&prev)
		s.fillCopy(&d)
		check := func(a, b []byte, what string) {
			if !bytes.Equal(a, b) || (a == nil) != (b == nil) {
				t.Fatalf("%s: copy %q, original %q", what, b, a)
			}
			if len(a) > 0 && &a[0] == &b[0] {
				t.Fatalf("%s: copy aliases the original", what)
			}
		}
		check(d.Mask, s.d.Mask, "mask")
		check(d.Payload, s.d.Payload, "payload")
		check(d.Intent, s.d.Intent, "intent")
		if len(d.Runs) != len(s.d.Runs) {
			t.Fatalf("%d runs copied, want %d", len(s.d.Runs), len(d.Runs))
		}
		for i := range d.Runs {
			if d.Runs[i].Offset != s.d.Runs[i].Offset {
				t.Fatalf("run %d offset %d, want %d", i, s.d.Runs[i].Offset, d.Runs[i].Offset)
			}
			check(d.Runs[i].Data, s.d.Runs[i].Data, "run data")
		}
		if s.d.Page != d.Page || s.d.Source != d.Source || s.d.Form != d.Form || s.d.MaskLen != d.MaskLen {
			t.Fatalf("header fields differ: %+v vs %+v", s.d, d)
		}
	})
}
