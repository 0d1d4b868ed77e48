package writertest

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestWriterLeavesOtherProgramsPagesAlone: a bus of exactly the counters'
// shape (pages 1..8 of 1 KiB) that writer.cpp did not make, here
// python-reader's signals (its writer with -pages 8), is refused with one
// line and status 1 before any commit: its bytes and its last LSN stay.
// Before, the writer summed the float64 samples as counters and wrote
// 100,000 increments over them, exit 0. The control: a bus the writer made
// itself (its pages carry example="cpp counters") is taken by a second run.
func TestWriterLeavesOtherProgramsPagesAlone(t *testing.T) {
	writer := buildWriter(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "signals")
	makeBus(t, dir, 8, 1024, signalMark)
	samples := bytes.Repeat([]byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, 128) // 1.0 as float64, 128 times
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(1, 0, samples)}); err != nil {
		t.Fatal(err)
	}
	lsn := bus.LastLSN()
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}

	out, status := exitStatus(t, exec.Command(writer, dir))
	want := `page 1 has no metadata example="cpp counters" (pages this writer creates have it): not this example's counters`
	if status != 1 || !strings.Contains(out, want) || strings.Count(strings.TrimSpace(out), "\n") > 0 {
		t.Fatalf("cpp-writer on python-reader's signals: status %d, want 1 with the one line %q; output:\n%s", status, want, out)
	}
	bus, err = mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := bus.ReadPage(1, nil)
	after := bus.LastLSN()
	if cerr := bus.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, samples) || after != lsn {
		t.Fatalf("signals after the refused run: LSN %d (want %d), page 1 % x... (want % x...)", after, lsn, got[:8], samples[:8])
	}

	// Control: the writer's own bus, made and marked by a first run.
	own := filepath.Join(t.TempDir(), "counters")
	for run := 1; run <= 2; run++ {
		if out, status := exitStatus(t, exec.Command(writer, own)); status != 0 {
			t.Fatalf("cpp-writer run %d on its own bus: status %d, want 0; output:\n%s", run, status, out)
		}
	}
	bus, err = mmsb.Open(own, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	for id := mmsb.PageID(1); id <= 8; id++ {
		pi, err := bus.Page(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(pi.Meta) != 2 || pi.Meta[0].Key != "example" || string(pi.Meta[0].Value) != "cpp counters" {
			t.Fatalf("page %d of the writer's bus has metadata %+v, want %+v", id, pi.Meta, countersMark)
		}
	}
}
