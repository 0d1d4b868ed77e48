package record

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
)

// TestSkimCopiesNoLists: Skim decodes each operation of a payload as Next
// does, ending at the same offset, but with a Bind's parents, a derived
// write's reads and a wave's page sets left empty and not copied (the
// whole payload skims in at most one allocation, the Bind's function
// name; Next allocated the 4,096-entry lists); after Rewind, Next decodes
// the operation whole. A log query skims the operations it passes by.
func TestSkimCopiesNoLists(t *testing.T) {
	const n = 4096
	parents := make([]base.PageID, n)
	reads := make([]ParentRead, n)
	for i := range parents {
		parents[i] = base.PageID(3 * (i + 1))
		reads[i] = ParentRead{Page: parents[i], LSN: base.LSN(i + 1)}
	}
	d := delta.Delta{Page: 9, Form: delta.FormRuns, Runs: []delta.Run{{Offset: 2, Data: []byte{1, 2, 3}}}, Source: "api"}
	p := AppendWaveHeader(nil, 42)
	p = AppendBind(p, 9, "f64.sum", []byte{7}, parents)
	p = AppendDerived(p, reads, &d)
	p = AppendWave(p, parents, parents[:10])
	p = AppendDelta(p, &d)

	var dec, full Decoder
	var skim Op
	if err := dec.Reset(p); err != nil {
		t.Fatal(err)
	}
	if err := full.Reset(p); err != nil {
		t.Fatal(err)
	}
	for i := 0; dec.More(); i++ {
		// Fresh each time: Next leaves the fields other kinds use as
		// they were.
		var whole Op
		skim = Op{}
		start := dec.Offset()
		if err := dec.Skim(&skim); err != nil {
			t.Fatalf("op %d: Skim: %v", i, err)
		}
		if err := full.Next(&whole); err != nil {
			t.Fatalf("op %d: Next: %v", i, err)
		}
		if dec.Offset() != full.Offset() {
			t.Fatalf("op %d (%v): Skim ends at offset %d, Next at %d", i, whole.Kind, dec.Offset(), full.Offset())
		}
		if len(skim.Parents)+len(skim.Reads)+len(skim.Dirty)+len(skim.Held) != 0 {
			t.Fatalf("op %d (%v): Skim kept lists: %d parents, %d reads, %d dirty, %d held",
				i, whole.Kind, len(skim.Parents), len(skim.Reads), len(skim.Dirty), len(skim.Held))
		}
		want := whole
		want.Parents, want.Reads, want.Dirty, want.Held = skim.Parents, skim.Reads, skim.Dirty, skim.Held
		if !reflect.DeepEqual(skim, want) {
			t.Fatalf("op %d: Skim decoded %+v, Next %+v (lists aside)", i, skim, want)
		}
		end := dec.Offset()
		dec.Rewind(start)
		var again Op
		if err := dec.Next(&again); err != nil || dec.Offset() != end || !reflect.DeepEqual(again, whole) {
			t.Fatalf("op %d: Next after Rewind: %v, offset %d (want %d), equal to Next's %v", i, err, dec.Offset(), end, reflect.DeepEqual(again, whole))
		}
	}
	allocs := testing.AllocsPerRun(20, func() {
		_ = dec.Reset(p)
		for dec.More() {
			if err := dec.Skim(&skim); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs > 1 {
		t.Errorf("skimming the payload allocated %.0f times, want at most 1 (the Bind's function name)", allocs)
	}
}

// checkSkimAgrees: on any payload, Skim accepts exactly the operations
// Next accepts, refusing the others with the same error, ends each at the
// offset Next does, decodes the same fields (a skimmed operation's own
// lists left empty, whatever op held before), and Rewind then Next
// decodes the operation Next alone does. FuzzDecode runs it on every
// input.
func checkSkimAgrees(payload []byte) error {
	var sd, nd Decoder
	errS, errN := sd.Reset(payload), nd.Reset(payload)
	if (errS == nil) != (errN == nil) {
		return fmt.Errorf("Reset differs between two decoders: %w, %w", errS, errN)
	}
	if errN != nil {
		return nil
	}
	// skim is reused from one operation to the next, after a Next of the
	// previous one into it: lists held from an earlier operation must not
	// show in a skimmed one's.
	var skim Op
	for i := 0; nd.More(); i++ {
		var whole Op
		start := sd.Offset()
		errS, errN := sd.Skim(&skim), nd.Next(&whole)
		if (errS == nil) != (errN == nil) || errS != nil && errS.Error() != errN.Error() {
			return fmt.Errorf("op %d at offset %d: Skim says %w, Next %w\npayload %x", i, start, errS, errN, payload)
		}
		if errN != nil {
			return nil
		}
		if sd.Offset() != nd.Offset() {
			return fmt.Errorf("op %d (%v): Skim ends at offset %d, Next at %d\npayload %x", i, whole.Kind, sd.Offset(), nd.Offset(), payload)
		}
		var own int
		switch skim.Kind {
		case OpBind:
			own = len(skim.Parents)
		case OpDerived:
			own = len(skim.Reads)
		case OpWave:
			own = len(skim.Dirty) + len(skim.Held)
		}
		if own != 0 {
			return fmt.Errorf("op %d (%v): Skim left %d entries in its lists\npayload %x", i, skim.Kind, own, payload)
		}
		if err := sameFields(&skim, &whole); err != nil {
			return fmt.Errorf("op %d (%v): Skim and Next differ: %w\npayload %x", i, whole.Kind, err, payload)
		}
		end := sd.Offset()
		sd.Rewind(start)
		if err := sd.Next(&skim); err != nil || sd.Offset() != end {
			return fmt.Errorf("op %d (%v): Next after Rewind: %w, ends at %d, want %d\npayload %x", i, whole.Kind, err, sd.Offset(), end, payload)
		}
		if err := sameOp(&skim, &whole); err != nil {
			return fmt.Errorf("op %d (%v): Next after Rewind differs from Next: %w\npayload %x", i, whole.Kind, err, payload)
		}
	}
	return nil
}

// sameFields compares the fields of a's kind other than its lists.
func sameFields(a, b *Op) error {
	x, y := *a, *b
	x.Parents, x.Reads, x.Dirty, x.Held = nil, nil, nil, nil
	y.Parents, y.Reads, y.Dirty, y.Held = nil, nil, nil, nil
	return sameOp(&x, &y)
}
