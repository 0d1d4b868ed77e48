package bindings

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// The C reader (bindings/c/mmsb_reader.h) against a region replaced or
// damaged under it, as the Go reader's shm_reader_damage_test.go stages
// them: the test plays the writer with the store the bus uses
// (internal/page) and changes the region between the reads of a child,
// bindings/c/test/reader_damage_child.c, built plain and sanitized. The
// Python reader's tests of the same defects are in
// python/tests/test_reader_damage.py.

// damageBuilds are the builds of the child: plain, and with the flags of
// the other C tests here (AddressSanitizer + UBSan).
var damageBuilds = []struct {
	name  string
	flags []string
}{
	{"plain", []string{"-std=c99", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra", "-Werror", "-O2"}},
	{"sanitized", cFlags},
}

// startDamageChild builds reader_damage_child.c with flags and starts it
// on region with the given writer timeout.
func startDamageChild(t *testing.T, flags []string, region string, writerTimeout time.Duration) *snapshotChild {
	t.Helper()
	src := filepath.Join(repoRoot(t), "bindings", "c", "test", "reader_damage_child.c")
	bin := filepath.Join(t.TempDir(), "reader_damage_child")
	args := append(append([]string{}, flags...), src, "-o", bin)
	if b, err := exec.Command(gcc(t), args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", src, err, b)
	}
	return startSnapshotChild(t, exec.Command(bin, region, strconv.FormatInt(writerTimeout.Nanoseconds(), 10)))
}

// command sends one command line to the child and returns its answer.
func (c *snapshotChild) command(line string) string {
	c.t.Helper()
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		c.t.Fatalf("%s: %v\n%s", c.cmd.Args[0], err, c.stderrText())
	}
	return c.reply()
}

// newRegionStore creates the shared store of a writer of generation gen
// (this process, with its start time, so that the reader's liveness
// checks pass) in path, to be published later; closed at the end of the
// test.
func newRegionStore(t *testing.T, path string, gen uint64) *page.Store {
	t.Helper()
	start, err := page.ProcStartTime(os.Getpid())
	if err != nil {
		testutil.Missing(t, "no process start time (the reader checks the writer's): %v", err)
	}
	s, err := page.NewShared(path, 0o600, gen, uint64(os.Getpid()), start)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// createPage creates page id of size bytes, every byte fill, at lsn.
func createPage(t *testing.T, s *page.Store, id base.PageID, size int, fill byte, lsn uint64) page.Slot {
	t.Helper()
	sl, err := s.CreateAt(id, size, base.LocationCPU, lsn)
	if err != nil {
		t.Fatal(err)
	}
	s.BeginWrite(sl, lsn)
	copy(s.Bytes(sl), bytes.Repeat([]byte{fill}, size))
	s.EndWrite(sl, lsn)
	return sl
}

// okPage is the child's answer for a page of n bytes, every byte fill.
func okPage(n int, fill byte) string {
	return fmt.Sprintf("ok %d %s", n, strings.Repeat(fmt.Sprintf("%02x", fill), n))
}

// short cuts a child's answer for a message.
func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// TestCReaderBoundToItsRegion: a restarting writer marks the old region
// superseded, removes it and renames its own region to the same path
// (shared.go, publishShared). A reader that loaded the old header's state
// word (live) just before opened the files it had not mapped yet by path:
// the new region's, whose chunk files have the same names (generations
// restart at 1), so it read the new writer's bytes at the old slot's
// cell, under the old slot's unchanged sequence word: wrong bytes, no
// error. The test freezes that moment: the region is replaced and the
// mark comes after the read. The reader opens every file relative to the
// directory it opened, so the old region's removed chunk is unavailable:
// retried, FORMAT after the writer timeout ("its chunk stayed
// unavailable"), and STALE once the mark is seen. Control: a reader opened
// afterwards reads the new region; reopening it does not leak the
// directory's descriptor.
func TestCReaderBoundToItsRegion(t *testing.T) {
	for _, b := range damageBuilds {
		t.Run(b.name, func(t *testing.T) {
			region := filepath.Join(shmDir(t), "region")
			s1 := newRegionStore(t, region+".building", 1)
			createPage(t, s1, 1, 100, 0xaa, 1)
			if err := s1.Publish(region, 1); err != nil {
				t.Fatal(err)
			}
			c := startDamageChild(t, b.flags, region, 50*time.Millisecond) // page 1's chunk not mapped yet
			// The old header, to mark it after the read.
			hdr, err := os.OpenFile(filepath.Join(region, page.ShmHeaderFile), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer hdr.Close()

			s2 := newRegionStore(t, region+".building2", 2)
			createPage(t, s2, 1, 100, 0xbb, 1)
			if err := os.RemoveAll(region); err != nil {
				t.Fatal(err)
			}
			if err := s2.Publish(region, 1); err != nil {
				t.Fatal(err)
			}
			got := c.command("read 1")
			t.Logf("old reader, region replaced: %s", short(got))
			if strings.HasPrefix(got, "ok ") {
				t.Fatalf("old reader read page 1 from the region that replaced it: %s", short(got))
			}
			if !strings.HasPrefix(got, "error -5 ") || !strings.Contains(got, "chunk stayed unavailable") {
				t.Fatalf("old reader, page 1 after its region was replaced: %q; want FORMAT (-5), its chunk stayed unavailable", got)
			}
			// The new writer's mark (state word, docs/formats.md).
			var w [8]byte
			binary.LittleEndian.PutUint64(w[:], page.ShmSuperseded)
			if _, err := hdr.WriteAt(w[:], 48); err != nil {
				t.Fatal(err)
			}
			if got := c.command("read 1"); !strings.HasPrefix(got, "error -3 ") {
				t.Fatalf("old reader, region marked superseded: %q; want STALE (-3)", got)
			}
			if got := c.command("reopen"); got != "open" {
				t.Fatalf("reopen: %q", got)
			}
			if got, want := c.command("read 1"), okPage(100, 0xbb); got != want {
				t.Fatalf("control: new reader, page 1 = %s, want %s", short(got), short(want))
			}
			// The directory's descriptor is closed with the reader: ten
			// reopens leave the child's descriptors as they were.
			fds := func() int {
				e, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", c.cmd.Process.Pid))
				if err != nil {
					testutil.Missing(t, "no /proc/PID/fd: %v", err)
				}
				return len(e)
			}
			before := fds()
			for range 10 {
				if got := c.command("reopen"); got != "open" {
					t.Fatalf("reopen: %q", got)
				}
			}
			if after := fds(); after != before {
				t.Fatalf("ten reopens: %d descriptors, %d before", after, before)
			}
		})
	}
}

// TestCReaderPageLargerThanItsCell: a slot whose size word exceeds its
// cell (a damaged cells array) made the read return the page's bytes
// followed by its neighbour's, with no error. A page never exceeds its
// cell: FORMAT naming both sizes. Controls: the undamaged page, and a
// size word equal to the cell size (the largest size a cell holds), read
// as such.
func TestCReaderPageLargerThanItsCell(t *testing.T) {
	for _, b := range damageBuilds {
		t.Run(b.name, func(t *testing.T) {
			region := filepath.Join(shmDir(t), "region")
			s := newRegionStore(t, region+".building", 1)
			sl := createPage(t, s, 1, 100, 1, 1)
			createPage(t, s, 2, 100, 2, 2) // the next cell of the same chunk
			if err := s.Publish(region, 2); err != nil {
				t.Fatal(err)
			}
			c := startDamageChild(t, b.flags, region, 50*time.Millisecond)
			if got, want := c.command("read 1"), okPage(100, 1); got != want {
				t.Fatalf("control: page 1 = %s, want %s", short(got), short(want))
			}
			// The cells array: per slot u32 cell reference, u32 size word;
			// the chunk table: per chunk u32 generation, u32 cell size, ...
			// (docs/formats.md).
			cells, err := os.OpenFile(filepath.Join(region, "cells"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer cells.Close()
			var w [4]byte
			if _, err := cells.ReadAt(w[:], int64(sl)*8); err != nil {
				t.Fatal(err)
			}
			chunkTab, err := os.ReadFile(filepath.Join(region, "chunks"))
			if err != nil {
				t.Fatal(err)
			}
			idx := binary.LittleEndian.Uint32(w[:]) >> 12
			cell := binary.LittleEndian.Uint32(chunkTab[idx*16+4:])
			setSize := func(n uint32) {
				binary.LittleEndian.PutUint32(w[:], n)
				if _, err := cells.WriteAt(w[:], int64(sl)*8+4); err != nil {
					t.Fatal(err)
				}
			}
			setSize(cell)
			if got := c.command("read 1"); !strings.HasPrefix(got, fmt.Sprintf("ok %d 0101", cell)) {
				t.Fatalf("control: page 1 with its cell's size %d: %s", cell, short(got))
			}
			setSize(200)
			got := c.command("read 1")
			if strings.HasPrefix(got, "ok ") {
				t.Fatalf("read of a page larger than its cell (%d bytes): %s", cell, short(got))
			}
			if !strings.HasPrefix(got, "error -5 ") || !strings.Contains(got, "200 bytes in cell") || !strings.Contains(got, fmt.Sprintf("of %d bytes", cell)) {
				t.Fatalf("page 1 of 200 bytes in a cell of %d: %q; want FORMAT (-5) naming both sizes", cell, got)
			}
		})
	}
}

// TestCReaderPageMidWriteButMoving: a page whose sequence word is odd at
// every look but a different odd value each time (a writer rewriting it
// faster than the reader looks, mid-write whenever it looks) is a busy
// page: BUSY after the busy timeout (1 s, the default). The reader
// retried it forever: BUSY was given for an even word only, and
// WRITER_GONE needs an unchanged one (the writer timeout here is a minute,
// so it cannot end the read). Before the fix the child gave no answer
// (replyBound). Control: once the writes stop, the page reads.
func TestCReaderPageMidWriteButMoving(t *testing.T) {
	for _, b := range damageBuilds {
		t.Run(b.name, func(t *testing.T) {
			region := filepath.Join(shmDir(t), "region")
			s := newRegionStore(t, region+".building", 1)
			sl := createPage(t, s, 1, 100, 7, 1)
			if err := s.Publish(region, 1); err != nil {
				t.Fatal(err)
			}
			c := startDamageChild(t, b.flags, region, time.Minute)
			if got, want := c.command("read 1"), okPage(100, 7); got != want {
				t.Fatalf("before the writes: %s, want %s", short(got), short(want))
			}
			stop, done := make(chan struct{}), make(chan uint64)
			// The first write begins before the read is asked for: begun
			// in the goroutine, a loaded machine could run the read first
			// (it copied the page, "ok", in a CI run under -race).
			s.BeginWrite(sl, 2) // sequence word 2·lsn − 1: odd
			// The writer: a new write begins every 50 µs, none ends.
			go func() {
				lsn := uint64(2)
				for {
					select {
					case <-stop:
						done <- lsn
						return
					case <-time.After(50 * time.Microsecond):
					}
					lsn++
					s.BeginWrite(sl, lsn) // odd, and moving
				}
			}()
			stopped := false
			stopWrites := func() uint64 { // also on a failure below: the store closes after the test
				if stopped {
					return 0
				}
				stopped = true
				close(stop)
				return <-done
			}
			defer stopWrites()
			got := c.command("read 1")
			lsn := stopWrites()
			if !strings.HasPrefix(got, "error -6 ") || !strings.Contains(got, "page 1 changed under every copy") {
				t.Fatalf("page 1 mid-write at every look, its word moving: %q; want BUSY (-6)", got)
			}
			s.EndWrite(sl, lsn)
			if got, want := c.command("read 1"), okPage(100, 7); got != want {
				t.Fatalf("control: after the writes, page 1 = %s, want %s", short(got), short(want))
			}
		})
	}
}
