//go:build linux

package bindings

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestCReaderRefusesSparseSlots: slot files long enough for the header's
// high-water mark but sparse (made long by truncate, which costs nothing;
// only the region's owner can) are refused with FORMAT naming the
// allocated size, before the index rebuild scans them, as the Go reader's
// TestShmReaderRefusesSparseSlots (internal/page). mmsb_reader.h sized its
// index by the mark (2 entries of 12 bytes per slot: about 48 GiB for a
// mark near 2^31) and scanned the holes, each read of which allocates a
// tmpfs page. Checked on a tmpfs only. Control: the region before the
// damage reads. The Python reader's test is
// python/tests/test_reader_damage.py test_sparse_slot_files_refused.
func TestCReaderRefusesSparseSlots(t *testing.T) {
	const slots = 1 << 20
	for _, b := range damageBuilds {
		t.Run(b.name, func(t *testing.T) {
			dir := shmDir(t)
			var fs unix.Statfs_t
			if err := unix.Statfs(dir, &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
				testutil.Missing(t, "%s is not on a tmpfs (allocated blocks are checked there only): %v", dir, err)
			}
			region := filepath.Join(dir, "region")
			s := newRegionStore(t, region+".building", 1)
			createPage(t, s, 1, 100, 0xaa, 1)
			if err := s.Publish(region, 1); err != nil {
				t.Fatal(err)
			}
			c := startDamageChild(t, b.flags, region, 50*time.Millisecond)
			if got, want := c.command("read 1"), okPage(100, 0xaa); got != want {
				t.Fatalf("control: page 1 of the region as published = %s, want %s", short(got), short(want))
			}
			for name, stride := range map[string]int64{"ids": 8, "vers": 16, "cells": 8, "seq": 8} {
				if err := os.Truncate(filepath.Join(region, name), slots*stride); err != nil {
					t.Fatal(err)
				}
			}
			hdr, err := os.OpenFile(filepath.Join(region, "header"), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			// High-water mark, slot capacity, table version (docs/formats.md;
			// MMSB_READER__H_HW, _H_SLOT_CAP, _H_TABLE_VER): the index is rebuilt.
			words := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, slots), slots), 1<<40)
			_, err = hdr.WriteAt(words, 56)
			hdr.Close()
			if err != nil {
				t.Fatal(err)
			}
			refused := func(what, got string) {
				t.Helper()
				if !strings.HasPrefix(got, "error -5 ") || !strings.Contains(got, "allocated") {
					t.Fatalf("%s over sparse slot files claiming %d slots: %q; want FORMAT (-5) naming the allocated size", what, slots, got)
				}
			}
			// Page 2 is not in the open reader's index: its lookup rebuilds it.
			refused("open reader, read 2", c.command("read 2"))
			if got := c.command("reopen"); got != "open" {
				t.Fatalf("reopen (the slot files are long enough: the refusal belongs to the scan): %q", got)
			}
			refused("new reader, read 1", c.command("read 1"))
			// The refusal came before the scan: the holes were not read in.
			var st unix.Stat_t
			if err := unix.Stat(filepath.Join(region, "ids"), &st); err != nil {
				t.Fatal(err)
			}
			if got := st.Blocks * 512; got >= slots*8/2 {
				t.Errorf("ids file has %d bytes allocated after the refusal; want the reader not to have read its holes in", got)
			}
		})
	}
}
