package mmsb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestReaderFailedOpensKeepAddressSpace: a region whose writer is gone
// but whose files are still in place (a writer killed before a new one
// recovered the bus) makes OpenReader fail with ErrWriterGone, and a
// Reattach Reader's attempts fail the same way every LivenessInterval.
// Each failed attempt used to turn its mappings (16 MiB of chunk table
// alone) into reserved zero pages, as Close must for a Reader other
// goroutines may be reading: 100 attempts a second reserved 1.7 GB/s of
// address space until mmap failed. A mapping nobody was given is unmapped.
func TestReaderFailedOpensKeepAddressSpace(t *testing.T) {
	// A region whose writer "died": this PID with another start time, as
	// after the writer's PID was recycled.
	dir, shm, _ := handMadeRegion(t, 1)
	const attempts = 32
	before := zeroPageBytes(t)
	for range attempts {
		rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
		if !errors.Is(err, mmsb.ErrWriterGone) {
			if rd != nil {
				_ = rd.Close()
			}
			t.Fatalf("OpenReader on a dead writer's region: %v, want ErrWriterGone", err)
		}
	}
	after := zeroPageBytes(t)
	t.Logf("zero-page reservations: %d bytes before, %d after %d failed opens", before, after, attempts)
	if grew := after - before; grew > 4*16<<20 {
		t.Fatalf("%d failed OpenReader calls left %d bytes of address space reserved", attempts, grew)
	}
}

// handMadeRegion publishes, for a bus directory of its own, a shared
// region this process made with internal/page, holding one page (ID 1,
// 100 bytes), whose writer is this PID with the start time
// ProcStartTime+skew: skew 0 is this process, alive; 1 a writer whose PID
// was recycled, gone. It returns the bus directory, the SharedDir and the
// region's path; the store is closed when the test ends.
func handMadeRegion(t *testing.T, skew uint64) (dir, shm, path string) {
	t.Helper()
	dir, shm = t.TempDir(), shmTestDir(t)
	path, err := mmsb.SharedRegionPath(dir, shm)
	if err != nil {
		t.Fatal(err)
	}
	start, err := page.ProcStartTime(os.Getpid())
	if err != nil {
		testutil.Missing(t, "no process start time: %v", err)
	}
	st, err := page.NewShared(path+".building-test", 0o600, 1, uint64(os.Getpid()), start+skew)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.Create(1, 100, 0); err != nil {
		t.Fatal(err)
	}
	if err := st.Publish(path, 1); err != nil {
		t.Fatal(err)
	}
	return dir, shm, path
}

// TestReaderWaitDoesNotBlockOtherCalls: Wait used to hold the Reader's
// mutex for as long as it waited, so that LastLSN, Pages, Stats, a
// ReadPage's locked path and Close called from other goroutines blocked
// until the next commit (forever on an idle bus). Now Close ends the Wait
// with ErrClosed. If a call blocks, the test commits to release it and
// fails, rather than hanging.
func TestReaderWaitDoesNotBlockOtherCalls(t *testing.T) {
	ctx := context.Background()
	bus, rd := sharedBusAndReader(t)
	waited := make(chan error, 1)
	go func() {
		_, err := rd.Wait(ctx, rd.LastLSN())
		waited <- err
	}()
	// Let the waiter get past its spin (50µs) into its sleeps; should it
	// not have started yet, the test only checks less, never fails.
	time.Sleep(20 * time.Millisecond)
	unblocked := false
	guard := func(what string, call func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { call(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second): // a hang guard, not a timing check
			if _, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
				t.Error(err)
			}
			unblocked = true
			<-done
			t.Errorf("%s blocked while another goroutine was in Wait, until a commit", what)
		}
	}
	guard("LastLSN", func() { _ = rd.LastLSN() })
	guard("Close", func() { _ = rd.Close() })
	if err := testutil.Recv(t, waited, "Reader.Wait did not return after the Reader closed"); !unblocked && !errors.Is(err, mmsb.ErrClosed) {
		t.Fatalf("Wait ended by Close: %v, want ErrClosed", err)
	}
}

// TestReaderUnavailableChunkIsBounded: a read whose page's chunk is
// unavailable is retried (a large page may be being freed), but a chunk
// table that stays wrong must not make reads spin: after WriterTimeout
// the read fails with ErrSharedCorrupt. (A guard of that retry; before it
// existed the read failed at once, with the same error.)
func TestReaderUnavailableChunkIsBounded(t *testing.T) {
	ctx := context.Background()
	dir, shm := t.TempDir(), shmTestDir(t)
	bus := openShared(t, dir, shm)
	defer bus.Close()
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm, WriterTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if _, _, _, err := rd.ReadPage(id, nil); err != nil {
		t.Fatal(err)
	}
	// Zero the generation of the first chunk-table entries (the page's
	// chunk among them): unpublished, as no writer leaves a live page's.
	f, err := os.OpenFile(filepath.Join(bus.SharedPath(), "chunks"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(8) {
		if _, err := f.WriteAt(make([]byte, 4), 16*i); err != nil {
			t.Fatal(err)
		}
	}
	_ = f.Close()
	done := make(chan error, 1)
	go func() {
		_, _, _, err := rd.ReadPage(id, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, mmsb.ErrSharedCorrupt) {
			t.Fatalf("read with its chunk unpublished: %v, want ErrSharedCorrupt", err)
		}
	case <-time.After(20 * time.Second): // a hang guard, not a timing check
		t.Fatal("read with its chunk unpublished never returned")
	}
}

// TestReaderChecksRegionOwner: region names are predictable and /dev/shm
// is writable by everyone, so another user can create the region of a bus
// before (or instead of) its writer, with a header naming a live process of
// their own. A reader accepts a region only when the region directory and
// every file it maps are owned by the owner of the bus directory and
// writable by nobody else; otherwise ErrSharedCorrupt, naming the path and
// both owners. Controls: the writer's own modes (0700/0600, 0750/0640 with
// SharedGroup) and a bus named through a symbolic link owned by another
// user are accepted. The cases with other owners need root (os.Chown).
func TestReaderChecksRegionOwner(t *testing.T) {
	for _, group := range []bool{false, true} {
		dir, shm := t.TempDir(), shmTestDir(t)
		bus, err := mmsb.Open(dir, &mmsb.Options{Shared: true, SharedDir: shm, SharedGroup: group, Sync: mmsb.SyncNone})
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		id, err := bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 64})
		if err != nil {
			t.Fatal(err)
		}
		open := func() error {
			rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
			if err != nil {
				return err
			}
			defer rd.Close()
			_, _, _, err = rd.ReadPage(id, nil)
			return err
		}
		if err := open(); err != nil {
			t.Fatalf("group=%v: the writer's own region: %v", group, err)
		}
		region := bus.SharedPath()
		for _, c := range []struct {
			path string
			mode os.FileMode
		}{
			{region, 0o770}, {region, 0o702},
			{filepath.Join(region, "header"), 0o620},
			{filepath.Join(region, "chunks"), 0o602},
			{filepath.Join(region, "seq"), 0o660},
		} {
			st, err := os.Stat(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(c.path, c.mode); err != nil {
				t.Fatal(err)
			}
			err = open()
			if !errors.Is(err, mmsb.ErrSharedCorrupt) || !strings.Contains(err.Error(), c.path+" (owner uid") {
				t.Errorf("group=%v: %s mode %v: %v, want ErrSharedCorrupt naming it", group, c.path, c.mode, err)
			}
			if err := os.Chmod(c.path, st.Mode().Perm()); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A link planted under a bus's region name, naming the region of
	// another bus of the same user: refused, not read as this bus.
	dirA, dirB, shm := t.TempDir(), t.TempDir(), shmTestDir(t)
	busB := openShared(t, dirB, shm)
	defer busB.Close()
	regionA, err := mmsb.SharedRegionPath(dirA, shm)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(busB.SharedPath(), regionA); err != nil {
		t.Fatal(err)
	}
	if _, err := mmsb.OpenReader(dirA, &mmsb.ReaderOptions{SharedDir: shm}); !errors.Is(err, mmsb.ErrSharedCorrupt) ||
		!strings.Contains(err.Error(), regionA+" is not a directory") {
		t.Errorf("region name linked to another bus's region: %v, want ErrSharedCorrupt", err)
	}

	if os.Geteuid() != 0 {
		testutil.Missing(t, "the cases with other owners need root (os.Chown)")
	}
	const other = 65534
	dir, shm := t.TempDir(), shmTestDir(t)
	bus := openShared(t, dir, shm)
	defer bus.Close()
	if _, err := bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 64}); err != nil {
		t.Fatal(err) // the slot files exist from the first page on
	}
	region := bus.SharedPath()
	me := os.Geteuid()
	want := func(what string, err error, path string, found, expected int) {
		t.Helper()
		msg := fmt.Sprintf("%s is owned by uid %d, expected uid %d", path, found, expected)
		if !errors.Is(err, mmsb.ErrSharedCorrupt) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want ErrSharedCorrupt with %q", what, err, msg)
		}
	}
	// A region the bus directory's owner does not own: as if another
	// user had created it (here the bus directory changes hands instead).
	if err := os.Chown(dir, other, other); err != nil {
		t.Fatal(err)
	}
	_, err = mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
	want("bus directory of another user", err, region, me, other)
	if err := os.Chown(dir, me, me); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{region, filepath.Join(region, "header"), filepath.Join(region, "ids")} {
		if err := os.Chown(path, other, other); err != nil {
			t.Fatal(err)
		}
		_, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
		want("a region file of another user", err, path, other, me)
		if err := os.Chown(path, me, me); err != nil {
			t.Fatal(err)
		}
	}
	// Control: the owner that counts is the bus directory's, not that of
	// a link naming it.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, other, other); err != nil {
		t.Fatal(err)
	}
	rd, err := mmsb.OpenReader(link, &mmsb.ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatalf("bus named through a link of another user: %v", err)
	}
	_ = rd.Close()
}

// TestReaderRefusesLinkedRegionFile: a region file replaced by a symbolic
// link (to a regular file of the right owner and mode: here another live
// bus's) is refused with ErrSharedCorrupt, as docs/shm.md says every file
// mapped must be a regular file. Files were opened following links, and
// fstat saw the target: a region whose header linked to another bus's
// opened, reading that bus's header over this one's slot arrays.
func TestReaderRefusesLinkedRegionFile(t *testing.T) {
	dirA, dirB, shm := t.TempDir(), t.TempDir(), shmTestDir(t)
	a := openShared(t, dirA, shm)
	defer a.Close()
	b := openShared(t, dirB, shm)
	defer b.Close()
	for _, bus := range []*mmsb.Bus{a, b} {
		if _, err := bus.CreatePage(t.Context(), mmsb.PageSpec{Size: 64}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{page.ShmHeaderFile, "seq", "c0.1"} {
		file := filepath.Join(b.SharedPath(), name)
		saved := file + ".saved"
		if err := os.Rename(file, saved); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(a.SharedPath(), name), file); err != nil {
			testutil.Missing(t, "no symlinks: %v", err)
		}
		opts := &mmsb.ReaderOptions{SharedDir: shm, WriterTimeout: 20 * time.Millisecond}
		rd, err := mmsb.OpenReader(dirB, opts)
		if err == nil { // a chunk is mapped at the first read of a page in it
			_, _, _, err = rd.ReadPage(1, nil)
			rd.Close()
		}
		if !errors.Is(err, mmsb.ErrSharedCorrupt) {
			t.Errorf("OpenReader and read with %s linked to another bus's: %v, want ErrSharedCorrupt", name, err)
		}
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(saved, file); err != nil {
			t.Fatal(err)
		}
		rd, err = mmsb.OpenReader(dirB, &mmsb.ReaderOptions{SharedDir: shm}) // control: restored
		if err != nil {
			t.Fatalf("OpenReader with %s restored: %v", name, err)
		}
		rd.Close()
	}
}
