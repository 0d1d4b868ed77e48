package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestCReaderShortFiles runs test/reader_short_files_test.c on copies of
// a region written by a Go writer (this process): one whole, one whose ids
// file holds 1 slot where the header publishes more, one whose chunk file
// is shorter than page 1's cell. The Go reader refuses slot files shorter
// than the header's slot capacity (page's mapAt and remapSlots);
// mmsb_reader.h opened them and used the slots they held. Its negative
// control hands the program the whole copy as SHORT_SLOTS: the program
// must fail on it. Three more copies are caught mid-removal (header
// closed or superseded, slot arrays or chunk table gone): WRITER_GONE
// and STALE, not FORMAT (before: "expected
// mmsb_reader_open_region(env("GOING_CLOSED"), &o, &r) ==
// MMSB_READER_ERR_WRITER_GONE").
func TestCReaderShortFiles(t *testing.T) {
	lookPath(t, "gcc")
	lib := buildLibrary(t)
	d, region := goRegion(t)
	cp := func(name string, cut func(dir string)) string {
		return copyRegion(t, region, filepath.Join(d, name), cut)
	}
	truncate := func(path string, n int64) {
		if err := os.Truncate(path, n); err != nil {
			t.Fatal(err)
		}
	}
	good := cp("good", nil)
	shortSlots := cp("short-slots", func(dir string) { truncate(filepath.Join(dir, "ids"), 8) })
	shortChunk := cp("short-chunk", func(dir string) {
		chunk := regexp.MustCompile(`^c[0-9]+\.[0-9]+$`)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if chunk.MatchString(e.Name()) {
				truncate(filepath.Join(dir, e.Name()), 16)
			}
		}
	})
	// going marks a copy's header with state (as a writer does before it
	// removes its region) and removes the files named, as that removal
	// has when a reader opens the copy.
	going := func(name string, state uint64, files ...string) string {
		return cp(name, func(dir string) {
			f, err := os.OpenFile(filepath.Join(dir, "header"), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(binary.LittleEndian.AppendUint64(nil, state), shmStateOffset); err != nil {
				t.Fatal(err)
			}
			for _, file := range files {
				if err := os.Remove(filepath.Join(dir, file)); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	slotArrays := []string{"ids", "vers", "cells", "seq"}
	goingEnv := []string{
		"GOING_CLOSED=" + going("going-closed", page.ShmClosed, slotArrays...),
		"GOING_SUPERSEDED=" + going("going-superseded", page.ShmSuperseded, slotArrays...),
		"GOING_NO_CHUNKS=" + going("going-no-chunks", page.ShmClosed, "chunks"),
	}
	src := filepath.Join("test", "reader_short_files_test.c")
	runBuilds(t, "gcc", src, lib, nil, func(*testing.T) []string {
		return append([]string{"GOOD=" + good, "SHORT_SLOTS=" + shortSlots, "SHORT_CHUNK=" + shortChunk}, goingEnv...)
	})
	t.Run("negative control", func(t *testing.T) {
		out, err := compileAndRun(t, "gcc", src, lib, []string{"-O2"},
			append([]string{"GOOD=" + good, "SHORT_SLOTS=" + good, "SHORT_CHUNK=" + shortChunk}, goingEnv...)...)
		if err == nil {
			t.Fatalf("a whole region passed as one with short slot files:\n%s", out)
		}
		if !strings.Contains(out, "== MMSB_READER_ERR_FORMAT") {
			t.Errorf("the control failed for another reason: %v\n%s", err, out)
		}
	})
}

// shmStateOffset is the byte offset of the header's state word
// (docs/formats.md, shared-memory region; MMSB_READER__H_STATE).
const shmStateOffset = 48

// goRegion publishes a region of one page (page 1, 100 bytes, the first
// byte 7) written by a Go writer, this process, in a directory on
// /dev/shm removed at cleanup, and returns that directory and the
// region's path. The writer stays open until cleanup.
func goRegion(t *testing.T) (dir, region string) {
	t.Helper()
	dir = testutil.ShmTempDir(t, "", "mmsb-c-short-")
	start, err := page.ProcStartTime(os.Getpid())
	if err != nil {
		testutil.Missing(t, "no process start time: %v", err)
	}
	region = filepath.Join(dir, "region")
	s, err := page.NewShared(region+".building", 0o600, 1, uint64(os.Getpid()), start)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	sl, err := s.Create(1, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Bytes(sl)[0] = 7
	if err := s.Publish(region, 1); err != nil {
		t.Fatal(err)
	}
	return dir, region
}

// copyRegion copies the files of region into a new directory dst, then
// lets cut (may be nil) damage the copy, and returns dst.
func copyRegion(t *testing.T, region, dst string, cut func(dir string)) string {
	t.Helper()
	if err := os.Mkdir(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(region)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(region, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if cut != nil {
		cut(dst)
	}
	return dst
}

// TestCReaderTruncatedWhileMapped runs test/reader_truncated_test.c on
// two copies of a Go writer's region, whose chunk and header files the
// program truncates after mapping them: the reads after it must fail with
// FORMAT and the process live on (mmsb_reader.h's fault guard). Its
// negative control builds the program without the guard
// (MMSB_READER_NO_FAULT_GUARD): it must die of SIGBUS.
func TestCReaderTruncatedWhileMapped(t *testing.T) {
	lookPath(t, "gcc")
	lib := buildLibrary(t)
	d, region := goRegion(t)
	src := filepath.Join("test", "reader_truncated_test.c")
	runs := 0
	copies := func(t *testing.T) []string {
		runs++
		return []string{
			"CHUNK_COPY=" + copyRegion(t, region, filepath.Join(d, fmt.Sprintf("chunk-%d", runs)), nil),
			"HEADER_COPY=" + copyRegion(t, region, filepath.Join(d, fmt.Sprintf("header-%d", runs)), nil),
		}
	}
	runBuilds(t, "gcc", src, lib, nil, copies)
	t.Run("negative control", func(t *testing.T) {
		out, err := compileAndRun(t, "gcc", src, lib, []string{"-O2", "-DMMSB_READER_NO_FAULT_GUARD"}, copies(t)...)
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("without the guard the program did not fail: %v\n%s", err, out)
		}
		if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGBUS {
			t.Fatalf("without the guard the program ended with %v, want death by SIGBUS\n%s", err, out)
		}
	})
}
