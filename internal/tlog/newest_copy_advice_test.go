package tlog

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestNewestRefusalsSayHowToCopy: a `cp -a` of a running bus's directory
// made while its log moved to a new segment holds wal/newest-segment
// naming a segment the copy missed (listed before it was made), or copied
// before its header was written (cut to nothing). Refusing it is right
// (its commits are not in the copy), but the refusals said only to
// restore the segment from a backup, or to Repair: they say now that
// such a copy is no backup, and how to take a consistent one.
func TestNewestRefusalsSayHowToCopy(t *testing.T) {
	const want = "mmsb replay DIR --out BACKUP"
	fs := vfs.NewMem()
	if err := vfs.MkdirAllAndSync(fs, "/wal"); err != nil {
		t.Fatal(err)
	}
	if err := CreateEmptySegment(fs, "/wal", 1); err != nil {
		t.Fatal(err)
	}
	if err := writeNewest(fs, "/wal", 5); err != nil {
		t.Fatal(err)
	}
	err := CheckNewest(fs, "/wal")
	if !errors.Is(err, corruption.ErrCorruption) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "cp -a") {
		t.Errorf("newest segment missing: %v; want the way to a consistent copy (%q)", err, want)
	}
	if r := NamedHeaderTorn(5); !strings.Contains(r, want) || !strings.Contains(r, "cp -a") {
		t.Errorf("NamedHeaderTorn: %q; want the way to a consistent copy (%q)", r, want)
	}
}
