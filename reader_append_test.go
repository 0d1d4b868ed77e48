package mmsb

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// openAppendBus opens a shared bus in a fresh directory with one page of
// size bytes (byte i is i%251) and a Reader on it.
func openAppendBus(t *testing.T, size int) (*Bus, *Reader, PageID, []byte) {
	t.Helper()
	ctx := context.Background()
	shm := scratchShmDir(t)
	dir := t.TempDir()
	bus, err := Open(dir, &Options{Shared: true, SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	id, err := bus.CreatePage(ctx, PageSpec{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i % 251)
	}
	if _, err := bus.Commit(ctx, []Delta{Write(id, 0, want)}); err != nil {
		t.Fatal(err)
	}
	rd, err := OpenReader(dir, &ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rd.Close() })
	return bus, rd, id, want
}

// TestReaderReadPageAppends: every read method with a dst parameter
// (Bus.ReadPage, Bus.ReadPageRange, Reader.ReadPage) appends to dst,
// keeping what dst held, whether or not dst has room. Reader.ReadPage
// wrote into dst[:0] instead, so the same call meant two things on the two
// types. A missing page is ErrPageNotFound with no data (Reader) or dst as
// it was (Bus).
func TestReaderReadPageAppends(t *testing.T) {
	bus, rd, id, want := openAppendBus(t, 64)
	prefix := []byte("kept:")
	reads := map[string]func(dst []byte) ([]byte, error){
		"Bus.ReadPage": func(dst []byte) ([]byte, error) {
			b, _, err := bus.ReadPage(id, dst)
			return b, err
		},
		"Bus.ReadPageRange": func(dst []byte) ([]byte, error) {
			b, _, err := bus.ReadPageRange(id, 0, len(want), dst)
			return b, err
		},
		"Reader.ReadPage": func(dst []byte) ([]byte, error) {
			b, _, _, err := rd.ReadPage(id, dst)
			return b, err
		},
	}
	full := append(append([]byte(nil), prefix...), want...)
	for _, name := range []string{"Bus.ReadPage", "Bus.ReadPageRange", "Reader.ReadPage"} {
		read := reads[name]
		for _, room := range []int{0, len(want)} {
			dst := append(make([]byte, 0, len(prefix)+room), prefix...)
			got, err := read(dst)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !bytes.Equal(got, full) {
				t.Errorf("%s with %d bytes of room: %d bytes %q..., want dst's %q followed by the page's %d bytes",
					name, room, len(got), got[:min(len(got), 8)], prefix, len(want))
			}
			if !bytes.Equal(dst, prefix) {
				t.Errorf("%s changed dst's own bytes to %q", name, dst)
			}
		}
		// nil and dst[:0] still give just the page.
		if got, err := read(nil); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s(nil): %d bytes, %v; want the page's %d bytes", name, len(got), err, len(want))
		}
	}
	// A missing page: the error, and no bytes of it.
	dst := append([]byte(nil), prefix...)
	if got, _, _, err := rd.ReadPage(id+100, dst); !errors.Is(err, ErrPageNotFound) || got != nil {
		t.Errorf("Reader.ReadPage of a missing page: %q, %v; want nil and ErrPageNotFound", got, err)
	}
	if got, _, err := bus.ReadPage(id+100, dst); !errors.Is(err, ErrPageNotFound) || !bytes.Equal(got, prefix) {
		t.Errorf("Bus.ReadPage of a missing page: %q, %v; want dst unchanged and ErrPageNotFound", got, err)
	}
}

// TestReaderReadPageRetryAppendsOnce: a read that the seqlock retries
// (the page's sequence word moved while the copy ran, so the copy is
// called again) appends the page to dst once, not once per attempt. A
// goroutine moves the page's sequence word (an empty write, as a commit
// does around its bytes) while ReadPage copies a 16 KiB page; the test
// goes on until the Reader counted retries, so it cannot pass without
// exercising them.
func TestReaderReadPageRetryAppendsOnce(t *testing.T) {
	// The sequence word must move while a copy runs, which needs the
	// mover on another thread: with one P it ran only between reads
	// (the copy is not preempted), and retries took ~1 s to come.
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	bus, rd, id, want := openAppendBus(t, 16<<10)
	sl, ok := bus.store.Lookup(id)
	if !ok {
		t.Fatal("page not in the store")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Later LSNs than any commit: sequence words only increase. The
		// bytes do not change, so every consistent copy equals want.
		lsn := uint64(bus.lastLSN) + 1
		for {
			select {
			case <-stop:
				return
			default:
			}
			bus.store.BeginWrite(sl, lsn)
			bus.store.EndWrite(sl, lsn)
			lsn++
			// Let most reads through: a page that never stops moving
			// is retried for ever.
			time.Sleep(20 * time.Microsecond)
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()
	prefix := []byte("kept:")
	spare := make([]byte, 0, len(prefix)+len(want))
	deadline := time.Now().Add(20 * time.Second)
	const wantRetries = 20
	reads := 0
	for ; rd.Stats().Retries < wantRetries || reads < 1000; reads++ {
		if time.Now().After(deadline) {
			t.Fatalf("%d reads in 20 s saw %d retries, want %d: the test did not exercise the retry path", reads, rd.Stats().Retries, wantRetries)
		}
		// Alternately a dst with room (appended in place, attempt over
		// attempt) and one without (each attempt allocates).
		dst := append([]byte(nil), prefix...)
		if reads%2 == 1 {
			dst = append(spare[:0], prefix...)
		}
		got, _, _, err := rd.ReadPage(id, dst)
		if err != nil {
			t.Fatalf("read %d: %v", reads, err)
		}
		if len(got) != len(prefix)+len(want) || !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], want) {
			t.Fatalf("read %d (%d retries so far): %d bytes, want dst's %d and the page's %d once",
				reads, rd.Stats().Retries, len(got), len(prefix), len(want))
		}
	}
	t.Logf("%d reads, %d retries", reads, rd.Stats().Retries)
}

// TestReaderSnapshotIntoReusesCapacity: SnapshotInto reuses dst's pages
// and their Data buffers when dst has the capacity, whether it is passed
// whole or as dst[:0] (the habit ReadPage's dst teaches). It reused them
// only when len(dst) == len(ids): dst[:0] allocated every page again.
func TestReaderSnapshotIntoReusesCapacity(t *testing.T) {
	_, rd, id, want := openAppendBus(t, 64)
	ids := []PageID{id, id}
	snap, _, err := rd.Snapshot(ids)
	if err != nil {
		t.Fatal(err)
	}
	first := &snap[1].Data[0]
	for _, dst := range [][]SnapshotPage{snap, snap[:0], snap[:1]} {
		got, _, err := rd.SnapshotInto(ids, dst)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ids) || got[1].ID != id || !bytes.Equal(got[0].Data, want) || !bytes.Equal(got[1].Data, want) {
			t.Fatalf("SnapshotInto with len(dst) %d: %d pages, want %d of page %d's bytes", len(dst), len(got), len(ids), id)
		}
		if &got[1].Data[0] != first {
			t.Errorf("SnapshotInto with len(dst) %d, cap %d: a new Data buffer, want dst's reused", len(dst), cap(dst))
		}
	}
}
