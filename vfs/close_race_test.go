package vfs_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestCloseRacesFileCalls closes a file while other goroutines call every
// method on it (Write, Sync, the writeback calls, SetDirect, Size, ReadAt)
// and then opens other files, which may be given the closed one's
// descriptor. Each call must succeed or fail with an error wrapping
// os.ErrClosed, and none may reach another file: every victim file holds
// exactly what was written to it. Run it with -race: the OS file's Sync,
// StartWriteback, WaitWriteback and SetDirect read the descriptor with
// Fd() and ran on the bare number, a data race with Close (the race
// detector's "DATA RACE" on the descriptor) and, once the number was
// reused, a call on another file.
func TestCloseRacesFileCalls(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			fs, dir := im.new(t)
			for round := range 20 {
				closeRacesCalls(t, fs, fs.Join(dir, "a"), fs.Join(dir, "victim"), round)
			}
		})
	}
}

func closeRacesCalls(t *testing.T, fs vfs.FS, name, victimName string, round int) {
	t.Helper()
	f, err := fs.Create(name)
	ck(t, err)
	calls := []func() error{
		func() error { _, err := f.Write([]byte("x")); return err },
		f.Sync,
		func() error { _, err := f.Size(); return err },
		func() error {
			if _, err := f.ReadAt(make([]byte, 1), 0); !errors.Is(err, io.EOF) { // before the first write
				return err
			}
			return nil
		},
	}
	if rs, ok := f.(vfs.RangeSyncer); ok {
		calls = append(calls, func() error { return rs.StartWriteback(0, 4096) })
	}
	if rw, ok := f.(vfs.RangeWaiter); ok {
		calls = append(calls, func() error { return rw.WaitWriteback(0, 4096) })
	}
	if dw, ok := f.(vfs.DirectWriter); ok {
		calls = append(calls, func() error { return dw.SetDirect(false) })
	}

	var started, done sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, len(calls))
	for _, call := range calls {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			first := true
			for {
				err := call()
				if first {
					started.Done()
					first = false
				}
				if err != nil && !errors.Is(err, os.ErrClosed) {
					errs <- err
					return
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	started.Wait() // every call has run at least once before the Close
	ck(t, f.Close())
	// Files opened now may get the closed file's descriptor.
	var victims []vfs.File
	// Long enough to cover where the racing writes were: a write that
	// passed its checks before the Close and wrote after it would show.
	want := bytes.Repeat([]byte{byte('a' + round)}, 256<<10)
	for range 4 {
		v, err := fs.Create(victimName)
		ck(t, err)
		_, err = v.Write(want)
		ck(t, err)
		victims = append(victims, v)
	}
	close(stop)
	done.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("round %d: a call racing Close: %v, want success or an error wrapping os.ErrClosed", round, err)
	}
	for _, call := range calls {
		if err := call(); !errors.Is(err, os.ErrClosed) {
			t.Errorf("round %d: a call after Close: %v, want an error wrapping os.ErrClosed", round, err)
		}
	}
	for _, v := range victims {
		ck(t, v.Close())
	}
	if got := readFile(t, fs, victimName); got != string(want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Errorf("round %d: victim of %d bytes differs from what was written to it at byte %d", round, len(got), i)
	}
	ck(t, fs.Remove(victimName))
}
