package record

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
)

// sampleBatch encodes one of every operation kind.
func sampleBatch() []byte {
	b := AppendHeader(nil, 1_700_000_000_000_000_123)
	b = AppendCreate(b, 7, 4096, base.LocationCPU, []byte{1, 0, 0, 0, 1, 0, 0, 0, 'k', 1, 0, 0, 0, 'v'})
	d := delta.Delta{Page: 7, Runs: []delta.Run{{Offset: 3, Data: []byte("abc")}}, Source: "api", Intent: []byte(`{"why":"test"}`)}
	b = AppendDelta(b, &d)
	b = AppendDerived(b, []ParentRead{{Page: 1, LSN: 10}, {Page: 2, LSN: 11}}, &d)
	b = AppendSetMeta(b, 7, nil)
	b = AppendEdge(b, OpAddEdge, 1, 7, uint8(base.EdgeControl))
	b = AppendEdge(b, OpRemoveEdge, 1, 7, AllEdgeTypes)
	b = AppendBind(b, 7, "f64.sum", []byte{9}, []base.PageID{1, 2})
	b = AppendUnbind(b, 7)
	b = AppendFlags(b, 7, 5)
	b = AppendFree(b, 7)
	return b
}

func TestRoundTrip(t *testing.T) {
	var dec Decoder
	if err := dec.Reset(sampleBatch()); err != nil {
		t.Fatal(err)
	}
	if dec.Time != 1_700_000_000_000_000_123 {
		t.Fatalf("time %d", dec.Time)
	}
	want := []OpKind{OpCreatePage, OpDelta, OpDerived, OpSetMeta, OpAddEdge, OpRemoveEdge, OpBind, OpUnbind, OpSetFlags, OpFreePage}
	var op Op
	for i, k := range want {
		if err := dec.Next(&op); err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
		if op.Kind != k {
			t.Fatalf("op %d kind %v, want %v", i, op.Kind, k)
		}
		switch k {
		case OpCreatePage:
			if op.Page != 7 || op.Size != 4096 || len(op.Meta) != 14 {
				t.Fatalf("create: %+v", op)
			}
		case OpDerived:
			if len(op.Reads) != 2 || op.Reads[1] != (ParentRead{Page: 2, LSN: 11}) || string(op.Delta.Runs[0].Data) != "abc" {
				t.Fatalf("derived: %+v", op)
			}
		case OpBind:
			if op.Func != "f64.sum" || len(op.Parents) != 2 || !bytes.Equal(op.Params, []byte{9}) {
				t.Fatalf("bind: %+v", op)
			}
		case OpRemoveEdge:
			if op.EdgeType != AllEdgeTypes {
				t.Fatalf("remove-edge type %d", op.EdgeType)
			}
		case OpSetFlags:
			if op.Flags != 5 {
				t.Fatalf("flags %d", op.Flags)
			}
		}
	}
	if dec.More() {
		t.Fatal("trailing bytes")
	}
}

func TestMalformed(t *testing.T) {
	full := sampleBatch()
	var dec Decoder
	var op Op
	if err := dec.Reset(nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("empty payload: %v", err)
	}
	if err := dec.Reset([]byte{99, 0}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad version: %v", err)
	}
	// Every truncation either fails cleanly or decodes fewer ops.
	for n := 2; n < len(full); n++ {
		if err := dec.Reset(full[:n]); err != nil {
			continue
		}
		for dec.More() {
			if err := dec.Next(&op); err != nil {
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, delta.ErrMalformed) {
					t.Fatalf("prefix %d: unexpected error class %v", n, err)
				}
				break
			}
		}
	}
	bad := append(AppendHeader(nil, 1), 200)
	_ = dec.Reset(bad)
	if err := dec.Next(&op); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unknown op kind: %v", err)
	}
}

func TestCheckpointRecords(t *testing.T) {
	st := State{LastLSN: 42, NextID: 9, LastTime: -5, Pages: 3, Edges: 2, Bindings: 1}
	got, err := DecodeState(AppendState(nil, &st))
	if err != nil || got != st {
		t.Fatalf("state round trip: %+v %v", got, err)
	}
	// One encoding per state: a trailing byte is malformed (it was
	// accepted, so a checkpoint no bus writes loaded).
	if _, err := DecodeState(append(AppendState(nil, &st), 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("state with a trailing byte: %v, want ErrMalformed", err)
	}
	img := PageImage{ID: 3, Size: 4, Epoch: 8, LastLSN: 40, Flags: 1, Meta: []byte{}, Data: []byte{1, 2, 3, 4}}
	var p PageImage
	if err := DecodePage(AppendPage(nil, &img), &p); err != nil || p.ID != 3 || p.Epoch != 8 || !bytes.Equal(p.Data, img.Data) {
		t.Fatalf("page round trip: %+v %v", p, err)
	}
	short := AppendPage(nil, &img)
	if err := DecodePage(short[:len(short)-1], &p); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short page data accepted: %v", err)
	}
	var op Op
	edge := AppendEdge(nil, OpAddEdge, 1, 2, 0)
	if err := DecodeOne(edge, OpAddEdge, &op); err != nil {
		t.Fatal(err)
	}
	if err := DecodeOne(edge, OpBind, &op); !errors.Is(err, ErrMalformed) {
		t.Fatalf("wrong kind accepted: %v", err)
	}
}

func TestNextAllocatesNothing(t *testing.T) {
	payload := sampleBatch()
	var dec Decoder
	op := Op{Reads: make([]ParentRead, 0, 4), Parents: make([]base.PageID, 0, 4)}
	op.Delta.Runs = make([]delta.Run, 0, 4)
	allocs := testing.AllocsPerRun(100, func() {
		_ = dec.Reset(payload)
		for dec.More() {
			if op.Kind == OpBind {
				op.Func = "" // the function name is copied to a string by design
			}
			if err := dec.Next(&op); err != nil {
				t.Fatal(err)
			}
		}
	})
	// Bind copies its function name (one string); nothing else allocates.
	if allocs > 1 {
		t.Fatalf("decoding a batch allocated %.0f times", allocs)
	}
}

// FuzzDecode checks the codec's two laws on arbitrary input. Decoding never
// panics. And whatever decodes survives a re-encode: encoding the decoded
// operations and decoding the result gives the same operations (field by
// field), and that re-encoding is canonical (encoding it again reproduces
// it byte for byte). The input bytes themselves are not reproduced in
// general: decoders accept non-minimal varints and literal spellings of the
// well-known delta sources, which the encoders write in their short form.
// The same laws hold for the checkpoint state and page records. And Skim
// accepts and refuses what Next does (checkSkimAgrees).
func FuzzDecode(f *testing.F) {
	f.Add(sampleBatch())
	f.Add(sampleWaveBatch())
	f.Add(AppendHeader(nil, 0))
	f.Add([]byte{1, 2, 3})
	f.Add(AppendPending(nil, []base.PageID{1, 2, 9, 1 << 40}))
	f.Add(AppendState(nil, &State{LastLSN: 42, NextID: 9, LastTime: -5, Pages: 3, Edges: 2, Bindings: 1}))
	f.Add(AppendPage(nil, &PageImage{ID: 3, Size: 8, Epoch: 8, LastLSN: 40, Flags: 1, Meta: []byte{7}, Data: []byte{0, 1, 2, 0, 4, 0, 0, 0}}))
	f.Fuzz(func(t *testing.T, payload []byte) {
		if err := checkBatchRoundTrip(payload, appendOp); err != nil {
			t.Fatal(err)
		}
		if err := checkStateRoundTrip(payload, AppendState); err != nil {
			t.Fatal(err)
		}
		if err := checkPageRoundTrip(payload, AppendPage); err != nil {
			t.Fatal(err)
		}
		if err := checkPendingRoundTrip(payload); err != nil {
			t.Fatal(err)
		}
		if err := checkSkimAgrees(payload); err != nil {
			t.Fatal(err)
		}
		var op Op
		_ = DecodeOne(payload, OpAddEdge, &op)
	})
}

// checkPendingRoundTrip: a pending record that decodes holds 1 to
// MaxPendingPerRecord strictly ascending IDs, and encoding them decodes
// to the same IDs and is canonical.
func checkPendingRoundTrip(payload []byte) error {
	ids, err := DecodePending(payload, nil)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			return fmt.Errorf("pending record refused with %w, want ErrMalformed", err)
		}
		return nil
	}
	if len(ids) == 0 || len(ids) > MaxPendingPerRecord || !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
		return fmt.Errorf("pending record accepted with %d IDs %v: want 1 to %d, strictly ascending", len(ids), ids, MaxPendingPerRecord)
	}
	enc := AppendPending(nil, ids)
	if len(enc) > len(payload) {
		return fmt.Errorf("a %d-byte pending record decoded to IDs whose encoding takes %d bytes: % x", len(payload), len(enc), payload)
	}
	again, err := DecodePending(enc, nil)
	if err != nil || !slices.Equal(again, ids) {
		return fmt.Errorf("pending IDs %v encode to % x, which decodes to %v, %w", ids, enc, again, err)
	}
	if enc2 := AppendPending(nil, again); !bytes.Equal(enc2, enc) {
		return fmt.Errorf("pending record not canonical: % x then % x", enc, enc2)
	}
	return nil
}

func TestPageZeroTrimming(t *testing.T) {
	for _, data := range [][]byte{
		make([]byte, 64),                            // never written: stores one byte (MinStored)
		append(make([]byte, 60), 1, 2, 0, 0),        // leading and trailing zeros
		{9, 0, 0, 0, 0, 0, 0, 7},                    // nothing to trim
		append([]byte{0, 0, 5}, make([]byte, 9)...), // one byte kept
	} {
		img := PageImage{ID: 1, Size: uint32(len(data)), Data: data}
		enc := AppendPage(nil, &img)
		var got PageImage
		if err := DecodePage(enc, &got); err != nil || !bytes.Equal(got.Data, data) {
			t.Fatalf("%v: decoded %v, %v", data, got.Data, err)
		}
		lead, end := nonZeroSpan(data)
		stored := max(end-lead, MinStored(len(data)))
		if full := AppendPage(nil, &PageImage{ID: 1, Size: uint32(len(data)), Data: make([]byte, len(data))}); len(enc)-stored != len(full)-MinStored(len(data)) {
			t.Fatalf("%v: encoding is %d bytes, want header + %d stored bytes", data, len(enc), stored)
		}
	}
}

// TestPageStoresMinStored: zero trimming keeps at least one byte per
// ZeroExpansion bytes of page, so a checkpoint's pages declare at most
// ZeroExpansion times its bytes (the loader's bound); before, a
// never-written page of base.MaxPageSize stored nothing, and a 20-byte
// record declared 16 MiB.
func TestPageStoresMinStored(t *testing.T) {
	for _, tc := range []struct {
		size int
		at   []int // non-zero bytes
	}{
		{1, nil}, {64, nil}, {4096, nil}, {4097, nil}, {base.MaxPageSize, nil},
		{base.MaxPageSize, []int{0}}, {base.MaxPageSize, []int{base.MaxPageSize - 1}},
		{base.MaxPageSize, []int{100, 200}}, {1 << 20, []int{5000}},
	} {
		data := make([]byte, tc.size)
		for _, i := range tc.at {
			data[i] = 7
		}
		img := PageImage{ID: 1, Size: uint32(tc.size), Data: data}
		enc := AppendPage(nil, &img)
		var got PageImage
		lead, err := DecodePageSpan(enc, &got)
		if err != nil {
			t.Fatalf("size %d: %v", tc.size, err)
		}
		if len(got.Data) < MinStored(tc.size) || int(got.Size)/ZeroExpansion > len(enc) {
			t.Fatalf("size %d, non-zero at %v: stores %d bytes, want at least %d", tc.size, tc.at, len(got.Data), MinStored(tc.size))
		}
		full := make([]byte, tc.size)
		copy(full[lead:], got.Data)
		if !bytes.Equal(full, data) {
			t.Fatalf("size %d, non-zero at %v: span at %d does not restore the page", tc.size, tc.at, lead)
		}
		if err := DecodePage(enc, &got); err != nil || !bytes.Equal(got.Data, data) {
			t.Fatalf("size %d: DecodePage: %v", tc.size, err)
		}
	}
}

// TestNonZeroSpanMatchesByteScan checks the word-at-a-time scan against a
// byte-at-a-time one for every length up to 40 and every placement of one
// or two non-zero bytes (word boundaries on both sides included).
func TestNonZeroSpanMatchesByteScan(t *testing.T) {
	byteScan := func(b []byte) (int, int) {
		lead := 0
		for lead < len(b) && b[lead] == 0 {
			lead++
		}
		end := len(b)
		for end > lead && b[end-1] == 0 {
			end--
		}
		return lead, end
	}
	for n := 0; n <= 40; n++ {
		b := make([]byte, n)
		if l, e := nonZeroSpan(b); l != e {
			t.Fatalf("all zeros, len %d: span [%d,%d)", n, l, e)
		}
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				clear(b)
				b[i], b[j] = 1, 2
				wl, we := byteScan(b)
				if l, e := nonZeroSpan(b); l != wl || e != we {
					t.Fatalf("len %d, non-zero at %d and %d: span [%d,%d), want [%d,%d)", n, i, j, l, e, wl, we)
				}
			}
		}
	}
}

// TestNextRun: NextRun decodes the one-run deltas of a batch and leaves
// every other operation, unconsumed, to Next; walking a batch with both
// sees every operation once, in order.
func TestNextRun(t *testing.T) {
	oneRun := func(page delta.PageID, src string) *delta.Delta {
		return &delta.Delta{Page: page, Runs: []delta.Run{{Offset: uint32(page), Data: []byte{byte(page)}}}, Source: src}
	}
	b := AppendHeader(nil, 42)
	b = AppendDelta(b, oneRun(1, ""))
	b = AppendDelta(b, oneRun(2, delta.SourceBench))
	b = AppendDelta(b, oneRun(3, "a literal source"))                                                             // Next
	b = AppendDelta(b, &delta.Delta{Page: 4, Runs: []delta.Run{{Data: []byte{1}}, {Offset: 9, Data: []byte{2}}}}) // Next
	b = AppendDerived(b, []ParentRead{{Page: 1, LSN: 1}}, oneRun(5, ""))                                          // Next
	b = AppendDelta(b, &delta.Delta{Page: 6, Form: delta.FormMaskedDense, MaskLen: 8, Mask: []byte{1}, Payload: []byte{7}})
	b = AppendFree(b, 7) // Next
	b = AppendDelta(b, oneRun(8, ""))
	var dec Decoder
	if err := dec.Reset(b); err != nil {
		t.Fatal(err)
	}
	var got []string
	var op Op
	for dec.More() {
		if page, off, data, ok := dec.NextRun(); ok {
			if off != uint32(page) || !bytes.Equal(data, []byte{byte(page)}) {
				t.Fatalf("NextRun: page %d run [%d, % x)", page, off, data)
			}
			got = append(got, "run "+string(rune('0'+page)))
			continue
		}
		if err := dec.Next(&op); err != nil {
			t.Fatal(err)
		}
		id := op.Page
		if op.Kind == OpDelta || op.Kind == OpDerived {
			id = op.Delta.Page
		}
		got = append(got, op.Kind.String()+" "+string(rune('0'+id)))
	}
	want := []string{"run 1", "run 2", "delta 3", "delta 4", "derived 5", "delta 6", "free 7", "run 8"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("walk: %s\nwant: %s", strings.Join(got, ", "), strings.Join(want, ", "))
	}
	// Truncated input: NextRun refuses it and Next says why.
	if err := dec.Reset(b[:len(b)-1]); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		if _, _, _, ok := dec.NextRun(); ok {
			continue
		}
		if err := dec.Next(&op); err != nil {
			if !errors.Is(err, delta.ErrMalformed) {
				t.Fatalf("truncated batch: %v", err)
			}
			return
		}
	}
	t.Fatal("a truncated batch decoded without an error")
}

// TestWindow: Window restricts decoding to the operations between two
// boundaries of the payload Reset started, and a later Window may reach
// past an earlier, narrower one (the pipelined apply decodes a batch's
// head, then single deferred deltas after it). The control: decoding past
// the window's end finds no more operations.
func TestWindow(t *testing.T) {
	b := AppendHeader(nil, 5)
	var offs []int
	for i := 0; i < 4; i++ {
		offs = append(offs, len(b))
		d := delta.Delta{Page: base.PageID(10 + i), Runs: []delta.Run{{Offset: 0, Data: []byte{byte(i)}}}}
		b = AppendDelta(b, &d)
	}
	var dec Decoder
	if err := dec.Reset(b); err != nil {
		t.Fatal(err)
	}
	var op Op
	pages := func() []base.PageID {
		var got []base.PageID
		for dec.More() {
			if err := dec.Next(&op); err != nil {
				t.Fatal(err)
			}
			got = append(got, op.Delta.Page)
		}
		return got
	}
	dec.Window(dec.Offset(), offs[2])
	if got := pages(); len(got) != 2 || got[0] != 10 || got[1] != 11 {
		t.Fatalf("head window: pages %v, want [10 11]", got)
	}
	dec.Window(offs[3], len(b)) // past the narrower window before
	if got := pages(); len(got) != 1 || got[0] != 13 {
		t.Fatalf("window of the last delta: pages %v, want [13]", got)
	}
	dec.Window(offs[1], offs[2])
	if got := pages(); len(got) != 1 || got[0] != 11 {
		t.Fatalf("window of the second delta: pages %v, want [11]", got)
	}
}
