package mmsb

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// TestMergeRefusesMalformed: Merge read a malformed delta (an unknown
// Form, a dense payload shorter than MaskLen) as writing nothing and
// returned the other one with no error, dropping its writes, where Commit
// refuses it. It is ErrInvalidDelta now, with delta.Validate's error
// naming the fault, on either side. The controls: valid deltas of every
// form and an empty one still merge, b winning on overlap.
func TestMergeRefusesMalformed(t *testing.T) {
	a := Write(1, 0, []byte{1, 2, 3, 4})
	bad := []struct {
		name  string
		d     Delta
		cause error
		says  string
	}{
		{"unknown form", Delta{Page: 1, Form: 9, Runs: []Run{{Offset: 0, Data: []byte{9}}}}, delta.ErrMalformed, "unknown form 9"},
		{"dense payload short", Delta{Page: 1, Form: delta.FormMaskedDense, MaskLen: 4, Mask: []byte{0x0f}, Payload: []byte{9}}, delta.ErrSizeMismatch, "dense payload has 1 bytes"},
		{"mask short", Delta{Page: 1, Form: delta.FormMaskedSparse, MaskLen: 64, Mask: []byte{1}, Payload: []byte{9}}, delta.ErrSizeMismatch, "mask has 1 bytes"},
		{"empty run among others", Delta{Page: 1, Runs: []Run{{Offset: 0, Data: []byte{9}}, {Offset: 2}}}, delta.ErrMalformed, "run 1"},
		// Past every page the bus can hold (Merge knows no page size).
		{"run past MaxPageSize", Delta{Page: 1, Runs: []Run{{Offset: MaxPageSize - 1, Data: []byte{9, 9}}}}, delta.ErrOutOfRange, "exceeds page size 16777216"},
		{"mask past MaxPageSize", Delta{Page: 1, Form: delta.FormMaskedSparse, MaskLen: MaxPageSize + 8, Mask: make([]byte, MaxPageSize/8+1), Payload: nil}, delta.ErrOutOfRange, "exceeds page size 16777216"},
		{"sparse payload long", Delta{Page: 1, Form: delta.FormMaskedSparse, MaskLen: 8, Mask: []byte{0x01}, Payload: []byte{9, 9}}, delta.ErrSizeMismatch, "sparse payload has 2 bytes"},
	}
	for _, c := range bad {
		for _, side := range []string{"first", "second"} {
			x, y := &a, &c.d
			if side == "first" {
				x, y = &c.d, &a
			}
			m, err := Merge(x, y)
			if !errors.Is(err, ErrInvalidDelta) || !errors.Is(err, c.cause) ||
				!strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), side+" delta") {
				t.Errorf("Merge with a %s delta (%s) = %+v, %v; want ErrInvalidDelta and %v saying %q and %q", side, c.name, m, err, c.cause, c.says, side+" delta")
			}
		}
	}

	// Controls. A run that fits the largest page merges, whatever the
	// page's own size (Merge has none: Commit checks the result).
	if m, err := Merge(&a, &Delta{Page: 1, Runs: []Run{{Offset: MaxPageSize - 1, Data: []byte{5}}}}); err != nil || len(m.Runs) != 2 {
		t.Errorf("Merge with a run ending at MaxPageSize = %+v, %v; want its 2 runs", m.Runs, err)
	}
	dense, err := delta.ToMaskedDense(&a, 8)
	if err != nil {
		t.Fatal(err)
	}
	sparse := Delta{Page: 1, Form: delta.FormMaskedSparse, MaskLen: 8, Mask: []byte{0x40}, Payload: []byte{7}}
	for _, c := range []struct {
		name string
		x, y Delta
		want []byte // the bytes 0..7 of page 1, from zero
	}{
		{"runs", a, Write(1, 2, []byte{8}), []byte{1, 2, 8, 4, 0, 0, 0, 0}},
		{"dense then sparse", dense, sparse, []byte{1, 2, 3, 4, 0, 0, 7, 0}},
		{"empty second", a, Delta{Page: 1}, []byte{1, 2, 3, 4, 0, 0, 0, 0}},
	} {
		m, err := Merge(&c.x, &c.y)
		if err != nil {
			t.Errorf("Merge (%s): %v", c.name, err)
			continue
		}
		page := make([]byte, 8)
		if err := delta.Apply(&m, page); err != nil || !slices.Equal(page, c.want) {
			t.Errorf("Merge (%s) applied = %v, %v; want %v", c.name, page, err, c.want)
		}
	}
}
