package mmsb_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestReadPageRangePastEndSaysRead: a read past a page's end said "delta:
// write out of page range"; it names the read (ReadPageRange) and no write,
// and is still ErrOutOfRange.
func TestReadPageRangePastEndSaysRead(t *testing.T) {
	ctx := context.Background()
	b, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	id, err := b.CreatePage(ctx, mmsb.PageSpec{Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = b.ReadPageRange(id, 5, 1, nil)
	if !errors.Is(err, mmsb.ErrOutOfRange) || !strings.Contains(err.Error(), "ReadPageRange") || strings.Contains(err.Error(), "write") {
		t.Errorf("ReadPageRange past the end = %v, want ErrOutOfRange naming ReadPageRange and no write", err)
	}
}

// TestValidateBatchEmptyAgreesWithCommit: ValidateBatch checks "exactly
// as Commit would", but an empty batch was 0, nil there and ErrInvalidDelta
// ("empty batch") at Commit.
func TestValidateBatchEmptyAgreesWithCommit(t *testing.T) {
	b, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, cerr := b.Commit(context.Background(), nil)
	n, verr := b.ValidateBatch(nil, nil)
	if !errors.Is(cerr, mmsb.ErrInvalidDelta) || !errors.Is(verr, mmsb.ErrInvalidDelta) || n != 0 {
		t.Errorf("empty batch: Commit %v, ValidateBatch %d, %v; want ErrInvalidDelta from both", cerr, n, verr)
	}
}

// TestReaderOpenRefusesEmptyDir: OpenReader("") said ErrWriterGone ("no
// bus directory : stat : no such file..."), and SharedRegionPath("", "")
// returned a path for an in-memory bus, which has no region: both are
// ErrInvalidOption. A missing directory stays ErrWriterGone and says it
// does not exist.
func TestReaderOpenRefusesEmptyDir(t *testing.T) {
	if p, err := mmsb.SharedRegionPath("", ""); !errors.Is(err, mmsb.ErrInvalidOption) {
		t.Errorf(`SharedRegionPath("", "") = %q, %v; want ErrInvalidOption`, p, err)
	}
	if rd, err := mmsb.OpenReader("", nil); !errors.Is(err, mmsb.ErrInvalidOption) {
		if rd != nil {
			rd.Close()
		}
		t.Errorf(`OpenReader("") = %v, want ErrInvalidOption`, err)
	}
	missing := t.TempDir() + "/x"
	rd, err := mmsb.OpenReader(missing, nil)
	if rd != nil {
		rd.Close()
	}
	if !errors.Is(err, mmsb.ErrWriterGone) || !strings.Contains(err.Error(), "bus directory "+missing+" does not exist") {
		t.Errorf("OpenReader(missing) = %v, want ErrWriterGone saying the directory does not exist", err)
	}
}

// TestReaderClosedSaysReader: after rd.Close(), rd.ReadPage said "mmsb:
// bus closed" while the bus was open; it says the reader is closed and is
// still ErrClosed.
func TestReaderClosedSaysReader(t *testing.T) {
	b, rd := sharedBusAndReader(t)
	id, err := b.CreatePage(context.Background(), mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = rd.ReadPage(id, nil)
	if !errors.Is(err, mmsb.ErrClosed) || !strings.Contains(err.Error(), "reader closed") {
		t.Errorf("ReadPage after the Reader's Close = %v, want ErrClosed saying the reader is closed", err)
	}
}
