package mmsb_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestReaderCloseInsideView closes the Reader from inside View's fn, the
// worst moment for the lock-free path: the mappings fn is reading are
// replaced by zero pages under it. View must not fault (it would if Close
// unmapped them) and must not return the read as consistent: it returns
// ErrClosed. Here the page's sequence word (2 x its LSN) differs from the
// zero pages' 0, so the sequence check catches the read; a sequence word
// of 0 would not be caught by it, which is why TryRead also checks, last,
// that its fast view is still published (page.TestTryReadRacingClose
// shows that check catching such a read).
func TestReaderCloseInsideView(t *testing.T) {
	ctx := context.Background()
	dir, shm := t.TempDir(), shmTestDir(t)
	bus := openShared(t, dir, shm)
	defer bus.Close()
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 1024}})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	// A first read maps the page's chunk (under the mutex); the second
	// then takes the lock-free path, inside which fn may call Close.
	if err := rd.View(ids[0], func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	calls := 0
	err = rd.View(ids[0], func(b []byte) error {
		calls++
		if calls == 1 {
			if cerr := rd.Close(); cerr != nil {
				t.Errorf("Close inside View: %v", cerr)
			}
			for _, c := range b { // the zero pages that replaced the mapping
				if c != 0 {
					t.Errorf("page byte %d after Close, want the zero pages", c)
					break
				}
			}
		}
		return nil
	})
	if !errors.Is(err, mmsb.ErrClosed) || calls != 1 {
		t.Fatalf("View whose fn closed the reader: %v after %d calls of fn, want ErrClosed after 1", err, calls)
	}
	if _, _, _, err := rd.ReadPage(ids[0], nil); !errors.Is(err, mmsb.ErrClosed) {
		t.Fatalf("ReadPage after Close: %v, want ErrClosed", err)
	}
}

// TestReaderConcurrentReadsAndClose has goroutines read random pages of
// one Reader with ReadPage and View (the lock-free path) while the writer
// commits uniform pages, then closes the Reader under them. Every read
// that succeeds must be an untorn page; every read after Close must fail
// with ErrClosed; nothing may fault. Under -race it also checks that the
// lock-free path touches only what is published to it.
func TestReaderConcurrentReadsAndClose(t *testing.T) {
	ctx := context.Background()
	dir, shm := t.TempDir(), shmTestDir(t)
	bus := openShared(t, dir, shm)
	defer bus.Close()
	specs := make([]mmsb.PageSpec, 64)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 512}
	}
	ids, err := bus.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Add(1)
	go func() { // the writer: every page uniform, counter rising
		defer writer.Done()
		for v := uint64(1); ; v++ {
			select {
			case <-stop:
				return
			default:
			}
			ds := make([]mmsb.Delta, 0, 8)
			for k := range 8 {
				ds = append(ds, mmsb.Write(ids[(int(v)*8+k)%len(ids)], 0, uniformPage(512, v)))
			}
			if _, err := bus.Commit(ctx, ds); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var readers sync.WaitGroup
	var mu sync.Mutex
	ok, closedSeen := 0, 0
	closed := make(chan struct{})
	for g := range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := make([]byte, 0, 512)
			for i := 0; ; i++ {
				id := ids[(i*7+g*13)%len(ids)]
				var err error
				if i%2 == 0 {
					var b []byte
					b, _, _, err = rd.ReadPage(id, buf)
					if err == nil && tornAt(b) >= 0 {
						t.Errorf("ReadPage: torn page %d at byte %d", id, tornAt(b))
					}
				} else {
					err = rd.View(id, func(b []byte) error {
						if tornAt(b) >= 0 {
							return errors.New("torn")
						}
						return nil
					})
					if err != nil && err.Error() == "torn" {
						t.Errorf("View: torn page %d returned as consistent", id)
					}
				}
				mu.Lock()
				if err == nil {
					ok++
				} else if errors.Is(err, mmsb.ErrClosed) {
					closedSeen++
				} else {
					t.Errorf("read: %v", err)
				}
				mu.Unlock()
				if err != nil {
					select {
					case <-closed:
						return
					default:
					}
				}
				select {
				case <-closed:
					if err == nil {
						// One more read after Close was seen must fail.
						continue
					}
					return
				default:
				}
				if i > 200000 {
					return
				}
			}
		}()
	}
	for {
		mu.Lock()
		n := ok
		mu.Unlock()
		if n >= 2000 {
			break
		}
	}
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	close(closed)
	readers.Wait()
	close(stop)
	writer.Wait()
	if ok < 2000 || closedSeen == 0 {
		t.Fatalf("%d good reads, %d ErrClosed: want both", ok, closedSeen)
	}
}

// TestReaderChunkReuseKeepsAddressSpace frees and recreates a large page
// (its own chunk, whose index the writer reuses with a new generation)
// 64 times while a Reader reads it: every read equals the bus's bytes, and
// the address space the reader keeps reserved does not pile up, because a
// replaced chunk is mapped over the old range instead of beside it (a
// replaced or closed mapping is never unmapped but turned into zero pages,
// see page.ShmReader). The bound is the negative control: mapping each new
// chunk elsewhere reserves another 3 MiB of zero pages per round (checked
// by hand), which exceeds it.
func TestReaderChunkReuseKeepsAddressSpace(t *testing.T) {
	ctx := context.Background()
	bus, rd := sharedBusAndReader(t)
	const rounds, size = 64, 3 << 20
	var before int64
	for i := range rounds {
		ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: size}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], size-1024, uniformPage(1024, uint64(i+1)))}); err != nil {
			t.Fatal(err)
		}
		got, _, _, err := rd.ReadPage(ids[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		if want, _, _ := bus.ReadPage(ids[0], nil); !bytes.Equal(got, want) {
			t.Fatalf("round %d: reader's page differs from the bus's", i)
		}
		if err := bus.FreePage(ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			before = zeroPageBytes(t)
		}
	}
	after := zeroPageBytes(t)
	t.Logf("read-only anonymous (zero-page) mappings: %d bytes after round 2, %d after round %d", before, after, rounds)
	if after-before > rounds/4*size {
		t.Fatalf("zero-page reservations grew from %d to %d bytes over %d chunk replacements", before, after, rounds-2)
	}
}

// zeroPageBytes sums the process's read-only private anonymous mappings
// (/proc/self/maps lines "r--p ... 0" with no name): the ranges a Reader
// keeps reserved as zero pages.
func zeroPageBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		testutil.Missing(t, "no /proc/self/maps: %v", err)
	}
	var total int64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 5 || f[1] != "r--p" || f[4] != "0" {
			continue
		}
		var lo, hi int64
		if _, err := fmt.Sscanf(f[0], "%x-%x", &lo, &hi); err == nil {
			total += hi - lo
		}
	}
	return total
}
