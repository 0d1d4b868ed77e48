package mmsb

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// TestCreatePagesMetaRecordBoundBeforeEncoding: a create batch whose
// specs' metadata add up past the log's record limit is refused with
// ErrRecordTooLarge, naming the spec that passed it, before any of that
// metadata is copied; nothing is logged, and the bus goes on. The specs
// here share one 64 KiB metadata list, so the caller holds 64 KiB; the
// batch encoded each spec's copy, then the record, before the log
// measured it: some 540 MiB here, and a terabyte for 2^24 such specs (an
// out-of-memory crash instead of the error).
func TestCreatePagesMetaRecordBoundBeforeEncoding(t *testing.T) {
	e := openMem(t, nil)
	// One entry of key "k": 4 + 8 + 1 bytes of framing, the rest value,
	// for an encoding of exactly MaxMetaBytes (the most a page may have).
	meta := []MetaEntry{{Key: "k", Value: make([]byte, page.MaxMetaBytes-13)}}
	n := tlog.MaxRecordBytes/page.MaxMetaBytes + 4 // just past the limit
	specs := make([]PageSpec, n)
	for i := range specs {
		specs[i] = PageSpec{Size: 1, Meta: meta}
	}
	last := e.LastLSN()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ids, err := e.CreatePages(ctx, specs)
	runtime.ReadMemStats(&after)
	// The specs' encodings alone are 256 MiB; what the refusal allocates
	// (metaIn's copy of each spec's one-entry list, the error) is a few
	// hundred KiB. The bound leaves room for the rest of the process.
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
		t.Fatalf("the refusal (%v) allocated %d MiB: the metadata was encoded before the record was measured", err, got>>20)
	}
	if !errors.Is(err, ErrRecordTooLarge) || !strings.Contains(err.Error(), "by spec") || ids != nil {
		t.Fatalf("CreatePages of %d specs of %d bytes of metadata: %v, %d IDs; want ErrRecordTooLarge naming the spec, no IDs", n, page.MaxMetaBytes, err, len(ids))
	}
	if got := e.LastLSN(); got != last {
		t.Fatalf("LastLSN %d after the refused batch, %d before: it was logged", got, last)
	}
	// The bus goes on: a batch well within the limit is created.
	if _, err := e.CreatePages(ctx, specs[:2]); err != nil {
		t.Fatalf("a batch of 2 such specs after the refusal: %v", err)
	}
}
