package mmsb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestReaderSnapshotChecksClosedAndWriter: a Snapshot of no pages checked
// nothing, so after Close it returned success (LSN 0, read from the zero
// pages that replace a closed Reader's mappings), and with the writer
// gone the last LSN it had published. Every call of a closed Reader is
// ErrClosed; a Snapshot with the writer gone is ErrWriterGone.
func TestReaderSnapshotChecksClosedAndWriter(t *testing.T) {
	dir, shm := t.TempDir(), shmTestDir(t)
	b := openShared(t, dir, shm)
	if _, err := b.CreatePage(context.Background(), mmsb.PageSpec{Size: 64}); err != nil {
		t.Fatal(err)
	}
	rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	if _, at, err := rd.Snapshot(nil); err != nil || at == 0 {
		t.Fatalf("control: empty Snapshot at %d, %v; want the create's LSN", at, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, at, err := rd.Snapshot(nil); !errors.Is(err, mmsb.ErrWriterGone) {
		t.Errorf("empty Snapshot after the writer closed: LSN %d, %v; want ErrWriterGone", at, err)
	}
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, at, err := rd.Snapshot(nil); !errors.Is(err, mmsb.ErrClosed) {
		t.Errorf("empty Snapshot after Close: LSN %d, %v; want ErrClosed", at, err)
	}
	if _, _, err := rd.Snapshot([]mmsb.PageID{1}); !errors.Is(err, mmsb.ErrClosed) {
		t.Errorf("Snapshot after Close: %v, want ErrClosed", err)
	}
	if _, _, _, err := rd.ReadPage(1, nil); !errors.Is(err, mmsb.ErrClosed) {
		t.Errorf("ReadPage after Close: %v, want ErrClosed", err)
	}
	if err := rd.View(1, func([]byte) error { return nil }); !errors.Is(err, mmsb.ErrClosed) {
		t.Errorf("View after Close: %v, want ErrClosed", err)
	}
	if _, err := rd.Pages(); !errors.Is(err, mmsb.ErrClosed) {
		t.Errorf("Pages after Close: %v, want ErrClosed", err)
	}
}
