package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestCPPReaderExampleErrors builds examples/cpp/reader.cpp as its README
// says (no libmmsb: the reader has no Go) and runs it on a bus whose
// region directory is writable by everyone, which the reader refuses
// (mmsb::shared_corrupt). It must print one line and exit with status 1.
// Before, the exception escaped main: std::terminate aborted the program
// (status 134, "terminate called after throwing an instance of
// 'mmsb::shared_corrupt'"); so did writer_gone after its 5 s of retries
// and stale after a writer restart.
func TestCPPReaderExampleErrors(t *testing.T) {
	lookPath(t, "g++")
	if st, err := os.Stat(mmsb.DefaultSharedDir); err != nil || !st.IsDir() {
		testutil.Missing(t, "no %s: the example reads regions there", mmsb.DefaultSharedDir)
	}
	exe := filepath.Join(t.TempDir(), "cpp-reader")
	src := filepath.Join(repoRoot, "examples", "cpp", "reader.cpp")
	args := []string{"-std=c++20", "-O2", "-Wall", "-Werror", "-I.", "-I" + filepath.Join("..", "cpp"), "-o", exe, src}
	if out, err := exec.Command("g++", args...).CombinedOutput(); err != nil {
		t.Fatalf("g++ %v: %v\n%s", args, err, out)
	}
	bus := t.TempDir()
	region, err := mmsb.SharedRegionPath(bus, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(region, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(region) })
	if err := os.Chmod(region, 0o777); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exe, bus).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("reader on a region writable by everyone: %v, want exit status 1\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); strings.Count(got, "\n") != 0 ||
		!strings.HasPrefix(got, "reader: mmsb: malformed shared region: "+region) {
		t.Fatalf("reader printed:\n%s\nwant one line \"reader: mmsb: malformed shared region: %s ...\"", out, region)
	}
}

// TestCPPReaderExampleRetriesBusySnapshot runs examples/cpp/reader.cpp
// beside a writer, this process, whose page 1 says it was written at an
// LSN far above the committed one (the test writes that into the region's
// slot), as a page written after the LSN a snapshot starts from does:
// every attempt of the reader's snapshot fails, mmsb::snapshot_busy. The
// reader must say so and try again at the next commit; the test then
// commits to page 1 (its LSN is the real one again), and the reader's
// snapshot succeeds and it goes on until the writer leaves (status 0).
// Before, snapshot_busy ended the reader with status 1, as it did once in
// TestExamples/cpp under load.
func TestCPPReaderExampleRetriesBusySnapshot(t *testing.T) {
	lookPath(t, "g++")
	if st, err := os.Stat(mmsb.DefaultSharedDir); err != nil || !st.IsDir() {
		testutil.Missing(t, "no %s: the example reads regions there", mmsb.DefaultSharedDir)
	}
	exe := filepath.Join(t.TempDir(), "cpp-reader")
	src := filepath.Join(repoRoot, "examples", "cpp", "reader.cpp")
	args := []string{"-std=c++20", "-O2", "-Wall", "-Werror", "-I.", "-I" + filepath.Join("..", "cpp"), "-o", exe, src}
	if out, err := exec.Command("g++", args...).CombinedOutput(); err != nil {
		t.Fatalf("g++ %v: %v\n%s", args, err, out)
	}
	dir := t.TempDir()
	b, err := mmsb.Open(dir, &mmsb.Options{Shared: true, Sync: mmsb.SyncNone, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = b.Close()
		}
	}()
	ctx := context.Background()
	specs := make([]mmsb.PageSpec, 8)
	for i := range specs {
		specs[i].Size = 8
	}
	if _, err := b.CreatePages(ctx, specs); err != nil {
		t.Fatal(err)
	}
	// One increment with one LSN, as writer.cpp commits them.
	count := uint64(0)
	increment := func(pg mmsb.PageID) {
		t.Helper()
		cur, _, err := b.ReadPage(pg, nil)
		if err != nil {
			t.Fatal(err)
		}
		v := binary.LittleEndian.AppendUint64(nil, binary.LittleEndian.Uint64(cur)+1)
		if _, err := b.Commit(ctx, []delta.Delta{{Page: pg, Runs: []delta.Run{{Data: v}}}}); err != nil {
			t.Fatal(err)
		}
		count++
	}
	increment(1)
	increment(2)

	// Page 1's slot: its LSN word (the second of the slot's 16 bytes in
	// the vers file) set far above the committed LSN.
	region, err := mmsb.SharedRegionPath(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := os.ReadFile(filepath.Join(region, "ids"))
	if err != nil {
		t.Fatal(err)
	}
	slot := -1
	for i := 0; i+8 <= len(ids); i += 8 {
		if binary.LittleEndian.Uint64(ids[i:]) == 1 {
			slot = i / 8
			break
		}
	}
	if slot < 0 {
		t.Fatalf("page 1 is in no slot of %s", region)
	}
	vers, err := os.OpenFile(filepath.Join(region, "vers"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = vers.WriteAt(binary.LittleEndian.AppendUint64(nil, 1<<62), int64(16*slot+8))
	if cerr := vers.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(exe, dir)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false // received from done
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	// awaitLine waits (bounded: the machine may be loaded) for the reader
	// to print want, or to exit.
	awaitLine := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(out.String(), want) {
			select {
			case err := <-done:
				exited = true
				t.Fatalf("the reader exited (%v) before printing %q:\n%s", err, want, out.String())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("the reader did not print %q within 30 s:\n%s", want, out.String())
			}
		}
	}
	awaitLine("retrying at the next commit")
	increment(1) // page 1's LSN is a committed one again
	awaitLine(fmt.Sprintf("sum of counters %d", count))
	closed = true
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		exited = true
		if err != nil || !strings.Contains(out.String(), "writer gone after LSN") {
			t.Fatalf("reader: %v, want status 0 and \"writer gone\":\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the reader did not leave within 30 s of the writer:\n%s", out.String())
	}
}

// syncBuffer is a bytes.Buffer a child process writes into while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
