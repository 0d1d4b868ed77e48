package mmsb

import (
	"runtime"
	"testing"
)

// TestProvenanceLogReadsShareOneBuffer: a cold provenance query reads the
// log once per derived step (its source, intent and exact ranges), and
// each read opened a log reader with its own 256 KiB read buffer: a chain
// of 64 steps made about 16 MiB of garbage per query. One query's reads
// share one reader now. The bound is generous (2 MiB: the one buffer, the
// answer and the decoded operations); the control is the query's log
// reads, which must still be one per step.
func TestProvenanceLogReadsShareOneBuffer(t *testing.T) {
	const steps = 64
	e := openT(t, "", nil)
	defer e.Close()
	ids, rootLSN := buildChain(t, e, steps)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := e.ProvenanceWith(ctx, ids[steps], 0, 8, ProvenanceOptions{Depth: steps})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Writes) != steps+1 || r.Writes[steps].LSN != rootLSN || r.Writes[steps].Source != "sensor" {
		t.Fatalf("%d writes, last %+v: want %d, ending at the root write (LSN %d, source sensor)", len(r.Writes), r.Writes[len(r.Writes)-1], steps+1, rootLSN)
	}
	if r.LogScans < steps {
		t.Fatalf("the query read the log %d times, want one read per step (%d): the bound below measures nothing", r.LogScans, steps)
	}
	const bound = 2 << 20
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("a cold query of %d steps (%d log reads) allocated %d bytes", steps, r.LogScans, got)
	if got > bound {
		t.Fatalf("a cold query of %d steps (%d log reads) allocated %d bytes, want at most %d", steps, r.LogScans, got, bound)
	}
}
